//! Loading the workflow files `agent.workflows` names: each file goes through the same
//! pipeline as the config (positioned YAML → `${VAR}` expansion → JSON Schema → semantic
//! checks), so every mistake is reported with its file, path, line and column.

mod check;
mod files;

use std::path::Path;
use std::sync::LazyLock;

use serde_json::Value;

use crate::error::ConfigError;
use crate::model::{Config, Workflow};
use crate::validate::{Report, check_schema_against};
use crate::yaml;
use crate::yaml::Seg;

pub use check::{expression_error, template_error};

static SCHEMA: LazyLock<Value> = LazyLock::new(workflow_schema);

#[allow(clippy::expect_used)]
static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&SCHEMA).expect("the generated workflow schema is a valid schema")
});

/// The JSON Schema of one workflow file.
#[must_use]
pub fn workflow_schema() -> Value {
    let mut schema = schemars::schema_for!(Workflow).to_value();
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            "https://strata.dev/schema/workflow.json".into(),
        );
        map.insert("title".into(), "Strata workflow".into());
    }
    schema
}

/// Loads every workflow the config's globs name (relative to `dir`), checks each one and
/// the references between them and to the config. Returns the workflows that loaded and
/// every error found.
pub(crate) fn load(
    dir: &Path,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    config_report: &mut Report<'_>,
) -> (Vec<Workflow>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    for (i, pattern) in config.agent.workflows.iter().enumerate() {
        match files::expand(dir, pattern) {
            Ok(paths) if paths.is_empty() => config_report.at(
                &glob_path(i),
                format!("no workflow file matches `{pattern}`"),
            ),
            Ok(paths) => {
                for path in paths {
                    let text = match std::fs::read_to_string(&path) {
                        Ok(text) => text,
                        Err(e) => {
                            errors.push(file_error(&path, format!("cannot read: {e}")));
                            continue;
                        }
                    };
                    let file = path.display().to_string();
                    match load_one(&text, &file, env) {
                        Ok((workflow, tree)) => loaded.push((file, text, workflow, tree)),
                        Err(mut e) => errors.append(&mut e),
                    }
                }
            }
            Err(message) => config_report.at(&glob_path(i), message),
        }
    }
    let names: Vec<String> = loaded.iter().map(|(_, _, w, _)| w.name.clone()).collect();
    let mut seen = std::collections::HashMap::<&str, &str>::new();
    for ((file, _, workflow, tree), name) in loaded.iter().zip(&names) {
        let mut report = Report::new(file, tree);
        if let Some(first) = seen.insert(name, file) {
            report.at(
                &[Seg::Key("name".into())],
                format!("duplicate workflow name `{name}` (also in {first})"),
            );
        }
        if config.agent.agents.iter().any(|a| a.name == *name) {
            report.at(
                &[Seg::Key("name".into())],
                format!("workflow `{name}` has the name of a remote agent in agent.agents (both would be /a2a/{name})"),
            );
        }
        check::references(&mut report, workflow, config, &names);
        errors.append(&mut report.errors);
    }
    (loaded.into_iter().map(|(_, _, w, _)| w).collect(), errors)
}

/// Loads one workflow file's text: schema, then the checks that need only this file.
pub fn load_one(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Workflow, yaml::Node), Vec<ConfigError>> {
    let (tree, mut json, first) = crate::load::parse(text, file, env).map_err(|e| vec![e])?;
    let mut report = Report::new(file, &tree);
    report.errors = first;
    check_schema_against(&mut report, &mut json, &SCHEMA, &VALIDATOR);
    if report.errors.is_empty() {
        match serde_json::from_value::<Workflow>(json) {
            Ok(workflow) => {
                check::structure(&mut report, &workflow);
                if report.errors.is_empty() {
                    drop(report);
                    return Ok((workflow, tree));
                }
            }
            Err(e) => report.at(&[], e.to_string()),
        }
    }
    let mut errors = report.errors;
    errors.sort_by_key(|e| (e.line, e.column));
    errors.dedup();
    Err(errors)
}

fn glob_path(index: usize) -> [Seg; 3] {
    [
        Seg::Key("agent".into()),
        Seg::Key("workflows".into()),
        Seg::Index(index),
    ]
}

fn file_error(path: &Path, message: String) -> ConfigError {
    ConfigError {
        file: path.display().to_string(),
        path: String::new(),
        line: 0,
        column: 0,
        message,
    }
}
