//! The agent card of a workflow (spec §8): generated from its definition, served with
//! `Cache-Control` and an `ETag`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use strata_config::Workflow;

use super::A2a;
use super::error::A2aError;

pub(super) async fn handle(
    State(a2a): State<Arc<A2a>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
) -> Result<Response, A2aError> {
    let def = a2a
        .engine
        .workflows()
        .get(&workflow)
        .cloned()
        .ok_or_else(|| A2aError::MethodNotFound(format!("no agent named `{workflow}`")))?;
    let base = base_url(&a2a, &headers);
    let card = card(&def, &format!("{base}/a2a/{workflow}"), a2a.keys.enabled());
    let body = card.to_string();
    let etag = format!("\"{:x}\"", Sha256::digest(body.as_bytes()));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

/// Where clients reach this layer: the configured public URL, else the request's host.
pub(super) fn base_url(a2a: &A2a, headers: &HeaderMap) -> String {
    if let Some(url) = &a2a.settings.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:4002");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The card: 1.0 fields, plus the 0.3 ones (`url`, `preferredTransport`, `protocolVersion`)
/// that 0.3 clients read; 1.0 clients use `supportedInterfaces`.
#[must_use]
pub fn card(def: &Workflow, url: &str, secured: bool) -> Value {
    let description = def
        .description
        .clone()
        .unwrap_or_else(|| format!("The `{}` workflow.", def.name));
    let tags: Vec<Value> = def
        .metadata
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => json!(format!("{k}:{s}")),
            None => json!(k),
        })
        .collect();
    let examples = def
        .metadata
        .get("examples")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut card = json!({
        "name": def.name,
        "description": description,
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": [
            { "url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0" },
            { "url": url, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" },
            { "url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3" },
        ],
        "capabilities": { "streaming": true, "pushNotifications": false, "extendedAgentCard": false },
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/plain", "application/json"],
        "skills": [{
            "id": def.name,
            "name": def.name,
            "description": description,
            "tags": tags,
            "examples": examples,
        }],
        "provider": { "organization": "Strata", "url": url },
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "additionalInterfaces": [
            { "url": url, "transport": "JSONRPC" },
            { "url": url, "transport": "HTTP+JSON" },
        ],
    });
    if secured {
        card["securitySchemes"] = json!({
            "bearer": { "httpAuthSecurityScheme": { "scheme": "Bearer", "description": "A Strata API key" } }
        });
        card["securityRequirements"] = json!([{ "schemes": { "bearer": { "list": [] } } }]);
    }
    card
}
