//! One OpenAPI operation as a tool: its parameters and JSON request body become the input
//! schema, its first JSON success response the output schema.

use serde_json::{Map, Value, json};

use super::doc::{Doc, Problem};
use super::schema::{Resolver, is_object};
use crate::model::{HttpMethod, ParamLocation, RestBody, RestParam, RestTool};
use crate::yaml::Seg;

/// Header parameters OpenAPI says to ignore (the gateway sets them).
const IGNORED_HEADERS: &[&str] = &["accept", "content-type", "authorization"];
/// Headers no argument may set.
const FORBIDDEN_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];
/// Keywords that make a body schema more than a plain set of properties.
const COMPOSED: &[&str] = &["allOf", "anyOf", "oneOf", "not", "if", "patternProperties"];

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

fn child(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut path = path.to_vec();
    path.push(seg);
    path
}

fn key(k: &str) -> Seg {
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

/// The JSON media type of a `content` map, if it has one.
fn json_media(content: &Map<String, Value>) -> Option<&String> {
    content.keys().find(|media| {
        let essence = media.split(';').next().unwrap_or_default().trim();
        essence == "application/json" || essence.ends_with("+json")
    })
}

fn body(
    resolver: &mut Resolver<'_>,
    op: &Operation<'_>,
    properties: &mut Map<String, Value>,
    required: &mut Vec<Value>,
    problems: &mut Vec<Problem>,
) -> RestBody {
    let Some(request) = op.op.get("requestBody") else {
        return RestBody::None;
    };
    let at = child(&op.at, key("requestBody"));
    let (request, at) = match resolver.doc().follow(request, at) {
        Ok(found) => found,
        Err(problem) => {
            problems.push(problem);
            return RestBody::None;
        }
    };
    let content = request.get("content").and_then(Value::as_object);
    let Some((media, content)) = content.and_then(|c| json_media(c).map(|m| (m, c))) else {
        let types: Vec<&str> = content
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        problems.push((
            at,
            format!(
                "request body of type {} is not supported (only JSON)",
                types.join(", ")
            ),
        ));
        return RestBody::None;
    };
    let schema_at = child(
        &child(&child(&at, key("content")), key(media)),
        key("schema"),
    );
    let schema = content[media.as_str()]
        .get("schema")
        .map_or_else(|| json!({}), |schema| resolver.schema(schema, &schema_at));
    let body_required = request.get("required").and_then(Value::as_bool) == Some(true);
    let fields = schema.get("properties").and_then(Value::as_object);
    let flat = is_object(&schema)
        && fields.is_some_and(|f| !f.is_empty() && f.keys().all(|k| !properties.contains_key(k)))
        && COMPOSED.iter().all(|k| schema.get(*k).is_none())
        && schema
            .get("additionalProperties")
            .is_none_or(|a| a == &json!(false));
    if let (true, Some(fields)) = (flat, fields) {
        for (name, field) in fields {
            properties.insert(name.clone(), field.clone());
        }
        if body_required && let Some(Value::Array(names)) = schema.get("required") {
            required.extend(names.iter().cloned());
        }
        return RestBody::Fields(fields.keys().cloned().collect());
    }
    if properties.contains_key("body") {
        problems.push((
            at,
            "a parameter named `body` and a request body that is not a plain object".into(),
        ));
        return RestBody::None;
    }
    properties.insert("body".into(), schema);
    if body_required {
        required.push("body".into());
    }
    RestBody::Argument("body".into())
}

/// The first JSON success response's schema, as an object schema (wrapped as
/// `{"result": …}` when it is not one).
fn output(
    resolver: &mut Resolver<'_>,
    doc: &Doc,
    op: &Operation<'_>,
    problems: &mut Vec<Problem>,
) -> (Option<Map<String, Value>>, bool) {
    let at = child(&op.at, key("responses"));
    let Some(responses) = op.op.get("responses").and_then(Value::as_object) else {
        return (None, false);
    };
    let mut codes: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
    codes.sort();
    for code in codes {
        let (response, at) = match doc.follow(&responses[code.as_str()], child(&at, key(code))) {
            Ok(found) => found,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            continue;
        };
        let Some(media) = json_media(content) else {
            continue;
        };
        let Some(schema) = content[media.as_str()].get("schema") else {
            continue;
        };
        let schema_at = child(
            &child(&child(&at, key("content")), key(media)),
            key("schema"),
        );
        let schema = resolver.schema(schema, &schema_at);
        return match schema {
            Value::Object(map) if is_object(&Value::Object(map.clone())) => (Some(map), false),
            other => {
                let wrapped = json!({"type": "object", "properties": {"result": other}, "required": ["result"]});
                (wrapped.as_object().cloned(), true)
            }
        };
    }
    (None, false)
}
