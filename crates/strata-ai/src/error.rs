//! The ai layer's errors, each mapped to a status and the OpenAI error shape.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an ai-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("unknown path: {0}")]
    UnknownPath(String),
    /// The body is not what the API takes.
    #[error("{0}")]
    BadRequest(String),
    /// No key, or not one of ours.
    #[error(
        "invalid API key: send a key of this gateway as `Authorization: Bearer <key>` or `x-api-key: <key>`"
    )]
    Unauthorized,
    /// The key may not use the model.
    #[error("the key `{key}` is not allowed to use the model `{model}`")]
    Forbidden { key: String, model: String },
    /// A rate or concurrency limit is reached.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// A budget is spent.
    #[error("{message}")]
    BudgetExceeded {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// A guardrail refused the call.
    #[error("blocked by guardrail `{guardrail}` on the {side}: {reason}")]
    Guardrail {
        guardrail: String,
        side: &'static str,
        reason: String,
    },
    /// Limits or budgets cannot be checked (the shared Redis does not answer).
    #[error("the gateway cannot check limits and budgets right now: {0}")]
    PolicyUnavailable(String),
    /// The body is larger than the gateway accepts.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// No configured provider serves the model.
    #[error("the model `{0}` does not exist or is not served by this gateway")]
    ModelNotFound(String),
    /// Every candidate provider failed before answering.
    #[error("all providers failed for model `{model}` after {attempts} attempt(s): {last}")]
    Upstream {
        model: String,
        attempts: u32,
        last: String,
    },
}

impl AiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AiError::UnknownPath(_) | AiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            AiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AiError::Unauthorized => StatusCode::UNAUTHORIZED,
            AiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            AiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AiError::RateLimited { .. } | AiError::BudgetExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AiError::Guardrail { .. } => StatusCode::BAD_REQUEST,
            AiError::PolicyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// How long the client should wait before trying again (`Retry-After`).
    #[must_use]
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            AiError::RateLimited { retry_after, .. }
            | AiError::BudgetExceeded { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// OpenAI's `type` and `code`.
    fn kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            AiError::UnknownPath(_) => ("invalid_request_error", Some("not_found")),
            AiError::BadRequest(_) => ("invalid_request_error", None),
            AiError::Unauthorized => ("invalid_request_error", Some("invalid_api_key")),
            AiError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            AiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            AiError::Upstream { .. } => ("api_error", Some("upstream_unavailable")),
            AiError::Forbidden { .. } => ("permission_error", Some("model_not_allowed")),
            AiError::RateLimited { .. } => ("rate_limit_error", Some("rate_limit_exceeded")),
            AiError::BudgetExceeded { .. } => ("insufficient_quota", Some("budget_exceeded")),
            AiError::Guardrail { .. } => ("invalid_request_error", Some("guardrail_blocked")),
            AiError::PolicyUnavailable(_) => ("api_error", Some("policy_unavailable")),
        }
    }

    /// A short name of the error class (`error.type` in traces and metrics).
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            AiError::UnknownPath(_) => "not_found",
            AiError::BadRequest(_) => "invalid_request",
            AiError::Unauthorized => "unauthorized",
            AiError::TooLarge(_) => "request_too_large",
            AiError::ModelNotFound(_) => "model_not_found",
            AiError::Upstream { .. } => "upstream_unavailable",
            AiError::Forbidden { .. } => "forbidden",
            AiError::RateLimited { .. } => "rate_limited",
            AiError::BudgetExceeded { .. } => "budget_exceeded",
            AiError::Guardrail { .. } => "guardrail",
            AiError::PolicyUnavailable(_) => "policy_unavailable",
        }
    }

    /// The OpenAI error body.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        let (kind, code) = self.kind();
        json!({ "error": { "message": self.to_string(), "type": kind, "param": null, "code": code } })
    }
}

/// Adds `Retry-After` (whole seconds, rounded up) when the error has one.
pub(crate) fn with_retry_after(mut response: Response, e: &AiError) -> Response {
    if let Some(wait) = e.retry_after() {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.max(1).into());
    }
    response
}

impl IntoResponse for AiError {
    fn into_response(self) -> Response {
        let response = (self.status(), Json(self.body())).into_response();
        with_retry_after(response, &self)
    }
}
