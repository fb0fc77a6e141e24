//! One OpenAPI operation as a tool: its parameters and JSON request body become the input
//! schema, its first JSON success response the output schema.

use serde_json::{Map, Value, json};

use super::body::{body, output};
use super::doc::{Doc, Problem};
use super::schema::{Resolver, is_object};
use crate::model::{HttpMethod, ParamLocation, RestParam, RestTool};
use crate::yaml::Seg;

/// Header parameters OpenAPI says to ignore (the gateway sets them).
const IGNORED_HEADERS: &[&str] = &["accept", "content-type", "authorization"];
/// Headers no argument may set.
const FORBIDDEN_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// An operation of the document.
pub(super) struct Operation<'d> {
    pub method: HttpMethod,
    /// The path template, e.g. `/items/{item_id}`.
    pub path: &'d str,
    pub op: &'d Value,
    /// Where the operation is: `paths./items/{item_id}.get`.
    pub at: Vec<Seg>,
    /// The path item's parameters, shared by its operations.
    pub shared: Option<&'d Value>,
}

/// What the tool is called and how it is described.
pub(super) struct Naming {
    pub name: String,
    pub description: String,
}

pub(super) fn child(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut path = path.to_vec();
    path.push(seg);
    path
}

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// Builds the tool, or says every reason it cannot be built.
pub(super) fn build(
    doc: &Doc,
    op: &Operation<'_>,
    naming: Naming,
    base: &str,
) -> Result<RestTool, Vec<Problem>> {
    let mut resolver = Resolver::new(doc);
    let mut problems = Vec::new();
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut params = Vec::new();
    for (param, at) in parameters(doc, op, &mut problems) {
        let Some(p) = parameter(&mut resolver, param, &at, &mut problems) else {
            continue;
        };
        if properties.contains_key(&p.name) {
            problems.push((at, format!("parameter `{}` is declared twice", p.name)));
            continue;
        }
        if p.required {
            required.push(Value::String(p.name.clone()));
        }
        properties.insert(p.name.clone(), p.schema);
        params.push(RestParam {
            name: p.name,
            location: p.location,
        });
    }
    check_template(op, &params, &mut problems);
    let body = body(
        &mut resolver,
        op,
        &mut properties,
        &mut required,
        &mut problems,
    );
    let (output_schema, wrap_output) = output(&mut resolver, doc, op, &mut problems);
    problems.append(&mut resolver.problems);
    let mut input = Map::new();
    input.insert("type".into(), "object".into());
    input.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        input.insert("required".into(), Value::Array(required));
    }
    input.insert("additionalProperties".into(), false.into());
    for (what, schema) in [("input", Some(&input)), ("output", output_schema.as_ref())] {
        if let Some(schema) = schema
            && let Err(e) = jsonschema::validator_for(&Value::Object(schema.clone()))
        {
            problems.push((
                op.at.clone(),
                format!(
                    "the {what} schema made from this operation is not a valid JSON Schema: {e}"
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RestTool {
        name: naming.name,
        description: naming.description,
        method: op.method,
        base: base.to_string(),
        path: op.path.to_string(),
        params,
        body,
        input_schema: input,
        output_schema,
        wrap_output,
    })
}

/// The path item's and the operation's parameters (the operation's win), `$ref`s followed.
fn parameters<'d>(
    doc: &'d Doc,
    op: &Operation<'d>,
    problems: &mut Vec<Problem>,
) -> Vec<(&'d Value, Vec<Seg>)> {
    let mut item_at = op.at.clone();
    item_at.pop();
    let lists = [
        (op.shared, child(&item_at, key("parameters"))),
        (op.op.get("parameters"), child(&op.at, key("parameters"))),
    ];
    let mut out: Vec<(&Value, Vec<Seg>)> = Vec::new();
    for (list, at) in lists {
        for (i, param) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match doc.follow(param, child(&at, Seg::Index(i))) {
                Ok((param, at)) => {
                    let id = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
                    out.retain(|(p, _)| id(p) != id(param));
                    out.push((param, at));
                }
                Err(problem) => problems.push(problem),
            }
        }
    }
    out
}

struct Param {
    name: String,
    location: ParamLocation,
    required: bool,
    schema: Value,
}

fn parameter(
    resolver: &mut Resolver<'_>,
    param: &Value,
    at: &[Seg],
    problems: &mut Vec<Problem>,
) -> Option<Param> {
    let name = param
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
    let mut fail = |message: String| {
        problems.push((at.to_vec(), message));
        None
    };
    let location = match location {
        "path" => ParamLocation::Path,
        "query" => ParamLocation::Query,
        "header" if IGNORED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => return None,
        "header" if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => {
            return fail(format!(
                "header parameter `{name}` cannot be set by a tool call"
            ));
        }
        "header" => ParamLocation::Header,
        "cookie" => return fail(format!("cookie parameter `{name}` is not supported")),
        other => {
            return fail(format!(
                "parameter `{name}` has an unknown location `in: {other}`"
            ));
        }
    };
    if name.is_empty() {
        return fail("a parameter without a `name`".into());
    }
    let Some(schema) = param.get("schema") else {
        if param.get("content").is_some() {
            return fail(format!(
                "parameter `{name}` is described by `content`: only `schema` is supported"
            ));
        }
        return Some(Param {
            name: name.to_string(),
            required: location == ParamLocation::Path,
            location,
            schema: json!({}),
        });
    };
    let mut schema = resolver.schema(schema, &child(at, key("schema")));
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let style = param.get("style").and_then(Value::as_str);
    let explode = param.get("explode").and_then(Value::as_bool);
    let unsupported = match location {
        _ if kind == "object" || is_object(&schema) => Some("an object value"),
        ParamLocation::Path | ParamLocation::Header if kind == "array" => Some("an array value"),
        ParamLocation::Query if style.is_some_and(|s| s != "form") => {
            Some("a `style` other than form")
        }
        ParamLocation::Query if kind == "array" && explode == Some(false) => {
            Some("`explode: false`")
        }
        _ => None,
    };
    if let Some(what) = unsupported {
        return fail(format!(
            "parameter `{name}` has {what}, which is not supported"
        ));
    }
    if let (Value::Object(map), Some(text)) = (&mut schema, param.get("description")) {
        map.entry("description").or_insert_with(|| text.clone());
    }
    let required = location == ParamLocation::Path
        || param.get("required").and_then(Value::as_bool) == Some(true);
    Some(Param {
        name: name.to_string(),
        location,
        required,
        schema,
    })
}

/// Every `{placeholder}` of the path is a path parameter, and every path parameter is in it.
fn check_template(op: &Operation<'_>, params: &[RestParam], problems: &mut Vec<Problem>) {
    let placeholders: Vec<&str> = op
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let declared = |name: &str| {
        params
            .iter()
            .any(|p| p.location == ParamLocation::Path && p.name == name)
    };
    for name in &placeholders {
        if !declared(name) {
            problems.push((
                op.at.clone(),
                format!("the path has `{{{name}}}` but the operation declares no path parameter `{name}`"),
            ));
        }
    }
    for p in params.iter().filter(|p| p.location == ParamLocation::Path) {
        if !placeholders.contains(&p.name.as_str()) {
            problems.push((
                op.at.clone(),
                format!(
                    "path parameter `{}` is not in the path `{}`",
                    p.name, op.path
                ),
            ));
        }
    }
}
