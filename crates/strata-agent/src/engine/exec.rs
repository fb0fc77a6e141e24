//! Running one task attempt: the effect its action asks for, through the layers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Engine;
use super::event::StepError;
use super::input::Action;
use crate::clients::{CallContext, Called};

/// How an attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// It finished, with the calls it made.
    Done {
        result: Result<Value, StepError>,
        calls: Vec<Value>,
    },
    /// It waits for a signal, a timer (ms) or a child run.
    Park {
        wake_at: Option<i64>,
        child: Option<String>,
    },
}

/// Where the attempt runs.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub run_id: String,
    pub task: String,
    pub attempt: u32,
    pub principal: Option<String>,
    /// The run's session, if any.
    pub session: Option<String>,
    /// The run's trace id (hex).
    pub trace: String,
    pub key: String,
    pub timeout: Option<Duration>,
}

/// Runs `action` with its rendered `input`.
pub async fn execute(engine: &Arc<Engine>, at: &Attempt, action: Action, input: Value) -> Outcome {
    let ctx = CallContext {
        principal: at.principal.clone(),
        idempotency_key: at.key.clone(),
        run_id: at.run_id.clone(),
        session: at.session.clone(),
        trace: at.trace.clone(),
    };
    let now = strata_core::now_ms();
    let field = |name: &str| input.get(name).and_then(Value::as_str).unwrap_or_default();
    let ms = |name: &str| input.get(name).and_then(Value::as_i64);
    match action {
        Action::Llm => {
            let clients = engine.clients();
            match super::window::apply(input, clients.models.as_ref(), &ctx).await {
                Ok((body, summary)) => {
                    let mut outcome = called(at.timeout, clients.models.chat(body, &ctx)).await;
                    if let (Some(record), Outcome::Done { calls, .. }) = (summary, &mut outcome) {
                        calls.insert(0, record);
                    }
                    outcome
                }
                Err((e, record)) => Outcome::Done {
                    result: Err(StepError::new(e.class, e.message)),
                    calls: record.into_iter().collect(),
                },
            }
        }
        Action::Tool => {
            let clients = engine.clients();
            let arguments = input.get("arguments").cloned().unwrap_or(Value::Null);
            let server = field("server").to_string();
            let name = field("name").to_string();
            called(
                at.timeout,
                clients.tools.call_tool(&server, &name, arguments, &ctx),
            )
            .await
        }
        Action::Agent | Action::Handoff
            if engine.clients().agents.get(field("agent")).is_some() =>
        {
            let clients = engine.clients();
            let child_input = input.get("input").cloned().unwrap_or(Value::Null);
            called(
                at.timeout,
                clients.agents.send(field("agent"), &child_input, &ctx),
            )
            .await
        }
        Action::Agent | Action::Workflow | Action::Handoff => {
            let child_input = input.get("input").cloned().unwrap_or(Value::Null);
            match engine.start_child(at, field("agent"), child_input).await {
                Ok(child) => Outcome::Park {
                    wake_at: None,
                    child: Some(child),
                },
                Err(e) => Outcome::Done {
                    result: Err(e),
                    calls: Vec::new(),
                },
            }
        }
        Action::Human => Outcome::Park {
            wake_at: ms("timeout_ms").map(|t| now + t),
            child: None,
        },
        Action::Wait => Outcome::Park {
            wake_at: Some(now + ms("duration_ms").unwrap_or(0)),
            child: None,
        },
        Action::Choice | Action::Succeed => Outcome::Done {
            result: Ok(input),
            calls: Vec::new(),
        },
        Action::Fail => Outcome::Done {
            result: Err(StepError::new(
                field("error"),
                input
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the workflow failed"),
            )),
            calls: Vec::new(),
        },
    }
}

async fn called(timeout: Option<Duration>, call: impl Future<Output = Called>) -> Outcome {
    let called = match timeout {
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(called) => called,
            Err(_) => {
                return Outcome::Done {
                    result: Err(StepError::new(
                        "timeout",
                        format!("no answer within {}", humantime::format_duration(limit)),
                    )),
                    calls: Vec::new(),
                };
            }
        },
        None => call.await,
    };
    Outcome::Done {
        result: called
            .result
            .map_err(|e| StepError::new(e.class, e.message)),
        calls: vec![called.record],
    }
}
