//! What a caller may do on a virtual server: the roles' grants (lists show only what the
//! caller may use; a forbidden name is answered exactly like a missing one) and the
//! per-principal tool rate limits.

use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use strata_policy::access::{Access, Item};
use strata_policy::limits::{LimitError, Limiter};

use super::VirtualServer;
use super::lists::Kind;
use crate::audit::Auditor;
use crate::auth::Caller;
use crate::jsonrpc::{RpcError, code};

/// The policy one config generation applies to every virtual server.
#[derive(Debug)]
pub(crate) struct Policy {
    pub access: Access,
    pub limiter: Limiter,
    pub auditor: Auditor,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            access: Access::default(),
            limiter: Limiter::local(),
            auditor: Auditor::default(),
        }
    }
}

/// A compiled `limits` entry of a server.
#[derive(Debug)]
pub(crate) struct ToolLimit {
    tools: GlobSet,
    rpm: u64,
}

impl ToolLimit {
    pub(crate) fn compile(config: &strata_config::ToolLimit) -> Result<Self, globset::Error> {
        let mut set = GlobSetBuilder::new();
        for glob in &config.tools {
            set.add(Glob::new(glob)?);
        }
        Ok(Self {
            tools: set.build()?,
            rpm: config.rpm,
        })
    }
}

/// The error for a tool, prompt or resource the caller may not use: the one a missing
/// item gets.
pub(crate) fn not_found(item: Item, name: &str) -> RpcError {
    match item {
        Item::Tool => RpcError::invalid_params(format!("unknown tool: {name}")),
        Item::Prompt => RpcError::invalid_params(format!("unknown prompt: {name}")),
        Item::Resource => RpcError::new(
            code::RESOURCE_NOT_FOUND,
            format!("resource not found: {name}"),
        ),
    }
}

impl VirtualServer {
    /// Whether roles decide what `caller` may use here.
    pub(crate) fn governs(&self, caller: Option<&Caller>) -> bool {
        caller.is_some() && self.policy.access.enabled()
    }

    /// Whether `caller` may see `name` in a list.
    pub(crate) fn visible(&self, caller: Option<&Caller>, item: Item, name: &str) -> bool {
        match caller {
            Some(c) if self.governs(caller) => {
                self.policy
                    .access
                    .visible(&c.subject(), &self.name, item, name)
            }
            _ => true,
        }
    }

    /// Checks that `caller` may use `name` with `args`; the error is the missing item's.
    pub(crate) fn permit(
        &self,
        caller: Option<&Caller>,
        item: Item,
        name: &str,
        args: &Value,
    ) -> Result<(), RpcError> {
        let allowed = match caller {
            Some(c) if self.governs(caller) => {
                self.policy
                    .access
                    .permits(&c.subject(), &self.name, item, name, args)
            }
            _ => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(not_found(item, name))
        }
    }

    /// Drops from one list page what `caller` may not see.
    pub(crate) fn filter_list(&self, caller: Option<&Caller>, kind: Kind, result: &mut Value) {
        if !self.governs(caller) {
            return;
        }
        let (item, field) = match kind {
            Kind::Tools => (Item::Tool, "name"),
            Kind::Prompts => (Item::Prompt, "name"),
            Kind::Resources => (Item::Resource, "uri"),
            Kind::Templates => (Item::Resource, "uriTemplate"),
        };
        if let Some(items) = result.get_mut(kind.items()).and_then(Value::as_array_mut) {
            items.retain(|entry| {
                entry
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|name| self.visible(caller, item, name))
            });
        }
    }

    /// Counts one call of `tool` by `caller` against the server's limits for it.
    pub(crate) async fn admit_call(
        &self,
        caller: Option<&Caller>,
        tool: &str,
    ) -> Result<(), RpcError> {
        let principal = caller.map_or("anonymous", |c| c.name.as_str());
        for limit in self.limits.iter().filter(|l| l.tools.is_match(tool)) {
            let scope = format!("mcp:{}:{principal}:{tool}", self.name);
            match self.policy.limiter.request(&scope, limit.rpm).await {
                Ok(()) => {}
                Err(LimitError::Denied(denied)) => {
                    let after = denied.retry_after.unwrap_or_default();
                    let mut error = RpcError::new(
                        code::RATE_LIMITED,
                        format!(
                            "rate limited: {} calls of `{tool}` per minute; retry in {} ms",
                            limit.rpm,
                            after.as_millis()
                        ),
                    );
                    error.data =
                        Some(serde_json::json!({ "retryAfterMs": after.as_millis() as u64 }));
                    return Err(error);
                }
                Err(LimitError::Redis(e)) => {
                    tracing::warn!(error = %e, "tool rate limit not checked");
                    return Err(RpcError::new(
                        code::INTERNAL_ERROR,
                        "rate limits cannot be checked now",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The policy, shared by the servers of one config generation.
pub(crate) type SharedPolicy = Arc<Policy>;
