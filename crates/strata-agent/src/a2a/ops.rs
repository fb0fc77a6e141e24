//! The A2A operations, the same for both bindings: they take and return 1.0-shaped JSON; the
//! bindings convert for 0.3 clients.

use serde_json::{Value, json};
use strata_store::{RunQuery, RunRow, SessionRow};

use super::Call;
use super::error::A2aError;
use super::task::{self, Tracker};
use super::wire::{Inbound, State, Version};

/// `SendMessage` / `message/send` parameters, read from either version.
#[derive(Debug)]
pub struct Send {
    pub inbound: Inbound,
    pub blocking: bool,
    pub history: Option<usize>,
}

impl Send {
    pub fn parse(params: &Value, version: Version) -> Result<Self, A2aError> {
        let message = params
            .get("message")
            .ok_or_else(|| A2aError::InvalidParams("message is required".into()))?;
        let config = params.get("configuration").cloned().unwrap_or(Value::Null);
        if config.get("taskPushNotificationConfig").is_some()
            || config.get("pushNotificationConfig").is_some()
        {
            return Err(A2aError::PushNotSupported);
        }
        let blocking = match version {
            Version::V10 => !config
                .get("returnImmediately")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            Version::V03 => config
                .get("blocking")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        };
        Ok(Self {
            inbound: Inbound::parse(message)?,
            blocking,
            history: history_length(&config)?,
        })
    }
}

/// `historyLength` from a params or configuration object.
pub fn history_length(obj: &Value) -> Result<Option<usize>, A2aError> {
    match obj.get("historyLength") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    A2aError::InvalidParams("historyLength must be a non-negative integer".into())
                })?;
            Ok(Some(n as usize))
        }
    }
}

/// Sends a message: starts a task, or answers the one waiting for input. Returns the task
/// (after it settled, when blocking).
pub async fn send(call: &Call, send: Send) -> Result<(String, Value), A2aError> {
    let (id, baseline) = deliver(call, &send.inbound).await?;
    if send.blocking {
        settle(call, &id, baseline).await?;
    }
    Ok((id.clone(), snapshot(call, &id, send.history, true).await?))
}

/// Starts the task or resumes it; returns its id and the journal position before the message.
pub async fn deliver(call: &Call, inbound: &Inbound) -> Result<(String, i64), A2aError> {
    let engine = &call.a2a.engine;
    let now = strata_core::now_ms();
    let ttl = call.a2a.settings.session_ttl.as_millis() as i64;
    if let Some(task_id) = &inbound.task_id {
        let row = visible(call, task_id).await?;
        let context = row.session_id.clone().unwrap_or_default();
        if inbound.context_id.as_ref().is_some_and(|c| *c != context) {
            return Err(A2aError::InvalidParams(format!(
                "contextId does not match task {task_id}"
            )));
        }
        let events = engine.store.run_events(task_id, 0, i64::MAX).await?;
        let state = task::fold(&row, &events).state;
        if state.terminal() {
            return Err(A2aError::Unsupported(format!(
                "task {task_id} has ended; send a new message without taskId (same contextId) to continue"
            )));
        }
        if state != State::InputRequired {
            return Err(A2aError::Unsupported(format!(
                "task {task_id} is not waiting for input"
            )));
        }
        engine
            .store
            .append_message(
                &context,
                Some(task_id),
                "user",
                &inbound.message.to_string(),
                now,
            )
            .await?;
        engine
            .tell(
                task_id,
                "signal",
                &json!({ "step": null, "data": inbound.reply() }),
            )
            .await?;
        engine.store.touch_session(&context, now, Some(ttl)).await?;
        return Ok((task_id.clone(), row.seq));
    }
    let context = open_session(call, inbound.context_id.as_deref(), now, ttl).await?;
    let id = engine
        .start_session_run(
            &call.workflow,
            inbound.run_input(),
            call.principal.clone(),
            Some(context.clone()),
        )
        .await?;
    engine
        .store
        .append_message(
            &context,
            Some(&id),
            "user",
            &inbound.message.to_string(),
            now,
        )
        .await?;
    Ok((id, 0))
}

/// The caller's session `id` (created when new), or a new one.
async fn open_session(
    call: &Call,
    id: Option<&str>,
    now: i64,
    ttl: i64,
) -> Result<String, A2aError> {
    let store = &call.a2a.engine.store;
    if let Some(id) = id
        && let Some(s) = store.session(id, now).await?
    {
        if s.principal != call.principal {
            // Someone else's context: refused, and not told apart from a bad id.
            return Err(A2aError::InvalidParams(format!(
                "contextId {id} cannot be used"
            )));
        }
        store.touch_session(id, now, Some(ttl)).await?;
        return Ok(id.to_string());
    }
    let id = id.map_or_else(strata_core::new_id, str::to_string);
    if id.len() > 200 {
        return Err(A2aError::InvalidParams("contextId is too long".into()));
    }
    let created = store
        .create_session(&SessionRow {
            id: id.clone(),
            principal: call.principal.clone(),
            workflow: Some(call.workflow.clone()),
            metadata: "{}".into(),
            created_ms: now,
            updated_ms: now,
            expires_ms: Some(now + ttl),
        })
        .await?;
    if !created {
        // Taken meanwhile (or expired but not swept yet): not ours to reuse.
        return Err(A2aError::InvalidParams(format!(
            "contextId {id} cannot be used"
        )));
    }
    Ok(id)
}

/// A run the caller may see as a task of this agent; anything else is "not found".
pub async fn visible(call: &Call, id: &str) -> Result<RunRow, A2aError> {
    match call.a2a.engine.store.run(id).await? {
        Some(row) if row.workflow == call.workflow && row.principal == call.principal => Ok(row),
        _ => Err(A2aError::TaskNotFound(id.to_string())),
    }
}

/// The task now.
pub async fn snapshot(
    call: &Call,
    id: &str,
    history: Option<usize>,
    artifacts: bool,
) -> Result<Value, A2aError> {
    Ok(
        tracker_task(call, &visible(call, id).await?, history, artifacts)
            .await?
            .1,
    )
}

async fn tracker_task(
    call: &Call,
    row: &RunRow,
    history: Option<usize>,
    artifacts: bool,
) -> Result<(Tracker, Value), A2aError> {
    let store = &call.a2a.engine.store;
    let events = store.run_events(&row.id, 0, i64::MAX).await?;
    let tracker = task::fold(row, &events);
    let inbound = match &row.session_id {
        Some(s) => store.messages(s, Some(&row.id)).await?,
        None => Vec::new(),
    };
    let task = tracker.task(&inbound, history, artifacts);
    Ok((tracker, task))
}

/// Waits until the task has ended or asks for input after journal position `baseline`.
async fn settle(call: &Call, id: &str, baseline: i64) -> Result<(), A2aError> {
    let engine = &call.a2a.engine;
    let mut journal = engine.subscribe();
    let deadline = tokio::time::Instant::now() + call.a2a.settings.blocking_timeout;
    loop {
        let row = visible(call, id).await?;
        let events = engine.store.run_events(id, 0, i64::MAX).await?;
        let t = task::fold(&row, &events);
        if t.state.settled() && t.changed > baseline {
            return Ok(());
        }
        if !crate::engine::follow::changed(&mut journal, id, deadline).await {
            return Ok(());
        }
    }
}

/// `GetTask`.
pub async fn get(call: &Call, params: &Value) -> Result<Value, A2aError> {
    let id = id_param(params)?;
    snapshot(call, &id, history_length(params)?, true).await
}

/// The `id` of a task request.
pub fn id_param(params: &Value) -> Result<String, A2aError> {
    params
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| A2aError::InvalidParams("id is required".into()))
}

/// `CancelTask`: the canceled task; a task that ended otherwise cannot be canceled.
pub async fn cancel(call: &Call, params: &Value) -> Result<Value, A2aError> {
    let id = id_param(params)?;
    let row = visible(call, &id).await?;
    let (tracker, _) = tracker_task(call, &row, Some(0), false).await?;
    match tracker.state {
        State::Canceled => return snapshot(call, &id, None, true).await,
        s if s.terminal() => return Err(A2aError::TaskNotCancelable(id)),
        _ => {}
    }
    match call
        .a2a
        .engine
        .tell(&id, "cancel", &json!({ "reason": "canceled over A2A" }))
        .await
    {
        Ok(()) | Err(crate::EngineError::Ended(_)) => {}
        Err(e) => return Err(e.into()),
    }
    settle(call, &id, row.seq).await?;
    let task = snapshot(call, &id, None, true).await?;
    let state = task["status"]["state"].as_str().and_then(State::parse);
    match state {
        Some(State::Completed | State::Failed) => Err(A2aError::TaskNotCancelable(id)),
        _ => Ok(task),
    }
}

/// `ListTasks`: the caller's tasks of this agent, newest first, a page at a time.
pub async fn list(call: &Call, params: &Value) -> Result<Value, A2aError> {
    let size = params
        .get("pageSize")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(50);
    if !(1..=100).contains(&size) {
        return Err(A2aError::InvalidParams(
            "pageSize must be between 1 and 100".into(),
        ));
    }
    // The token is the last task's creation time and id: ties in one millisecond page exactly.
    let before = match params.get("pageToken").and_then(Value::as_str) {
        None | Some("") => None,
        Some(t) => {
            let bad = || A2aError::InvalidParams("pageToken is not one this server issued".into());
            let (ms, id) = t.split_once(':').ok_or_else(bad)?;
            Some((ms.parse::<i64>().map_err(|_| bad())?, id.to_string()))
        }
    };
    let wanted = match params.get("status").and_then(Value::as_str) {
        None | Some("" | "TASK_STATE_UNSPECIFIED") => None,
        Some(s) => Some(
            State::parse(s)
                .ok_or_else(|| A2aError::InvalidParams(format!("unknown status {s}")))?,
        ),
    };
    let context = params
        .get("contextId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let history = history_length(params)?;
    let artifacts = params
        .get("includeArtifacts")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut tasks = Vec::new();
    let mut cursor = before;
    let mut next = String::new();
    // Filtering by state happens after the fold, so a page may take several reads.
    'pages: loop {
        let rows = call
            .a2a
            .engine
            .store
            .runs(&RunQuery {
                workflow: Some(call.workflow.clone()),
                principal: call.principal.clone(),
                session_id: context.clone(),
                before_ms: cursor.as_ref().map(|c| c.0),
                before_id: cursor.as_ref().map(|c| c.1.clone()),
                limit: size,
                ..RunQuery::default()
            })
            .await?;
        let full = rows.len() as i64 == size;
        for row in &rows {
            if call.principal.is_none() && row.principal.is_some() {
                continue;
            }
            let (tracker, task) = tracker_task(call, row, history.or(Some(0)), artifacts).await?;
            cursor = Some((row.created_ms, row.id.clone()));
            if wanted.is_none_or(|w| w == tracker.state) {
                tasks.push(task);
                if tasks.len() as i64 == size {
                    if full || rows.last().is_some_and(|l| l.id != row.id) {
                        next = format!("{}:{}", row.created_ms, row.id);
                    }
                    break 'pages;
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(json!({ "tasks": tasks, "nextPageToken": next, "pageSize": size }))
}
