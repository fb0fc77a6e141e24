//! The admin listener: liveness, readiness, Prometheus metrics and the admin API.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::serve::AppState;

/// The admin routes.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/api/config", get(config))
        .with_state(app)
}

/// Alive: the process answers. Also says which config generation is in effect.
async fn healthz(State(app): State<Arc<AppState>>) -> Response {
    let runtime = app.current.load();
    axum::Json(json!({
        "status": "ok",
        "version": strata_core::VERSION,
        "config": { "generation": runtime.generation, "sha256": runtime.digest },
    }))
    .into_response()
}

/// Ready: storage (and Redis) answer, every served layer's listener is up, and the process
/// is not draining.
async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let mut ready = true;
    let mut checks = serde_json::Map::new();
    let storage = match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_string(),
    };
    ready &= storage == "ok";
    checks.insert("storage".into(), storage.into());
    for (layer, up) in &app.layers {
        let up = up.load(Ordering::Acquire);
        ready &= up;
        checks.insert(layer.name().into(), if up { "up" } else { "down" }.into());
    }
    if app.shutdown.is_triggered() {
        ready = false;
        checks.insert("shutdown".into(), "draining".into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if ready { "ready" } else { "not ready" }, "checks": checks });
    (status, axum::Json(body)).into_response()
}

/// OpenMetrics for scrapers that ask for it, Prometheus text 0.0.4 otherwise.
async fn metrics(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if wants_openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            app.metrics.encode(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            app.metrics.encode_prometheus(),
        )
            .into_response()
    }
}

/// The effective config, secrets hidden.
async fn config(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let runtime = app.current.load_full();
    if let Some(key) = &runtime.config.admin.key {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compare digests, so the comparison's timing says nothing about the key.
        let given = given.map(|g| strata_core::Secret::new(g).sha256_hex());
        if given.as_deref() != Some(key.sha256_hex().as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(
                    json!({ "error": { "code": "unauthorized", "message": "admin key required" } }),
                ),
            )
                .into_response();
        }
    }
    axum::Json(json!({
        "generation": runtime.generation,
        "sha256": runtime.digest,
        "config": &*runtime.config,
    }))
    .into_response()
}
