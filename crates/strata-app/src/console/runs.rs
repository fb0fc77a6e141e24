//! The console's workflow views: runs (filtered, paged), one run as a graph of its steps with
//! their state and as its trace, and the cancel, signal and fork actions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use strata_config::Workflow;
use strata_store::RunQuery;

use crate::admin::{admin_error, admin_only};
use crate::serve::AppState;

fn failed(e: impl std::fmt::Display) -> Response {
    admin_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        &e.to_string(),
    )
}

/// `GET /admin/api/console/runs?workflow&status&before&limit`.
pub(super) async fn list(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let limit = num("limit").unwrap_or(50).clamp(1, 500);
    let filter = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let rows = match app
        .store
        .runs(&RunQuery {
            workflow: filter("workflow"),
            status: filter("status"),
            before_ms: num("before"),
            before_id: filter("before_id"),
            limit,
            ..RunQuery::default()
        })
        .await
    {
        Ok(rows) => rows,
        Err(e) => return failed(e),
    };
    let last = rows.last().filter(|_| rows.len() as i64 == limit);
    let runs: Vec<Value> = rows
        .iter()
        .map(|r| strata_agent::view::run_json(r, None))
        .collect();
    axum::Json(json!({
        "runs": runs,
        "next_before": last.map(|r| r.created_ms),
        "next_before_id": last.map(|r| &r.id),
    }))
    .into_response()
}

/// `GET /admin/api/console/runs/{id}`: the run with its steps, its graph and its trace.
pub(super) async fn show(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let row = match app.store.run(&id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return admin_error(StatusCode::NOT_FOUND, "not_found", &format!("no run {id}"));
        }
        Err(e) => return failed(e),
    };
    let events = match app.store.run_events(&id, 0, i64::MAX).await {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let run = strata_agent::view::run_json(&row, Some(&events));
    let graph = serde_json::from_str::<Workflow>(&row.definition)
        .map_or(Value::Null, |def| graph(&def, &run));
    let trace = strata_agent::trace::trace_json(&row, &events);
    axum::Json(json!({ "run": run, "graph": graph, "trace": trace })).into_response()
}

/// The workflow's steps as nodes (kind, and the state of their latest task) and edges
/// (`needs`, and the routing edges `next`, `catch`, `choice`).
fn graph(def: &Workflow, run: &Value) -> Value {
    let mut state: HashMap<&str, &str> = HashMap::new();
    for task in run["steps"].as_array().into_iter().flatten() {
        if let (Some(step), Some(status)) = (task["step"].as_str(), task["status"].as_str()) {
            state.insert(step, status);
        }
    }
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (name, step) in &def.steps {
        let kind = serde_json::to_value(step)
            .ok()
            .and_then(|v| {
                v.as_object().and_then(|o| {
                    [
                        "llm", "tool", "agent", "handoff", "workflow", "human", "wait", "choice",
                        "parallel", "succeed", "fail",
                    ]
                    .into_iter()
                    .find(|k| o.get(*k).is_some_and(|v| !v.is_null()))
                })
            })
            .unwrap_or("step");
        nodes.push(json!({ "id": name, "kind": kind, "state": state.get(name.as_str()).copied().unwrap_or("pending") }));
        for need in &step.needs {
            edges.push(json!({ "from": need, "to": name, "kind": "needs" }));
        }
        if let Some(next) = &step.next {
            edges.push(json!({ "from": name, "to": next, "kind": "next" }));
        }
        for rule in &step.catch {
            edges.push(json!({ "from": name, "to": rule.next, "kind": "catch" }));
        }
        for rule in step.choice.iter().flatten() {
            if let Some(to) = rule.next.as_ref().or(rule.default.as_ref()) {
                edges.push(json!({ "from": name, "to": to, "kind": "choice" }));
            }
        }
    }
    json!({ "nodes": nodes, "edges": edges })
}

/// `POST /admin/api/console/runs/{id}/cancel|signal|fork`.
pub(super) async fn act(
    State(app): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let Some(agent) = &app.deps.agent else {
        return admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the agent layer is not served here",
        );
    };
    let body = body.map(|axum::Json(b)| b).unwrap_or(Value::Null);
    let engine = &agent.engine;
    let result = match action.as_str() {
        "cancel" => engine
            .tell(&id, "cancel", &json!({ "reason": "cancelled from the console" }))
            .await
            .map(|()| json!({ "id": id, "cancel": "requested" })),
        "signal" => engine
            .tell(&id, "signal", &json!({ "step": body.get("step"), "data": body.get("data").cloned().unwrap_or(Value::Null) }))
            .await
            .map(|()| json!({ "id": id, "signal": "accepted" })),
        "fork" => {
            let step = body.get("step").and_then(Value::as_str).unwrap_or_default();
            engine.fork(&id, step).await.map(|new| json!({ "id": new, "forked_from": id, "step": step }))
        }
        other => return admin_error(StatusCode::NOT_FOUND, "not_found", &format!("no action {other}")),
    };
    match result {
        Ok(v) => (StatusCode::ACCEPTED, axum::Json(v)).into_response(),
        Err(e) => {
            let status = match &e {
                strata_agent::EngineError::UnknownRun(_) => StatusCode::NOT_FOUND,
                strata_agent::EngineError::Ended(_) | strata_agent::EngineError::Conflict(_) => {
                    StatusCode::CONFLICT
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            admin_error(status, "refused", &e.to_string())
        }
    }
}
