//! The JSON-RPC binding: `POST /a2a/{workflow}` with 1.0 method names (`SendMessage`, …) or
//! 0.3 ones (`message/send`, …); the `A2A-Version` header decides the shape of the answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::A2aError;
use super::stream::{self, Start};
use super::wire::{Version, to_v03};
use super::{A2a, Call, ops};

pub(super) async fn handle(
    State(a2a): State<Arc<A2a>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return reply(&Value::Null, Err(A2aError::Parse(e.to_string()))),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = match (
        &request["jsonrpc"],
        request.get("method").and_then(Value::as_str),
    ) {
        (Value::String(v), Some(m)) if v == "2.0" => m.to_string(),
        _ => {
            let e = A2aError::InvalidRequest("expected a JSON-RPC 2.0 request".into());
            return reply(&id, Err(e));
        }
    };
    let call = match a2a.call(workflow, &headers) {
        Ok(c) => c,
        Err(e @ A2aError::Unauthorized) => return e.into_response(),
        Err(e) => return reply(&id, Err(e)),
    };
    let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
    match dispatch(&call, &method, &params, &id, &headers).await {
        Ok(Answer::Value(v)) => reply(&id, Ok(v)),
        Ok(Answer::Stream(r)) => r,
        Err(e) => reply(&id, Err(e)),
    }
}

enum Answer {
    Value(Value),
    Stream(Response),
}

async fn dispatch(
    call: &Call,
    method: &str,
    params: &Value,
    id: &Value,
    headers: &HeaderMap,
) -> Result<Answer, A2aError> {
    let v03 = call.version == Version::V03;
    let task = |t: Value| if v03 { to_v03("task", &t) } else { t };
    Ok(Answer::Value(match method {
        "SendMessage" | "message/send" => {
            let send = ops::Send::parse(params, call.version)?;
            let (_, t) = ops::send(call, send).await?;
            if v03 {
                to_v03("task", &t)
            } else {
                json!({ "task": t })
            }
        }
        "SendStreamingMessage" | "message/stream" => {
            let send = ops::Send::parse(params, call.version)?;
            let (task_id, before) = ops::deliver(call, &send.inbound).await?;
            let start = Start::Sent(before);
            let r = stream::updates(call, &task_id, start, false, render(call, id)).await?;
            return Ok(Answer::Stream(r));
        }
        "SubscribeToTask" | "tasks/resubscribe" => {
            let task_id = ops::id_param(params)?;
            let start = Start::from_headers(headers);
            let r = stream::updates(call, &task_id, start, true, render(call, id)).await?;
            return Ok(Answer::Stream(r));
        }
        "GetTask" | "tasks/get" => task(ops::get(call, params).await?),
        "ListTasks" | "tasks/list" => {
            let mut page = ops::list(call, params).await?;
            if v03 && let Some(Value::Array(ts)) = page.get_mut("tasks") {
                ts.iter_mut().for_each(|t| *t = to_v03("task", t));
            }
            page
        }
        "CancelTask" | "tasks/cancel" => task(ops::cancel(call, params).await?),
        m if m.contains("PushNotificationConfig")
            || m.starts_with("tasks/pushNotificationConfig/") =>
        {
            return Err(A2aError::PushNotSupported);
        }
        "GetExtendedAgentCard" | "agent/getAuthenticatedExtendedCard" => {
            return Err(A2aError::Unsupported(
                "this agent declares no extended agent card".into(),
            ));
        }
        other => return Err(A2aError::MethodNotFound(other.to_string())),
    }))
}

/// How stream events are framed: a JSON-RPC response per event.
fn render(call: &Call, id: &Value) -> Box<dyn Fn(&Value) -> String + Send + Sync> {
    let id = id.clone();
    let v03 = call.version == Version::V03;
    Box::new(move |body: &Value| {
        let result = if v03 { v03_event(body) } else { body.clone() };
        json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string()
    })
}

/// A 1.0 `StreamResponse` as the 0.3 object it wraps.
pub fn v03_event(body: &Value) -> Value {
    for (member, kind) in [
        ("task", "task"),
        ("message", "message"),
        ("statusUpdate", "status-update"),
        ("artifactUpdate", "artifact-update"),
    ] {
        if let Some(v) = body.get(member) {
            return to_v03(kind, v);
        }
    }
    body.clone()
}

fn reply(id: &Value, outcome: Result<Value, A2aError>) -> Response {
    let body = match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.rpc() }),
    };
    Json(body).into_response()
}
