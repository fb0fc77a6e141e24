//! An operation's JSON request body (merged into the arguments or one `body` argument) and
//! its first JSON success response (the output schema).

use serde_json::{Map, Value, json};

use super::doc::{Doc, Problem};
use super::operation::{Operation, child, key};
use super::schema::{Resolver, is_object};
use crate::model::RestBody;

/// Keywords that make a body schema more than a plain set of properties.
const COMPOSED: &[&str] = &["allOf", "anyOf", "oneOf", "not", "if", "patternProperties"];

/// The JSON media type of a `content` map, if it has one.
fn json_media(content: &Map<String, Value>) -> Option<&String> {
    content.keys().find(|media| {
        let essence = media.split(';').next().unwrap_or_default().trim();
        essence == "application/json" || essence.ends_with("+json")
    })
}

pub(super) fn body(
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
pub(super) fn output(
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
