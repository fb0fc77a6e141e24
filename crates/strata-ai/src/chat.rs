//! `POST /v1/chat/completions`: read only what routing needs (model, stream), then try the
//! candidates in order until one answers; the answer streams back as it arrives.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::provider::Candidate;
use crate::upstream::{self, Reply};
use crate::{AiError, Gateway, mock};

/// The fields routing needs; everything else in the body is skipped unparsed.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: bool,
}

/// Reads the routing fields, or says in OpenAI's words what is wrong with the body.
fn peek(body: &[u8]) -> Result<(String, bool), AiError> {
    let peek: Peek<'_> = serde_json::from_slice(body)
        .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    match peek.model {
        Some(model) if !model.is_empty() => Ok((model.into_owned(), peek.stream)),
        _ => Err(AiError::BadRequest(
            "you must provide a model parameter".into(),
        )),
    }
}

/// The handler.
pub async fn completions(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    let routed = match peek(&body) {
        Ok((model, stream)) => dispatch(&gateway, body, &model, stream).await,
        Err(e) => Err(e),
    };
    routed.unwrap_or_else(IntoResponse::into_response)
}

/// Sends an OpenAI chat completions body to the candidates for `model` in order until one
/// answers. The response is in OpenAI's format: the served answer, streaming as it arrives,
/// or the last upstream error when every candidate failed with one.
pub async fn dispatch(
    gateway: &Gateway,
    body: Bytes,
    model: &str,
    stream: bool,
) -> Result<Response, AiError> {
    let candidates = gateway.providers.candidates(model);
    if candidates.is_empty() {
        return Err(AiError::ModelNotFound(model.to_string()));
    }
    let mut last_failure = String::new();
    let mut last_answer: Option<reqwest::Response> = None;
    let mut attempts = 0;
    for candidate in &candidates {
        attempts += 1;
        match attempt(gateway, candidate, model, stream, &body).await? {
            Outcome::Served(response) => return Ok(served(response, candidate, attempts)),
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
        Some(answer) => Ok(relay(answer, candidates.last(), attempts)),
        None => Err(AiError::Upstream {
            model: model.to_string(),
            attempts,
            last: last_failure,
        }),
    }
}

enum Outcome {
    Served(Response),
    FallBack {
        reason: String,
        answer: Option<reqwest::Response>,
    },
}

async fn attempt(
    gateway: &Gateway,
    candidate: &Candidate,
    requested: &str,
    stream: bool,
    body: &Bytes,
) -> Result<Outcome, AiError> {
    use strata_config::ProviderKind as K;
    let provider = &candidate.provider;
    match provider.kind {
        K::Mock => Ok(Outcome::Served(mock_response(
            body,
            &candidate.model,
            stream,
        )?)),
        K::Openai => {
            let body = if candidate.model == requested {
                body.clone()
            } else {
                upstream::with_model(body, &candidate.model).map_err(|e| {
                    AiError::BadRequest(format!("the request body is not a JSON object: {e}"))
                })?
            };
            match upstream::post(&gateway.http, candidate, "/chat/completions", body).await {
                Reply::Answer(answer) if upstream::should_fall_back(answer.status()) => {
                    Ok(Outcome::FallBack {
                        reason: format!("{}: HTTP {}", provider.name, answer.status().as_u16()),
                        answer: Some(answer),
                    })
                }
                Reply::Answer(answer) => Ok(Outcome::Served(relay(answer, Some(candidate), 0))),
                Reply::Failed(reason) => Ok(Outcome::FallBack {
                    reason,
                    answer: None,
                }),
            }
        }
        K::Azure | K::Anthropic | K::Gemini => Ok(Outcome::FallBack {
            reason: format!(
                "{}: provider kind {:?} is not supported yet",
                provider.name, provider.kind
            ),
            answer: None,
        }),
    }
}

/// An upstream response passed on: status, content type, and the body as it arrives.
fn relay(answer: reqwest::Response, candidate: Option<&Candidate>, attempts: u32) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let retry_after = answer.headers().get(header::RETRY_AFTER).cloned();
    let mut response = Response::new(upstream::passthrough(answer, stream_error_event));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    if let Some(ra) = retry_after {
        headers.insert(header::RETRY_AFTER, ra);
    }
    match candidate {
        Some(candidate) if attempts > 0 => served(response, candidate, attempts),
        _ => response,
    }
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

/// The error event that ends a stream the upstream broke off, in OpenAI's stream format.
fn stream_error_event(message: &str) -> Bytes {
    let body = serde_json::json!({ "error": {
        "message": format!("the upstream stream broke off: {message}"),
        "type": "api_error", "param": null, "code": "upstream_stream_error" } });
    Bytes::from(format!("data: {body}\n\n"))
}

fn mock_response(body: &Bytes, model: &str, stream: bool) -> Result<Response, AiError> {
    let request: serde_json::Value = serde_json::from_slice(body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_model_and_stream_only() {
        let (model, stream) =
            peek(br#"{"messages":[{"x":[1,2,{"deep":true}]}],"model":"gpt-4o","stream":true}"#)
                .unwrap();
        assert_eq!((model.as_str(), stream), ("gpt-4o", true));
        assert!(
            matches!(peek(b"{}"), Err(AiError::BadRequest(m)) if m.contains("model parameter"))
        );
        assert!(
            matches!(peek(b"{nope"), Err(AiError::BadRequest(m)) if m.contains("not valid JSON"))
        );
        assert!(matches!(
            peek(br#"{"model":""}"#),
            Err(AiError::BadRequest(_))
        ));
    }
}
