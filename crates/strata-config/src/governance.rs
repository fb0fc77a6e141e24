//! Checks of the governance parts of the config the schema cannot express: guardrail
//! definitions and every reference to them, teams and the keys that name them, model globs.

use serde_json::Value;

use crate::model::GuardrailKind;
use crate::validate::{
    Report, check_url, key, known_ref, known_refs, list_path, named, unique_names,
};
use crate::yaml::Seg;

const GUARDRAILS: &[&str] = &["ai", "guardrails"];
const TEAMS: &[&str] = &["auth", "teams"];
const KEYS: &[&str] = &["auth", "keys"];

/// Fields only some guardrail kinds take.
const KIND_FIELDS: &[(&str, &[&str])] = &[
    ("entities", &["pii_redaction"]),
    ("words", &["toxicity_filter"]),
    ("threshold", &["toxicity_filter"]),
    ("builtin_lexicon", &["toxicity_filter"]),
    (
        "patterns",
        &["toxicity_filter", "prompt_injection", "regex"],
    ),
    ("url", &["webhook"]),
    ("headers", &["webhook"]),
    ("timeout", &["webhook"]),
    ("on_error", &["webhook"]),
];

pub(crate) fn check(report: &mut Report<'_>, json: &Value) {
    let guardrails = check_guardrails(report, json);
    let mut known: Vec<&str> = guardrails;
    for builtin in ["pii_redaction", "toxicity_filter", "prompt_injection"] {
        if !known.contains(&builtin) {
            known.push(builtin);
        }
    }
    for list in [&["ai", "providers"][..], &["ai", "routes"], KEYS] {
        for (i, _, entry) in named(json, list) {
            known_refs(
                report,
                entry,
                &list_path(list, i, "guardrails"),
                "guardrail",
                &known,
            );
        }
    }
    unique_names(report, json, TEAMS, "team");
    let teams: Vec<&str> = named(json, TEAMS).iter().map(|(_, n, _)| *n).collect();
    for (i, _, entry) in named(json, KEYS) {
        if let Some(team) = entry.get("team").and_then(Value::as_str) {
            known_ref(report, &list_path(KEYS, i, "team"), "team", team, &teams);
        }
        check_globs(report, entry, &list_path(KEYS, i, "models"));
    }
    for (i, _, entry) in named(json, TEAMS) {
        check_globs(report, entry, &list_path(TEAMS, i, "models"));
    }
    check_roles(report, json);
    for list in [KEYS, TEAMS] {
        for (i, _, entry) in named(json, list) {
            if let Some(usd) = entry.pointer("/budget/usd").and_then(Value::as_f64)
                && !(usd.is_finite() && usd >= 0.0)
            {
                let mut path = list_path(list, i, "budget");
                path.push(key("usd"));
                report.at(&path, "a budget must be zero or more US dollars");
            }
        }
    }
}

/// Roles' globs (models, tools, prompts, resources, their `deny` and `rules`) and the CEL
/// conditions of their rules; the tool globs of virtual servers' rate limits.
fn check_roles(report: &mut Report<'_>, json: &Value) {
    const FIELDS: [&str; 4] = ["models", "tools", "prompts", "resources"];
    let roles = json.pointer("/auth/roles").and_then(Value::as_object);
    for (name, role) in roles.into_iter().flatten() {
        let at = |rest: &[Seg]| {
            let mut path = vec![key("auth"), key("roles"), key(name)];
            path.extend_from_slice(rest);
            path
        };
        for field in FIELDS {
            check_globs(report, role, &at(&[key(field)]));
        }
        if let Some(deny) = role.get("deny") {
            for field in &FIELDS[1..] {
                check_globs(report, deny, &at(&[key("deny"), key(field)]));
            }
        }
        let rules = role.get("rules").and_then(Value::as_array);
        for (r, rule) in rules.into_iter().flatten().enumerate() {
            let here = |field: &str| at(&[key("rules"), Seg::Index(r), key(field)]);
            for field in &FIELDS[1..] {
                check_globs(report, rule, &here(field));
            }
            if FIELDS[1..].iter().all(|f| {
                rule.get(f)
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            }) {
                report.at(
                    &here("when"),
                    "a rule names no `tools`, `prompts` or `resources`",
                );
            }
            if let Some(when) = rule.get("when").and_then(Value::as_str)
                && let Some(e) = crate::expression_error(when)
            {
                report.at(&here("when"), format!("not a valid CEL expression: {e}"));
            }
        }
    }
    for (i, _, server) in named(json, &["mcp", "servers"]) {
        let limits = server.get("limits").and_then(Value::as_array);
        for (l, limit) in limits.into_iter().flatten().enumerate() {
            let mut path = list_path(&["mcp", "servers"], i, "limits");
            path.extend([Seg::Index(l), key("tools")]);
            check_globs(report, limit, &path);
        }
    }
}

/// The defined guardrails' names, after checking each definition.
fn check_guardrails<'v>(report: &mut Report<'_>, json: &'v Value) -> Vec<&'v str> {
    unique_names(report, json, GUARDRAILS, "guardrail");
    let defined = named(json, GUARDRAILS);
    for (i, name, def) in &defined {
        let Some(kind) = def.get("kind").and_then(Value::as_str) else {
            continue;
        };
        for (field, kinds) in KIND_FIELDS {
            let present = def
                .get(field)
                .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
            if present && !kinds.contains(&kind) {
                report.at(
                    &list_path(GUARDRAILS, *i, field),
                    format!(
                        "guardrail `{name}` is of kind {kind}, which does not take `{field}` (only {})",
                        kinds.join(", ")
                    ),
                );
            }
        }
        if let Some(b) = GuardrailKind::builtin(name)
            && serde_json::to_value(b)
                .ok()
                .as_ref()
                .and_then(Value::as_str)
                != Some(kind)
        {
            report.at(
                &list_path(GUARDRAILS, *i, "name"),
                format!("`{name}` names a built-in guardrail kind; a guardrail of kind {kind} needs another name"),
            );
        }
        let patterns = def.get("patterns").and_then(Value::as_array);
        for (j, pattern) in patterns.into_iter().flatten().enumerate() {
            if let Some(text) = pattern.as_str()
                && let Err(e) = regex::Regex::new(text)
            {
                let mut path = list_path(GUARDRAILS, *i, "patterns");
                path.push(Seg::Index(j));
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or_default().trim().to_string();
                report.at(&path, format!("not a valid regular expression: {last}"));
            }
        }
        match kind {
            "regex" if patterns.is_none_or(Vec::is_empty) => report.at(
                &list_path(GUARDRAILS, *i, "kind"),
                format!("regex guardrail `{name}` needs `patterns`"),
            ),
            "webhook" => {
                if def.get("url").is_none_or(Value::is_null) {
                    report.at(
                        &list_path(GUARDRAILS, *i, "kind"),
                        format!("webhook guardrail `{name}` needs a `url`"),
                    );
                }
                check_url(
                    report,
                    &list_path(GUARDRAILS, *i, "url"),
                    def.get("url"),
                    &["http", "https"],
                );
                if def.get("action").is_some_and(|a| !a.is_null()) {
                    report.at(
                        &list_path(GUARDRAILS, *i, "action"),
                        "a webhook guardrail takes its action from the webhook's answer; remove `action`",
                    );
                }
            }
            _ => {}
        }
        if let Some(t) = def.get("threshold").and_then(Value::as_f64)
            && !(0.0..=1.0).contains(&t)
        {
            report.at(
                &list_path(GUARDRAILS, *i, "threshold"),
                "the threshold is a score from 0 to 1",
            );
        }
    }
    defined.into_iter().map(|(_, n, _)| n).collect()
}

fn check_globs(report: &mut Report<'_>, entry: &Value, path: &[Seg]) {
    let Some(Seg::Key(field)) = path.last() else {
        return;
    };
    let globs = entry.get(field).and_then(Value::as_array);
    for (j, glob) in globs.into_iter().flatten().enumerate() {
        if let Some(text) = glob.as_str()
            && let Err(e) = globset::Glob::new(text)
        {
            let mut at = path.to_vec();
            at.push(Seg::Index(j));
            report.at(&at, format!("not a valid glob: {}", e.kind()));
        }
    }
}
