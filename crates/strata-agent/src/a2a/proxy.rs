//! Registered remote agents through the gateway: `/a2a/{name}` for a name in `agent.agents`
//! forwards JSON-RPC requests to the agent (with its configured credentials, never the
//! caller's), after the gateway's own authentication; every request is audited with its trace
//! id, and callers only ever see the tasks they created. The card is served with the gateway's
//! URL in place of the agent's.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use strata_config::RemoteAgent;
use strata_store::{AuditRecord, Outcome};

use super::A2a;
use super::error::A2aError;

/// Serves requests for remote agents; everything else goes on to the workflows' routes.
pub(super) async fn route(State(a2a): State<Arc<A2a>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/a2a/") else {
        return next.run(request).await;
    };
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(agent) = a2a.agents.get(name).cloned() else {
        return next.run(request).await;
    };
    let principal = match a2a.principal(request.headers()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match (request.method().as_str(), tail) {
        ("GET", ".well-known/agent-card.json") => card(&a2a, &agent, request.headers()).await,
        ("POST", "") => {
            let headers = request.headers().clone();
            match axum::body::to_bytes(request.into_body(), 16 << 20).await {
                Ok(body) => forward(&a2a, &agent, principal, &headers, body).await,
                Err(e) => {
                    A2aError::InvalidRequest(format!("reading the body: {e}")).into_response()
                }
            }
        }
        _ => A2aError::MethodNotFound(format!(
            "remote agent `{name}` is proxied over JSON-RPC only (POST /a2a/{name})"
        ))
        .into_response(),
    }
}

/// The agent's card, pointing at the gateway.
async fn card(a2a: &A2a, agent: &RemoteAgent, headers: &HeaderMap) -> Response {
    let endpoint = match a2a.agents.endpoint(agent).await {
        Ok(e) => e,
        Err(e) => return A2aError::Internal(e.to_string()).into_response(),
    };
    let url = format!("{}/a2a/{}", super::card::base_url(a2a, headers), agent.name);
    let version = if endpoint.v10 { "1.0" } else { "0.3" };
    let mut card = endpoint.card;
    card["supportedInterfaces"] =
        json!([{ "url": url, "protocolBinding": "JSONRPC", "protocolVersion": version }]);
    card["url"] = json!(url);
    card["preferredTransport"] = json!("JSONRPC");
    if let Some(o) = card.as_object_mut() {
        o.remove("additionalInterfaces");
        o.remove("signatures");
        o.remove("securitySchemes");
        o.remove("securityRequirements");
        o.remove("security");
    }
    if a2a.keys.enabled() {
        card["securitySchemes"] =
            json!({ "bearer": { "httpAuthSecurityScheme": { "scheme": "Bearer" } } });
        card["securityRequirements"] = json!([{ "schemes": { "bearer": { "list": [] } } }]);
    }
    axum::Json(card).into_response()
}

/// The task a request names, if any.
fn named_task(params: &Value) -> Option<String> {
    params
        .get("id")
        .or_else(|| params.pointer("/message/taskId"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The task a result (or stream event) is about.
fn result_task(result: &Value) -> Option<String> {
    let pick = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    result
        .get("task")
        .and_then(|t| pick(t, "id"))
        .or_else(|| {
            ["statusUpdate", "artifactUpdate"]
                .iter()
                .find_map(|k| result.get(*k).and_then(|u| pick(u, "taskId")))
        })
        .or_else(|| match result.get("kind").and_then(Value::as_str) {
            Some("task") => pick(result, "id"),
            Some(_) => pick(result, "taskId"),
            None => None,
        })
}

async fn forward(
    a2a: &A2a,
    agent: &RemoteAgent,
    principal: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map_or_else(new_traceparent, str::to_string);
    let mut audit = Audit {
        a2a,
        agent: &agent.name,
        principal: principal.clone(),
        method: method.clone(),
        traceparent: traceparent.clone(),
        started,
        task: named_task(&params),
    };
    // A task someone else created is, to this caller, a task that does not exist.
    if let Some(task) = &audit.task {
        let owner = a2a.engine.store.proxy_task_owner(&agent.name, task).await;
        if !matches!(&owner, Ok(Some(p)) if *p == principal) {
            let e = A2aError::TaskNotFound(task.clone());
            audit.write(Outcome::Denied, Some(e.to_string()), 404).await;
            return axum::Json(json!({ "jsonrpc": "2.0", "id": id, "error": e.rpc() }))
                .into_response();
        }
    }
    let endpoint = match a2a.agents.endpoint(agent).await {
        Ok(e) => e,
        Err(e) => {
            audit.write(Outcome::Error, Some(e.to_string()), 502).await;
            return A2aError::Internal(e.to_string()).into_response();
        }
    };
    let mut upstream = a2a
        .agents
        .request(agent, &endpoint.url)
        .header("traceparent", &traceparent);
    for name in [
        "a2a-version",
        "a2a-extensions",
        header::ACCEPT.as_str(),
        header::CONTENT_TYPE.as_str(),
    ] {
        if let Some(v) = headers.get(name) {
            upstream = upstream.header(name, v);
        }
    }
    let response = match upstream.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            audit.write(Outcome::Error, Some(e.to_string()), 502).await;
            return A2aError::Internal(format!("agent `{}`: {e}", agent.name)).into_response();
        }
    };
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let streaming = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if streaming {
        audit.write(Outcome::Ok, None, status.as_u16()).await;
        return stream_back(a2a, agent, principal, status, response);
    }
    let bytes = response.bytes().await.unwrap_or_default();
    let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Some(task) = answer.get("result").and_then(result_task) {
        audit.task = Some(task.clone());
        let _ = a2a
            .engine
            .store
            .claim_proxy_task(
                &agent.name,
                &task,
                principal.as_deref(),
                strata_core::now_ms(),
            )
            .await;
    }
    if method == "ListTasks" || method == "tasks/list" {
        keep_own_tasks(a2a, agent, &principal, &mut answer).await;
    }
    let error = answer
        .get("error")
        .map(|e| e["message"].as_str().unwrap_or("error").to_string());
    let outcome = if error.is_some() || !status.is_success() {
        Outcome::Error
    } else {
        Outcome::Ok
    };
    audit.write(outcome, error, status.as_u16()).await;
    let mut out = (status, answer.to_string()).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}

/// Leaves only the caller's tasks in a `ListTasks` answer.
async fn keep_own_tasks(
    a2a: &A2a,
    agent: &RemoteAgent,
    principal: &Option<String>,
    answer: &mut Value,
) {
    let Some(Value::Array(tasks)) = answer.pointer_mut("/result/tasks") else {
        return;
    };
    let mut kept = Vec::new();
    for t in tasks.drain(..) {
        let id = t.get("id").and_then(Value::as_str).unwrap_or_default();
        if matches!(a2a.engine.store.proxy_task_owner(&agent.name, id).await, Ok(Some(p)) if p == *principal)
        {
            kept.push(t);
        }
    }
    *tasks = kept;
}

/// Passes an event stream through as it arrives, noting whose task it is from its first event.
fn stream_back(
    a2a: &A2a,
    agent: &RemoteAgent,
    principal: Option<String>,
    status: StatusCode,
    response: reqwest::Response,
) -> Response {
    let store = a2a.engine.store.clone();
    let name = agent.name.clone();
    let mut pending = String::new();
    let mut claimed = false;
    let bytes = response.bytes_stream().map(move |chunk| {
        if let Ok(data) = &chunk
            && !claimed
        {
            pending.push_str(&String::from_utf8_lossy(data));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                let Some(json) = line.trim().strip_prefix("data:") else {
                    continue;
                };
                let event: Value = serde_json::from_str(json.trim()).unwrap_or(Value::Null);
                if let Some(task) = event.get("result").and_then(result_task) {
                    claimed = true;
                    pending.clear();
                    let (store, name, principal) = (store.clone(), name.clone(), principal.clone());
                    tokio::spawn(async move {
                        let _ = store
                            .claim_proxy_task(
                                &name,
                                &task,
                                principal.as_deref(),
                                strata_core::now_ms(),
                            )
                            .await;
                    });
                    break;
                }
            }
        }
        chunk
    });
    let mut out = Response::new(Body::from_stream(bytes));
    *out.status_mut() = status;
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out
}

/// A fresh W3C trace context for a request that came without one.
fn new_traceparent() -> String {
    let id = strata_core::new_id().replace('-', "");
    format!("00-{id:0>32.32}-{:016x}-01", fastrand::u64(1..))
}

/// The audit record of one proxied request.
struct Audit<'a> {
    a2a: &'a A2a,
    agent: &'a str,
    principal: Option<String>,
    method: String,
    traceparent: String,
    started: Instant,
    task: Option<String>,
}

impl Audit<'_> {
    async fn write(&self, outcome: Outcome, error: Option<String>, status: u16) {
        let Some(writer) = &self.a2a.audit else {
            return;
        };
        let mut r = AuditRecord::new("agent", &format!("a2a.{}", self.method), outcome);
        r.principal.clone_from(&self.principal);
        r.target = Some(self.agent.to_string());
        r.error = error;
        r.latency_ms = Some(self.started.elapsed().as_millis() as i64);
        r.trace_id = strata_core::trace_id_of(&self.traceparent);
        r.detail = json!({ "agent": self.agent, "method": self.method, "task_id": self.task, "status": status });
        if let Err(e) = writer.write(r).await {
            tracing::error!(error = %e, "audit record not accepted");
        }
    }
}
