//! A call's arguments as an HTTP request. Path arguments are percent-encoded into their
//! segment, and the finished URL must still be under the tool's base: nothing in the
//! arguments can change the scheme, host, port or the fixed part of the path.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use strata_config::{ParamLocation, RestBody, RestTool};
use strata_core::Secret;

/// Everything but RFC 3986's unreserved characters is encoded in a path segment, `/`, `?`,
/// `#` and `%` included.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum BuildError {
    /// An argument cannot be sent as its parameter (a refused call, never sent).
    #[error("invalid argument `{field}`: {message}")]
    Argument { field: String, message: String },
    /// The URL would leave the tool's base (a refused call, never sent).
    #[error("refused: the request would leave {base}")]
    Escapes { base: String },
    /// The tool's own URL is broken (a config problem).
    #[error("the tool's URL `{0}` is not valid")]
    Url(String),
}

fn argument(field: &str, message: &str) -> BuildError {
    BuildError::Argument {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// A scalar argument as text, as it goes in a path, query or header.
fn scalar(field: &str, value: &Value) -> Result<String, BuildError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(argument(field, "must be a string, number or boolean")),
    }
}

/// The request's URL, with path and query arguments.
pub(super) fn url(tool: &RestTool, args: &Map<String, Value>) -> Result<url::Url, BuildError> {
    let mut path = String::new();
    let mut rest = tool.path.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let name = &rest[open + 1..close];
        let value = args
            .get(name)
            .ok_or_else(|| argument(name, "is required (it is part of the path)"))
            .and_then(|v| scalar(name, v))?;
        if value.is_empty() || value == "." || value == ".." {
            return Err(argument(name, "must not be empty, `.` or `..`"));
        }
        path.push_str(&rest[..open]);
        path.extend(utf8_percent_encode(&value, SEGMENT));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let base = url::Url::parse(&tool.base).map_err(|_| BuildError::Url(tool.base.clone()))?;
    let mut url = url::Url::parse(&format!("{}{path}", tool.base))
        .map_err(|_| BuildError::Url(tool.base.clone()))?;
    let base_path = base.path().trim_end_matches('/');
    let inside = url.origin() == base.origin()
        && (url.path() == base.path()
            || url
                .path()
                .strip_prefix(base_path)
                .is_some_and(|r| r.is_empty() || r.starts_with('/')));
    if !inside {
        return Err(BuildError::Escapes {
            base: tool.base.clone(),
        });
    }
    url.set_query(None);
    url.set_fragment(None);
    for param in tool
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Query)
    {
        let values = match args.get(&param.name) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one) => vec![one],
        };
        for value in values {
            let text = scalar(&param.name, value)?;
            url.query_pairs_mut().append_pair(&param.name, &text);
        }
    }
    Ok(url)
}

/// The request's headers: header arguments first, then the upstream's headers and its
/// authentication, which no argument can replace.
pub(super) fn headers(
    tool: &RestTool,
    args: &Map<String, Value>,
    fixed: &BTreeMap<String, Secret>,
    auth: Option<&(String, Secret)>,
) -> Result<HeaderMap, BuildError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, */*;q=0.5"),
    );
    for param in tool
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Header)
    {
        let Some(value) = args.get(&param.name).filter(|v| !v.is_null()) else {
            continue;
        };
        let name = HeaderName::from_bytes(param.name.as_bytes())
            .map_err(|_| argument(&param.name, "is not a valid header name"))?;
        let value = HeaderValue::from_str(&scalar(&param.name, value)?)
            .map_err(|_| argument(&param.name, "is not a valid header value"))?;
        headers.insert(name, value);
    }
    for (name, value) in fixed.iter().chain(auth.map(|(n, v)| (n, v))) {
        if let (Ok(name), Ok(mut value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.expose()),
        ) {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    }
    Ok(headers)
}

/// The JSON body, if the tool sends one.
pub(super) fn body(tool: &RestTool, args: &Map<String, Value>) -> Option<Value> {
    match &tool.body {
        RestBody::None => None,
        RestBody::Argument(name) => args.get(name).cloned(),
        RestBody::Fields(fields) => Some(Value::Object(
            fields
                .iter()
                .filter_map(|f| args.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        )),
        RestBody::Rest => Some(Value::Object(
            args.iter()
                .filter(|(k, _)| !tool.params.iter().any(|p| &p.name == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use strata_config::{HttpMethod, RestParam};

    fn tool(base: &str, path: &str, params: &[(&str, ParamLocation)], body: RestBody) -> RestTool {
        RestTool {
            name: "t".into(),
            description: String::new(),
            method: HttpMethod::Get,
            base: base.into(),
            path: path.into(),
            params: params
                .iter()
                .map(|(n, l)| RestParam {
                    name: (*n).into(),
                    location: *l,
                })
                .collect(),
            body,
            input_schema: Map::new(),
            output_schema: None,
            wrap_output: false,
        }
    }

    fn args(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn path_arguments_stay_one_segment_under_the_base() {
        let t = tool(
            "http://api:8/v1",
            "/items/{id}",
            &[("id", ParamLocation::Path)],
            RestBody::None,
        );
        let url = |id: Value| url(&t, &args(json!({ "id": id })));
        assert_eq!(
            url(json!("../../x")).unwrap().as_str(),
            "http://api:8/v1/items/..%2F..%2Fx"
        );
        assert_eq!(
            url(json!("http://evil/")).unwrap().as_str(),
            "http://api:8/v1/items/http%3A%2F%2Fevil%2F"
        );
        assert_eq!(
            url(json!("a?b#c")).unwrap().as_str(),
            "http://api:8/v1/items/a%3Fb%23c"
        );
        assert_eq!(url(json!(7)).unwrap().as_str(), "http://api:8/v1/items/7");
        for bad in ["..", ".", ""] {
            assert!(
                matches!(url(json!(bad)), Err(BuildError::Argument { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            url(json!({"x": 1})),
            Err(BuildError::Argument { .. })
        ));
    }

    #[test]
    fn query_arguments_are_encoded_and_arrays_repeat() {
        let t = tool(
            "http://api",
            "/s",
            &[("q", ParamLocation::Query), ("tag", ParamLocation::Query)],
            RestBody::None,
        );
        let u = url(&t, &args(json!({"q": "a&b=c", "tag": ["x", "y"]}))).unwrap();
        assert_eq!(u.as_str(), "http://api/s?q=a%26b%3Dc&tag=x&tag=y");
    }

    #[test]
    fn arguments_cannot_replace_fixed_headers_or_inject_lines() {
        let t = tool(
            "http://api",
            "/",
            &[
                ("X-Trace", ParamLocation::Header),
                ("authorization", ParamLocation::Header),
            ],
            RestBody::None,
        );
        let auth = ("authorization".to_string(), Secret::new("Bearer real"));
        let h = headers(
            &t,
            &args(json!({"X-Trace": "1", "authorization": "Bearer forged"})),
            &BTreeMap::new(),
            Some(&auth),
        )
        .unwrap();
        assert_eq!(h["x-trace"], "1");
        assert_eq!(h["authorization"], "Bearer real");
        let bad = headers(
            &t,
            &args(json!({"X-Trace": "1\r\nHost: evil"})),
            &BTreeMap::new(),
            None,
        );
        assert!(matches!(bad, Err(BuildError::Argument { field, .. }) if field == "X-Trace"));
    }

    #[test]
    fn bodies_are_made_from_the_right_arguments() {
        let a = args(json!({"id": 1, "name": "n", "price": 2}));
        let fields = tool(
            "http://api",
            "/{id}",
            &[("id", ParamLocation::Path)],
            RestBody::Fields(vec!["name".into(), "price".into()]),
        );
        assert_eq!(body(&fields, &a), Some(json!({"name": "n", "price": 2})));
        let rest = tool(
            "http://api",
            "/{id}",
            &[("id", ParamLocation::Path)],
            RestBody::Rest,
        );
        assert_eq!(body(&rest, &a), Some(json!({"name": "n", "price": 2})));
        let whole = tool("http://api", "/", &[], RestBody::Argument("name".into()));
        assert_eq!(body(&whole, &a), Some(json!("n")));
    }
}
