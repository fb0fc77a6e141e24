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
    /// Whole-request timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Azure `api-version` query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
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
