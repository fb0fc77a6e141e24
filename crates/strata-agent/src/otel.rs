//! A finished run's spans for an OpenTelemetry collector, built from the same hop tree as
//! `GET /v1/runs/{id}/trace`: the run, its steps, their attempts and each model, tool and
//! agent call (GenAI attributes, tokens, cost). The ids are the ones the run's calls carried
//! in `traceparent`, so the ai and mcp layers' own spans hang under the attempts that made them.

use serde_json::Value;
use strata_store::{EventRow, RunRow};
use strata_telemetry::spans::{Attr, Recorded};

/// The spans of a run, root first.
#[must_use]
pub fn spans(row: &RunRow, events: &[EventRow]) -> Vec<Recorded> {
    let tree = crate::trace::trace_json(row, events);
    let hex = |v: &Value| {
        v.as_str()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .unwrap_or(1)
    };
    let Some(trace) = tree["trace_id"]
        .as_str()
        .and_then(|t| u128::from_str_radix(t, 16).ok())
    else {
        return Vec::new();
    };
    let run_span = hex(&tree["span_id"]);
    let end_of_run = row.finished_ms.unwrap_or(row.updated_ms);
    // A child run hangs under the parent's attempt that started it.
    let parent = tree["parent_span_id"]
        .as_str()
        .map(|_| hex(&tree["parent_span_id"]));
    let mut out = vec![Recorded {
        trace_id: trace,
        span_id: run_span,
        parent,
        name: format!("workflow {}", row.workflow),
        client: false,
        start_ms: row.created_ms,
        end_ms: end_of_run,
        attributes: vec![
            ("strata.run.id", Attr::Str(row.id.clone())),
            ("strata.workflow", Attr::Str(row.workflow.clone())),
            ("strata.run.status", Attr::Str(row.status.clone())),
            (
                "enduser.id",
                Attr::Str(row.principal.clone().unwrap_or_default()),
            ),
        ],
        error: (row.status == "failed").then(|| row.error.clone().unwrap_or_default()),
    }];
    for step in tree["children"].as_array().into_iter().flatten() {
        let step_span = hex(&step["span_id"]);
        let task = step["task"].as_str().unwrap_or_default();
        let mut first = i64::MAX;
        let mut last = 0;
        let at = out.len();
        for attempt in step["children"].as_array().into_iter().flatten() {
            let start = attempt["started_ms"].as_i64().unwrap_or(row.created_ms);
            let end = attempt["finished_ms"].as_i64().unwrap_or(end_of_run);
            first = first.min(start);
            last = last.max(end);
            let attempt_span = hex(&attempt["span_id"]);
            out.push(Recorded {
                trace_id: trace,
                span_id: attempt_span,
                parent: Some(step_span),
                name: format!("attempt {task}#{}", attempt["attempt"]),
                client: false,
                start_ms: start,
                end_ms: end,
                attributes: vec![
                    (
                        "strata.attempt",
                        Attr::Int(attempt["attempt"].as_i64().unwrap_or(1)),
                    ),
                    (
                        "strata.outcome",
                        Attr::Str(attempt["outcome"].as_str().unwrap_or("").into()),
                    ),
                ],
                error: attempt["error"].as_str().map(str::to_string),
            });
            let mut cursor = start;
            for call in attempt["children"].as_array().into_iter().flatten() {
                let ms = call["ms"].as_i64().unwrap_or(0);
                out.push(call_span(trace, attempt_span, call, cursor, cursor + ms));
                cursor += ms;
            }
        }
        out.insert(
            at,
            Recorded {
                trace_id: trace,
                span_id: step_span,
                parent: Some(run_span),
                name: format!("step {}", step["step"].as_str().unwrap_or(task)),
                client: false,
                start_ms: if first == i64::MAX {
                    row.created_ms
                } else {
                    first
                },
                end_ms: last.max(first.min(end_of_run)),
                attributes: vec![
                    (
                        "strata.step",
                        Attr::Str(step["step"].as_str().unwrap_or("").into()),
                    ),
                    ("strata.task", Attr::Str(task.into())),
                    (
                        "strata.decision",
                        Attr::Str(step["decision"].as_str().unwrap_or("").into()),
                    ),
                ],
                error: None,
            },
        );
    }
    out
}

/// A model, tool or agent call, with the GenAI semantic conventions' attributes.
fn call_span(trace: u128, parent: u64, call: &Value, start: i64, end: i64) -> Recorded {
    let layer = call["layer"].as_str().unwrap_or("call");
    let target = call["target"].as_str().unwrap_or("?").to_string();
    let (operation, mut attributes) = match layer {
        "ai" => (
            "chat",
            vec![("gen_ai.request.model", Attr::Str(target.clone()))],
        ),
        "mcp" => (
            "execute_tool",
            vec![("gen_ai.tool.name", Attr::Str(target.clone()))],
        ),
        "a2a" => (
            "invoke_agent",
            vec![("gen_ai.agent.name", Attr::Str(target.clone()))],
        ),
        _ => (
            "invoke_workflow",
            vec![("strata.workflow", Attr::Str(target.clone()))],
        ),
    };
    attributes.push(("gen_ai.operation.name", Attr::Str(operation.into())));
    attributes.push(("strata.layer", Attr::Str(layer.into())));
    if let Some(n) = call.pointer("/tokens/input").and_then(Value::as_i64) {
        attributes.push(("gen_ai.usage.input_tokens", Attr::Int(n)));
    }
    if let Some(n) = call.pointer("/tokens/output").and_then(Value::as_i64) {
        attributes.push(("gen_ai.usage.output_tokens", Attr::Int(n)));
    }
    if let Some(c) = call["cost_usd"].as_f64() {
        attributes.push(("strata.cost_usd", Attr::Float(c)));
    }
    let span_id = call["span_id"]
        .as_str()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or(1);
    Recorded {
        trace_id: trace,
        span_id,
        parent: Some(parent),
        name: format!("{operation} {target}"),
        client: true,
        start_ms: start,
        end_ms: end,
        attributes,
        error: call["error"]["message"].as_str().map(str::to_string),
    }
}
