//! Validation that reports every mistake at once: first the JSON Schema (unknown keys, wrong
//! types, missing keys), then the references and values the schema cannot express (unknown
//! providers in `fallback`, duplicate names, bad listener addresses, unknown upstreams).
//! Both run on the untyped value so that one mistake never hides another.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::LazyLock;

use serde_json::Value;

use crate::error::ConfigError;
use crate::model::ProviderKind;
use crate::yaml::{Kind, Node, Pos, Seg, path_string};
use crate::{schema, value};

static SCHEMA: LazyLock<Value> = LazyLock::new(schema::json_schema);

#[allow(clippy::expect_used)]
static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&SCHEMA).expect("the generated config schema is a valid schema")
});

/// Collects errors with their place in the file.
pub(crate) struct Report<'a> {
    file: &'a str,
    tree: &'a Node,
    pub errors: Vec<ConfigError>,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a str, tree: &'a Node) -> Self {
        Self {
            file,
            tree,
            errors: Vec::new(),
        }
    }

    /// An error about the value at `path`.
    pub fn at(&mut self, path: &[Seg], message: impl Into<String>) {
        let pos = self.tree.locate(path);
        self.push(path, pos, message.into());
    }

    /// An error about the key `name` of the mapping at `parent`.
    fn at_key(&mut self, parent: &[Seg], name: &str, message: String) {
        let mut path = parent.to_vec();
        path.push(Seg::Key(name.to_string()));
        let pos = self
            .tree
            .key_pos(parent, name)
            .unwrap_or_else(|| self.tree.locate(parent));
        self.push(&path, pos, message);
    }

    pub fn push(&mut self, path: &[Seg], pos: Pos, message: String) {
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            path: path_string(path),
            line: pos.line,
            column: pos.column,
            message,
        });
    }
}

fn segs(location: &jsonschema::paths::Location) -> Vec<Seg> {
    location
        .iter()
        .map(|seg| match seg {
            jsonschema::paths::LocationSegment::Property(p) => Seg::Key(p.into_owned()),
            jsonschema::paths::LocationSegment::Index(i) => Seg::Index(i),
        })
        .collect()
}

fn pointer(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// Checks `json` against the schema. Unquoted scalars where a string is expected (`key: 1234`,
/// `version: 2024-10-21`) are read as strings, as a person means them.
pub(crate) fn check_schema(report: &mut Report<'_>, json: &mut Value) {
    check_schema_against(report, json, &SCHEMA, &VALIDATOR);
}

/// [`check_schema`] against another document's schema (workflow files).
pub(crate) fn check_schema_against(
    report: &mut Report<'_>,
    json: &mut Value,
    schema: &Value,
    validator: &jsonschema::Validator,
) {
    let mut as_text = Vec::new();
    for error in validator.iter_errors(json) {
        let path = segs(error.instance_path());
        let retypable = matches!(
            error.kind(),
            jsonschema::error::ValidationErrorKind::Type { .. }
                | jsonschema::error::ValidationErrorKind::AnyOf { .. }
                | jsonschema::error::ValidationErrorKind::OneOfNotValid { .. }
        );
        if retypable
            && schema::accepts_string(schema, &path)
            && let Some(Node {
                kind: Kind::Scalar { text, plain: true },
                ..
            }) = report.tree.get(&path)
        {
            as_text.push((pointer(&path), text.clone()));
        }
    }
    for (ptr, text) in as_text {
        if let Some(slot) = json.pointer_mut(&ptr) {
            *slot = Value::String(text);
        }
    }
    for error in validator.iter_errors(json) {
        let path = segs(error.instance_path());
        use jsonschema::error::ValidationErrorKind as K;
        match error.kind() {
            K::AdditionalProperties { unexpected } => {
                let allowed = schema::allowed_keys(schema, &path);
                for key in unexpected {
                    let hint = suggest(key, allowed.iter().map(String::as_str))
                        .map(|s| format!(", did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            if allowed.is_empty() {
                                String::new()
                            } else {
                                format!(" (allowed: {})", allowed.join(", "))
                            }
                        });
                    report.at_key(&path, key, format!("unknown key `{key}`{hint}"));
                }
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                report.at(&path, format!("missing required key `{name}`"));
            }
            K::Type { .. } | K::AnyOf { .. } | K::OneOfNotValid { .. } | K::Enum { .. } => {
                // Describe what was written, not what it was read as.
                let written = report.tree.get(&path).map(value::to_json);
                let found = written.as_ref().map_or("nothing", schema::found);
                let expected = schema::expected(schema, &path);
                report.at(&path, format!("expected {expected}, found {found}"));
            }
            K::Pattern { .. } => {
                let expected = schema::expected(schema, &path);
                let found = match report.tree.get(&path).map(value::to_json) {
                    Some(Value::String(text)) => format!("`{text}`"),
                    Some(other) => schema::found(&other).to_string(),
                    None => "nothing".into(),
                };
                report.at(&path, format!("expected {expected}, found {found}"));
            }
            _ => report.at(&path, error.masked().to_string()),
        }
    }
}

/// The closest of `options` to `word`, when it is close enough to be a typo.
pub(crate) fn suggest<'a>(word: &str, options: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    options
        .map(|o| (strsim::damerau_levenshtein(word, o), o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// The entries of a named list (`ai.providers`, `mcp.upstreams`…): index, name, value.
pub(crate) fn named<'v>(json: &'v Value, list: &[&str]) -> Vec<(usize, &'v str, &'v Value)> {
    let mut node = json;
    for k in list {
        match node.get(k) {
            Some(next) => node = next,
            None => return Vec::new(),
        }
    }
    node.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.get("name")?.as_str()?, v)))
        .collect()
}

pub(crate) fn list_path(list: &[&str], i: usize, field: &str) -> Vec<Seg> {
    let mut path: Vec<Seg> = list.iter().map(|k| key(k)).collect();
    path.push(Seg::Index(i));
    path.push(key(field));
    path
}

/// Reports a second use of a name in a list, at the second one.
pub(crate) fn unique_names(report: &mut Report<'_>, json: &Value, list: &[&str], what: &str) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name, _) in named(json, list) {
        if let Some(first) = seen.get(name) {
            let first_line = report.tree.locate(&list_path(list, *first, "name")).line;
            report.at(
                &list_path(list, i, "name"),
                format!("duplicate {what} name `{name}` (first defined at line {first_line})"),
            );
        } else {
            seen.insert(name, i);
        }
    }
}

/// Reports a reference to a name that is not defined.
pub(crate) fn known_ref(
    report: &mut Report<'_>,
    path: &[Seg],
    what: &str,
    name: &str,
    known: &[&str],
) {
    if known.contains(&name) {
        return;
    }
    let hint = match suggest(name, known.iter().copied()) {
        Some(s) => format!(", did you mean `{s}`?"),
        None if known.is_empty() => format!(" (no {what}s are defined)"),
        None => format!(" (known: {})", known.join(", ")),
    };
    report.at(path, format!("unknown {what} `{name}`{hint}"));
}

/// Reports every entry of the name list at `path` (last segment read from `entry`) that
/// names nothing in `known`.
pub(crate) fn known_refs(
    report: &mut Report<'_>,
    entry: &Value,
    path: &[Seg],
    what: &str,
    known: &[&str],
) {
    let Some(Seg::Key(field)) = path.last() else {
        return;
    };
    let names = entry
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (j, name) in names.enumerate() {
        if let Some(name) = name.as_str() {
            let mut at = path.to_vec();
            at.push(Seg::Index(j));
            known_ref(report, &at, what, name, known);
        }
    }
}

pub(crate) fn check_url(
    report: &mut Report<'_>,
    path: &[Seg],
    value: Option<&Value>,
    schemes: &[&str],
) {
    let Some(text) = value.and_then(Value::as_str) else {
        return;
    };
    match url::Url::parse(text) {
        Ok(u) if schemes.contains(&u.scheme()) => {}
        Ok(u) => report.at(
            path,
            format!(
                "URL scheme `{}` is not supported here (use {})",
                u.scheme(),
                schemes.join(", ")
            ),
        ),
        Err(e) => report.at(path, format!("not a valid URL: {e}")),
    }
}

/// Everything the schema cannot say.
pub(crate) fn check_semantics(report: &mut Report<'_>, json: &Value) {
    check_listeners(report, json);
    check_storage(report, json);
    check_providers(report, json);
    check_auth(report, json);
    crate::governance::check(report, json);
    check_mcp(report, json);
    check_url(
        report,
        &[key("telemetry"), key("otlp"), key("endpoint")],
        json.pointer("/telemetry/otlp/endpoint"),
        &["http", "https"],
    );
    check_url(
        report,
        &[key("mcp"), key("public_url")],
        json.pointer("/mcp/public_url"),
        &["http", "https"],
    );
    check_url(
        report,
        &[key("mcp"), key("advertise_url")],
        json.pointer("/mcp/advertise_url"),
        &["http", "https"],
    );
    const AGENTS: &[&str] = &["agent", "agents"];
    unique_names(report, json, AGENTS, "remote agent");
    for (i, _, agent) in named(json, AGENTS) {
        check_url(
            report,
            &list_path(AGENTS, i, "card"),
            agent.get("card"),
            &["http", "https"],
        );
    }
    for layer in ["ai", "mcp"] {
        let ptr = format!("/agent/{layer}/url");
        check_url(
            report,
            &[key("agent"), key(layer), key("url")],
            json.pointer(&ptr),
            &["http", "https"],
        );
    }
}

fn check_listeners(report: &mut Report<'_>, json: &Value) {
    let mut seen: BTreeMap<SocketAddr, &str> = BTreeMap::new();
    for name in ["ai", "mcp", "agent", "admin"] {
        let Some(addr) = json
            .pointer(&format!("/listeners/{name}"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let path = [key("listeners"), key(name)];
        match addr.parse::<SocketAddr>() {
            Ok(sock) => {
                if let Some(other) = seen.get(&sock) {
                    report.at(
                        &path,
                        format!("address {addr} is already used by listeners.{other}"),
                    );
                } else {
                    seen.insert(sock, name);
                }
            }
            Err(_) => report.at(
                &path,
                format!("`{addr}` is not a listen address: write IP:PORT, e.g. 127.0.0.1:4000"),
            ),
        }
    }
}

fn check_storage(report: &mut Report<'_>, json: &Value) {
    // Never echo these values: a database URL can hold a password.
    if let Some(url) = json.pointer("/storage/url").and_then(Value::as_str) {
        let scheme = url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "sqlite" | "postgres" | "postgresql") || !url.contains(':') {
            report.at(
                &[key("storage"), key("url")],
                "storage URL must start with sqlite:// or postgres://",
            );
        }
    }
    if let Some(url) = json.pointer("/storage/redis").and_then(Value::as_str) {
        let scheme = url.split("://").next().unwrap_or_default();
        if !matches!(scheme, "redis" | "rediss") || !url.contains("://") {
            report.at(
                &[key("storage"), key("redis")],
                "Redis URL must start with redis:// or rediss://",
            );
        }
    }
}

fn check_providers(report: &mut Report<'_>, json: &Value) {
    const LIST: &[&str] = &["ai", "providers"];
    unique_names(report, json, LIST, "provider");
    let providers = named(json, LIST);
    let names: Vec<&str> = providers.iter().map(|(_, n, _)| *n).collect();
    let mut fallback_of: HashMap<&str, &str> = HashMap::new();
    for (i, name, provider) in &providers {
        if provider.get("kind").is_none() && ProviderKind::infer(name).is_none() {
            report.at(
                &list_path(LIST, *i, "name"),
                format!(
                    "cannot tell what API provider `{name}` speaks: add `kind: openai` \
                     (or azure, anthropic, gemini, mock)"
                ),
            );
        }
        let Some(fallback) = provider.get("fallback").and_then(Value::as_str) else {
            continue;
        };
        let path = list_path(LIST, *i, "fallback");
        if fallback == *name {
            report.at(
                &path,
                format!("provider `{name}` cannot fall back to itself"),
            );
        } else {
            known_ref(report, &path, "provider", fallback, &names);
            fallback_of.insert(name, fallback);
        }
    }
    check_routes(report, json, &names);
    // A fallback chain that comes back to where it started would never end.
    for (i, name, _) in &providers {
        let mut chain = vec![*name];
        let mut at = *name;
        while let Some(next) = fallback_of.get(at) {
            if *next == *name {
                chain.push(next);
                report.at(
                    &list_path(LIST, *i, "fallback"),
                    format!("fallback cycle: {}", chain.join(" -> ")),
                );
                break;
            }
            if chain.contains(next) {
                break;
            }
            chain.push(next);
            at = next;
        }
    }
}

fn check_routes(report: &mut Report<'_>, json: &Value, providers: &[&str]) {
    const LIST: &[&str] = &["ai", "routes"];
    unique_names(report, json, LIST, "route");
    for (i, name, route) in named(json, LIST) {
        let targets = route.get("targets").and_then(Value::as_array);
        if targets.is_some_and(Vec::is_empty) {
            report.at(
                &list_path(LIST, i, "targets"),
                format!("route `{name}` has no targets"),
            );
        }
        for (j, target) in targets.into_iter().flatten().enumerate() {
            let mut path = list_path(LIST, i, "targets");
            path.push(Seg::Index(j));
            if let Some(provider) = target.get("provider").and_then(Value::as_str) {
                path.push(key("provider"));
                known_ref(report, &path, "provider", provider, providers);
            }
        }
        let strategy = route.get("strategy").and_then(Value::as_str);
        if strategy == Some("sla") && route.get("objective").is_none_or(Value::is_null) {
            report.at(
                &list_path(LIST, i, "strategy"),
                format!("route `{name}` uses strategy sla but sets no `objective` (e.g. objective: {{ ttft_p95: 800ms }})"),
            );
        }
    }
}

fn check_auth(report: &mut Report<'_>, json: &Value) {
    const LIST: &[&str] = &["auth", "keys"];
    unique_names(report, json, LIST, "key");
    let roles: Vec<&str> = json
        .pointer("/auth/roles")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut key_values: HashMap<&str, &str> = HashMap::new();
    for (i, name, entry) in named(json, LIST) {
        known_refs(report, entry, &list_path(LIST, i, "roles"), "role", &roles);
        if let Some(value) = entry.get("key").and_then(Value::as_str) {
            if let Some(other) = key_values.get(value) {
                report.at(
                    &list_path(LIST, i, "key"),
                    format!("key `{name}` has the same key value as key `{other}`"),
                );
            } else {
                key_values.insert(value, name);
            }
        }
    }
}

fn check_mcp(report: &mut Report<'_>, json: &Value) {
    const UPSTREAMS: &[&str] = &["mcp", "upstreams"];
    const SERVERS: &[&str] = &["mcp", "servers"];
    unique_names(report, json, UPSTREAMS, "upstream");
    unique_names(report, json, SERVERS, "server");
    let upstreams = named(json, UPSTREAMS);
    for (i, name, upstream) in &upstreams {
        let transports = ["stdio", "url", "builtin", "openapi", "http"]
            .iter()
            .filter(|t| upstream.get(**t).is_some_and(|v| !v.is_null()))
            .count();
        if transports != 1 {
            report.at(
                &list_path(UPSTREAMS, *i, "name"),
                format!(
                    "upstream `{name}` needs exactly one of `stdio`, `url`, `builtin`, `openapi` or `http`"
                ),
            );
        }
        check_url(
            report,
            &list_path(UPSTREAMS, *i, "url"),
            upstream.get("url"),
            &["http", "https"],
        );
        let mut base_url = list_path(UPSTREAMS, *i, "openapi");
        base_url.push(key("base_url"));
        check_url(
            report,
            &base_url,
            upstream.pointer("/openapi/base_url"),
            &["http", "https"],
        );
    }
    let names: Vec<&str> = upstreams.iter().map(|(_, n, _)| *n).collect();
    for (i, _, server) in named(json, SERVERS) {
        let path = list_path(SERVERS, i, "upstreams");
        known_refs(report, server, &path, "upstream", &names);
        for list in ["allow", "deny"] {
            let globs = server
                .pointer(&format!("/tools/{list}"))
                .and_then(Value::as_array);
            for (g, glob) in globs.into_iter().flatten().enumerate() {
                let Some(text) = glob.as_str() else { continue };
                if let Err(e) = globset::Glob::new(text) {
                    let mut path = list_path(SERVERS, i, "tools");
                    path.push(key(list));
                    path.push(Seg::Index(g));
                    report.at(&path, format!("invalid glob `{text}`: {}", e.kind()));
                }
            }
        }
    }
}
