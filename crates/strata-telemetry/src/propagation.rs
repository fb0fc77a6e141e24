//! W3C `traceparent`/`tracestate` in and out of HTTP headers.

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The trace context a request carries (empty when it carries none or a malformed one).
#[must_use]
pub fn extract(headers: &HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)))
}

/// The W3C context of `span`: kept by the ids layer when no OpenTelemetry span is built
/// (`ids.rs`), otherwise the OpenTelemetry span's.
fn span_context(span: &tracing::Span) -> SpanContext {
    crate::ids::of(span).unwrap_or_else(|| span.context().span().span_context().clone())
}

/// Makes `span` (a request's, before it has children) continue the caller's trace in `cx`,
/// or start a trace when `cx` holds none.
pub(crate) fn continue_trace(span: &tracing::Span, cx: opentelemetry::Context) {
    if !crate::ids::continue_remote(span, cx.span().span_context()) {
        let _ = span.set_parent(cx);
    }
}

/// Writes the current span's context as `traceparent` (and `tracestate`) into `headers`,
/// for a call to the next hop.
pub fn inject_current(headers: &mut HeaderMap) {
    let sc = span_context(&tracing::Span::current());
    let cx = opentelemetry::Context::new().with_remote_span_context(sc);
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeadersMut(headers))
    });
}

/// The 32-hex-digit trace id of the current span, if it has a valid one.
#[must_use]
pub fn trace_id_of_current() -> Option<String> {
    let sc = span_context(&tracing::Span::current());
    sc.is_valid().then(|| sc.trace_id().to_string())
}
