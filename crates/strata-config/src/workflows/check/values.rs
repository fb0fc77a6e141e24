//! Checks of single values: CEL conditions, templates, error classes, retry rules, `map`
//! settings, state paths, reducer defaults and embedded JSON Schemas.

use serde_json::Value;

use super::{Call, expression_error, indexed, key, path, template_error};
use crate::model::{ERROR_CLASSES, Reducer, RetryRule, Step, Workflow};
use crate::validate::{Report, known_ref};
use crate::yaml::Seg;

/// The workflow-level values: `output`, `input`, `defaults.retry`, `state`.
pub(super) fn workflow(report: &mut Report<'_>, workflow: &Workflow) {
    if let Some(output) = &workflow.output {
        templates(report, &[key("output")], output);
    }
    if let Some(schema) = &workflow.input {
        json_schema(report, &[key("input")], schema);
    }
    retry_rules(
        report,
        &[key("defaults"), key("retry")],
        &workflow.defaults.retry,
    );
    for (name, state) in &workflow.state {
        let Some(default) = &state.default else {
            continue;
        };
        let (fits, want, reducer) = match state.reducer {
            Reducer::Replace => continue,
            Reducer::Add => (default.is_number(), "a number", "add"),
            Reducer::Append => (default.is_array(), "a list", "append"),
            Reducer::Merge => (default.is_object(), "an object", "merge"),
        };
        if !fits {
            report.at(
                &[key("state"), key(name), key("default")],
                format!(
                    "state key `{name}` uses the {reducer} reducer, so its default must be {want}"
                ),
            );
        }
    }
}

/// The values of one step that are not calls (those go through [`call`]).
pub(super) fn step(report: &mut Report<'_>, at: &[Seg], step: &Step) {
    if let Some(when) = &step.when {
        expression(report, &path(at, &["when"]), when);
    }
    for (i, rule) in step.choice.iter().flatten().enumerate() {
        if let Some(when) = &rule.when {
            expression(report, &indexed(at, "choice", i, "when"), when);
        }
    }
    if let Some(map) = &step.map {
        expression(report, &path(at, &["map", "items"]), &map.items);
        if map.max_concurrency == 0 {
            report.at(
                &path(at, &["map", "max_concurrency"]),
                "max_concurrency must be at least 1",
            );
        }
        if let Some(tolerated) = &map.tolerated_failure {
            tolerated_failure(report, &path(at, &["map", "tolerated_failure"]), tolerated);
        }
    }
    if let Some(message) = step.handoff.as_ref().and_then(|h| h.message.as_ref()) {
        template(report, &path(at, &["handoff", "message"]), message);
    }
    if let Some(human) = &step.human {
        template(report, &path(at, &["human", "prompt"]), &human.prompt);
        if let Some(schema) = &human.schema {
            json_schema(report, &path(at, &["human", "schema"]), schema);
        }
    }
    if let Some(output) = step.succeed.as_ref().and_then(|s| s.output.as_ref()) {
        templates(report, &path(at, &["succeed", "output"]), output);
    }
    if let Some(fail) = &step.fail {
        if let Some(message) = &fail.message {
            template(report, &path(at, &["fail", "message"]), message);
        }
        if let Some(error) = &fail.error {
            let p = path(at, &["fail", "error"]);
            known_ref(report, &p, "error class", error, ERROR_CLASSES);
        }
    }
    if let Some(rules) = &step.retry {
        retry_rules(report, &path(at, &["retry"]), rules);
    }
    for (i, rule) in step.catch.iter().enumerate() {
        error_classes(report, &indexed(at, "catch", i, "errors"), &rule.errors);
    }
    if step.max_visits == Some(0) {
        report.at(
            &path(at, &["max_visits"]),
            "max_visits must be at least 1 (it counts every run of the step, the first included)",
        );
    }
    if let Some(output) = &step.output
        && !is_state_path(output)
    {
        report.at(
            &path(at, &["output"]),
            format!(
                "`{output}` is not a state path: write `key` or `key.field.sub`, each part \
                 letters, digits and `_`, not starting with a digit"
            ),
        );
    }
}

/// The templates and schemas of one call (of a step or a parallel branch).
pub(super) fn call(report: &mut Report<'_>, call: &Call<'_>) {
    if let Some(llm) = call.llm {
        for (i, message) in llm.messages.iter().enumerate() {
            let mut p = path(&call.at, &["llm", "messages"]);
            p.push(Seg::Index(i));
            templates(report, &p, message);
        }
        if let Some(schema) = &llm.output_schema {
            json_schema(report, &path(&call.at, &["llm", "output_schema"]), schema);
        }
    }
    if let Some(tool) = call.tool {
        templates(
            report,
            &path(&call.at, &["tool", "arguments"]),
            &tool.arguments,
        );
    }
    if let Some(agent) = call.agent {
        template(
            report,
            &path(&call.at, &["agent", "message"]),
            &agent.message,
        );
    }
    if let Some(sub) = call.workflow {
        templates(report, &path(&call.at, &["workflow", "input"]), &sub.input);
    }
}

/// Whether `text` is `key` or `key.a.b`, each part an identifier.
pub(super) fn is_state_path(text: &str) -> bool {
    text.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn expression(report: &mut Report<'_>, at: &[Seg], source: &str) {
    if let Some(error) = expression_error(source) {
        report.at(
            at,
            format!("invalid CEL expression: {}", one_line_cel(&error)),
        );
    }
}

/// The CEL parser's report (`ERROR: <input>:1:11: Syntax error: …` followed by the source
/// and a caret line) as one line: `Syntax error: … (column 11)`.
fn one_line_cel(error: &str) -> String {
    let mut parts = Vec::new();
    for line in error.lines() {
        let Some(rest) = line.strip_prefix("ERROR: <input>:") else {
            continue;
        };
        let mut fields = rest.splitn(3, ':');
        let (Some(line), Some(column), Some(message)) =
            (fields.next(), fields.next(), fields.next())
        else {
            parts.push(rest.trim().to_string());
            continue;
        };
        let place = if line == "1" {
            format!("column {column}")
        } else {
            format!("line {line}, column {column}")
        };
        parts.push(format!("{} ({place})", message.trim()));
    }
    if parts.is_empty() {
        error.lines().next().unwrap_or(error).trim().to_string()
    } else {
        parts.join("; ")
    }
}

/// minijinja's message without its `(in <string>:1)` suffix (kept as a line number when the
/// template has several lines).
pub(super) fn one_line_template(error: &str) -> String {
    let Some((message, place)) = error.rsplit_once(" (in <string>:") else {
        return error.to_string();
    };
    match place.strip_suffix(')') {
        Some("1") => message.to_string(),
        Some(line) => format!("{message} (line {line} of the template)"),
        None => error.to_string(),
    }
}

/// Every string inside `value` that holds a template.
fn templates(report: &mut Report<'_>, at: &[Seg], value: &Value) {
    match value {
        Value::String(text) => template(report, at, text),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = at.to_vec();
                p.push(Seg::Index(i));
                templates(report, &p, item);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                templates(report, &path(at, &[k]), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn template(report: &mut Report<'_>, at: &[Seg], text: &str) {
    if (text.contains("{{") || text.contains("{%"))
        && let Some(error) = template_error(text)
    {
        report.at(
            at,
            format!("invalid template: {}", one_line_template(&error)),
        );
    }
}

fn retry_rules(report: &mut Report<'_>, at: &[Seg], rules: &[RetryRule]) {
    for (i, rule) in rules.iter().enumerate() {
        let mut p = at.to_vec();
        p.push(Seg::Index(i));
        error_classes(report, &path(&p, &["errors"]), &rule.errors);
        if rule.max_attempts == 0 {
            report.at(
                &path(&p, &["max_attempts"]),
                "max_attempts must be at least 1 (it counts the first attempt)",
            );
        }
        if rule.backoff.is_nan() || rule.backoff < 1.0 {
            report.at(
                &path(&p, &["backoff"]),
                format!(
                    "backoff must be at least 1.0 (each wait is the previous one times it), found {}",
                    rule.backoff
                ),
            );
        }
    }
}

/// A list of error classes: not empty, each a known class or `all`.
fn error_classes(report: &mut Report<'_>, at: &[Seg], errors: &[String]) {
    if errors.is_empty() {
        report.at(at, "list at least one error class (or `all`)");
    }
    let mut known: Vec<&str> = ERROR_CLASSES.to_vec();
    known.push("all");
    for (j, error) in errors.iter().enumerate() {
        let mut p = at.to_vec();
        p.push(Seg::Index(j));
        known_ref(report, &p, "error class", error, &known);
    }
}

/// A count of items (`2`) or a share (`50%`).
fn tolerated_failure(report: &mut Report<'_>, at: &[Seg], value: &Value) {
    let fits = match value {
        Value::Number(n) => n.as_u64().is_some(),
        Value::String(text) => text
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .is_some_and(|n| (0.0..=100.0).contains(&n)),
        _ => false,
    };
    if !fits {
        let found = match value {
            Value::String(text) => format!("`{text}`"),
            other => other.to_string(),
        };
        report.at(
            at,
            format!(
                "tolerated_failure is a count of items (`2`) or a share from 0% to 100% \
                 (`50%`), found {found}"
            ),
        );
    }
}

/// A JSON Schema that compiles; the error is placed inside the schema where possible.
fn json_schema(report: &mut Report<'_>, at: &[Seg], schema: &Value) {
    if let Err(error) = jsonschema::validator_for(schema) {
        let mut p = at.to_vec();
        p.extend(error.instance_path().iter().map(|seg| match seg {
            jsonschema::paths::LocationSegment::Property(k) => Seg::Key(k.into_owned()),
            jsonschema::paths::LocationSegment::Index(i) => Seg::Index(i),
        }));
        report.at(&p, format!("invalid JSON Schema: {error}"));
    }
}
