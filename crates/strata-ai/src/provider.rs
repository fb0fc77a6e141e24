//! Providers as the config describes them, resolved: where to send a call, with which key,
//! and which models they serve.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_config::{Provider as ProviderConfig, ProviderKind};
use strata_core::Secret;

/// A provider ready to be called.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub headers: BTreeMap<String, Secret>,
    pub timeouts: Timeouts,
    /// Azure `api-version`.
    pub api_version: String,
    /// Endpoint URLs, parsed once.
    pub urls: Urls,
    /// The HTTP client for this provider (its own pool and connect timeout).
    pub client: reqwest::Client,
    /// For a plain-`http` provider (no proxy configured): connections driven in the
    /// request's own task, used instead of `client` (see `strata-http`).
    pub direct: Option<strata_http::Pool>,
    /// Models served; empty means any model name is passed through.
    pub models: Vec<String>,
    /// Higher is tried first.
    pub rank: i64,
    pub fallback: Option<String>,
}

/// A provider's endpoint URLs by operation (where they do not depend on the model).
#[derive(Debug, Default)]
pub struct Urls {
    chat: Option<Endpoint>,
    embeddings: Option<Endpoint>,
}

/// An endpoint's URL, and its path and query alone (what an HTTP/1.1 request line carries).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: reqwest::Url,
    pub path: http::Uri,
}

impl Endpoint {
    /// Parses `url`.
    ///
    /// # Errors
    /// When it is not a valid absolute URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let path = strata_http::origin_form(url.as_str()).ok_or("not a valid request URI")?;
        Ok(Self { url, path })
    }
}

impl Urls {
    fn new(kind: ProviderKind, base: &str) -> Self {
        let url = |path: &str| Endpoint::parse(&format!("{base}/{path}")).ok();
        match kind {
            ProviderKind::Openai => Self {
                chat: url("chat/completions"),
                embeddings: url("embeddings"),
            },
            ProviderKind::Anthropic => Self {
                chat: url("messages"),
                embeddings: None,
            },
            _ => Self::default(),
        }
    }

    /// The URL of an operation, when it has one.
    #[must_use]
    pub fn get(&self, operation: crate::upstream::Operation) -> Option<&Endpoint> {
        match operation {
            crate::upstream::Operation::Chat => self.chat.as_ref(),
            crate::upstream::Operation::Embeddings => self.embeddings.as_ref(),
        }
    }
}

/// The Azure OpenAI `api-version` used when the config names none.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// Provider timeouts as plain durations.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub first_token: Duration,
    pub total: Duration,
}

/// The public endpoint and key variable of a well-known provider name.
fn known_endpoint(name: &str, kind: ProviderKind) -> (&'static str, Option<&'static str>) {
    match (name, kind) {
        ("groq", _) => ("https://api.groq.com/openai/v1", Some("GROQ_API_KEY")),
        ("mistral", _) => ("https://api.mistral.ai/v1", Some("MISTRAL_API_KEY")),
        ("together", _) => ("https://api.together.xyz/v1", Some("TOGETHER_API_KEY")),
        ("openrouter", _) => ("https://openrouter.ai/api/v1", Some("OPENROUTER_API_KEY")),
        ("deepseek", _) => ("https://api.deepseek.com/v1", Some("DEEPSEEK_API_KEY")),
        ("fireworks", _) => (
            "https://api.fireworks.ai/inference/v1",
            Some("FIREWORKS_API_KEY"),
        ),
        ("xai", _) => ("https://api.x.ai/v1", Some("XAI_API_KEY")),
        ("ollama", _) => ("http://127.0.0.1:11434/v1", None),
        ("vllm", _) => ("http://127.0.0.1:8000/v1", None),
        ("openai", _) => ("https://api.openai.com/v1", Some("OPENAI_API_KEY")),
        ("azure" | "azure_openai", _) => ("", Some("AZURE_OPENAI_API_KEY")),
        ("anthropic", _) => ("https://api.anthropic.com/v1", Some("ANTHROPIC_API_KEY")),
        ("gemini" | "google", _) => (
            "https://generativelanguage.googleapis.com/v1beta",
            Some("GEMINI_API_KEY"),
        ),
        // A provider with a name of its own gets no key from the environment: a key is
        // only sent where the config says.
        (_, ProviderKind::Openai) => ("https://api.openai.com/v1", None),
        (_, ProviderKind::Anthropic) => ("https://api.anthropic.com/v1", None),
        (_, ProviderKind::Gemini) => ("https://generativelanguage.googleapis.com/v1beta", None),
        (_, ProviderKind::Azure | ProviderKind::Mock) => ("", None),
    }
}

/// A client with pooled keep-alive connections and the given connect timeout.
#[must_use]
pub fn client(connect: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

impl Provider {
    /// Resolves a provider from the config; `env` supplies default API keys; `shared` is the
    /// client (and pool) of providers with the default connect timeout.
    #[must_use]
    pub fn resolve(
        config: &ProviderConfig,
        env: &dyn Fn(&str) -> Option<String>,
        shared: &reqwest::Client,
    ) -> Self {
        // Validation guarantees a kind (explicit or inferred from the name).
        let kind = config.effective_kind().unwrap_or(ProviderKind::Openai);
        let (default_base, key_var) = known_endpoint(&config.name, kind);
        let base_url = config
            .api_base
            .as_deref()
            .unwrap_or(default_base)
            .trim_end_matches('/')
            .to_string();
        let api_key = config
            .api_key
            .clone()
            .or_else(|| key_var.and_then(env).map(Secret::new));
        let direct = match kind {
            ProviderKind::Mock => None,
            _ => strata_http::Pool::for_url(&base_url, config.timeouts.connect.0),
        };
        Self {
            name: config.name.clone(),
            kind,
            urls: Urls::new(kind, &base_url),
            base_url,
            api_key,
            headers: config.headers.clone(),
            timeouts: Timeouts {
                first_token: config.timeouts.first_token.0,
                total: config.timeouts.total.0,
            },
            api_version: config
                .api_version
                .clone()
                .unwrap_or_else(|| AZURE_API_VERSION.to_string()),
            direct,
            client: if config.timeouts.connect == strata_config::Timeouts::default().connect {
                shared.clone()
            } else {
                client(config.timeouts.connect.0)
            },
            models: config.models.clone(),
            rank: config.priority.map_or(0, strata_config::Priority::rank),
            fallback: config.fallback.clone(),
        }
    }

    /// Whether this provider serves `model`.
    #[must_use]
    pub fn serves(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// The model to ask this provider for when a call for `requested` falls back to it.
    #[must_use]
    pub fn model_for(&self, requested: &str) -> String {
        if self.serves(requested) {
            requested.to_string()
        } else {
            self.models
                .first()
                .cloned()
                .unwrap_or_else(|| requested.to_string())
        }
    }
}

/// One attempt's target: a provider and the model to ask it for.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub provider: Arc<Provider>,
    pub model: String,
}

/// Every configured provider, in priority order.
#[derive(Debug, Default)]
pub struct Providers {
    ordered: Vec<Arc<Provider>>,
}

impl Providers {
    /// Resolves the config's providers, highest priority first (config order breaks ties).
    #[must_use]
    pub fn new(
        configs: &[ProviderConfig],
        env: &dyn Fn(&str) -> Option<String>,
        shared: &reqwest::Client,
    ) -> Self {
        let mut ordered: Vec<Arc<Provider>> = configs
            .iter()
            .map(|c| Arc::new(Provider::resolve(c, env, shared)))
            .collect();
        ordered.sort_by_key(|p| std::cmp::Reverse(p.rank));
        Self { ordered }
    }

    /// All providers, highest priority first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.ordered.iter()
    }

    fn by_name(&self, name: &str) -> Option<&Arc<Provider>> {
        self.ordered.iter().find(|p| p.name == name)
    }

    /// The attempts for `model`, in order: each provider that serves it (by priority), each
    /// followed by its `fallback` chain. A provider appears once.
    #[must_use]
    pub fn candidates(&self, model: &str) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let push = |provider: &Arc<Provider>, out: &mut Vec<Candidate>| {
            if out.iter().any(|c| Arc::ptr_eq(&c.provider, provider)) {
                return false;
            }
            out.push(Candidate {
                provider: provider.clone(),
                model: provider.model_for(model),
            });
            true
        };
        for provider in self.ordered.iter().filter(|p| p.serves(model)) {
            if !push(provider, &mut out) {
                continue;
            }
            let mut next = provider.fallback.as_deref();
            while let Some(name) = next {
                let Some(fallback) = self.by_name(name) else {
                    break;
                };
                if !push(fallback, &mut out) {
                    break;
                }
                next = fallback.fallback.as_deref();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(yaml: &str) -> Providers {
        let config = strata_config::load_str(yaml, "t.yaml", &|_| None).unwrap();
        let env = |var: &str| (var == "OPENAI_API_KEY").then(|| "sk-env".to_string());
        Providers::new(&config.ai.providers, &env, &reqwest::Client::new())
    }

    const SEED: &str = "ai:
  providers:
    - { name: anthropic, models: [claude-3-5], priority: medium, fallback: openai }
    - { name: openai, models: [gpt-4o, gpt-4o-mini], priority: high }
    - { name: local, kind: openai, api_base: 'http://127.0.0.1:9/v1/', priority: low }
";

    fn names(c: &[Candidate]) -> Vec<(String, String)> {
        c.iter()
            .map(|c| (c.provider.name.clone(), c.model.clone()))
            .collect()
    }

    #[test]
    fn priority_orders_and_fallback_follows() {
        let p = providers(SEED);
        let order: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["openai", "anthropic", "local"]);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            names(&p.candidates("claude-3-5")),
            [
                s("anthropic", "claude-3-5"),
                s("openai", "gpt-4o"),
                s("local", "claude-3-5")
            ]
        );
        assert_eq!(
            names(&p.candidates("gpt-4o-mini")),
            [s("openai", "gpt-4o-mini"), s("local", "gpt-4o-mini")]
        );
        assert_eq!(names(&p.candidates("other")), [s("local", "other")]);
    }

    #[test]
    fn endpoints_and_keys_resolve() {
        let p = providers(SEED);
        let openai = p.by_name("openai").unwrap();
        assert_eq!(openai.base_url, "https://api.openai.com/v1");
        assert_eq!(openai.api_key.as_ref().unwrap().expose(), "sk-env");
        let local = p.by_name("local").unwrap();
        assert_eq!(local.base_url, "http://127.0.0.1:9/v1");
        assert!(p.by_name("anthropic").unwrap().api_key.is_none());
        // A custom-named OpenAI-compatible provider never gets OPENAI_API_KEY.
        assert!(local.api_key.is_none());
    }
}
