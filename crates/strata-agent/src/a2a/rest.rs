//! The HTTP+JSON binding: `POST /message:send`, `POST /message:stream`, `GET /tasks`,
//! `GET /tasks/{id}`, `POST /tasks/{id}:cancel`, `POST /tasks/{id}:subscribe` under the agent's
//! URL. Errors are `google.rpc.Status` bodies with the matching HTTP status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::A2aError;
use super::jsonrpc::v03_event;
use super::stream::{self, Start};
use super::wire::{Version, to_v03};
use super::{A2a, Call, ops};

fn body_json(body: &Bytes) -> Result<Value, A2aError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| A2aError::Parse(e.to_string()))
}

fn json_response(v: &Value) -> Response {
    let mut r = v.to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/a2a+json"),
    );
    r
}

fn shaped(call: &Call, kind: &str, v: Value) -> Value {
    if call.version == Version::V03 {
        to_v03(kind, &v)
    } else {
        v
    }
}

fn render(call: &Call) -> Box<dyn Fn(&Value) -> String + Send + Sync> {
    let v03 = call.version == Version::V03;
    Box::new(move |b: &Value| if v03 { v03_event(b) } else { b.clone() }.to_string())
}

pub(super) async fn send(
    State(a2a): State<Arc<A2a>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, A2aError> {
    let call = a2a.call(workflow, &headers)?;
    let params = body_json(&body)?;
    let (_, task) = ops::send(&call, ops::Send::parse(&params, call.version)?).await?;
    Ok(json_response(&match call.version {
        Version::V10 => json!({ "task": task }),
        Version::V03 => to_v03("task", &task),
    }))
}

pub(super) async fn send_streaming(
    State(a2a): State<Arc<A2a>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, A2aError> {
    let call = a2a.call(workflow, &headers)?;
    let send = ops::Send::parse(&body_json(&body)?, call.version)?;
    let (id, before) = ops::deliver(&call, &send.inbound).await?;
    stream::updates(&call, &id, Start::Sent(before), false, render(&call)).await
}

pub(super) async fn list(
    State(a2a): State<Arc<A2a>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, A2aError> {
    let call = a2a.call(workflow, &headers)?;
    let mut params = serde_json::Map::new();
    for (k, v) in query {
        let value = match v.as_str() {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(v),
        };
        params.insert(k, value);
    }
    let mut page = ops::list(&call, &Value::Object(params)).await?;
    if call.version == Version::V03
        && let Some(Value::Array(ts)) = page.get_mut("tasks")
    {
        ts.iter_mut().for_each(|t| *t = to_v03("task", t));
    }
    Ok(json_response(&page))
}

pub(super) async fn get(
    State(a2a): State<Arc<A2a>>,
    Path((workflow, task)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, A2aError> {
    let call = a2a.call(workflow, &headers)?;
    let mut params = json!({ "id": task });
    if let Some(h) = query.get("historyLength") {
        params["historyLength"] = json!(h);
    }
    let t = ops::get(&call, &params).await?;
    Ok(json_response(&shaped(&call, "task", t)))
}

/// `POST /tasks/{id}:cancel` and `POST /tasks/{id}:subscribe`.
pub(super) async fn task_action(
    State(a2a): State<Arc<A2a>>,
    Path((workflow, tail)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, A2aError> {
    let call = a2a.call(workflow, &headers)?;
    match tail.rsplit_once(':') {
        Some((id, "cancel")) => {
            let t = ops::cancel(&call, &json!({ "id": id })).await?;
            Ok(json_response(&shaped(&call, "task", t)))
        }
        Some((id, "subscribe")) => {
            let start = Start::from_headers(&headers);
            stream::updates(&call, id, start, true, render(&call)).await
        }
        _ => Err(A2aError::MethodNotFound(format!("POST tasks/{tail}"))),
    }
}
