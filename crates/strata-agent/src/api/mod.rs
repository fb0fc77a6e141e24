//! The agent layer's HTTP surface: workflows, runs (start, get, list, cancel, signal, fork)
//! and each run's resumable event stream.

mod events;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use strata_policy::ApiKeys;
use strata_store::RunQuery;

use crate::engine::Engine;
use crate::{AgentError, view};

/// What every handler shares.
#[derive(Debug)]
pub struct Api {
    pub engine: Arc<Engine>,
    keys: ApiKeys,
    session_ttl_ms: i64,
}

impl Api {
    /// Who is calling: the key's name, or `None` when no keys are configured.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>, AgentError> {
        if !self.keys.enabled() {
            return Ok(None);
        }
        strata_policy::presented_key(headers)
            .and_then(|k| self.keys.verify(k))
            .map(|id| Some(id.name.clone()))
            .ok_or(AgentError::Unauthorized)
    }
}

impl Api {
    /// Run `id` if the caller may see it: any run when no keys are configured, otherwise only
    /// the caller's own; another's is "no such run".
    async fn visible_run(
        &self,
        headers: &HeaderMap,
        id: &str,
    ) -> Result<strata_store::RunRow, AgentError> {
        let principal = self.authenticate(headers)?;
        self.engine
            .store
            .run(id)
            .await?
            .filter(|row| principal.is_none() || row.principal == principal)
            .ok_or_else(|| crate::EngineError::UnknownRun(id.to_string()).into())
    }
}

/// The agent layer's routes.
pub fn router(engine: Arc<Engine>, keys: ApiKeys, session_ttl: Duration) -> Router {
    let api = Arc::new(Api {
        engine,
        keys,
        session_ttl_ms: session_ttl.as_millis() as i64,
    });
    Router::new()
        .route("/v1/workflows", get(workflows))
        .route("/v1/workflows/{name}/runs", post(start))
        .route("/v1/runs", get(list))
        .route("/v1/runs/{id}", get(show))
        .route("/v1/runs/{id}/events", get(events::stream))
        .route("/v1/runs/{id}/cancel", post(cancel))
        .route("/v1/runs/{id}/signal", post(signal))
        .route("/v1/runs/{id}/fork", post(fork))
        .route("/v1/runs/{id}/trace", get(trace))
        .route("/v1/sessions", get(sessions::list).post(sessions::create))
        .route(
            "/v1/sessions/{id}",
            get(sessions::show).delete(sessions::delete),
        )
        .fallback(|method: http::Method, uri: http::Uri| async move {
            AgentError::UnknownPath(format!("{method} {}", uri.path()))
        })
        .with_state(api)
}

async fn workflows(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    api.authenticate(&headers)?;
    let workflows = api.engine.workflows();
    let mut list: Vec<Value> = workflows
        .values()
        .map(|w| {
            json!({
                "name": w.name,
                "description": w.description,
                "input": w.input,
                "steps": w.steps.keys().collect::<Vec<_>>(),
                "metadata": w.metadata,
            })
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({ "workflows": list })).into_response())
}

/// `POST /v1/workflows/{name}/runs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    input: Value,
    /// Run in this session (the caller's): it starts once the session's earlier runs ended.
    #[serde(default)]
    session: Option<String>,
    /// `true` (up to 60 s) or a duration such as `"30s"`: answer when the run has ended.
    #[serde(default)]
    wait: Option<Value>,
}

async fn start(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AgentError> {
    let principal = api.authenticate(&headers)?;
    let Json(body) = body.map_err(|e| AgentError::BadRequest(e.body_text()))?;
    let wait = match &body.wait {
        None | Some(Value::Bool(false)) | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some(Duration::from_secs(60)),
        Some(Value::String(text)) => Some(
            humantime::parse_duration(text)
                .map_err(|e| AgentError::BadRequest(format!("wait: {e}")))?,
        ),
        Some(other) => {
            return Err(AgentError::BadRequest(format!(
                "wait: expected true or a duration such as \"30s\", found {other}"
            )));
        }
    };
    let mut journal = api.engine.subscribe();
    let input = if body.input.is_null() {
        json!({})
    } else {
        body.input
    };
    if let Some(session) = &body.session {
        sessions::owned(&api, session, &principal).await?;
    }
    let id = api
        .engine
        .start_session_run(&name, input, principal, body.session)
        .await?;
    let mut ended = false;
    if let Some(limit) = wait {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(row) = api.engine.store.run(&id).await?
                && matches!(row.status.as_str(), "succeeded" | "failed" | "cancelled")
            {
                ended = true;
                break;
            }
            if !crate::engine::follow::changed(&mut journal, &id, deadline).await {
                break;
            }
        }
    }
    let row = api
        .engine
        .store
        .run(&id)
        .await?
        .ok_or_else(|| crate::EngineError::UnknownRun(id.clone()))?;
    let events = api.engine.store.run_events(&id, 0, i64::MAX).await?;
    let status = match (wait, ended) {
        (Some(_), true) => StatusCode::OK,
        (Some(_), false) => StatusCode::ACCEPTED,
        (None, _) => StatusCode::CREATED,
    };
    Ok((status, Json(view::run_json(&row, Some(&events)))).into_response())
}

/// `GET /v1/runs` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    parent_id: Option<String>,
    session: Option<String>,
    /// The next page: `next_before` (and `next_before_id`) of the previous one.
    before: Option<i64>,
    before_id: Option<String>,
    since: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AgentError> {
    let principal = api.authenticate(&headers)?;
    let Query(q) = query.map_err(|e| AgentError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let rows = api
        .engine
        .store
        .runs(&RunQuery {
            workflow: q.workflow,
            status: q.status,
            // With keys, a caller lists its own runs.
            principal,
            parent_id: q.parent_id,
            session_id: q.session,
            before_ms: q.before,
            before_id: q.before_id,
            since_ms: q.since,
            limit,
        })
        .await?;
    let last = rows.last().filter(|_| rows.len() as i64 == limit);
    let runs: Vec<Value> = rows.iter().map(|r| view::run_json(r, None)).collect();
    Ok(Json(json!({
        "runs": runs,
        "next_before": last.map(|r| r.created_ms),
        "next_before_id": last.map(|r| &r.id),
    }))
    .into_response())
}

/// A run and its journal, for the caller.
async fn journal(
    api: &Api,
    id: &str,
    headers: &HeaderMap,
) -> Result<(strata_store::RunRow, Vec<strata_store::EventRow>), AgentError> {
    let row = api.visible_run(headers, id).await?;
    let events = api.engine.store.run_events(id, 0, i64::MAX).await?;
    Ok((row, events))
}

async fn show(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    let (row, events) = journal(&api, &id, &headers).await?;
    Ok(Json(view::run_json(&row, Some(&events))).into_response())
}

/// The run's hops as a tree, from its journal.
async fn trace(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    let (row, events) = journal(&api, &id, &headers).await?;
    Ok(Json(crate::trace::trace_json(&row, &events)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: Option<String>,
}

async fn cancel(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<CancelBody>>,
) -> Result<Response, AgentError> {
    api.visible_run(&headers, &id).await?;
    let reason = body.and_then(|Json(b)| b.reason);
    api.engine
        .tell(&id, "cancel", &json!({ "reason": reason }))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "cancel": "requested" })),
    )
        .into_response())
}

/// `POST /v1/runs/{id}/signal` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalBody {
    /// The `human` step the signal answers; may be left out when only one waits.
    step: Option<String>,
    #[serde(default)]
    data: Value,
}

async fn signal(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SignalBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AgentError> {
    api.visible_run(&headers, &id).await?;
    let Json(body) = body.map_err(|e| AgentError::BadRequest(e.body_text()))?;
    check_signal(&api, &id, &body).await?;
    api.engine
        .tell(
            &id,
            "signal",
            &json!({ "step": body.step, "data": body.data }),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "signal": "accepted" })),
    )
        .into_response())
}

/// A signal must name a `human` step of the run's workflow and match its schema.
async fn check_signal(api: &Api, id: &str, body: &SignalBody) -> Result<(), AgentError> {
    let row = api
        .engine
        .store
        .run(id)
        .await?
        .ok_or_else(|| crate::EngineError::UnknownRun(id.to_string()))?;
    let def: strata_config::Workflow = serde_json::from_str(&row.definition)
        .map_err(|e| AgentError::BadRequest(format!("stored definition: {e}")))?;
    let Some(step) = &body.step else {
        return Ok(());
    };
    let human = def
        .steps
        .get(step)
        .and_then(|s| s.human.as_ref())
        .ok_or_else(|| {
            AgentError::BadRequest(format!(
                "workflow `{}` has no human step `{step}`",
                def.name
            ))
        })?;
    if let Some(schema) = &human.schema {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| AgentError::BadRequest(format!("the step's schema: {e}")))?;
        if let Some(e) = validator.iter_errors(&body.data).next() {
            return Err(AgentError::BadRequest(format!(
                "data does not match the step's schema: {e} (at `{}`)",
                e.instance_path()
            )));
        }
    }
    Ok(())
}

/// `POST /v1/runs/{id}/fork` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkBody {
    /// The step to run again; everything journaled before its first start is kept.
    step: String,
}

async fn fork(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ForkBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AgentError> {
    api.visible_run(&headers, &id).await?;
    let Json(body) = body.map_err(|e| AgentError::BadRequest(e.body_text()))?;
    let new = api.engine.fork(&id, &body.step).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": new, "forked_from": id, "step": body.step })),
    )
        .into_response())
}
