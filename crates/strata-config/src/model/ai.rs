//! The model gateway's config: providers (the seed's shape works as written).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

use super::Duration;

/// The `ai` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AiConfig {
    /// Upstream model providers, tried in `priority` order.
    pub providers: Vec<Provider>,
    /// Virtual model names, each spreading calls over several provider/model targets.
    pub routes: Vec<Route>,
    /// Retries of one provider before falling back to the next.
    pub retry: Retry,
    /// Providers that keep failing are skipped for a while.
    pub circuit_breaker: CircuitBreaker,
    /// Named guardrails, referenced from providers, routes and keys. A built-in kind's name
    /// (`pii_redaction`, `toxicity_filter`, `prompt_injection`) works without a definition.
    pub guardrails: Vec<Guardrail>,
    /// The exact-match response cache (off unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cache>,
}

/// A guardrail: what it looks for, and what it does on a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guardrail {
    /// Unique name, referenced from `guardrails:` lists.
    pub name: String,
    pub kind: GuardrailKind,
    /// What a match does. Defaults: `redact` for pii_redaction and regex, `block` for
    /// toxicity_filter and webhook, `flag` for prompt_injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<GuardAction>,
    /// Which side it checks (default both).
    #[serde(default = "both_sides")]
    pub apply_to: Vec<GuardSide>,
    /// pii_redaction: which entities (default all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<PiiEntity>,
    /// toxicity_filter: words and phrases added to the built-in lexicon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
    /// toxicity_filter, prompt_injection and regex: regular expressions to match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
    /// toxicity_filter: the score (0 to 1) at or above which text counts as toxic
    /// (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// toxicity_filter: whether the built-in lexicon is used (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin_lexicon: Option<bool>,
    /// webhook: where the text is POSTed for a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// webhook: headers sent with each check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// webhook: how long to wait for a verdict (default 2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// webhook: what a timeout or error means (default closed: the call is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<FailMode>,
}

fn both_sides() -> Vec<GuardSide> {
    vec![GuardSide::Request, GuardSide::Response]
}

/// What a guardrail looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailKind {
    /// Emails, phone numbers, card numbers (Luhn-checked), US SSNs, IBANs, IP addresses,
    /// API keys and private-key blocks.
    PiiRedaction,
    /// A built-in lexicon plus `words` and `patterns`, scored against `threshold`.
    ToxicityFilter,
    /// Common prompt-injection phrasings, plus `patterns`.
    PromptInjection,
    /// Custom `patterns`.
    Regex,
    /// An external service decides.
    Webhook,
}

impl GuardrailKind {
    /// The kind a bare name stands for, when no guardrail of that name is defined.
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        Some(match name {
            "pii_redaction" => Self::PiiRedaction,
            "toxicity_filter" => Self::ToxicityFilter,
            "prompt_injection" => Self::PromptInjection,
            _ => return None,
        })
    }
}

/// What a guardrail does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuardAction {
    /// Replace the match with a typed placeholder such as `[EMAIL]`.
    Redact,
    /// Replace the match with `*` (keeping its last four characters for card numbers).
    Mask,
    /// Refuse the call with a policy error naming the guardrail.
    Block,
    /// Let the text through; count and record the verdict.
    Flag,
}

/// The side of a call a guardrail checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuardSide {
    Request,
    Response,
}

/// A kind of personal or secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PiiEntity {
    Email,
    Phone,
    CreditCard,
    UsSsn,
    Iban,
    IpAddress,
    Secret,
}

/// What a failing external check means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Let the call through.
    Open,
    /// Refuse the call.
    Closed,
}

/// The exact-match response cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// How long an answer is served from the cache.
    pub ttl: Duration,
    /// Most answers kept in memory (ignored with Redis, where `ttl` bounds the size).
    pub max_entries: u64,
    /// Largest answer cached, in bytes.
    pub max_bytes: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_entries: 10_000,
            max_bytes: 1024 * 1024,
        }
    }
}

/// Retries of a failed call on the same provider: on 429, 5xx, 408, connect errors and
/// timeouts, with exponential backoff and full jitter, honouring `Retry-After`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// Retries after the first attempt (0 turns retrying off).
    pub attempts: u32,
    /// First backoff; doubles with each retry.
    pub backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the call falls back instead.
    pub max_retry_after: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 2,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// A per-provider circuit breaker: after `failures` failed attempts in a row the provider is
/// skipped for `cooldown`; then one probe call decides whether it is back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreaker {
    pub failures: u32,
    pub cooldown: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// How long a call to a provider may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Establishing the connection.
    pub connect: Duration,
    /// Streams: from sending the request to the first chunk of the answer. Until that chunk
    /// has arrived, a slow provider can still be given up for the next.
    pub first_token: Duration,
    /// The whole call, answer included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// One upstream model provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Unique name; referenced by `fallback` and routes.
    pub name: String,
    /// The API the provider speaks. Inferred from a known `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ProviderKind>,
    /// Model names this provider serves.
    #[serde(default)]
    pub models: Vec<String>,
    /// `high`, `medium`, `low` or a number (higher is tried first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// The provider to try when this one fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Guardrails applied to requests and responses through this provider.
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// Base URL of the API; defaults to the provider's public endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// API key; defaults to the provider's usual environment variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Extra headers sent upstream.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Connect, first-token and total timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Azure `api-version` query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Prices per model served by this provider, overriding the built-in price table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pricing: BTreeMap<String, ModelPrice>,
}

impl Provider {
    /// The explicit kind, or the one a known name implies.
    #[must_use]
    pub fn effective_kind(&self) -> Option<ProviderKind> {
        self.kind.or_else(|| ProviderKind::infer(&self.name))
    }
}

/// The wire API of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible API (OpenAI, vLLM, Ollama, Groq, Mistral, Together, OpenRouter…).
    Openai,
    /// Azure OpenAI deployments.
    Azure,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
    /// Built-in deterministic provider for demos and tests.
    Mock,
}

impl ProviderKind {
    /// The kind a well-known provider name implies.
    #[must_use]
    pub fn infer(name: &str) -> Option<Self> {
        Some(match name {
            "openai" | "groq" | "mistral" | "together" | "openrouter" | "ollama" | "vllm"
            | "deepseek" | "fireworks" | "xai" => Self::Openai,
            "azure" | "azure_openai" => Self::Azure,
            "anthropic" => Self::Anthropic,
            "gemini" | "google" => Self::Gemini,
            "mock" => Self::Mock,
            _ => return None,
        })
    }
}

/// Provider priority: a level or a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Priority {
    Level(PriorityLevel),
    Number(i64),
}

impl Priority {
    /// A number to sort by (higher first): high 300, medium 200, low 100.
    #[must_use]
    pub fn rank(self) -> i64 {
        match self {
            Priority::Level(PriorityLevel::High) => 300,
            Priority::Level(PriorityLevel::Medium) => 200,
            Priority::Level(PriorityLevel::Low) => 100,
            Priority::Number(n) => n,
        }
    }
}

/// Named priority levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PriorityLevel {
    High,
    Medium,
    Low,
}

/// A virtual model name and how its calls are spread over targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The model name clients ask for.
    pub name: String,
    /// How the targets are ordered for each call; the next ones are the fallbacks.
    #[serde(default)]
    pub strategy: Strategy,
    /// Where calls can go.
    pub targets: Vec<RouteTarget>,
    /// For `strategy: sla`: the latency the chosen target must have been meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
    /// Guardrails applied to calls of this route.
    #[serde(default)]
    pub guardrails: Vec<String>,
}

/// Route strategies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// In the order listed.
    #[default]
    Priority,
    /// At random, in proportion to `weight`.
    Weighted,
    /// Lowest observed latency first (an exponentially weighted moving average).
    Latency,
    /// Cheapest first (`cost`), skipping targets whose circuit breaker is open.
    Cost,
    /// The cheapest target whose recent p95 time to first token meets `objective`; the
    /// fastest when none does.
    Sla,
}

/// One place a route can send a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteTarget {
    /// A provider name.
    pub provider: String,
    /// The model to ask that provider for.
    pub model: String,
    /// Share of calls under `strategy: weighted` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Price in USD per million tokens, for `cost` and `sla`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<TokenPrice>,
}

/// Price per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPrice {
    pub input: f64,
    pub output: f64,
}

/// A latency objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// p95 of the time to first token (streams) or to the answer (whole answers), over each
    /// target's recent calls.
    pub ttft_p95: Duration,
}

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens.
    pub output: f64,
    /// Input tokens read from the provider's prompt cache (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}
