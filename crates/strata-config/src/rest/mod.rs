//! Compiling `openapi` and `http` upstreams into tools while the config loads, so that
//! `strata check`, `strata serve` and every reload see the same document and report its
//! mistakes (unreadable document, unsupported constructs, duplicate tool names) with their
//! file, path, line and column.

mod body;
mod doc;
mod fetch;
mod http;
mod openapi;
mod operation;
mod schema;
mod select;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use strata_core::Secret;

use crate::error::ConfigError;
use crate::model::{Config, RestAuth, RestTools};
use crate::validate::{Report, key, list_path};
use crate::yaml::Seg;

const UPSTREAMS: &[&str] = &["mcp", "upstreams"];

/// Reads and compiles every `openapi` and `http` upstream of `config` (documents named by a
/// relative path are found relative to `dir`). Mistakes in the config go to `report`;
/// those in a document are returned.
pub(crate) fn load(
    dir: Option<&Path>,
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut Report<'_>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (i, upstream) in config.mcp.upstreams.iter_mut().enumerate() {
        if let Some(api) = &upstream.openapi {
            let at = list_path(UPSTREAMS, i, "openapi");
            let auth = resolve_auth(&api.auth, env, report, &at);
            let (file, text) = match fetch::read(&api.spec, dir) {
                Ok(read) => read,
                Err(message) => {
                    let mut path = at.clone();
                    path.push(key("spec"));
                    report.at(
                        &path,
                        format!("cannot load the OpenAPI document: {message}"),
                    );
                    continue;
                }
            };
            let (doc, mut found) = match doc::Doc::parse(&file, &text) {
                Ok(parsed) => parsed,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let (tools, mut problems) = openapi::compile(&doc, api, report, &at);
            found.append(&mut problems);
            if !found.is_empty() {
                errors.append(&mut found);
                continue;
            }
            upstream.rest = Some(Arc::new(RestTools {
                tools,
                auth,
                digest: hex(&text),
            }));
        } else if let Some(http) = &upstream.http {
            let at = list_path(UPSTREAMS, i, "http");
            let auth = resolve_auth(&http.auth, env, report, &at);
            let (tools, mistakes) = http::compile(&http.tools);
            for (t, (field, message)) in mistakes {
                let mut tool = at.clone();
                tool.extend([key("tools"), Seg::Index(t)]);
                report.at(&http::field_path(tool, field), message);
            }
            upstream.rest = Some(Arc::new(RestTools {
                tools,
                auth,
                digest: String::new(),
            }));
        }
    }
    errors
}

/// The authentication header, with a bearer token read from the environment.
fn resolve_auth(
    auth: &RestAuth,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut Report<'_>,
    at: &[Seg],
) -> Option<(String, Secret)> {
    match auth {
        RestAuth::None => None,
        RestAuth::Header { name, value } => Some((name.clone(), value.clone())),
        RestAuth::Bearer { env: var } => match env(var) {
            Some(token) if !token.is_empty() => Some((
                "authorization".into(),
                Secret::new(format!("Bearer {token}")),
            )),
            _ => {
                let mut path = at.to_vec();
                path.extend([key("auth"), key("bearer"), key("env")]);
                report.at(&path, format!("environment variable {var} is not set"));
                None
            }
        },
    }
}

fn hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
