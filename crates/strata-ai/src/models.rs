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
    let who = match gateway.gov.identify(&headers, None).await {
        Ok(who) => who,
        Err(e) => return e.into_response(),
    };
    // A key sees only the models it may use.
    let allowed = |model: &str| who.as_deref().is_none_or(|k| gateway.gov.allows(k, model));
    let mut seen = std::collections::HashSet::new();
    let data: Vec<Value> = gateway
        .providers
        .iter()
        .flat_map(|p| p.models.iter().map(move |m| (m, &p.name)))
        .filter(|(m, _)| allowed(m) && seen.insert(m.as_str()))
        .map(|(m, owner)| json!({ "id": m, "object": "model", "created": 0, "owned_by": owner }))
        .collect();
    let mut data = data;
    let mut routes: Vec<&str> = gateway.routes.names().collect();
    routes.sort_unstable();
    for route in routes {
        if allowed(route) && seen.insert(route) {
            data.push(
                json!({ "id": route, "object": "model", "created": 0, "owned_by": "strata-route" }),
            );
        }
    }
    Json(json!({ "object": "list", "data": data })).into_response()
}
