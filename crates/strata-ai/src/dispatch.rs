//! The heart of the ai layer: try the candidate providers of a call in order until one
//! answers, speaking each provider's own format. When the ingress format equals the
//! provider's, the body passes through as bytes (only `model` is rewritten, and only when a
//! fallback asks another model); otherwise it is translated there and back, streams included.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strata_config::ProviderKind;

use crate::convert::{self, Format};
use crate::provider::Candidate;
use crate::upstream::{self, Reply};
use crate::{AiError, Gateway, mock};

/// One call as it came in.
#[derive(Debug)]
pub struct Call {
    /// The API the client speaks (and must be answered in).
    pub format: Format,
    /// The body as received.
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
}

impl Call {
    /// The whole body, parsed: only needed when translating.
    fn parsed(&self) -> Result<Value, AiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))
    }

    /// The body for a provider speaking `target`, asking for `model`.
    fn body_for(&self, target: Format, model: &str) -> Result<Bytes, AiError> {
        if target == self.format {
            if model == self.model {
                return Ok(self.body.clone());
            }
            return upstream::with_model(&self.body, model).map_err(|e| {
                AiError::BadRequest(format!("the request body is not a JSON object: {e}"))
            });
        }
        let mut translated = convert::request(self.format, target, &self.parsed()?)?;
        translated["model"] = Value::String(model.to_string());
        Ok(Bytes::from(translated.to_string()))
    }
}

/// Sends the call to its candidates in order until one answers. The response is in the
/// call's format: the served answer, streaming as it arrives, or the last upstream error when
/// every candidate failed with one.
pub async fn dispatch(gateway: &Gateway, call: &Call) -> Result<Response, AiError> {
    let candidates = gateway.providers.candidates(&call.model);
    if candidates.is_empty() {
        return Err(AiError::ModelNotFound(call.model.clone()));
    }
    let mut last_failure = String::new();
    let mut last_answer: Option<(Response, Format)> = None;
    let mut attempts = 0;
    for candidate in &candidates {
        attempts += 1;
        match attempt(gateway, candidate, call).await? {
            Outcome::Served(response, format) => {
                let response = convert::response(response, format, call, &candidate.model).await;
                return Ok(served(response, candidate, attempts));
            }
            Outcome::FallBack { reason, answer } => {
                tracing::warn!(provider = %candidate.provider.name, model = %candidate.model, %reason, "provider failed; trying the next");
                last_failure = reason;
                if answer.is_some() {
                    last_answer = answer;
                }
            }
        }
    }
    // Every candidate failed: pass on the last upstream error as the client would have seen
    // it (a 429 keeps its Retry-After), or say that nobody answered.
    match last_answer {
        Some((answer, format)) => Ok(convert::response(answer, format, call, &call.model).await),
        None => Err(AiError::Upstream {
            model: call.model.clone(),
            attempts,
            last: last_failure,
        }),
    }
}

enum Outcome {
    /// An answer to give the client, in the provider's format.
    Served(Response, Format),
    FallBack {
        reason: String,
        answer: Option<(Response, Format)>,
    },
}

async fn attempt(
    gateway: &Gateway,
    candidate: &Candidate,
    call: &Call,
) -> Result<Outcome, AiError> {
    let provider = &candidate.provider;
    let target = match provider.kind {
        ProviderKind::Mock => {
            let body = call.body_for(Format::OpenAi, &candidate.model)?;
            let response = mock_response(&body, &candidate.model, call.stream)?;
            return Ok(Outcome::Served(response, Format::OpenAi));
        }
        ProviderKind::Openai => Format::OpenAi,
        ProviderKind::Anthropic => Format::Anthropic,
        ProviderKind::Azure | ProviderKind::Gemini => {
            return Ok(Outcome::FallBack {
                reason: format!(
                    "{}: provider kind {:?} is not supported yet",
                    provider.name, provider.kind
                ),
                answer: None,
            });
        }
    };
    let body = call.body_for(target, &candidate.model)?;
    match upstream::post(&gateway.http, candidate, target, body).await {
        Reply::Answer(answer) if upstream::should_fall_back(answer.status()) => {
            let reason = format!("{}: HTTP {}", provider.name, answer.status().as_u16());
            Ok(Outcome::FallBack {
                reason,
                answer: Some((relay(answer, target), target)),
            })
        }
        Reply::Answer(answer) => Ok(Outcome::Served(relay(answer, target), target)),
        Reply::Failed(reason) => Ok(Outcome::FallBack {
            reason,
            answer: None,
        }),
    }
}

/// An upstream response as ours: status, content type, `Retry-After`, and the body as it
/// arrives (ending with an error event in the provider's format if it breaks off).
fn relay(answer: reqwest::Response, format: Format) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let retry_after = answer.headers().get(header::RETRY_AFTER).cloned();
    let mut response = Response::new(upstream::passthrough(answer, format));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    if let Some(ra) = retry_after {
        headers.insert(header::RETRY_AFTER, ra);
    }
    response
}

/// Marks a response with who served it.
fn served(mut response: Response, candidate: &Candidate, attempts: u32) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&candidate.provider.name) {
        headers.insert("x-strata-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(&candidate.model) {
        headers.insert("x-strata-model", v);
    }
    headers.insert("x-strata-attempts", HeaderValue::from(attempts));
    response
}

/// The built-in mock's answer, in OpenAI's format.
fn mock_response(body: &Bytes, model: &str, stream: bool) -> Result<Response, AiError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    if !stream {
        return Ok(axum::Json(mock::chat_completion(&request, model)).into_response());
    }
    let mut chunks: Vec<Bytes> = mock::chat_chunks(&request, model)
        .into_iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .collect();
    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Ok((
        [(header::CONTENT_TYPE, "text/event-stream")],
        upstream::from_chunks(chunks),
    )
        .into_response())
}
