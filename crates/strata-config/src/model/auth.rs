//! Identity shared by every layer: API keys, JWT validation and roles.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

/// The `auth` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// API keys defined in the file (more can be created through the admin API).
    pub keys: Vec<ApiKey>,
    /// JWT bearer tokens checked against a JWKS.
    pub jwt: Option<Jwt>,
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Teams: a key that belongs to one is also held to the team's budget and limits.
    pub teams: Vec<Team>,
}

/// A team of keys sharing a budget and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Unique name, referenced by `team:` of keys.
    pub name: String,
    /// Spending limit of all the team's keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Rate limits of all the team's keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<KeyLimits>,
    /// Model names (globs) the team's keys may use; empty means no restriction.
    #[serde(default)]
    pub models: Vec<String>,
}

/// An API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Unique name of the key's holder.
    pub name: String,
    /// The key itself, or `sha256:<hex>` of it.
    pub key: Secret,
    /// Roles granted to the key.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Spending limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Rate limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<KeyLimits>,
    /// Model names (globs such as `gpt-4o*`) the key may use; empty means no restriction
    /// beyond its roles and team.
    #[serde(default)]
    pub models: Vec<String>,
    /// The team the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Guardrails applied to every call made with this key (names from `ai.guardrails`
    /// or built-in kinds).
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// Free-form tags, copied to every usage record of the key.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A spending limit in US dollars over a period (calendar day or month in UTC, or ever).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub usd: f64,
    #[serde(default)]
    pub period: BudgetPeriod,
}

/// The period a budget resets over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Daily,
    #[default]
    Monthly,
    Total,
}

/// Rate limits of a key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KeyLimits {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Concurrent requests.
    pub concurrent: Option<u64>,
}

/// JWT validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// JWKS URL (cached and refreshed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// JWKS file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<String>,
    /// The claim that holds the principal's roles.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
}

fn default_roles_claim() -> String {
    "roles".into()
}

/// What a role may use. Each list holds globs; MCP names are `{server}/{name}` with the
/// virtual server's name and the name clients see (`dev/search`, `dev/*`), resources
/// `{server}/{uri}` (`docs/file:///handbook/*`).
///
/// The mcp layer enforces `tools`, `prompts`, `resources`, `deny` and `rules` as soon as
/// any role grants something of MCP: from then on a principal of a server that requires
/// authentication sees and uses only what its roles grant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Role {
    /// Model names.
    pub models: Vec<String>,
    /// Tools, as `server/tool`.
    pub tools: Vec<String>,
    /// Prompts, as `server/prompt`.
    pub prompts: Vec<String>,
    /// Resources, as `server/uri`.
    pub resources: Vec<String>,
    /// Workflows.
    pub workflows: Vec<String>,
    /// What the role's holders may never use, whatever another role grants: deny wins.
    pub deny: McpGrants,
    /// Grants or denials that hold only when a CEL condition over the call is true.
    pub rules: Vec<AccessRule>,
    /// Holders may act for another principal named in `X-Strata-On-Behalf-Of` (the agent
    /// tier's key, calling the ai and mcp tiers for a run's principal).
    pub delegate: bool,
}

/// Tool, prompt and resource globs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct McpGrants {
    pub tools: Vec<String>,
    pub prompts: Vec<String>,
    pub resources: Vec<String>,
}

impl McpGrants {
    /// Whether nothing is listed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.prompts.is_empty() && self.resources.is_empty()
    }
}

/// A conditional grant or denial. `when` is CEL over `principal` (`name`, `roles`),
/// `server`, `name` (the tool, prompt or resource URI) and `args` (the call's arguments;
/// an empty map for lists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Tools (`server/tool` globs) the rule is about.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Prompts the rule is about.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Resources the rule is about.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The condition, e.g. `args.path.startsWith('/tmp/')`.
    pub when: String,
    /// `allow` (default) or `deny`.
    #[serde(default)]
    pub effect: Effect,
}

/// What a rule does when its condition holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

impl Role {
    /// Whether the role says anything about MCP tools, prompts or resources.
    #[must_use]
    pub fn governs_mcp(&self) -> bool {
        !self.tools.is_empty()
            || !self.prompts.is_empty()
            || !self.resources.is_empty()
            || !self.deny.is_empty()
            || !self.rules.is_empty()
    }
}
