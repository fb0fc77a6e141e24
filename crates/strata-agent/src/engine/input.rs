//! What a task asks for, rendered: the step's call with its templates evaluated against the
//! run's scope. The rendered input is journaled with the attempt and is all the executor needs.

use serde_json::{Value, json};
use strata_config::{AgentCall, LlmCall, Step, SubWorkflow, ToolCall};

use super::event::StepError;
use super::expr::{self, Scope};
use super::fold::{Fold, Task, Unit};

/// The kinds of work a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Llm,
    Tool,
    Agent,
    Handoff,
    Workflow,
    Human,
    Wait,
    Choice,
    Succeed,
    Fail,
}

impl Action {
    /// Actions that may be retried and time out (they call something).
    #[must_use]
    pub fn calls_out(self) -> bool {
        matches!(
            self,
            Action::Llm | Action::Tool | Action::Agent | Action::Workflow | Action::Handoff
        )
    }
}

/// The action and rendered input of `task`.
pub fn render(fold: &Fold, task: &Task) -> Result<(Action, Value), StepError> {
    let step = fold
        .step_of(task)
        .ok_or_else(|| StepError::new("internal", format!("no step `{}`", task.step)))?;
    let item = fold.item_of(task);
    let scope = fold.scope(item);
    match &task.unit {
        Unit::Branch(name) => {
            let branch = step
                .parallel
                .as_ref()
                .and_then(|p| p.branches.get(name))
                .ok_or_else(|| StepError::new("internal", format!("no branch `{name}`")))?;
            call(
                &scope,
                branch.llm.as_ref(),
                branch.tool.as_ref(),
                branch.agent.as_ref(),
                branch.workflow.as_ref(),
            )
        }
        _ => step_input(fold, step, &scope),
    }
}

fn step_input(fold: &Fold, step: &Step, scope: &Scope<'_>) -> Result<(Action, Value), StepError> {
    let r = |v: &Value| expr::render(v, scope).map_err(StepError::bad_input);
    let rs = |s: &str| expr::render_str(s, scope).map_err(StepError::bad_input);
    if let Some(h) = &step.handoff {
        let message = h.message.as_deref().map(rs).transpose()?;
        return Ok((
            Action::Handoff,
            json!({ "agent": h.agent, "input": { "message": message, "context": fold.state } }),
        ));
    }
    if let Some(h) = &step.human {
        let timeout = h.timeout.map(|t| t.0.as_millis() as u64);
        return Ok((
            Action::Human,
            json!({ "prompt": rs(&h.prompt)?, "timeout_ms": timeout }),
        ));
    }
    if let Some(w) = &step.wait {
        return Ok((
            Action::Wait,
            json!({ "duration_ms": w.duration.0.as_millis() as u64 }),
        ));
    }
    if let Some(rules) = &step.choice {
        for rule in rules {
            if let (Some(when), Some(next)) = (&rule.when, &rule.next) {
                if expr::condition(when, scope).map_err(StepError::bad_input)? {
                    return Ok((Action::Choice, json!({ "next": next })));
                }
            } else if let Some(default) = &rule.default {
                return Ok((Action::Choice, json!({ "next": default })));
            }
        }
        return Ok((Action::Choice, json!({ "next": null })));
    }
    if let Some(s) = &step.succeed {
        let output = match (&s.output, &fold.def.output) {
            (Some(t), _) | (None, Some(t)) => r(t)?,
            (None, None) => Value::Object(fold.state.clone()),
        };
        return Ok((Action::Succeed, output));
    }
    if let Some(f) = &step.fail {
        let message = f.message.as_deref().map(rs).transpose()?;
        return Ok((
            Action::Fail,
            json!({ "error": f.error.as_deref().unwrap_or("failed"), "message": message }),
        ));
    }
    call(
        scope,
        step.llm.as_ref(),
        step.tool.as_ref(),
        step.agent.as_ref(),
        step.workflow.as_ref(),
    )
}

/// One of the calls a step, a map item or a branch can make.
fn call(
    scope: &Scope<'_>,
    llm: Option<&LlmCall>,
    tool: Option<&ToolCall>,
    agent: Option<&AgentCall>,
    workflow: Option<&SubWorkflow>,
) -> Result<(Action, Value), StepError> {
    let r = |v: &Value| expr::render(v, scope).map_err(StepError::bad_input);
    if let Some(l) = llm {
        let mut body =
            json!({ "model": l.model, "messages": r(&Value::from(l.messages.clone()))? });
        if let Some(schema) = &l.output_schema {
            body["output_schema"] = schema.clone();
        }
        if let Some(t) = l.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = l.max_tokens {
            body["max_tokens"] = json!(m);
        }
        return Ok((Action::Llm, body));
    }
    if let Some(t) = tool {
        return Ok((
            Action::Tool,
            json!({ "server": t.server, "name": t.name, "arguments": r(&t.arguments)? }),
        ));
    }
    if let Some(a) = agent {
        let message = expr::render_str(&a.message, scope).map_err(StepError::bad_input)?;
        return Ok((
            Action::Agent,
            json!({ "agent": a.name, "input": { "message": message } }),
        ));
    }
    if let Some(w) = workflow {
        return Ok((
            Action::Workflow,
            json!({ "agent": w.name, "input": r(&w.input)? }),
        ));
    }
    Err(StepError::new("internal", "the step has nothing to run"))
}
