//! Hand-declared `http` tools: a method, a URL template whose `{placeholders}` sit in its
//! path only, and the argument schema.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::schema::is_object;
use crate::model::{HttpMethod, HttpTool, ParamLocation, RestBody, RestParam, RestTool};
use crate::yaml::Seg;

/// A mistake in one tool: the field it is about and why.
pub(super) type Mistake = (&'static str, String);

/// Compiles the tools; mistakes come back with the index of their tool.
pub(super) fn compile(tools: &[HttpTool]) -> (Vec<RestTool>, Vec<(usize, Mistake)>) {
    let mut out = Vec::new();
    let mut mistakes = Vec::new();
    let mut names = HashSet::new();
    for (i, tool) in tools.iter().enumerate() {
        if !names.insert(tool.name.as_str()) {
            mistakes.push((i, ("name", format!("duplicate tool name `{}`", tool.name))));
            continue;
        }
        match one(tool) {
            Ok(compiled) => out.push(compiled),
            Err(mistake) => mistakes.push((i, mistake)),
        }
    }
    (out, mistakes)
}

/// Where a mistake is, below the tool's path.
pub(super) fn field_path(mut tool: Vec<Seg>, field: &str) -> Vec<Seg> {
    tool.push(Seg::Key(field.to_string()));
    tool
}

fn one(tool: &HttpTool) -> Result<RestTool, Mistake> {
    let (base, path) = split(&tool.url).map_err(|m| ("url", m))?;
    let mut input = if tool.input_schema.is_empty() {
        json!({"type": "object", "properties": {}})
            .as_object()
            .cloned()
            .unwrap_or_default()
    } else {
        tool.input_schema.clone()
    };
    input.entry("type").or_insert_with(|| "object".into());
    if !is_object(&Value::Object(input.clone())) {
        return Err((
            "input_schema",
            "must describe an object (`type: object`)".into(),
        ));
    }
    let required: Vec<&str> = input
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let properties = input.get("properties").and_then(Value::as_object);
    let mut params = Vec::new();
    for name in placeholders(&path) {
        let declared = properties.is_some_and(|p| p.contains_key(name));
        if !declared || !required.contains(&name) {
            return Err((
                "input_schema",
                format!("the URL's `{{{name}}}` must be a required property of input_schema"),
            ));
        }
        params.push(RestParam {
            name: name.to_string(),
            location: ParamLocation::Path,
        });
    }
    let body = match tool.method {
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch => RestBody::Rest,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Delete => {
            for name in properties.into_iter().flatten().map(|(k, _)| k) {
                if !params.iter().any(|p| &p.name == name) {
                    params.push(RestParam {
                        name: name.clone(),
                        location: ParamLocation::Query,
                    });
                }
            }
            RestBody::None
        }
    };
    if let Err(e) = jsonschema::validator_for(&Value::Object(input.clone())) {
        return Err(("input_schema", format!("not a valid JSON Schema: {e}")));
    }
    let (output_schema, wrap_output) = match &tool.output_schema {
        None => (None, false),
        Some(schema) => {
            if let Err(e) = jsonschema::validator_for(&Value::Object(schema.clone())) {
                return Err(("output_schema", format!("not a valid JSON Schema: {e}")));
            }
            if is_object(&Value::Object(schema.clone())) {
                (Some(schema.clone()), false)
            } else {
                let wrapped = json!({"type": "object", "properties": {"result": schema}, "required": ["result"]});
                (wrapped.as_object().cloned(), true)
            }
        }
    };
    Ok(RestTool {
        name: tool.name.clone(),
        description: tool
            .description
            .clone()
            .unwrap_or_else(|| format!("{} {}", tool.method.as_str(), tool.url)),
        method: tool.method,
        base,
        path,
        params,
        body,
        input_schema: input,
        output_schema,
        wrap_output,
    })
}

/// `https://h/v1/users/{id}` → (`https://h/v1/users`, `/{id}`): the part no argument
/// changes, and the rest. Placeholders may only be in the path.
fn split(template: &str) -> Result<(String, String), String> {
    if template.contains(['?', '#']) {
        return Err(
            "the URL may not have a query or fragment: declare query arguments in input_schema"
                .into(),
        );
    }
    let parsed = url::Url::parse(&template.replace(['{', '}'], "_"))
        .map_err(|e| format!("not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "URL scheme `{}` is not supported (use http, https)",
            parsed.scheme()
        ));
    }
    let after_scheme = template.find("://").map_or(0, |i| i + 3);
    let path_start = template[after_scheme..]
        .find('/')
        .map_or(template.len(), |i| after_scheme + i);
    if template[..path_start].contains(['{', '}']) {
        return Err("placeholders may only be in the URL's path, not in its host or port".into());
    }
    let fixed_end = template.find('{').unwrap_or(template.len());
    let cut = template[..fixed_end]
        .rfind('/')
        .filter(|i| *i >= path_start);
    let cut = if fixed_end == template.len() {
        template.len()
    } else {
        cut.unwrap_or(path_start)
    };
    let base = template[..cut].trim_end_matches('/').to_string();
    Ok((base, template[cut..].to_string()))
}

fn placeholders(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn the_fixed_part_of_a_url_is_its_base() {
        assert_eq!(
            split("https://h:8/v1/users/{id}/x").unwrap(),
            ("https://h:8/v1/users".into(), "/{id}/x".into())
        );
        assert_eq!(
            split("http://h/status").unwrap(),
            ("http://h/status".into(), String::new())
        );
        assert_eq!(
            split("http://h/u-{id}").unwrap(),
            ("http://h".into(), "/u-{id}".into())
        );
        assert!(
            split("http://{host}/x")
                .unwrap_err()
                .contains("only be in the URL's path")
        );
        assert!(split("http://h:{port}/x").is_err());
        assert!(split("http://h/x?q={q}").is_err());
        assert!(split("ftp://h/x").is_err());
    }

    fn tool(method: HttpMethod, url: &str, schema: &Value) -> HttpTool {
        HttpTool {
            name: "t".into(),
            description: None,
            method,
            url: url.into(),
            input_schema: schema.as_object().cloned().unwrap_or_default(),
            output_schema: Some(Map::from_iter([("type".into(), json!("array"))])),
        }
    }

    #[test]
    fn placeholders_are_path_arguments_and_the_rest_query_or_body() {
        let schema = json!({"type": "object", "properties": {"id": {"type": "string"}, "q": {"type": "string"}}, "required": ["id"]});
        let get = one(&tool(HttpMethod::Get, "http://h/u/{id}", &schema)).unwrap();
        assert_eq!(get.params.len(), 2);
        assert_eq!(get.params[1].location, ParamLocation::Query);
        assert!(get.wrap_output, "an array result is wrapped");
        let post = one(&tool(HttpMethod::Post, "http://h/u/{id}", &schema)).unwrap();
        assert_eq!(post.body, RestBody::Rest);
        let missing = one(&tool(HttpMethod::Get, "http://h/u/{id}", &json!({}))).unwrap_err();
        assert_eq!(missing.0, "input_schema");
    }
}
