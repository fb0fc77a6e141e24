//! Who may use which MCP tool, prompt and resource: the roles of `auth.roles`, compiled once
//! per config generation.
//!
//! A name is matched as `{server}/{name}` (the virtual server and the name clients see; a
//! resource's name is its URI). A principal may use an item when one of its roles grants
//! it (a glob, or an `allow` rule whose CEL condition holds) and none denies it (a `deny`
//! glob, or a `deny` rule whose condition holds): deny wins. Lists show what could be used
//! with some arguments: an item behind a conditional grant is listed, an item under an
//! unconditional denial is not.

use std::collections::HashMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};
use strata_config::{Auth, Effect, McpGrants};

/// What kind of MCP item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Tool,
    Prompt,
    Resource,
}

impl Item {
    fn index(self) -> usize {
        match self {
            Item::Tool => 0,
            Item::Prompt => 1,
            Item::Resource => 2,
        }
    }
}

/// The principal a decision is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub name: &'a str,
    pub roles: &'a [String],
}

/// Why the roles could not be compiled (the config check reports the same earlier).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("role `{role}`: invalid glob `{glob}`: {message}")]
    Glob {
        role: String,
        glob: String,
        message: String,
    },
    #[error("role `{role}`: invalid CEL condition `{when}`: {message}")]
    Condition {
        role: String,
        when: String,
        message: String,
    },
}

/// One glob set per item kind.
#[derive(Debug, Default)]
struct Sets([GlobSet; 3]);

impl Sets {
    fn compile(role: &str, grants: [&[String]; 3]) -> Result<Self, AccessError> {
        let mut sets: [GlobSet; 3] = Default::default();
        for (set, globs) in sets.iter_mut().zip(grants) {
            let mut builder = GlobSetBuilder::new();
            for glob in globs {
                let compiled = Glob::new(glob).map_err(|e| AccessError::Glob {
                    role: role.into(),
                    glob: glob.clone(),
                    message: e.kind().to_string(),
                })?;
                builder.add(compiled);
            }
            *set = builder.build().map_err(|e| AccessError::Glob {
                role: role.into(),
                glob: globs.join(", "),
                message: e.to_string(),
            })?;
        }
        Ok(Self(sets))
    }

    fn of(role: &str, grants: &McpGrants) -> Result<Self, AccessError> {
        Self::compile(role, [&grants.tools, &grants.prompts, &grants.resources])
    }

    fn matches(&self, item: Item, qualified: &str) -> bool {
        self.0[item.index()].is_match(qualified)
    }
}

struct Rule {
    sets: Sets,
    when: cel::Program,
    source: String,
    effect: Effect,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("when", &self.source)
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Role {
    allow: Sets,
    deny: Sets,
    rules: Vec<Rule>,
}

/// The compiled MCP permissions of every role.
#[derive(Debug, Default)]
pub struct Access {
    /// Whether any role governs MCP: until one does, authenticated principals use everything.
    enabled: bool,
    roles: HashMap<String, Role>,
}

impl Access {
    /// Compiles `auth.roles`.
    pub fn new(auth: &Auth) -> Result<Self, AccessError> {
        let mut roles = HashMap::new();
        for (name, role) in &auth.roles {
            let allow = Sets::compile(name, [&role.tools, &role.prompts, &role.resources])?;
            let deny = Sets::of(name, &role.deny)?;
            let rules = role
                .rules
                .iter()
                .map(|rule| {
                    let grants = McpGrants {
                        tools: rule.tools.clone(),
                        prompts: rule.prompts.clone(),
                        resources: rule.resources.clone(),
                    };
                    Ok(Rule {
                        sets: Sets::of(name, &grants)?,
                        when: cel::Program::compile(&rule.when).map_err(|e| {
                            AccessError::Condition {
                                role: name.clone(),
                                when: rule.when.clone(),
                                message: e.to_string(),
                            }
                        })?,
                        source: rule.when.clone(),
                        effect: rule.effect,
                    })
                })
                .collect::<Result<_, AccessError>>()?;
            roles.insert(name.clone(), Role { allow, deny, rules });
        }
        Ok(Self {
            enabled: auth.roles.values().any(strata_config::Role::governs_mcp),
            roles,
        })
    }

    /// Whether roles govern MCP at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn roles_of<'a>(&'a self, who: &Subject<'a>) -> impl Iterator<Item = &'a Role> + 'a {
        who.roles.iter().filter_map(|r| self.roles.get(r))
    }

    /// Whether `who` may see `name` in a list of `server`.
    #[must_use]
    pub fn visible(&self, who: &Subject<'_>, server: &str, item: Item, name: &str) -> bool {
        if !self.enabled {
            return true;
        }
        let qualified = format!("{server}/{name}");
        let mut granted = false;
        for role in self.roles_of(who) {
            if role.deny.matches(item, &qualified) {
                return false;
            }
            granted = granted
                || role.allow.matches(item, &qualified)
                || role
                    .rules
                    .iter()
                    .any(|r| r.effect == Effect::Allow && r.sets.matches(item, &qualified));
        }
        granted
    }

    /// Whether `who` may use `name` of `server` with `args`. A condition that cannot be
    /// evaluated (a missing argument, a type error) counts as not holding for an `allow`
    /// rule and as holding for a `deny` rule: errors never open access.
    #[must_use]
    pub fn permits(
        &self,
        who: &Subject<'_>,
        server: &str,
        item: Item,
        name: &str,
        args: &Value,
    ) -> bool {
        if !self.enabled {
            return true;
        }
        let qualified = format!("{server}/{name}");
        let vars = Variables {
            who,
            server,
            name,
            args,
        };
        let holds = |rule: &Rule| match vars.evaluate(&rule.when) {
            Ok(cel::Value::Bool(b)) => b,
            outcome => {
                tracing::debug!(when = %rule.source, ?outcome, "access condition not a boolean");
                rule.effect == Effect::Deny
            }
        };
        let mut granted = false;
        for role in self.roles_of(who) {
            if role.deny.matches(item, &qualified) {
                return false;
            }
            for rule in role
                .rules
                .iter()
                .filter(|r| r.sets.matches(item, &qualified))
            {
                match rule.effect {
                    Effect::Deny if holds(rule) => return false,
                    Effect::Allow if !granted && holds(rule) => granted = true,
                    _ => {}
                }
            }
            granted = granted || role.allow.matches(item, &qualified);
        }
        granted
    }
}

thread_local! {
    /// CEL's standard library, built once per thread: building it is most of what a fresh
    /// context costs.
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}

/// The variables a condition sees: `principal`, `server`, `name` and `args`.
struct Variables<'a> {
    who: &'a Subject<'a>,
    server: &'a str,
    name: &'a str,
    args: &'a Value,
}

impl Variables<'_> {
    fn evaluate(&self, program: &cel::Program) -> Result<cel::Value, String> {
        ROOT.with(|root| {
            let mut ctx = root.new_inner_scope();
            let args = if self.args.is_object() {
                self.args.clone()
            } else {
                json!({})
            };
            let vars = [
                (
                    "principal",
                    json!({ "name": self.who.name, "roles": self.who.roles }),
                ),
                ("server", json!(self.server)),
                ("name", json!(self.name)),
                ("args", args),
            ];
            for (var, value) in vars {
                ctx.add_variable(var, value).map_err(|e| e.to_string())?;
            }
            program.execute(&ctx).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests;
