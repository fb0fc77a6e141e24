//! The static checks of `strata doctor`: each reads the config (and its text before `${VAR}`
//! expansion) and reports what it finds as (status, message, fix); nothing found is a pass.

use std::net::SocketAddr;

use strata_config::{Config, ProviderKind, ServerAuth};

use super::{Check, Context, Status};

type Found = Vec<(Status, String, String)>;

pub(super) static CHECKS: &[Check] = &[
    Check {
        id: "listeners.exposed",
        title: "listeners on non-loopback addresses require credentials",
        why: "A layer listening beyond loopback with no keys or JWT configured serves anyone who can reach it, and an admin listener without `admin.key` hands out keys and the config. Configure `auth.keys` or `auth.jwt` (and `admin.key`), or bind to 127.0.0.1.",
        run: exposed_listeners,
    },
    Check {
        id: "agent.through-layers",
        title: "the agent layer reaches models and tools only through the ai and mcp layers",
        why: "`agent.ai.url` / `agent.mcp.url` pointing at a provider or an MCP server directly skips keys, limits, guardrails, RBAC, audit and the trace. Point them at the ai and mcp layers' listeners (`http://HOST:4000`, `http://HOST:4001`), or leave them unset (in-process).",
        run: agent_through_layers,
    },
    Check {
        id: "mcp.session-aware-path",
        title: "MCP traffic goes through the session-aware mcp layer",
        why: "An MCP upstream or `agent.mcp.url` that points at the ai layer (a stateless proxy) breaks MCP sessions, server requests and permission checks. MCP servers belong in `mcp.upstreams`, clients on the mcp listener.",
        run: mcp_session_aware,
    },
    Check {
        id: "mcp.rbac",
        title: "MCP tools are governed by roles when clients authenticate",
        why: "With keys or JWT configured but no role granting `tools`, `prompts` or `resources`, every authenticated principal may use every tool. Give roles their MCP grants (`auth.roles.<role>.tools: [\"server/tool\"]`).",
        run: mcp_rbac,
    },
    Check {
        id: "mcp.auth-off",
        title: "virtual servers require authentication when credentials exist",
        why: "A virtual server with `auth: off` is open to anyone who reaches the mcp listener even though keys are configured. Remove `auth: off` unless the server is meant to be public.",
        run: mcp_auth_off,
    },
    Check {
        id: "ai.fallback",
        title: "providers have a fallback and bounded timeouts",
        why: "A provider without `fallback` (and neither another's fallback nor in a route with another target) fails every call while it is down; a total timeout of zero or over 10 minutes lets calls hang. Set `fallback:` or a route, and `timeouts.total`.",
        run: ai_fallback,
    },
    Check {
        id: "ai.external-guardrails",
        title: "external providers have guardrails",
        why: "Calls to a provider outside this machine carry your users' text to a third party. Put `pii_redaction` (and `toxicity_filter` for answers) on such providers, or on every key.",
        run: ai_guardrails,
    },
    Check {
        id: "audit.durable",
        title: "the audit log is on and durable",
        why: "An MCP server with `audit.enabled: false`, or storage in memory, loses the record of who called what. Keep audit on and storage on disk (SQLite file or Postgres).",
        run: audit_durable,
    },
    Check {
        id: "scale.shared-state",
        title: "several replicas share Postgres and Redis",
        why: "Replicas on SQLite each keep their own runs, keys and audit log, without Redis each admits the full rate limit and budget, and without `mcp.advertise_url` (on a `0.0.0.0` listener) the others cannot reach its MCP sessions. With `--replicas` above 1, use `storage.url: postgres://…`, `storage.redis` and `mcp.advertise_url`.",
        run: shared_state,
    },
    Check {
        id: "secrets.literal",
        title: "secrets come from the environment, not the file",
        why: "Keys, provider API keys, upstream tokens and database passwords written into the config end up in version control and backups. Write `${VAR}` and set the variable (config keys may also be `sha256:<hex>`).",
        run: literal_secrets,
    },
];

fn found(status: Status, message: String, fix: &str) -> (Status, String, String) {
    (status, message, fix.to_string())
}

fn loopback(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false)
}

fn has_credentials(config: &Config) -> bool {
    !config.auth.keys.is_empty() || config.auth.jwt.is_some()
}

fn exposed_listeners(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let mut out = Vec::new();
    for (layer, addr) in [
        ("ai", &c.listeners.ai),
        ("mcp", &c.listeners.mcp),
        ("agent", &c.listeners.agent),
    ] {
        if !loopback(addr) && !has_credentials(c) {
            out.push(found(
                Status::Fail,
                format!("the {layer} listener is on {addr} and no keys or JWT are configured"),
                "configure auth.keys or auth.jwt, or bind the listener to 127.0.0.1",
            ));
        }
    }
    if !loopback(&c.listeners.admin) && c.admin.key.is_none() {
        out.push(found(
            Status::Fail,
            format!(
                "the admin listener is on {} without admin.key",
                c.listeners.admin
            ),
            "set admin.key: ${STRATA_ADMIN_KEY}, or bind the admin listener to 127.0.0.1",
        ));
    }
    out
}

/// The `host:port` of a URL.
fn authority(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        parsed.host_str()?,
        parsed.port_or_known_default()?
    ))
}

/// Whether `url` points at the listener `addr` (by port, and a loopback or matching host).
fn points_at(url: &str, addr: &str) -> bool {
    let (Some(target), Ok(listener)) = (authority(url), addr.parse::<SocketAddr>()) else {
        return false;
    };
    let Some((host, port)) = target.rsplit_once(':') else {
        return false;
    };
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
        || host == listener.ip().to_string();
    local && port == listener.port().to_string()
}

fn agent_through_layers(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let mut out = Vec::new();
    if let Some(ai) = &c.agent.ai {
        let provider = c.ai.providers.iter().find(|p| {
            p.api_base
                .as_deref()
                .is_some_and(|base| authority(base) == authority(&ai.url))
        });
        let known_provider = [
            "api.openai.com",
            "api.anthropic.com",
            "generativelanguage.googleapis.com",
        ]
        .iter()
        .any(|host| ai.url.contains(host));
        if provider.is_some() || known_provider {
            out.push(found(
                Status::Fail,
                format!(
                    "agent.ai.url ({}) is a model provider, not the ai layer",
                    ai.url
                ),
                "point agent.ai.url at the ai layer (http://HOST:4000) or remove it (in-process)",
            ));
        }
    }
    if let Some(mcp) = &c.agent.mcp {
        let upstream = c.mcp.upstreams.iter().find(|u| {
            u.url
                .as_deref()
                .is_some_and(|url| authority(url) == authority(&mcp.url))
        });
        if let Some(upstream) = upstream {
            out.push(found(
                Status::Fail,
                format!(
                    "agent.mcp.url ({}) is the MCP server `{}`, not the mcp layer",
                    mcp.url, upstream.name
                ),
                "point agent.mcp.url at the mcp layer (http://HOST:4001) or remove it (in-process)",
            ));
        }
    }
    out
}

fn mcp_session_aware(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let mut out = Vec::new();
    for upstream in &c.mcp.upstreams {
        if let Some(url) = &upstream.url
            && points_at(url, &c.listeners.ai)
        {
            out.push(found(
                Status::Fail,
                format!(
                    "MCP upstream `{}` ({url}) is the ai layer, a stateless proxy",
                    upstream.name
                ),
                "give the MCP server's own URL; MCP traffic must not pass a stateless proxy",
            ));
        }
    }
    if let Some(mcp) = &c.agent.mcp
        && points_at(&mcp.url, &c.listeners.ai)
    {
        out.push(found(
            Status::Fail,
            format!(
                "agent.mcp.url ({}) is the ai layer, a stateless proxy",
                mcp.url
            ),
            "point agent.mcp.url at the mcp listener",
        ));
    }
    out
}

fn mcp_rbac(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let governed = c.auth.roles.values().any(strata_config::Role::governs_mcp);
    let authenticated = c.mcp.servers.iter().any(|s| s.auth == ServerAuth::Required);
    if has_credentials(c) && authenticated && !governed {
        return vec![found(
            Status::Warn,
            "clients authenticate but no role grants MCP tools: every principal may use every tool"
                .into(),
            "add tools/prompts/resources grants to auth.roles",
        )];
    }
    Vec::new()
}

fn mcp_auth_off(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    if !has_credentials(c) {
        return Vec::new();
    }
    c.mcp
        .servers
        .iter()
        .filter(|s| s.auth == ServerAuth::Off)
        .map(|s| {
            found(
                Status::Warn,
                format!(
                    "virtual server `{}` has auth: off while keys or JWT are configured",
                    s.name
                ),
                "remove auth: off unless the server is meant to be public",
            )
        })
        .collect()
}

fn ai_fallback(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let mut out = Vec::new();
    for p in &c.ai.providers {
        if p.effective_kind() == Some(ProviderKind::Mock) {
            continue;
        }
        let in_route_with_others = c.ai.routes.iter().any(|r| {
            r.targets.iter().any(|t| t.provider == p.name)
                && r.targets.iter().any(|t| t.provider != p.name)
        });
        // The last provider of a fallback chain has one before it.
        let someones_fallback =
            c.ai.providers
                .iter()
                .any(|other| other.fallback.as_deref() == Some(p.name.as_str()));
        if p.fallback.is_none() && !in_route_with_others && !someones_fallback {
            out.push(found(
                Status::Warn,
                format!("provider `{}` has no fallback", p.name),
                "set fallback: OTHER, or add a route with another target",
            ));
        }
        let total = p.timeouts.total.0;
        if total.is_zero() || total > std::time::Duration::from_secs(600) {
            out.push(found(
                Status::Warn,
                format!("provider `{}` has a total timeout of {total:?}", p.name),
                "set timeouts.total to what a call may take (e.g. 120s)",
            ));
        }
    }
    out
}

fn ai_guardrails(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let every_key = !c.auth.keys.is_empty() && c.auth.keys.iter().all(|k| !k.guardrails.is_empty());
    c.ai.providers
        .iter()
        .filter(|p| p.effective_kind() != Some(ProviderKind::Mock))
        .filter(|p| {
            p.api_base
                .as_deref()
                .and_then(|b| url::Url::parse(b).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .is_none_or(|host| {
                    !matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
                })
        })
        .filter(|p| p.guardrails.is_empty() && !every_key)
        .map(|p| {
            found(
                Status::Warn,
                format!("external provider `{}` has no guardrails", p.name),
                "add guardrails: [pii_redaction] to the provider (or to every key)",
            )
        })
        .collect()
}

fn audit_durable(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    let mut out: Found = c
        .mcp
        .servers
        .iter()
        .filter(|s| !s.audit.enabled)
        .map(|s| {
            found(
                Status::Warn,
                format!("virtual server `{}` has its audit log off", s.name),
                "remove audit: { enabled: false }",
            )
        })
        .collect();
    if c.storage.url.expose().contains(":memory:") {
        out.push(found(
            Status::Fail,
            "storage is in memory: the audit log, keys and runs are lost at exit".into(),
            "use storage.url: sqlite://PATH or postgres://…",
        ));
    }
    out
}

fn shared_state(ctx: &Context<'_>) -> Found {
    let c = ctx.config;
    if ctx.replicas <= 1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if c.storage.url.expose().starts_with("sqlite:") {
        out.push(found(
            Status::Fail,
            format!(
                "{} replicas on SQLite: each would keep its own store",
                ctx.replicas
            ),
            "use storage.url: postgres://…",
        ));
    }
    if c.storage.redis.is_none() {
        out.push(found(
            Status::Fail,
            format!(
                "{} replicas without storage.redis: each admits the whole rate limit and budget",
                ctx.replicas
            ),
            "set storage.redis: redis://…",
        ));
    }
    let unspecified = c
        .listeners
        .mcp
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_unspecified());
    if unspecified && c.mcp.advertise_url.is_none() && !c.mcp.servers.is_empty() {
        out.push(found(
            Status::Warn,
            "the mcp listener is on 0.0.0.0 without mcp.advertise_url: other replicas cannot reach its sessions".into(),
            "set mcp.advertise_url: http://THIS-HOST:PORT",
        ));
    }
    out
}

/// Fields whose value is a secret, as they appear in the file.
const SECRET_KEYS: &[&str] = &[
    "key",
    "api_key",
    "authorization",
    "x-api-key",
    "password",
    "token",
];

fn literal_secrets(ctx: &Context<'_>) -> Found {
    let mut out = Vec::new();
    for (number, line) in ctx.source.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        // `${VAR}` references, whose braces would split flow mappings, become one marker.
        let code = env_refs(code);
        let code = code.as_str();
        for (field, value) in fields(code) {
            let secret = SECRET_KEYS.iter().any(|k| field.eq_ignore_ascii_case(k));
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            let literal = !value.is_empty()
                && !value.contains(ENV_REF)
                && !value.starts_with("sha256:")
                && !matches!(value, "null" | "~");
            if secret && literal {
                out.push(found(
                    Status::Warn,
                    format!("line {}: `{field}` is written literally", number + 1),
                    "write ${VAR} and set the variable",
                ));
            }
        }
        if let Some(at) = code.find("://")
            && let Some(rest) = code.get(at + 3..)
            && let Some((userinfo, _)) = rest.split_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
            && !password.contains(ENV_REF)
            && !userinfo.contains(' ')
        {
            out.push(found(
                Status::Warn,
                format!("line {}: a URL carries a password", number + 1),
                "write the password as ${VAR}",
            ));
        }
    }
    out
}

/// What `${…}` references are replaced by before a line is split.
const ENV_REF: &str = "\u{1}ENV\u{1}";

/// `line` with each `${…}` replaced by [`ENV_REF`].
fn env_refs(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push_str(ENV_REF);
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `field: value` pairs of one YAML line, block or flow style.
fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split([',', '{', '}'])
        .filter_map(|part| {
            let part = part.trim().trim_start_matches("- ");
            let (field, value) = part.split_once(": ")?;
            let field = field.trim().trim_matches(|c| c == '"' || c == '\'');
            Some((field, value.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
