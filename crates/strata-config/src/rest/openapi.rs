//! An OpenAPI document turned into tools: version check, selection, naming and overrides,
//! one tool per selected operation, and tool names checked for clashes.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::doc::{Doc, Problem};
use super::operation::{self, Naming, Operation};
use super::select::{Candidate, Selection};
use crate::error::ConfigError;
use crate::model::{HttpMethod, OpenApiUpstream, RestTool};
use crate::validate::Report;
use crate::yaml::Seg;

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn with(path: &[Seg], more: &[&str]) -> Vec<Seg> {
    let mut path = path.to_vec();
    path.extend(more.iter().map(|k| key(k)));
    path
}

/// The tools of `doc` as `api` selects and names them. Problems in the document are
/// returned (located in it); mistakes in the config go to `config` at `at` (the upstream's
/// `openapi` section).
pub(super) fn compile(
    doc: &Doc,
    api: &OpenApiUpstream,
    config: &mut Report<'_>,
    at: &[Seg],
) -> (Vec<RestTool>, Vec<ConfigError>) {
    let mut spec = Report::new(&doc.file, &doc.tree);
    if let Err((path, message)) = check_version(&doc.json) {
        spec.at(&path, message);
        return (Vec::new(), spec.errors);
    }
    let selection = match Selection::new(api) {
        Ok(selection) => selection,
        Err(errors) => {
            for (which, i, message) in errors {
                let mut path = with(at, &[which, "paths"]);
                path.push(Seg::Index(i));
                config.at(&path, message);
            }
            return (Vec::new(), spec.errors);
        }
    };
    let base = api.base_url.trim_end_matches('/');
    let mut tools = Vec::new();
    let mut places: HashMap<String, (Vec<Seg>, String)> = HashMap::new();
    let mut used = BTreeSet::new();
    let paths = doc.json.get("paths").and_then(Value::as_object);
    let order = doc.keys(&[key("paths")]);
    let in_order = order.iter().filter_map(|p| Some((p, paths?.get(p)?)));
    for (path, item) in in_order {
        let (item, item_at) = match doc.follow(item, vec![key("paths"), key(path)]) {
            Ok(found) => found,
            Err((p, m)) => {
                spec.at(&p, m);
                continue;
            }
        };
        for method in HttpMethod::ALL {
            let verb = method.as_str().to_ascii_lowercase();
            let Some(op) = item.get(&verb) else { continue };
            let candidate = Candidate::new(method, path, op);
            if !selection.picks(&candidate) {
                continue;
            }
            let generated = candidate.tool_name();
            let label = format!("{} {path}", method.as_str());
            let found = api
                .overrides
                .get_key_value(&label)
                .or_else(|| {
                    candidate
                        .operation_id
                        .and_then(|id| api.overrides.get_key_value(id))
                })
                .or_else(|| api.overrides.get_key_value(&generated));
            if let Some((k, _)) = found {
                used.insert(k.clone());
            }
            let overrides = found.map(|(_, o)| o);
            let naming = Naming {
                name: overrides.and_then(|o| o.name.clone()).unwrap_or(generated),
                description: overrides
                    .and_then(|o| o.description.clone())
                    .unwrap_or_else(|| description(method, path, op)),
            };
            let operation = Operation {
                method,
                path,
                op,
                at: with(&item_at, &[&verb]),
                shared: item.get("parameters"),
            };
            if let Some((first, first_label)) = places.get(&naming.name) {
                let line = doc.tree.locate(first).line;
                spec.at(
                    &operation.at,
                    format!(
                        "duplicate tool name `{}`: {first_label} (line {line}) has it too; rename one with `overrides`",
                        naming.name
                    ),
                );
                continue;
            }
            places.insert(naming.name.clone(), (operation.at.clone(), label));
            match operation::build(doc, &operation, naming, base) {
                Ok(tool) => tools.push(tool),
                Err(problems) => report(&mut spec, problems, &candidate),
            }
        }
    }
    for name in api.overrides.keys().filter(|k| !used.contains(*k)) {
        config.at(
            &with(at, &["overrides", name]),
            format!(
                "no selected operation has the operationId, tool name or method and path `{name}`"
            ),
        );
    }
    if tools.is_empty() && spec.errors.is_empty() {
        config.at(
            &with(at, &["spec"]),
            format!("no operation of `{}` is selected", doc.file),
        );
    }
    (tools, spec.errors)
}

fn report(spec: &mut Report<'_>, problems: Vec<Problem>, candidate: &Candidate<'_>) {
    let label = candidate.operation_id.map_or_else(
        || format!("{} {}", candidate.method.as_str(), candidate.path),
        |id| format!("operation `{id}`"),
    );
    for (path, message) in problems {
        spec.at(
            &path,
            format!("{label}: {message} (leave the operation out with `exclude`)"),
        );
    }
}

fn check_version(json: &Value) -> Result<(), Problem> {
    if json.get("swagger").is_some() {
        return Err((
            vec![key("swagger")],
            "Swagger 2.0 documents are not supported: convert the document to OpenAPI 3".into(),
        ));
    }
    match json.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0") || v.starts_with("3.1") => Ok(()),
        Some(other) => Err((
            vec![key("openapi")],
            format!("OpenAPI version {other} is not supported (3.0 and 3.1 are)"),
        )),
        None => Err((
            Vec::new(),
            "not an OpenAPI document: no `openapi` version".into(),
        )),
    }
}

/// The summary and the description, or the method and path.
fn description(method: HttpMethod, path: &str, op: &Value) -> String {
    let parts: Vec<&str> = ["summary", "description"]
        .iter()
        .filter_map(|k| op.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        format!("{} {path}", method.as_str())
    } else {
        parts.join("\n\n")
    }
}
