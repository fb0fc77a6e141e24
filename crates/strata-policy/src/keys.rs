//! API keys: kept only as SHA-256 digests, looked up by the digest of what a caller presents.

use std::collections::HashMap;

use http::HeaderMap;
use strata_config::ApiKey;
use strata_core::Secret;

/// Who a valid key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    /// The key's name in the config.
    pub name: String,
    pub roles: Vec<String>,
}

/// The configured keys, by digest. Empty means authentication is off.
#[derive(Debug, Default)]
pub struct ApiKeys {
    by_digest: HashMap<String, KeyIdentity>,
}

/// The digest a config entry stands for: `sha256:<hex>` as written, or the digest of a
/// plain key.
fn digest_of(entry: &Secret) -> String {
    match entry.expose().strip_prefix("sha256:") {
        Some(hex) => hex.to_ascii_lowercase(),
        None => entry.sha256_hex(),
    }
}

impl ApiKeys {
    /// The keys of the config.
    #[must_use]
    pub fn new(keys: &[ApiKey]) -> Self {
        let by_digest = keys
            .iter()
            .map(|k| {
                let identity = KeyIdentity {
                    name: k.name.clone(),
                    roles: k.roles.clone(),
                };
                (digest_of(&k.key), identity)
            })
            .collect();
        Self { by_digest }
    }

    /// Whether any key is configured (authentication on).
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.by_digest.is_empty()
    }

    /// The identity of a presented key, if it is one of ours. Comparing digests means the
    /// lookup's timing says nothing about the keys.
    #[must_use]
    pub fn verify(&self, presented: &str) -> Option<&KeyIdentity> {
        self.by_digest.get(&Secret::new(presented).sha256_hex())
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
    use super::*;

    fn key(name: &str, key: &str) -> ApiKey {
        ApiKey {
            name: name.into(),
            key: Secret::new(key),
            roles: vec!["r".into()],
            budget: None,
            limits: None,
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
}
