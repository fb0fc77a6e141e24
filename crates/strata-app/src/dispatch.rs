//! The service behind each listener: generic HTTP concerns (request id, tracing, metrics)
//! around a dispatch to the layer's router of the current config generation.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use strata_config::Layer;
use strata_telemetry::{HttpObserver, Metrics, observe};
use tower::ServiceExt;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::serve::AppState;

/// Request ids are time-ordered UUIDs unless the caller sent one.
#[derive(Clone, Copy, Debug, Default)]
struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&strata_core::new_id())
            .ok()
            .map(RequestId::new)
    }
}

/// Wraps `router` in the middleware every listener shares.
pub fn with_http_layers(router: Router, name: &'static str, metrics: Metrics) -> Router {
    let observer = HttpObserver {
        layer: name,
        metrics,
    };
    router
        .layer(axum::middleware::from_fn_with_state(observer, observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeId))
}

#[derive(Clone)]
struct LayerState {
    app: Arc<AppState>,
    layer: Layer,
}

/// The listener service of a layer: every request goes to that layer's router in the
/// config generation current when the request arrives.
pub fn layer_service(app: Arc<AppState>, layer: Layer) -> Router {
    let metrics = app.metrics.clone();
    let router = Router::new()
        .fallback(to_current)
        .with_state(LayerState { app, layer });
    with_http_layers(router, layer.name(), metrics)
}

async fn to_current(State(state): State<LayerState>, request: Request) -> Response {
    let runtime = state.app.current.load_full();
    match runtime.router(state.layer) {
        Some(router) => match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => (StatusCode::SERVICE_UNAVAILABLE, "layer not served").into_response(),
    }
}
