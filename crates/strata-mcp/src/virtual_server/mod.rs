//! A virtual server: several upstreams merged into one MCP server.

pub(crate) mod cursor;
mod dispatch;
pub(crate) mod lists;
pub(crate) mod merge;
pub(crate) mod names;
pub(crate) mod policy;

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use strata_config::{
    McpConfig, PrefixMode, ServerAudit, ToolOverride, Upstream, VirtualServer as ServerConfig,
};

pub(crate) use dispatch::handle;
pub(crate) use merge::initialize_result;

/// A virtual server, resolved from the config.
#[derive(Debug)]
pub(crate) struct VirtualServer {
    pub name: String,
    /// Its upstreams' configs, in the order the config lists them.
    pub upstreams: Vec<Upstream>,
    /// Whether tool and prompt names carry the upstream's name.
    pub prefixed: bool,
    allow: Option<GlobSet>,
    deny: GlobSet,
    overrides: BTreeMap<String, ToolOverride>,
    pub instructions: Option<String>,
    /// Whether clients must authenticate.
    pub auth: strata_config::ServerAuth,
    /// OAuth scopes a token must carry.
    pub scopes: Vec<String>,
    /// Per-principal tool rate limits.
    limits: Vec<policy::ToolLimit>,
    /// What the audit log keeps.
    pub audit: ServerAudit,
    /// Roles, limiter and audit log of this config generation.
    pub policy: policy::SharedPolicy,
}

/// Why a virtual server could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("server `{server}`: invalid tool glob `{glob}`: {message}")]
    Glob {
        server: String,
        glob: String,
        message: String,
    },
    #[error("server `{server}`: unknown upstream `{upstream}`")]
    UnknownUpstream { server: String, upstream: String },
    #[error("auth.roles: {0}")]
    Access(String),
}

impl VirtualServer {
    pub(crate) fn build(
        config: &ServerConfig,
        mcp: &McpConfig,
        policy: policy::SharedPolicy,
    ) -> Result<Self, BuildError> {
        let upstreams = config
            .upstreams
            .iter()
            .map(|name| {
                mcp.upstreams
                    .iter()
                    .find(|u| &u.name == name)
                    .cloned()
                    .ok_or_else(|| BuildError::UnknownUpstream {
                        server: config.name.clone(),
                        upstream: name.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let globs = |patterns: &[String]| -> Result<GlobSet, BuildError> {
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                let glob = Glob::new(pattern).map_err(|e| BuildError::Glob {
                    server: config.name.clone(),
                    glob: pattern.clone(),
                    message: e.kind().to_string(),
                })?;
                set.add(glob);
            }
            set.build().map_err(|e| BuildError::Glob {
                server: config.name.clone(),
                glob: patterns.join(", "),
                message: e.to_string(),
            })
        };
        let prefixed = match config.prefix {
            PrefixMode::Always => true,
            PrefixMode::Never => false,
            PrefixMode::Conditional => upstreams.len() > 1,
        };
        Ok(Self {
            name: config.name.clone(),
            upstreams,
            prefixed,
            allow: if config.tools.allow.is_empty() {
                None
            } else {
                Some(globs(&config.tools.allow)?)
            },
            deny: globs(&config.tools.deny)?,
            overrides: config.tools.overrides.clone(),
            instructions: config.instructions.clone(),
            auth: config.auth,
            scopes: config.scopes.clone(),
            limits: config
                .limits
                .iter()
                .map(|l| {
                    policy::ToolLimit::compile(l).map_err(|e| BuildError::Glob {
                        server: config.name.clone(),
                        glob: l.tools.join(", "),
                        message: e.kind().to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
            audit: config.audit.clone(),
            policy,
        })
    }

    /// Whether tool `tool` of upstream `upstream` is exposed. Globs match `tool` or
    /// `upstream/tool`; deny wins over allow.
    pub(crate) fn allows_tool(&self, upstream: &str, tool: &str) -> bool {
        let qualified = format!("{upstream}/{tool}");
        let matches = |set: &GlobSet| set.is_match(tool) || set.is_match(&qualified);
        if matches(&self.deny) {
            return false;
        }
        self.allow.as_ref().is_none_or(matches)
    }

    /// The configured override for a tool, by `upstream/tool` first, then by bare name.
    pub(crate) fn tool_override(&self, upstream: &str, tool: &str) -> Option<&ToolOverride> {
        self.overrides
            .get(&format!("{upstream}/{tool}"))
            .or_else(|| self.overrides.get(tool))
    }

    /// Whether tools are filtered or renamed by config.
    pub(crate) fn has_tool_rules(&self) -> bool {
        self.allow.is_some() || !self.deny.is_empty() || !self.overrides.is_empty()
    }

    /// The upstream tool an override renamed to `exposed`: (original name, the override).
    pub(crate) fn renamed_tool(
        &self,
        upstream: &str,
        exposed: &str,
    ) -> Option<(String, &ToolOverride)> {
        self.overrides.iter().find_map(|(key, o)| {
            if o.name.as_deref() != Some(exposed) {
                return None;
            }
            match key.split_once('/') {
                Some((u, tool)) if u == upstream => Some((tool.to_string(), o)),
                Some(_) => None,
                None => Some((key.clone(), o)),
            }
        })
    }

    /// The name clients see for a tool.
    pub(crate) fn tool_name(&self, upstream: &str, tool: &str) -> String {
        match self
            .tool_override(upstream, tool)
            .and_then(|o| o.name.clone())
        {
            Some(name) => name,
            None => names::exposed(upstream, tool, self.prefixed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(
        yaml_tools: strata_config::ToolFilter,
        prefix: PrefixMode,
        upstreams: &[&str],
    ) -> VirtualServer {
        let mcp = McpConfig {
            upstreams: upstreams
                .iter()
                .map(|name| Upstream {
                    name: (*name).to_string(),
                    stdio: None,
                    url: Some("http://127.0.0.1:1/mcp".into()),
                    builtin: None,
                    openapi: None,
                    http: None,
                    rest: None,
                    transport: strata_config::UrlTransport::StreamableHttp,
                    headers: BTreeMap::new(),
                    timeout: strata_config::Duration::from_secs(5),
                    forward_identity: None,
                })
                .collect(),
            ..McpConfig::default()
        };
        let config = ServerConfig {
            name: "dev".into(),
            upstreams: upstreams.iter().map(|s| (*s).to_string()).collect(),
            prefix,
            tools: yaml_tools,
            instructions: None,
            auth: strata_config::ServerAuth::Required,
            scopes: Vec::new(),
            limits: Vec::new(),
            audit: ServerAudit::default(),
        };
        VirtualServer::build(&config, &mcp, Default::default()).expect("builds")
    }

    #[test]
    fn deny_wins_and_globs_match_bare_or_qualified_names() {
        let filter = strata_config::ToolFilter {
            allow: vec!["fs/*".into(), "search".into()],
            deny: vec!["*write*".into()],
            overrides: BTreeMap::new(),
        };
        let s = server(filter, PrefixMode::Conditional, &["fs", "web"]);
        assert!(s.allows_tool("fs", "read_file"));
        assert!(!s.allows_tool("fs", "write_file"));
        assert!(s.allows_tool("web", "search"));
        assert!(!s.allows_tool("web", "fetch"));
    }

    #[test]
    fn prefix_modes_and_overrides_name_tools() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "fs/read_file".to_string(),
            ToolOverride {
                name: Some("read".into()),
                description: Some("Read a file".into()),
            },
        );
        let filter = strata_config::ToolFilter {
            overrides,
            ..Default::default()
        };
        let two = server(filter.clone(), PrefixMode::Conditional, &["fs", "web"]);
        assert_eq!(two.tool_name("fs", "read_file"), "read");
        assert_eq!(two.tool_name("web", "search"), "web_search");
        let one = server(filter.clone(), PrefixMode::Conditional, &["fs"]);
        assert_eq!(one.tool_name("fs", "list"), "list");
        let always = server(filter.clone(), PrefixMode::Always, &["fs"]);
        assert_eq!(always.tool_name("fs", "list"), "fs_list");
        let never = server(filter, PrefixMode::Never, &["fs", "web"]);
        assert_eq!(never.tool_name("web", "search"), "search");
    }

    #[test]
    fn a_bad_glob_is_a_build_error() {
        let filter = strata_config::ToolFilter {
            deny: vec!["[".into()],
            ..Default::default()
        };
        let mcp = McpConfig::default();
        let config = ServerConfig {
            name: "dev".into(),
            upstreams: vec![],
            prefix: PrefixMode::Never,
            tools: filter,
            instructions: None,
            auth: strata_config::ServerAuth::Required,
            scopes: Vec::new(),
            limits: Vec::new(),
            audit: ServerAudit::default(),
        };
        assert!(matches!(
            VirtualServer::build(&config, &mcp, Default::default()),
            Err(BuildError::Glob { .. })
        ));
    }
}
