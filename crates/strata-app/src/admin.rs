//! The admin listener: liveness, readiness, Prometheus metrics and the admin API.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::json;

use crate::serve::AppState;

/// The admin routes.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/api/config", get(config))
        .route("/admin/api/keys", get(list_keys).post(create_key))
        .route("/admin/api/keys/{name}", delete(revoke_key))
        .route("/admin/api/spend", get(spend))
        .route("/admin/api/audit", get(audit))
        .with_state(app)
}

/// Alive: the process answers. Also says which config generation is in effect, and how many
/// worker threads serve requests (`strata serve --workers`).
async fn healthz(State(app): State<Arc<AppState>>) -> Response {
    let runtime = app.current.load();
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    axum::Json(json!({
        "status": "ok",
        "version": strata_core::VERSION,
        "config": { "generation": runtime.generation, "sha256": runtime.digest },
        "workers": workers,
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

/// The admin API's refusal, unless the request carries the admin key (when one is set).
pub(crate) fn admin_only(app: &AppState, headers: &HeaderMap) -> Option<Response> {
    let runtime = app.current.load();
    let key = runtime.config.admin.key.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compare digests, so the comparison's timing says nothing about the key.
    let given = given.map(|g| strata_core::Secret::new(g).sha256_hex());
    if given.as_deref() == Some(key.sha256_hex().as_str()) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(
                json!({ "error": { "code": "unauthorized", "message": "admin key required" } }),
            ),
        )
            .into_response(),
    )
}

pub(crate) fn admin_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn app_error(e: &crate::AppError) -> Response {
    match e {
        crate::AppError::Invalid(m) => admin_error(StatusCode::BAD_REQUEST, "invalid", m),
        crate::AppError::Store(strata_store::StoreError::Conflict(m)) => {
            admin_error(StatusCode::CONFLICT, "conflict", m)
        }
        other => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &other.to_string(),
        ),
    }
}

/// `GET /admin/api/keys`: the stored keys (never the keys themselves).
async fn list_keys(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    match app.store.keys().await {
        Ok(rows) => {
            axum::Json(json!({ "keys": rows.iter().map(crate::keys::shown).collect::<Vec<_>>() }))
                .into_response()
        }
        Err(e) => app_error(&e.into()),
    }
}

/// `POST /admin/api/keys`: creates a key; the answer holds the plain key, once.
async fn create_key(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<axum::Json<crate::keys::NewKey>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let spec = match body {
        Ok(axum::Json(spec)) => spec,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid", &e.body_text()),
    };
    match crate::keys::create(&app.store, spec).await {
        Ok((row, plain)) => {
            if let Err(e) = crate::keys::load(&app.store, &app.stored_keys).await {
                tracing::warn!(error = %e, "reloading the stored API keys failed");
            }
            let mut shown = crate::keys::shown(&row);
            shown["key"] = json!(plain);
            app.audit(key_audit("key.create", &row.name)).await;
            (StatusCode::CREATED, axum::Json(shown)).into_response()
        }
        Err(e) => app_error(&e),
    }
}

/// `DELETE /admin/api/keys/{name}`: revokes a stored key at once in this process (other
/// replicas within seconds).
async fn revoke_key(
    State(app): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    match app.store.revoke_key(&name, strata_core::now_ms()).await {
        Ok(true) => {
            if let Err(e) = crate::keys::load(&app.store, &app.stored_keys).await {
                tracing::warn!(error = %e, "reloading the stored API keys failed");
            }
            app.audit(key_audit("key.revoke", &name)).await;
            axum::Json(json!({ "name": name, "status": "revoked" })).into_response()
        }
        Ok(false) => admin_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no active stored key named `{name}`"),
        ),
        Err(e) => app_error(&e.into()),
    }
}

fn key_audit(action: &str, name: &str) -> strata_store::AuditRecord {
    let mut record = strata_store::AuditRecord::new("admin", action, strata_store::Outcome::Ok);
    record.target = Some(name.to_string());
    record
}

/// `GET /admin/api/spend?by=key&since=30d&until=...&key=...&team=...`.
async fn spend(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let now = strata_core::now_ms();
    let query = (|| {
        Ok::<_, crate::AppError>(strata_store::SpendQuery {
            group: crate::keys::parse_group(q.get("by").map_or("key", String::as_str))?,
            since_ms: crate::keys::parse_time(q.get("since").map_or("30d", String::as_str), now)?,
            until_ms: match q.get("until") {
                Some(t) => crate::keys::parse_time(t, now)?,
                None => now + 1,
            },
            key: q.get("key").cloned(),
            team: q.get("team").cloned(),
        })
    })();
    // Read what this process has taken so far, not only what its writer committed.
    if let Err(e) = app.usage.flush().await {
        tracing::warn!(error = %e, "the usage ledger could not be flushed before reading");
    }
    match query {
        Ok(query) => match crate::keys::spend(&app.store, &query).await {
            Ok(report) => axum::Json(report).into_response(),
            Err(e) => app_error(&e),
        },
        Err(e) => app_error(&e),
    }
}

/// Audit records, newest first, filtered by the query string (`principal`, `server`, `tool`,
/// `action`, `outcome`, `layer`, `since`, `until`, `limit`, `before`).
async fn audit(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    if let Err(e) = app.audit.flush().await {
        tracing::warn!(error = %e, "the audit log could not be flushed before reading");
    }
    let options = crate::audit::AuditOptions::from_params(q);
    match crate::audit::records(&app.store, &options).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(e) => app_error(&e),
    }
}

/// The effective config, secrets hidden.
async fn config(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let runtime = app.current.load_full();
    axum::Json(json!({
        "generation": runtime.generation,
        "sha256": runtime.digest,
        "config": &*runtime.config,
    }))
    .into_response()
}
