//! `/v1/sessions`: conversations across runs (the A2A `contextId`). A session belongs to the
//! principal that opened it; it lives `agent.session_ttl` past its last use.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use strata_store::{RunQuery, SessionRow};

use super::Api;
use crate::AgentError;

/// `POST /v1/sessions` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// The id to use (e.g. an A2A `contextId` chosen by the client); generated when absent.
    id: Option<String>,
    workflow: Option<String>,
    #[serde(default)]
    metadata: Value,
}

pub(super) async fn create(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Option<Json<CreateBody>>,
) -> Result<Response, AgentError> {
    let principal = api.authenticate(&headers)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    if let Some(w) = &body.workflow
        && !api.engine.workflows().contains_key(w)
    {
        return Err(crate::EngineError::UnknownWorkflow(w.clone()).into());
    }
    let now = strata_core::now_ms();
    let row = SessionRow {
        id: body.id.unwrap_or_else(strata_core::new_id),
        principal,
        workflow: body.workflow,
        metadata: if body.metadata.is_null() {
            json!({})
        } else {
            body.metadata
        }
        .to_string(),
        created_ms: now,
        updated_ms: now,
        expires_ms: Some(now + api.session_ttl_ms),
    };
    if !api.engine.store.create_session(&row).await? {
        return Err(AgentError::Conflict(format!("session {} exists", row.id)));
    }
    Ok((StatusCode::CREATED, Json(session_json(&row))).into_response())
}

/// The caller's live session `id`; another principal's is "not found".
pub(super) async fn owned(
    api: &Api,
    id: &str,
    principal: &Option<String>,
) -> Result<SessionRow, AgentError> {
    match api.engine.store.session(id, strata_core::now_ms()).await? {
        Some(s) if s.principal == *principal => Ok(s),
        _ => Err(AgentError::UnknownSession(id.to_string())),
    }
}

fn session_json(s: &SessionRow) -> Value {
    json!({
        "id": s.id,
        "principal": s.principal,
        "workflow": s.workflow,
        "metadata": serde_json::from_str::<Value>(&s.metadata).unwrap_or(Value::Null),
        "created_ms": s.created_ms,
        "updated_ms": s.updated_ms,
        "expires_ms": s.expires_ms,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// The next page: `next_before` and `next_before_id` of the previous one.
    before: Option<i64>,
    before_id: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list(
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
        .sessions(
            principal.as_deref(),
            q.before.map(|b| (b, q.before_id.as_deref().unwrap_or(""))),
            limit,
            strata_core::now_ms(),
        )
        .await?;
    let last = rows.last().filter(|_| rows.len() as i64 == limit);
    let list: Vec<Value> = rows.iter().map(session_json).collect();
    Ok(Json(json!({
        "sessions": list,
        "next_before": last.map(|r| r.updated_ms),
        "next_before_id": last.map(|r| &r.id),
    }))
    .into_response())
}

/// The session with its runs and its conversation (messages in and answers out, in order).
pub(super) async fn show(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    let principal = api.authenticate(&headers)?;
    let session = owned(&api, &id, &principal).await?;
    let store = &api.engine.store;
    let mut runs = store
        .runs(&RunQuery {
            session_id: Some(id.clone()),
            limit: 1000,
            ..RunQuery::default()
        })
        .await?;
    runs.reverse();
    let run_list: Vec<Value> = runs
        .iter()
        .map(|r| json!({ "id": r.id, "workflow": r.workflow, "status": r.status, "created_ms": r.created_ms }))
        .collect();
    let conversation = crate::conversation::turns(store, &id, None).await?;
    let mut out = session_json(&session);
    out["runs"] = Value::Array(run_list);
    out["messages"] = Value::Array(conversation.into_iter().map(|t| t.message).collect());
    Ok(Json(out).into_response())
}

pub(super) async fn delete(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    let principal = api.authenticate(&headers)?;
    owned(&api, &id, &principal).await?;
    api.engine.store.delete_session(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
