//! API keys: kept only as SHA-256 digests, looked up by the digest of what a caller presents.
//! Keys come from the config file (per config generation) and from the store (created at
//! run time through the admin API; shared by every layer and generation, see [`StoredKeys`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use globset::{Glob, GlobSet, GlobSetBuilder};
use http::HeaderMap;
use strata_config::{ApiKey, Auth, Budget, KeyLimits};
use strata_core::Secret;

/// Who a valid key belongs to, and what it may do.
#[derive(Debug, Clone)]
pub struct KeyIdentity {
    /// The key's unique name.
    pub name: String,
    pub roles: Vec<String>,
    /// Model globs the key is restricted to (empty: no restriction of its own).
    pub models: Vec<String>,
    models_set: GlobSet,
    pub team: Option<String>,
    pub budget: Option<Budget>,
    pub limits: Option<KeyLimits>,
    /// Guardrails applied to every call made with the key.
    pub guardrails: Vec<String>,
    /// Tags copied to the key's usage records.
    pub metadata: BTreeMap<String, String>,
}

impl PartialEq for KeyIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.roles == other.roles
            && self.models == other.models
            && self.team == other.team
            && self.budget == other.budget
            && self.limits == other.limits
            && self.guardrails == other.guardrails
            && self.metadata == other.metadata
    }
}

/// A glob set of model names; invalid globs (refused by `strata check`) match nothing.
fn globs(patterns: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        if let Ok(glob) = Glob::new(p) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

impl KeyIdentity {
    /// An identity with the given grants (the shape both config and stored keys have).
    #[must_use]
    pub fn new(spec: &ApiKey) -> Self {
        Self {
            name: spec.name.clone(),
            roles: spec.roles.clone(),
            models_set: globs(&spec.models),
            models: spec.models.clone(),
            team: spec.team.clone(),
            budget: spec.budget.clone(),
            limits: spec.limits.clone(),
            guardrails: spec.guardrails.clone(),
            metadata: spec.metadata.clone(),
        }
    }

    /// A principal known by its roles only (an access token's holder): no models of its
    /// own, no team, limits, budget, guardrails or tags.
    #[must_use]
    pub fn holder(name: String, roles: Vec<String>) -> Self {
        Self {
            name,
            roles,
            models: Vec::new(),
            models_set: GlobSet::empty(),
            team: None,
            budget: None,
            limits: None,
            guardrails: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Whether the key's own model globs admit `model`.
    #[must_use]
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models_set.is_match(model)
    }
}

/// The digest a config entry stands for: `sha256:<hex>` as written, or the digest of a
/// plain key.
fn digest_of(entry: &Secret) -> String {
    match entry.expose().strip_prefix("sha256:") {
        Some(hex) => hex.to_ascii_lowercase(),
        None => entry.sha256_hex(),
    }
}

/// Keys created at run time (not revoked), by digest. One instance is shared by every layer
/// and config generation; the composition root refreshes it from the store.
#[derive(Debug, Default)]
pub struct StoredKeys {
    by_digest: ArcSwap<HashMap<String, Arc<KeyIdentity>>>,
    /// Whether any key was ever stored (revoked ones count): revoking the last key must
    /// not open the gateway.
    ever: std::sync::atomic::AtomicBool,
}

impl StoredKeys {
    /// Replaces the set: `(digest, identity)` pairs of every live key; `revoked` says
    /// whether the store also holds revoked keys.
    pub fn replace(&self, keys: impl IntoIterator<Item = (String, KeyIdentity)>, revoked: bool) {
        let map: HashMap<_, _> = keys
            .into_iter()
            .map(|(digest, id)| (digest.to_ascii_lowercase(), Arc::new(id)))
            .collect();
        if revoked || !map.is_empty() {
            self.ever.store(true, std::sync::atomic::Ordering::Release);
        }
        self.by_digest.store(Arc::new(map));
    }

    /// Whether keys were ever stored (then authentication stays on).
    #[must_use]
    pub fn ever(&self) -> bool {
        self.ever.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many live stored keys there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_digest.load().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The keys one layer accepts: the config's, and the stored ones. With none at all the
/// layer is open.
#[derive(Debug, Default)]
pub struct ApiKeys {
    by_digest: HashMap<String, Arc<KeyIdentity>>,
    stored: Arc<StoredKeys>,
}

impl ApiKeys {
    /// The keys of the config only.
    #[must_use]
    pub fn new(keys: &[ApiKey]) -> Self {
        Self::with_stored(keys, Arc::default())
    }

    /// The keys of the config, and the stored ones.
    #[must_use]
    pub fn with_stored(keys: &[ApiKey], stored: Arc<StoredKeys>) -> Self {
        let by_digest = keys
            .iter()
            .map(|k| (digest_of(&k.key), Arc::new(KeyIdentity::new(k))))
            .collect();
        Self { by_digest, stored }
    }

    /// Whether any key is configured or was ever stored (authentication on).
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.by_digest.is_empty() || self.stored.ever()
    }

    /// The key with this name (configured or stored), for callers authenticated elsewhere.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<Arc<KeyIdentity>> {
        self.by_digest
            .values()
            .find(|k| k.name == name)
            .cloned()
            .or_else(|| {
                self.stored
                    .by_digest
                    .load()
                    .values()
                    .find(|k| k.name == name)
                    .cloned()
            })
    }

    /// The identity of a presented key, if it is one of ours (and not revoked). Comparing
    /// digests means the lookup's timing says nothing about the keys.
    #[must_use]
    pub fn verify(&self, presented: &str) -> Option<Arc<KeyIdentity>> {
        let digest = Secret::new(presented).sha256_hex();
        self.by_digest
            .get(&digest)
            .cloned()
            .or_else(|| self.stored.by_digest.load().get(&digest).cloned())
    }
}

/// Which keys may act for another principal (`delegate: true` on one of their roles), and
/// whom they act for in a request.
#[derive(Debug, Default, Clone)]
pub struct Delegation {
    roles: std::collections::HashSet<String>,
}

impl Delegation {
    #[must_use]
    pub fn new(auth: &Auth) -> Self {
        Self {
            roles: auth
                .roles
                .iter()
                .filter(|(_, role)| role.delegate)
                .map(|(name, _)| name.clone())
                .collect(),
        }
    }

    /// The principal `key` acts for in a request with `headers`: the one named in
    /// `X-Strata-On-Behalf-Of` when the key may delegate, `None` otherwise (the header of a
    /// key that may not is ignored: the call is the key's own).
    #[must_use]
    pub fn acting_for<'h>(&self, key: &KeyIdentity, headers: &'h HeaderMap) -> Option<&'h str> {
        let named = headers
            .get(strata_core::ON_BEHALF_OF)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty())?;
        if key.roles.iter().any(|r| self.roles.contains(r)) {
            Some(named)
        } else {
            tracing::info!(key = %key.name, "a key that may not delegate named a principal; ignored");
            None
        }
    }
}

/// Which models roles and teams admit, compiled once per config generation.
#[derive(Debug, Default)]
pub struct ModelAccess {
    roles: HashMap<String, GlobSet>,
    teams: HashMap<String, GlobSet>,
}

impl ModelAccess {
    #[must_use]
    pub fn new(auth: &Auth) -> Self {
        let roles = auth
            .roles
            .iter()
            .filter(|(_, role)| !role.models.is_empty())
            .map(|(name, role)| (name.clone(), globs(&role.models)))
            .collect();
        let teams = auth
            .teams
            .iter()
            .filter(|team| !team.models.is_empty())
            .map(|team| (team.name.clone(), globs(&team.models)))
            .collect();
        Self { roles, teams }
    }

    /// Whether `key` may use `model`: its own globs, its team's, and its roles' all admit
    /// it (a role or team without `models` restricts nothing; with several restricting
    /// roles, one admitting the model is enough).
    #[must_use]
    pub fn allows(&self, key: &KeyIdentity, model: &str) -> bool {
        if !key.allows_model(model) {
            return false;
        }
        if let Some(team) = key.team.as_ref().and_then(|t| self.teams.get(t))
            && !team.is_match(model)
        {
            return false;
        }
        let mut restricting = key
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .peekable();
        restricting.peek().is_none() || restricting.any(|set| set.is_match(model))
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, or `x-api-key: <key>`
/// (Anthropic's SDKs), or `api-key: <key>` (Azure OpenAI clients).
#[must_use]
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    header("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .or_else(|| header("x-api-key"))
        .or_else(|| header("api-key"))
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use strata_config::{Role, Team};

    use super::*;

    fn key(name: &str, key: &str) -> ApiKey {
        ApiKey {
            name: name.into(),
            key: Secret::new(key),
            roles: vec!["r".into()],
            budget: None,
            limits: None,
            models: Vec::new(),
            team: None,
            guardrails: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn plain_and_hashed_keys_verify() {
        let hashed = format!(
            "sha256:{}",
            Secret::new("sk-two").sha256_hex().to_uppercase()
        );
        let keys = ApiKeys::new(&[key("one", "sk-one"), key("two", &hashed)]);
        assert!(keys.enabled());
        assert_eq!(keys.verify("sk-one").unwrap().name, "one");
        assert_eq!(keys.verify("sk-two").unwrap().name, "two");
        assert!(keys.verify("sk-three").is_none());
        assert!(
            keys.verify(&hashed).is_none(),
            "the digest itself is not a key"
        );
        assert!(!ApiKeys::new(&[]).enabled());
    }

    #[test]
    fn stored_keys_join_and_leave_without_a_new_generation() {
        let stored = Arc::new(StoredKeys::default());
        let keys = ApiKeys::with_stored(&[], stored.clone());
        assert!(!keys.enabled());
        let digest = Secret::new("sk-run").sha256_hex();
        stored.replace([(digest, KeyIdentity::new(&key("run", "x")))], false);
        assert!(keys.enabled());
        assert_eq!(keys.verify("sk-run").unwrap().name, "run");
        stored.replace([], true);
        assert!(keys.verify("sk-run").is_none(), "revoked");
        assert!(
            keys.enabled(),
            "revoking the last key does not open the layer"
        );
    }

    #[test]
    fn models_are_admitted_by_key_team_and_roles_together() {
        let mut auth = Auth::default();
        auth.roles.insert(
            "analyst".into(),
            Role {
                models: vec!["gpt-4o*".into(), "claude-*".into()],
                ..Role::default()
            },
        );
        auth.roles.insert("open".into(), Role::default());
        auth.teams.push(Team {
            name: "ops".into(),
            budget: None,
            limits: None,
            models: vec!["gpt-*".into(), "claude-3*".into()],
        });
        let access = ModelAccess::new(&auth);
        let mut spec = key("k", "x");
        spec.roles = vec!["analyst".into()];
        let k = KeyIdentity::new(&spec);
        assert!(access.allows(&k, "gpt-4o-mini"));
        assert!(!access.allows(&k, "gemini-pro"), "no role admits it");
        spec.team = Some("ops".into());
        let k = KeyIdentity::new(&spec);
        assert!(access.allows(&k, "claude-3-5"));
        assert!(!access.allows(&k, "claude-4"), "the team does not admit it");
        spec.models = vec!["gpt-4o".into()];
        let k = KeyIdentity::new(&spec);
        assert!(access.allows(&k, "gpt-4o"));
        assert!(!access.allows(&k, "gpt-4o-mini"), "the key's own list");
        spec = key("k", "x");
        spec.roles = vec!["open".into()];
        assert!(access.allows(&KeyIdentity::new(&spec), "anything"));
    }

    #[test]
    fn keys_come_from_the_usual_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "k2".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k2"));
        h.insert("authorization", "Bearer k1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k1"));
        let mut h = HeaderMap::new();
        h.insert("api-key", "k3".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k3"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k3"));
    }

    #[test]
    fn only_keys_whose_role_delegates_act_for_others() {
        let mut auth = Auth {
            keys: vec![key("tier", "sk-tier"), key("plain", "sk-plain")],
            ..Auth::default()
        };
        auth.keys[0].roles = vec!["tier".into()];
        auth.roles.insert(
            "tier".into(),
            Role {
                delegate: true,
                ..Role::default()
            },
        );
        let keys = ApiKeys::new(&auth.keys);
        let delegation = Delegation::new(&auth);
        let mut headers = HeaderMap::new();
        headers.insert(strata_core::ON_BEHALF_OF, "alice".parse().unwrap());
        let tier = keys.verify("sk-tier").unwrap();
        let plain = keys.verify("sk-plain").unwrap();
        assert_eq!(delegation.acting_for(&tier, &headers), Some("alice"));
        assert_eq!(delegation.acting_for(&plain, &headers), None);
        assert_eq!(delegation.acting_for(&tier, &HeaderMap::new()), None);
    }
}
