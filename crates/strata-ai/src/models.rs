//! `GET /v1/models`: the model names the configured providers serve.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Gateway;

/// The handler: each model once, owned by the highest-priority provider serving it.
pub async fn list(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = gateway.authenticate(&headers) {
        return e.into_response();
    }
    let mut seen = std::collections::HashSet::new();
    let data: Vec<Value> = gateway
        .providers
        .iter()
        .flat_map(|p| p.models.iter().map(move |m| (m, &p.name)))
        .filter(|(m, _)| seen.insert(m.as_str()))
        .map(|(m, owner)| json!({ "id": m, "object": "model", "created": 0, "owned_by": owner }))
        .collect();
    let mut data = data;
    let mut routes: Vec<&str> = gateway.routes.names().collect();
    routes.sort_unstable();
    for route in routes {
        if seen.insert(route) {
            data.push(
                json!({ "id": route, "object": "model", "created": 0, "owned_by": "strata-route" }),
            );
        }
    }
    Json(json!({ "object": "list", "data": data })).into_response()
}
