//! The HTTP observation every listener applies: a request span that continues the caller's
//! W3C trace, the request id in the span, metrics, and `traceparent` on the response so
//! clients can find the trace.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::{HttpLabels, Metrics, extract, propagation};

/// What the observation needs: the layer's name and the metrics.
#[derive(Clone, Debug)]
pub struct HttpObserver {
    pub layer: &'static str,
    pub metrics: Metrics,
}

/// axum middleware (`from_fn_with_state`) observing one request.
pub async fn observe(
    State(observer): State<HttpObserver>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        layer = observer.layer,
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        trace_id = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // A disabled span (a log level above `info`) records no trace: nothing to continue.
    let traced = !span.is_disabled();
    if traced {
        propagation::continue_trace(&span, extract(request.headers()));
    }
    let method = request.method().as_str().to_string();
    let in_flight = observer.metrics.in_flight(observer.layer);
    let mut response = async {
        if traced && let Some(trace_id) = propagation::trace_id_of_current() {
            tracing::Span::current().record("trace_id", trace_id);
        }
        let response = next.run(request).await;
        tracing::Span::current().record("http.response.status_code", response.status().as_u16());
        tracing::debug!("request served");
        response
    }
    .instrument(span.clone())
    .await;
    drop(in_flight);
    if traced {
        let _entered = span.enter();
        propagation::inject_current(response.headers_mut());
    }
    observer.metrics.http_request(
        &HttpLabels {
            layer: observer.layer,
            method,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}
