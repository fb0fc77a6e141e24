//! The console: a small web app served by the admin listener (its assets are built into the
//! binary; no CDN), behind the admin key, reading the JSON API under `/admin/api/console/`
//! (plus the admin API's audit log and config). Every list is paged on the server.

mod runs;
mod stats;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::serve::AppState;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// The console's page, assets and API.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/style.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/admin/api/console/overview", get(stats::overview))
        .route("/admin/api/console/usage", get(stats::usage))
        .route("/admin/api/console/tools", get(stats::tools))
        .route("/admin/api/console/doctor", get(stats::doctor))
        .route("/admin/api/console/runs", get(runs::list))
        .route("/admin/api/console/runs/{id}", get(runs::show))
        .route("/admin/api/console/runs/{id}/{action}", post(runs::act))
        .with_state(app)
}

fn page(body: &'static str, content_type: &'static str) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
            ),
        ],
        body,
    )
        .into_response()
}
