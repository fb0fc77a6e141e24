//! Who is calling a virtual server: an API key or a JWT (OAuth 2.1 access token) presented as
//! `Authorization: Bearer` (tokens are taken from that header only), checked before anything
//! else. A refusal is a 401 whose `WWW-Authenticate` points at the server's protected-resource
//! metadata (RFC 9728), served at `/.well-known/oauth-protected-resource/mcp/{server}`.
//! Sessions are bound to the principal that opened them.

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use strata_config::{Config, ServerAuth};
use strata_policy::jwt::JwtValidator;
use strata_policy::{ApiKeys, StoredKeys};

use crate::McpError;
use crate::virtual_server::VirtualServer;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// A key's name, or `{iss}#{sub}` of a token.
    pub name: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub(crate) fn subject(&self) -> strata_policy::access::Subject<'_> {
        strata_policy::access::Subject {
            name: &self.name,
            roles: &self.roles,
        }
    }
}

/// The caller's name, if any.
pub(crate) fn name_of(caller: Option<&Caller>) -> Option<&str> {
    caller.map(|c| c.name.as_str())
}

/// The credentials one config generation accepts.
#[derive(Debug, Default)]
pub(crate) struct McpAuth {
    keys: ApiKeys,
    delegation: strata_policy::Delegation,
    jwt: Option<JwtValidator>,
    issuer: Option<String>,
    /// `mcp.public_url`, without a trailing slash.
    public_url: Option<String>,
}

impl McpAuth {
    pub(crate) fn new(
        config: &Config,
        stored: Arc<StoredKeys>,
        http: reqwest::Client,
    ) -> Result<Self, McpError> {
        let jwt = match &config.auth.jwt {
            Some(jwt) => Some(
                JwtValidator::new(jwt, http)
                    .map_err(|e| McpError::Upstream(format!("auth.jwt: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            keys: ApiKeys::with_stored(&config.auth.keys, stored),
            delegation: strata_policy::Delegation::new(&config.auth),
            jwt,
            issuer: config.auth.jwt.as_ref().map(|j| j.issuer.clone()),
            public_url: config
                .mcp
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
        })
    }

    /// Whether `server` wants credentials.
    fn required(&self, server: &VirtualServer) -> bool {
        server.auth == ServerAuth::Required && (self.keys.enabled() || self.jwt.is_some())
    }

    /// The caller, `None` when the server is open. Refusals are 401s pointing at the
    /// metadata; a token without the server's `scopes` is a 403 `insufficient_scope`. Every
    /// refusal is audited.
    pub(crate) async fn authenticate(
        &self,
        server: &VirtualServer,
        headers: &HeaderMap,
        in_process: Option<axum::Extension<strata_core::Principal>>,
    ) -> Result<Option<Arc<Caller>>, McpError> {
        let outcome = self.check(server, headers, in_process).await;
        if let Err(e @ (McpError::Unauthorized { .. } | McpError::InsufficientScope { .. })) =
            &outcome
        {
            let why = e.to_string();
            let auditor = &server.policy.auditor;
            auditor.refusal(server, "auth", None, &why).await;
        }
        outcome
    }

    async fn check(
        &self,
        server: &VirtualServer,
        headers: &HeaderMap,
        in_process: Option<axum::Extension<strata_core::Principal>>,
    ) -> Result<Option<Arc<Caller>>, McpError> {
        if !self.required(server) {
            return Ok(None);
        }
        // An in-process caller (the agent layer) was authenticated by its own layer; a key
        // of the principal's name lends it its roles.
        if let Some(axum::Extension(principal)) = in_process {
            let name = principal.name.unwrap_or_else(|| "agent".into());
            let roles = self
                .keys
                .by_name(&name)
                .map(|k| k.roles.clone())
                .unwrap_or_default();
            return Ok(Some(Arc::new(Caller { name, roles })));
        }
        let refuse = |message: &str| McpError::Unauthorized {
            message: message.to_string(),
            metadata: metadata_url(self.public_url.as_deref(), headers, &server.name),
        };
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| refuse("send an API key or access token as `Authorization: Bearer`"))?;
        if let Some(key) = self.keys.verify(token) {
            // The agent tier acting for a run's principal: that principal's roles apply.
            if let Some(principal) = self.delegation.acting_for(&key, headers) {
                let roles = self
                    .keys
                    .by_name(principal)
                    .map(|k| k.roles.clone())
                    .unwrap_or_default();
                return Ok(Some(Arc::new(Caller {
                    name: principal.to_string(),
                    roles,
                })));
            }
            return Ok(Some(Arc::new(Caller {
                name: key.name.clone(),
                roles: key.roles.clone(),
            })));
        }
        let Some(jwt) = &self.jwt else {
            return Err(refuse("invalid API key"));
        };
        // The resource URI is an accepted audience only when it comes from the config: one
        // built from request headers could be made to name another service.
        let resource = self
            .public_url
            .as_ref()
            .map(|base| format!("{base}/mcp/{}", server.name));
        match jwt.validate(token, resource.as_deref()).await {
            Ok(claims) => {
                let missing: Vec<&String> = server
                    .scopes
                    .iter()
                    .filter(|s| !claims.scopes.contains(s))
                    .collect();
                if !missing.is_empty() {
                    return Err(McpError::InsufficientScope {
                        scope: server.scopes.join(" "),
                        metadata: metadata_url(self.public_url.as_deref(), headers, &server.name),
                    });
                }
                Ok(Some(Arc::new(Caller {
                    name: jwt.principal(&claims),
                    roles: claims.roles,
                })))
            }
            Err(strata_policy::jwt::JwtError::Jwks(e)) => {
                tracing::warn!(server = %server.name, error = %e, "the JWKS cannot be loaded");
                Err(McpError::AuthUnavailable(
                    "the identity provider's keys cannot be loaded".into(),
                ))
            }
            Err(e) => {
                tracing::info!(server = %server.name, error = %e, "access token refused");
                Err(refuse(&format!("invalid access token: {e}")))
            }
        }
    }

    /// RFC 9728 protected-resource metadata of `server`, with the scopes it requires.
    pub(crate) fn metadata(&self, headers: &HeaderMap, virtual_server: &VirtualServer) -> Value {
        let server = virtual_server.name.as_str();
        let resource = match &self.public_url {
            Some(base) => format!("{base}/mcp/{server}"),
            None => resource_uri(headers, server),
        };
        let mut metadata = json!({
            "resource": resource,
            "bearer_methods_supported": ["header"],
            "resource_name": format!("Strata MCP server {server}"),
        });
        if let Some(issuer) = &self.issuer {
            metadata["authorization_servers"] = json!([issuer]);
        }
        if !virtual_server.scopes.is_empty() {
            metadata["scopes_supported"] = json!(virtual_server.scopes);
        }
        metadata
    }
}

/// The origin clients reached us at: `X-Forwarded-Proto` and `Host` (a gateway behind a
/// proxy sees the proxy's view).
fn origin(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The canonical URI of a virtual server (the audience its tokens must name, RFC 8707).
pub(crate) fn resource_uri(headers: &HeaderMap, server: &str) -> String {
    format!("{}/mcp/{server}", origin(headers))
}

fn metadata_url(public_url: Option<&str>, headers: &HeaderMap, server: &str) -> String {
    let origin = public_url.map_or_else(|| origin(headers), str::to_string);
    format!("{origin}/.well-known/oauth-protected-resource/mcp/{server}")
}
