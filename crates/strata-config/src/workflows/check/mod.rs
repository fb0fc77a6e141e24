//! The checks of a workflow the schema cannot express: one kind per step, references to
//! steps, cycles, parallel writers, CEL and templates (`structure`), and references to other
//! workflows and to the config's models and servers (`references`).
//!
//! Every check reports at the most precise YAML path it can and never stops at the first
//! mistake.

mod graph;
mod values;

#[cfg(test)]
mod tests;

use crate::model::{AgentCall, Config, Handoff, LlmCall, Step, SubWorkflow, ToolCall, Workflow};
use crate::validate::{Report, known_ref};
use crate::yaml::Seg;

/// The kinds a `map` step or a `parallel` branch may have: one call each.
const CALL_KINDS: &[&str] = &["llm", "tool", "agent", "workflow"];

/// Checks that need only the workflow itself.
pub(crate) fn structure(report: &mut Report<'_>, workflow: &Workflow) {
    if workflow.steps.is_empty() {
        report.at(&[key("steps")], "a workflow needs at least one step");
    }
    let names: Vec<&str> = workflow.steps.keys().map(String::as_str).collect();
    for (name, step) in &workflow.steps {
        let at = step_path(name);
        kinds(report, &at, step);
        step_refs(report, &at, name, step, &names);
        choice_rules(report, &at, step);
        values::step(report, &at, step);
    }
    for call in calls(workflow) {
        values::call(report, &call);
    }
    values::workflow(report, workflow);
    graph::check(report, workflow);
}

/// Checks against the other workflows and the config.
pub(crate) fn references(
    report: &mut Report<'_>,
    workflow: &Workflow,
    config: &Config,
    workflows: &[String],
) {
    let flows: Vec<&str> = workflows.iter().map(String::as_str).collect();
    // `agent` and `handoff` steps reach local workflows and the configured remote agents.
    let mut agents = flows.clone();
    agents.extend(config.agent.agents.iter().map(|a| a.name.as_str()));
    let servers: Vec<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
    // A provider without a model list serves every model: then any name may be right. A layer
    // reached over HTTP (`agent.ai`, `agent.mcp`) has models and servers this config cannot see.
    let any_model =
        config.agent.ai.is_some() || config.ai.providers.iter().any(|p| p.models.is_empty());
    let remote_tools = config.agent.mcp.is_some();
    let mut models: Vec<&str> = config.ai.routes.iter().map(|r| r.name.as_str()).collect();
    models.extend(
        config
            .ai
            .providers
            .iter()
            .flat_map(|p| p.models.iter().map(String::as_str)),
    );
    models.sort_unstable();
    models.dedup();

    if let Some(model) = workflow
        .context
        .as_ref()
        .and_then(|c| c.summary_model.as_ref())
        && !any_model
    {
        let at = [Seg::Key("context".into()), Seg::Key("summary_model".into())];
        known_ref(report, &at, "model", model, &models);
    }
    for call in calls(workflow) {
        if let Some(llm) = call.llm
            && !any_model
        {
            let at = path(&call.at, &["llm", "model"]);
            known_ref(report, &at, "model", &llm.model, &models);
        }
        if let Some(tool) = call.tool
            && !remote_tools
        {
            let at = path(&call.at, &["tool", "server"]);
            known_ref(report, &at, "virtual server", &tool.server, &servers);
        }
        if let Some(agent) = call.agent {
            let at = path(&call.at, &["agent", "name"]);
            known_ref(report, &at, "agent", &agent.name, &agents);
        }
        if let Some(sub) = call.workflow {
            let at = path(&call.at, &["workflow", "name"]);
            known_ref(report, &at, "workflow", &sub.name, &flows);
        }
        if let Some(handoff) = call.handoff {
            let at = path(&call.at, &["handoff", "agent"]);
            known_ref(report, &at, "agent", &handoff.agent, &agents);
        }
    }
    report.errors.sort_by_key(|e| (e.line, e.column));
}

/// Why a CEL expression does not compile, if it does not.
#[must_use]
pub fn expression_error(source: &str) -> Option<String> {
    cel::Program::compile(source).err().map(|e| e.to_string())
}

/// Why a template does not compile, if it does not.
#[must_use]
pub fn template_error(source: &str) -> Option<String> {
    let env = minijinja::Environment::new();
    env.template_from_str(source).err().map(|e| e.to_string())
}

/// One call a step or a parallel branch makes, with the path of that step or branch.
pub(super) struct Call<'a> {
    at: Vec<Seg>,
    llm: Option<&'a LlmCall>,
    tool: Option<&'a ToolCall>,
    agent: Option<&'a AgentCall>,
    workflow: Option<&'a SubWorkflow>,
    /// Steps only: branches cannot hand off.
    handoff: Option<&'a Handoff>,
}

/// The calls of every step and every parallel branch, in name order.
fn calls(workflow: &Workflow) -> Vec<Call<'_>> {
    let mut out = Vec::new();
    for (name, step) in &workflow.steps {
        let at = step_path(name);
        out.push(Call {
            at: at.clone(),
            llm: step.llm.as_ref(),
            tool: step.tool.as_ref(),
            agent: step.agent.as_ref(),
            workflow: step.workflow.as_ref(),
            handoff: step.handoff.as_ref(),
        });
        for (branch_name, branch) in step.parallel.iter().flat_map(|p| &p.branches) {
            out.push(Call {
                at: path(&at, &["parallel", "branches", branch_name]),
                llm: branch.llm.as_ref(),
                tool: branch.tool.as_ref(),
                agent: branch.agent.as_ref(),
                workflow: branch.workflow.as_ref(),
                handoff: None,
            });
        }
    }
    out
}

/// Exactly one kind per step and per parallel branch; `map` only around a call.
fn kinds(report: &mut Report<'_>, at: &[Seg], step: &Step) {
    let kinds = step.kinds();
    match kinds.as_slice() {
        [] => report.at(
            at,
            "a step needs exactly one kind: llm, tool, agent, handoff, workflow, human, wait, \
             choice, parallel, succeed or fail",
        ),
        [_] => {}
        [_, second, ..] => report.at(
            &path(at, &[second]),
            format!(
                "a step needs exactly one kind, this one has {}",
                and_list(&kinds)
            ),
        ),
    }
    if step.map.is_some()
        && let [kind] = kinds.as_slice()
        && !CALL_KINDS.contains(kind)
    {
        report.at(
            &path(at, &["map"]),
            format!(
                "`map` runs an llm, tool, agent or workflow call once per item; \
                 it cannot run a {kind} step"
            ),
        );
    }
    let Some(parallel) = &step.parallel else {
        return;
    };
    let branches = path(at, &["parallel", "branches"]);
    if parallel.branches.is_empty() {
        report.at(&branches, "a parallel step needs at least one branch");
    }
    for (name, branch) in &parallel.branches {
        let at = path(&branches, &[name]);
        let kinds = branch.kinds();
        match kinds.as_slice() {
            [] => report.at(
                &at,
                "a branch needs exactly one kind: llm, tool, agent or workflow",
            ),
            [_] => {}
            [_, second, ..] => report.at(
                &path(&at, &[second]),
                format!(
                    "a branch needs exactly one kind, this one has {}",
                    and_list(&kinds)
                ),
            ),
        }
    }
}

/// Every step name used in `needs`, `next`, `catch`, `choice` and `compensate` exists.
fn step_refs(report: &mut Report<'_>, at: &[Seg], name: &str, step: &Step, names: &[&str]) {
    for (i, need) in step.needs.iter().enumerate() {
        let mut p = path(at, &["needs"]);
        p.push(Seg::Index(i));
        if need == name {
            report.at(&p, format!("step `{name}` cannot need itself"));
        } else {
            known_ref(report, &p, "step", need, names);
        }
    }
    if let Some(next) = &step.next {
        let p = path(at, &["next"]);
        known_ref(report, &p, "step", next, names);
        let ends = step.kinds().into_iter().find_map(|kind| match kind {
            "choice" => Some((kind, "it routes with its rules")),
            "handoff" => Some((kind, "the other agent's outcome ends the run")),
            "succeed" | "fail" => Some((kind, "it ends the run")),
            _ => None,
        });
        if let Some((kind, why)) = ends {
            report.at(&p, format!("a {kind} step cannot have `next`: {why}"));
        }
    }
    for (i, rule) in step.catch.iter().enumerate() {
        let p = indexed(at, "catch", i, "next");
        known_ref(report, &p, "step", &rule.next, names);
    }
    for (i, rule) in step.choice.iter().flatten().enumerate() {
        if let Some(next) = &rule.next {
            known_ref(
                report,
                &indexed(at, "choice", i, "next"),
                "step",
                next,
                names,
            );
        }
        if let Some(default) = &rule.default {
            let p = indexed(at, "choice", i, "default");
            known_ref(report, &p, "step", default, names);
        }
    }
    if let Some(compensate) = &step.compensate {
        let p = path(at, &["compensate"]);
        if compensate == name {
            report.at(&p, format!("step `{name}` cannot compensate itself"));
        } else {
            known_ref(report, &p, "step", compensate, names);
        }
    }
}

/// A `choice` has at least one rule, each `{ when, next }` or `{ default }`, the default last.
fn choice_rules(report: &mut Report<'_>, at: &[Seg], step: &Step) {
    let Some(rules) = &step.choice else {
        return;
    };
    let at = path(at, &["choice"]);
    if rules.is_empty() {
        report.at(&at, "a choice step needs at least one rule");
    }
    for (i, rule) in rules.iter().enumerate() {
        let mut p = at.clone();
        p.push(Seg::Index(i));
        match (&rule.when, &rule.next, &rule.default) {
            (Some(_), Some(_), None) => {}
            (None, None, Some(_)) => {
                if i + 1 != rules.len() {
                    p.push(key("default"));
                    report.at(&p, "the `default` rule must be the last one");
                }
            }
            (when, next, default) => {
                let present: Vec<&str> = [("when", when), ("next", next), ("default", default)]
                    .into_iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(k, _)| k)
                    .collect();
                let has = if present.is_empty() {
                    "this one is empty".to_string()
                } else {
                    let shown: Vec<String> = present.iter().map(|k| format!("`{k}`")).collect();
                    format!("this one has {}", and_list(&shown))
                };
                report.at(
                    &p,
                    format!(
                        "a choice rule is either `{{ when: CEL, next: step }}` or \
                         `{{ default: step }}`; {has}"
                    ),
                );
            }
        }
    }
}

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// `base` followed by the keys `more`.
pub(super) fn path(base: &[Seg], more: &[&str]) -> Vec<Seg> {
    let mut out = base.to_vec();
    out.extend(more.iter().map(|k| key(k)));
    out
}

/// `base.list[i].field`.
pub(super) fn indexed(base: &[Seg], list: &str, i: usize, field: &str) -> Vec<Seg> {
    let mut out = path(base, &[list]);
    out.push(Seg::Index(i));
    out.push(key(field));
    out
}

pub(super) fn step_path(name: &str) -> Vec<Seg> {
    vec![key("steps"), key(name)]
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [only] => only.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}
