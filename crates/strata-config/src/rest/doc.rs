//! An OpenAPI document as read: its positioned tree (for error locations) and its JSON form,
//! and the following of local `$ref`s.

use serde_json::Value;

use crate::error::ConfigError;
use crate::yaml::{Node, Seg};
use crate::{value, yaml};

/// How many `$ref`s may follow one another before it is called a loop.
const MAX_HOPS: usize = 32;

/// A parsed document.
pub(super) struct Doc {
    /// The file path or URL it was read from.
    pub file: String,
    pub tree: Node,
    pub json: Value,
}

/// A problem at a place in the document.
pub(super) type Problem = (Vec<Seg>, String);

impl Doc {
    /// Parses YAML or JSON text; duplicate keys come back as problems beside it.
    pub fn parse(file: &str, text: &str) -> Result<(Doc, Vec<ConfigError>), ConfigError> {
        let (tree, duplicates) = yaml::parse(text).map_err(|e| ConfigError {
            file: file.to_string(),
            path: String::new(),
            line: e.pos.line,
            column: e.pos.column,
            message: format!("invalid OpenAPI document (not YAML or JSON): {}", e.message),
        })?;
        let errors = duplicates
            .into_iter()
            .map(|d| ConfigError {
                file: file.to_string(),
                path: String::new(),
                line: d.pos.line,
                column: d.pos.column,
                message: d.message,
            })
            .collect();
        let json = value::to_json(&tree);
        let doc = Doc {
            file: file.to_string(),
            tree,
            json,
        };
        Ok((doc, errors))
    }

    /// The value at `path`.
    pub fn at(&self, path: &[Seg]) -> Option<&Value> {
        let mut node = &self.json;
        for seg in path {
            node = match seg {
                Seg::Key(k) => node.get(k.as_str())?,
                Seg::Index(i) => node.get(*i)?,
            };
        }
        Some(node)
    }

    /// The keys of the mapping at `path`, in the order the document writes them.
    pub fn keys(&self, path: &[Seg]) -> Vec<String> {
        match self.tree.get(path).map(|node| &node.kind) {
            Some(yaml::Kind::Map(entries)) => entries.iter().map(|(k, _)| k.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// `value` (found at `path`), or what its `$ref` chain leads to, with the path of the
    /// value returned.
    pub fn follow<'d>(
        &'d self,
        value: &'d Value,
        path: Vec<Seg>,
    ) -> Result<(&'d Value, Vec<Seg>), Problem> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.reference(reference, path),
            None => Ok((value, path)),
        }
    }

    /// What `$ref: reference` (written in the object at `path`) leads to, following further
    /// references, with the path of the value returned.
    pub fn reference(
        &self,
        reference: &str,
        mut path: Vec<Seg>,
    ) -> Result<(&Value, Vec<Seg>), Problem> {
        let mut reference = reference.to_string();
        for _ in 0..MAX_HOPS {
            path.push(Seg::Key("$ref".into()));
            let target = pointer_path(&reference).map_err(|m| (path.clone(), m))?;
            let value = self
                .at(&target)
                .ok_or_else(|| (path, format!("`$ref: {reference}` points to nothing")))?;
            path = target;
            match value.get("$ref").and_then(Value::as_str) {
                Some(next) => reference = next.to_string(),
                None => return Ok((value, path)),
            }
        }
        Err((path, "`$ref`s refer to one another in a loop".into()))
    }
}

/// The path a local reference (`#/components/schemas/Item`) names.
pub(super) fn pointer_path(reference: &str) -> Result<Vec<Seg>, String> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!(
            "`$ref: {reference}` refers outside this document: only local references (`#/...`) are supported"
        ));
    };
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(pointer) = pointer.strip_prefix('/') else {
        return Err(format!("`$ref: {reference}` is not a JSON pointer"));
    };
    pointer
        .split('/')
        .map(|part| {
            let decoded = percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map_err(|_| format!("`$ref: {reference}` is not valid UTF-8"))?;
            Ok(Seg::Key(decoded.replace("~1", "/").replace("~0", "~")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_local_references_and_reports_the_others() {
        let text = "a: {$ref: '#/b'}\nb: {$ref: '#/c~1d'}\nc/d: {x: 1}\ne: {$ref: 'other.yaml#/x'}\nf: {$ref: '#/nope'}\n";
        let (doc, _) = Doc::parse("spec.yaml", text).unwrap();
        let (value, path) = doc
            .follow(&doc.json["a"], vec![Seg::Key("a".into())])
            .unwrap();
        assert_eq!(value, &json!({"x": 1}));
        assert_eq!(path, vec![Seg::Key("c/d".into())]);
        let (at, message) = doc
            .follow(&doc.json["e"], vec![Seg::Key("e".into())])
            .unwrap_err();
        assert!(message.contains("outside this document"), "{message}");
        assert_eq!(doc.tree.locate(&at).line, 4);
        let (_, message) = doc
            .follow(&doc.json["f"], vec![Seg::Key("f".into())])
            .unwrap_err();
        assert!(message.contains("points to nothing"), "{message}");
    }

    #[test]
    fn reference_loops_end() {
        let (doc, _) = Doc::parse("s.yaml", "a: {$ref: '#/b'}\nb: {$ref: '#/a'}\n").unwrap();
        let (_, message) = doc
            .follow(&doc.json["a"], vec![Seg::Key("a".into())])
            .unwrap_err();
        assert!(message.contains("loop"), "{message}");
    }

    #[test]
    fn json_documents_parse_with_positions() {
        let text = "{\n  \"openapi\": \"3.1.0\",\n  \"paths\": {\"/x\": {}}\n}\n";
        let (doc, _) = Doc::parse("s.json", text).unwrap();
        assert_eq!(doc.json["openapi"], "3.1.0");
        let at = doc
            .tree
            .locate(&[Seg::Key("paths".into()), Seg::Key("/x".into())]);
        assert_eq!(at.line, 3);
    }
}
