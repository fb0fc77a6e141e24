//! Reading a config: YAML → positioned tree → `${VAR}` expansion → schema and reference
//! checks (all errors collected) → typed [`Config`].

use std::path::Path;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::Config;
use crate::validate::{Report, check_schema, check_semantics};
use crate::{interpolate, value, workflows, yaml};

/// Loads and validates a config file, with `${VAR}` taken from the process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    load_file_with_source(path).map(|(config, _)| config)
}

/// Like [`load_file`], also returning the file's text (for change detection).
pub fn load_file_with_source(path: &Path) -> Result<(Config, String), ConfigErrors> {
    let (file, text) = read(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let config = load_in(&text, &file, &|name| std::env::var(name).ok(), Some(dir))?;
    Ok((config, text))
}

/// The settings of a config file only: checked like [`load_file`], but no OpenAPI document is
/// read and no workflow file either, for commands that need no more than the store (`strata
/// audit`, `keys`, `spend`, `runs`): they work while a REST API's document is unreachable.
pub fn load_file_settings(path: &Path) -> Result<Config, ConfigErrors> {
    let (file, text) = read(path)?;
    settings(&text, &file, &|name| std::env::var(name).ok()).map(|(config, _)| config)
}

/// A config file's name (for errors) and text.
fn read(path: &Path) -> Result<(String, String), ConfigErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((file, text)),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file,
            path: String::new(),
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {e}"),
        }])),
    }
}

/// Loads and validates config text. `file` names it in errors; `env` resolves `${VAR}`.
pub fn load_str(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_in(text, file, env, None)
}

/// Loads config text; with `dir`, also the workflow files its globs name (relative to `dir`).
pub fn load_in(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    dir: Option<&Path>,
) -> Result<Config, ConfigErrors> {
    let (mut config, tree) = settings(text, file, env)?;
    let mut report = Report::new(file, &tree);
    let mut errors = crate::rest::load(dir, &mut config, env, &mut report);
    errors.append(&mut report.errors);
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        return Err(ConfigErrors(errors));
    }
    if let Some(dir) = dir {
        let mut report = Report::new(file, &tree);
        let (workflows, mut errors) = workflows::load(dir, &config, env, &mut report);
        errors.append(&mut report.errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        config.workflows = workflows;
    }
    Ok(config)
}

/// The config's own settings, checked (schema and semantics), with its positioned tree.
fn settings(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, yaml::Node), ConfigErrors> {
    let (tree, mut json, first) = parse(text, file, env).map_err(|e| ConfigErrors(vec![e]))?;
    let mut report = Report::new(file, &tree);
    report.errors = first;
    check_schema(&mut report, &mut json);
    check_semantics(&mut report, &json);
    let mut errors = report.errors;
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        return Err(ConfigErrors(errors));
    }
    let config: Config = serde_json::from_value(json).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.to_string(),
            path: String::new(),
            line: 0,
            column: 0,
            message: e.to_string(),
        }])
    })?;
    Ok((config, tree))
}

/// YAML text → positioned tree with `${VAR}` expanded, and its JSON form, with the errors
/// found on the way (duplicate keys, unset variables). A syntax error stops it.
pub(crate) fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(yaml::Node, serde_json::Value, Vec<ConfigError>), ConfigError> {
    let (mut tree, duplicates) = yaml::parse(text).map_err(|e| ConfigError {
        file: file.to_string(),
        path: String::new(),
        line: e.pos.line,
        column: e.pos.column,
        message: format!("invalid YAML: {}", e.message),
    })?;
    let unset = interpolate::expand_tree(&mut tree, env);
    let json = value::to_json(&tree);
    let mut report = Report::new(file, &tree);
    for dup in duplicates {
        report.push(&[], dup.pos, dup.message);
    }
    for u in unset {
        report.push(&u.path, u.pos, u.message);
    }
    let errors = report.errors;
    Ok((tree, json, errors))
}
