//! The heart of the ai layer: try the candidate providers of a call in order until one
//! answers, speaking each provider's own format. When the ingress format equals the
//! provider's, the body passes through as bytes (only `model` is rewritten, and only when a
//! fallback asks another model); otherwise it is translated there and back, streams included.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strata_config::ProviderKind;

use crate::convert::{self, Format};
use crate::provider::Candidate;
use crate::upstream::{self, Reply};
use crate::{AiError, Gateway, mock, resilience};

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

/// Sends the call to its candidates in order until one answers, retrying each (with
/// backoff) on transient failures and skipping those whose circuit breaker is open. The
/// response is in the call's format: the served answer, streaming as it arrives, or the last
/// upstream error when every candidate failed with one.
pub async fn dispatch(gateway: &Gateway, call: &Call) -> Result<Response, AiError> {
    let candidates = gateway.providers.candidates(&call.model);
    if candidates.is_empty() {
        return Err(AiError::ModelNotFound(call.model.clone()));
    }
    let mut last_failure = String::new();
    let mut last_answer: Option<(Response, Format)> = None;
    let mut attempts = 0;
    for candidate in &candidates {
        let name = &candidate.provider.name;
        if !gateway.breakers.allow(name) {
            last_failure = format!("{name}: circuit breaker open");
            continue;
        }
        let mut retries = 0;
        loop {
            attempts += 1;
            match attempt(candidate, call).await? {
                Outcome::Served(response, format) => {
                    gateway.breakers.success(name);
                    let response =
                        convert::response(response, format, call, &candidate.model).await;
                    return Ok(served(response, candidate, attempts));
                }
                Outcome::FallBack(failure) => {
                    gateway.breakers.failure(name);
                    tracing::warn!(provider = %name, model = %candidate.model, reason = %failure.reason, "provider call failed");
                    last_failure = failure.reason;
                    if failure.answer.is_some() {
                        last_answer = failure.answer;
                    }
                    let retry = &gateway.retry;
                    if !failure.retriable || retries >= retry.attempts {
                        break;
                    }
                    retries += 1;
                    let wait = failure
                        .retry_after
                        .unwrap_or_else(|| resilience::backoff(retry, retries));
                    if wait > retry.max_retry_after.0 {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    // Every candidate failed: pass on the last upstream error as the client would have seen
    // it (a 429 keeps its Retry-After), or say that nobody answered.
    match last_answer {
        Some((answer, format)) => {
            let response = convert::response(answer, format, call, &call.model).await;
            let mut response = response;
            response
                .headers_mut()
                .insert("x-strata-attempts", HeaderValue::from(attempts));
            Ok(response)
        }
        None => Err(AiError::Upstream {
            model: call.model.clone(),
            attempts,
            last: last_failure,
        }),
    }
}

/// Why an attempt did not serve the call.
struct Failure {
    reason: String,
    /// The provider's error response, passed on if nobody serves the call.
    answer: Option<(Response, Format)>,
    /// Whether trying the same provider again may help (429, 5xx, 408, network, timeouts).
    retriable: bool,
    /// What the provider asked us to wait before trying again.
    retry_after: Option<Duration>,
}

enum Outcome {
    /// An answer to give the client, in the provider's format.
    Served(Response, Format),
    FallBack(Failure),
}

fn network_failure(reason: String) -> Outcome {
    Outcome::FallBack(Failure {
        reason,
        answer: None,
        retriable: true,
        retry_after: None,
    })
}

async fn attempt(candidate: &Candidate, call: &Call) -> Result<Outcome, AiError> {
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
            return Ok(Outcome::FallBack(Failure {
                reason: format!(
                    "{}: provider kind {:?} is not supported yet",
                    provider.name, provider.kind
                ),
                answer: None,
                retriable: false,
                retry_after: None,
            }));
        }
    };
    let body = call.body_for(target, &candidate.model)?;
    let first_token_deadline = tokio::time::Instant::now() + provider.timeouts.first_token;
    let reply = if call.stream {
        match tokio::time::timeout_at(
            first_token_deadline,
            upstream::post(candidate, target, body),
        )
        .await
        {
            Ok(reply) => reply,
            Err(_) => Reply::Failed(format!(
                "{}: no answer within the first_token timeout",
                provider.name
            )),
        }
    } else {
        upstream::post(candidate, target, body).await
    };
    let answer = match reply {
        Reply::Answer(answer) => answer,
        Reply::Failed(reason) => return Ok(network_failure(reason)),
    };
    let status = answer.status();
    if upstream::should_fall_back(status) {
        let retry_after = resilience::retry_after(answer.headers());
        let retriable = status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 429);
        return Ok(Outcome::FallBack(Failure {
            reason: format!("{}: HTTP {}", provider.name, status.as_u16()),
            answer: Some((relay(answer, target), target)),
            retriable,
            retry_after,
        }));
    }
    if call.stream && status.is_success() {
        // Until the first chunk is here, a silent or failing stream can still fall back.
        let head = Head(relay_head(&answer));
        let chunks: upstream::Chunks = Box::pin(answer.bytes_stream());
        return match upstream::first_chunk_of(chunks, first_token_deadline).await {
            Ok((first, rest)) => {
                let body = upstream::passthrough(Some(first), rest, target);
                Ok(Outcome::Served(head.with_body(body), target))
            }
            Err(reason) => Ok(network_failure(format!("{}: {reason}", provider.name))),
        };
    }
    Ok(Outcome::Served(relay(answer, target), target))
}

/// The status and headers of an upstream answer, to put a body under later.
struct Head(Response);

impl Head {
    fn with_body(self, body: axum::body::Body) -> Response {
        let (parts, _) = self.0.into_parts();
        Response::from_parts(parts, body)
    }
}

/// Status, content type and `Retry-After` of an upstream answer, with an empty body.
fn relay_head(answer: &reqwest::Response) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    response
}

/// An upstream answer as ours: its head, and the body as it arrives (ending with an error
/// event in the provider's format if it breaks off).
fn relay(answer: reqwest::Response, format: Format) -> Response {
    let head = Head(relay_head(&answer));
    head.with_body(upstream::passthrough(
        None,
        Box::pin(answer.bytes_stream()),
        format,
    ))
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
