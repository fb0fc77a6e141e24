//! JSON Schemas out of an OpenAPI document, self-contained: every local `$ref` replaced by
//! what it points to (a schema that contains itself becomes `{}` at the point it recurs), and
//! OpenAPI 3.0's own keywords (`nullable`, boolean `exclusiveMinimum`) turned into JSON Schema.

use serde_json::{Map, Value, json};

use super::doc::{Doc, Problem};
use crate::yaml::Seg;

/// Values that hold data, not schemas: never searched for `$ref`s.
const DATA: &[&str] = &["example", "examples", "default", "enum", "const"];
/// OpenAPI keywords with no meaning in JSON Schema.
const DROPPED: &[&str] = &["nullable", "discriminator", "xml", "externalDocs"];

/// Resolves schemas of one document, collecting the problems found.
pub(super) struct Resolver<'d> {
    doc: &'d Doc,
    pub problems: Vec<Problem>,
}

impl<'d> Resolver<'d> {
    pub fn new(doc: &'d Doc) -> Self {
        Self {
            doc,
            problems: Vec::new(),
        }
    }

    /// The document schemas are resolved in.
    pub fn doc(&self) -> &'d Doc {
        self.doc
    }

    /// The schema `value` (found at `path`), self-contained.
    pub fn schema(&mut self, value: &Value, path: &[Seg]) -> Value {
        self.walk(value, path, &mut Vec::new())
    }

    fn walk(&mut self, value: &Value, path: &[Seg], stack: &mut Vec<String>) -> Value {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    return self.reference(reference, map, path, stack);
                }
                let mut out = Map::new();
                for (key, item) in map {
                    if DROPPED.contains(&key.as_str()) || key.starts_with("x-") {
                        continue;
                    }
                    let item = if DATA.contains(&key.as_str()) {
                        item.clone()
                    } else {
                        self.walk(item, &child(path, Seg::Key(key.clone())), stack)
                    };
                    out.insert(key.clone(), item);
                }
                openapi_30(map, &mut out);
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.walk(item, &child(path, Seg::Index(i)), stack))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn reference(
        &mut self,
        reference: &str,
        map: &Map<String, Value>,
        path: &[Seg],
        stack: &mut Vec<String>,
    ) -> Value {
        if stack.iter().any(|r| r == reference) {
            return json!({ "description": format!("(recursive: {reference})") });
        }
        let (target, target_path) = match self.doc.reference(reference, path.to_vec()) {
            Ok(found) => found,
            Err(problem) => {
                self.problems.push(problem);
                return json!({});
            }
        };
        stack.push(reference.to_string());
        let mut resolved = self.walk(target, &target_path, stack);
        stack.pop();
        // OpenAPI 3.1 allows keywords beside `$ref` (a description, say): they win.
        if let Value::Object(out) = &mut resolved {
            for (key, item) in map {
                if key != "$ref" && !DROPPED.contains(&key.as_str()) {
                    let item = self.walk(item, &child(path, Seg::Key(key.clone())), stack);
                    out.insert(key.clone(), item);
                }
            }
        }
        resolved
    }
}

fn child(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut path = path.to_vec();
    path.push(seg);
    path
}

/// OpenAPI 3.0: `nullable: true` widens the type; `exclusiveMinimum: true` makes `minimum`
/// exclusive.
fn openapi_30(original: &Map<String, Value>, out: &mut Map<String, Value>) {
    if original.get("nullable") == Some(&Value::Bool(true)) {
        match out.get_mut("type") {
            Some(Value::String(t)) => {
                let t = t.clone();
                out.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(types)) if !types.contains(&json!("null")) => {
                types.push("null".into())
            }
            _ => {}
        }
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.get(exclusive) {
            Some(Value::Bool(true)) => {
                match out.remove(bound) {
                    Some(limit) => out.insert(exclusive.into(), limit),
                    None => out.remove(exclusive),
                };
            }
            Some(Value::Bool(false)) => {
                out.remove(exclusive);
            }
            _ => {}
        }
    }
}

/// Whether `schema` describes a JSON object (also as an `allOf` of object schemas).
pub(super) fn is_object(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(_) => false,
        None if schema.get("properties").is_some_and(Value::is_object) => true,
        None => schema
            .get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|all| !all.is_empty() && all.iter().all(is_object)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, at: &str) -> (Value, Vec<Problem>) {
        let (doc, _) = Doc::parse("s.yaml", text).unwrap();
        let mut resolver = Resolver::new(&doc);
        let path = vec![Seg::Key(at.into())];
        let value = doc.at(&path).unwrap().clone();
        let out = resolver.schema(&value, &path);
        (out, resolver.problems)
    }

    #[test]
    fn references_are_inlined_and_siblings_win() {
        let text = "s: {type: object, properties: {tag: {$ref: '#/components/schemas/Tag', description: Why}}}\n\
                    components: {schemas: {Tag: {type: string, description: A tag, example: {$ref: keep}}}}\n";
        let (out, problems) = resolve(text, "s");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            out["properties"]["tag"],
            json!({"type": "string", "description": "Why", "example": {"$ref": "keep"}})
        );
    }

    #[test]
    fn recursion_stops_and_dangling_references_are_problems() {
        let text = "s: {$ref: '#/components/schemas/Node'}\n\
                    components: {schemas: {Node: {type: object, properties: {next: {$ref: '#/components/schemas/Node'}, bad: {$ref: '#/nope'}}}}}\n";
        let (out, problems) = resolve(text, "s");
        assert_eq!(out["properties"]["next"]["type"], json!(null));
        assert!(
            out["properties"]["next"]["description"]
                .as_str()
                .unwrap()
                .contains("recursive")
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("points to nothing"));
    }

    #[test]
    fn objects_are_recognised() {
        assert!(is_object(&json!({"type": "object"})));
        assert!(is_object(&json!({"properties": {}})));
        assert!(is_object(
            &json!({"allOf": [{"type": "object"}, {"properties": {}}]})
        ));
        assert!(!is_object(
            &json!({"allOf": [{"type": "object"}, {"type": "string"}]})
        ));
        assert!(!is_object(&json!({"type": ["object", "null"]})));
        assert!(!is_object(&json!({"type": "array"})));
    }

    #[test]
    fn openapi_30_keywords_become_json_schema() {
        let text = "s: {type: integer, nullable: true, minimum: 0, exclusiveMinimum: true, maximum: 9, exclusiveMaximum: false}\n";
        let (out, _) = resolve(text, "s");
        assert_eq!(
            out,
            json!({"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 9})
        );
    }
}
