//! Which operations become tools, and what they are called.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::Value;

use crate::model::{HttpMethod, OpenApiUpstream, OperationSelector};

/// An operation as selection sees it.
pub(super) struct Candidate<'d> {
    pub method: HttpMethod,
    pub path: &'d str,
    pub operation_id: Option<&'d str>,
    pub tags: Vec<&'d str>,
}

impl<'d> Candidate<'d> {
    pub fn new(method: HttpMethod, path: &'d str, op: &'d Value) -> Self {
        Self {
            method,
            path,
            operation_id: op.get("operationId").and_then(Value::as_str),
            tags: op
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect(),
        }
    }

    /// The tool's name before overrides: the `operationId`, or the method and path
    /// (`get_items_item_id`), made client-safe.
    pub fn tool_name(&self) -> String {
        let raw = match self.operation_id {
            Some(id) => id.to_string(),
            None => {
                let words = format!("{} {}", self.method.as_str(), self.path).to_ascii_lowercase();
                let mut name = String::new();
                for c in words.chars() {
                    let c = if c.is_ascii_alphanumeric() { c } else { '_' };
                    if !(c == '_' && (name.is_empty() || name.ends_with('_'))) {
                        name.push(c);
                    }
                }
                name.trim_end_matches('_').to_string()
            }
        };
        strata_core::names::client_safe(&raw)
    }
}

/// One selector compiled.
struct Compiled<'c> {
    spec: &'c OperationSelector,
    paths: GlobSet,
}

impl Compiled<'_> {
    fn matches(&self, c: &Candidate<'_>) -> bool {
        c.tags.iter().any(|t| self.spec.tags.iter().any(|s| s == t))
            || c.operation_id
                .is_some_and(|id| self.spec.operations.iter().any(|s| s == id))
            || self.paths.is_match(c.path)
    }
}

/// The `include`, `exclude` and `read_only` of an upstream, compiled.
pub(super) struct Selection<'c> {
    include: Compiled<'c>,
    exclude: Compiled<'c>,
    read_only: bool,
}

/// A path glob that does not compile: which list, its index, and why.
pub(super) type GlobError = (&'static str, usize, String);

impl<'c> Selection<'c> {
    pub fn new(api: &'c OpenApiUpstream) -> Result<Self, Vec<GlobError>> {
        let mut errors = Vec::new();
        let mut compile = |which: &'static str, spec: &'c OperationSelector| {
            let mut set = GlobSetBuilder::new();
            for (i, pattern) in spec.paths.iter().enumerate() {
                match GlobBuilder::new(pattern).literal_separator(true).build() {
                    Ok(glob) => {
                        set.add(glob);
                    }
                    Err(e) => {
                        errors.push((which, i, format!("invalid glob `{pattern}`: {}", e.kind())))
                    }
                }
            }
            Compiled {
                spec,
                paths: set.build().unwrap_or_else(|_| GlobSet::empty()),
            }
        };
        let include = compile("include", &api.include);
        let exclude = compile("exclude", &api.exclude);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            include,
            exclude,
            read_only: api.read_only,
        })
    }

    /// Whether the operation is a tool.
    pub fn picks(&self, c: &Candidate<'_>) -> bool {
        if self.read_only && !c.method.is_read_only() {
            return false;
        }
        if !self.include.spec.is_empty() && !self.include.matches(c) {
            return false;
        }
        !self.exclude.matches(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(yaml: Value) -> OpenApiUpstream {
        let mut base = json!({"spec": "s.yaml", "base_url": "http://x"});
        if let (Value::Object(b), Value::Object(extra)) = (&mut base, yaml) {
            b.extend(extra);
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn names_come_from_operation_ids_or_method_and_path() {
        let op = json!({"operationId": "getItem"});
        assert_eq!(
            Candidate::new(HttpMethod::Get, "/items/{id}", &op).tool_name(),
            "getItem"
        );
        let op = json!({});
        let c = Candidate::new(HttpMethod::Post, "/items/{item_id}/tags", &op);
        assert_eq!(c.tool_name(), "post_items_item_id_tags");
        let op = json!({"operationId": "list.items"});
        let name = Candidate::new(HttpMethod::Get, "/", &op).tool_name();
        assert!(
            strata_core::names::is_client_safe(&name) && name.starts_with("list_items_"),
            "{name}"
        );
        let long = "a".repeat(100);
        let op = json!({"operationId": long});
        assert_eq!(
            Candidate::new(HttpMethod::Get, "/", &op).tool_name().len(),
            64
        );
    }

    #[test]
    fn tags_globs_ids_and_read_only_select() {
        let op_tagged = json!({"operationId": "a", "tags": ["admin"]});
        let op_plain = json!({"operationId": "b"});
        let get = |path, op| Candidate::new(HttpMethod::Get, path, op);
        let post = |path, op| Candidate::new(HttpMethod::Post, path, op);

        let spec = api(json!({"include": {"paths": ["/items/*"]}}));
        let s = Selection::new(&spec).unwrap();
        assert!(s.picks(&get("/items/{id}", &op_plain)));
        assert!(
            !s.picks(&get("/items/{id}/tags", &op_plain)),
            "* stops at /"
        );
        assert!(!s.picks(&get("/users", &op_plain)));

        let spec = api(json!({"exclude": {"tags": ["admin"]}, "read_only": true}));
        let s = Selection::new(&spec).unwrap();
        assert!(!s.picks(&get("/x", &op_tagged)));
        assert!(s.picks(&get("/x", &op_plain)));
        assert!(
            !s.picks(&post("/x", &op_plain)),
            "read_only keeps GET and HEAD"
        );

        let spec = api(
            json!({"include": {"operations": ["a"], "paths": ["/x/**"]}, "exclude": {"operations": ["a"]}}),
        );
        let s = Selection::new(&spec).unwrap();
        assert!(!s.picks(&get("/y", &op_tagged)), "exclude wins");
        assert!(s.picks(&get("/x/1/2", &op_plain)));

        let spec = api(json!({"include": {"paths": ["/a/[" ]}}));
        let errors = Selection::new(&spec).err().unwrap();
        assert_eq!(errors[0].0, "include");
    }
}
