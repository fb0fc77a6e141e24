//! The Anthropic Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`).
//!
//! Requests are translated to OpenAI chat completions, routed like any other call, and the
//! answers (streams included) translated back, so Anthropic SDKs can use every provider.

mod request;
mod response;
mod stream;

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

pub use stream::StreamTranslator;

use crate::{AiError, Gateway, chat, tokens};

/// Largest non-streamed upstream answer read for translation.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// `POST /v1/messages`.
pub async fn messages(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    handle(&gateway, &body)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

/// An error of the gateway in Anthropic's shape.
fn error_response(e: &AiError) -> Response {
    let status = e.status();
    (status, Json(response::error_body(status, &e.to_string()))).into_response()
}

fn parse(body: &[u8]) -> Result<Value, AiError> {
    serde_json::from_slice(body)
        .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))
}

async fn handle(gateway: &Gateway, body: &[u8]) -> Result<Response, AiError> {
    let request = parse(body)?;
    let (openai, model, streaming) = request::to_openai(&request)?;
    let openai = Bytes::from(openai.to_string());
    let answer = chat::dispatch(gateway, openai, &model, streaming).await?;
    let (parts, body) = answer.into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("x-strata-") || name == header::RETRY_AFTER {
            headers.insert(name.clone(), value.clone());
        }
    }
    if !parts.status.is_success() {
        let bytes = axum::body::to_bytes(body, MAX_ANSWER)
            .await
            .unwrap_or_default();
        let error = response::error_from_openai(parts.status, &bytes);
        return Ok((parts.status, headers, Json(error)).into_response());
    }
    if streaming {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return Ok((headers, translate_stream(body, &model)).into_response());
    }
    let bytes = axum::body::to_bytes(body, MAX_ANSWER)
        .await
        .map_err(|e| upstream_error(&model, &e.to_string()))?;
    let completion: Value = serde_json::from_slice(&bytes)
        .map_err(|e| upstream_error(&model, &format!("the answer is not JSON: {e}")))?;
    Ok((headers, Json(response::from_openai(&completion))).into_response())
}

fn upstream_error(model: &str, last: &str) -> AiError {
    AiError::Upstream {
        model: model.to_string(),
        attempts: 1,
        last: last.to_string(),
    }
}

/// Maps an OpenAI SSE body to an Anthropic SSE body as the chunks arrive.
fn translate_stream(body: Body, model: &str) -> Body {
    let translator = StreamTranslator::new(model);
    let upstream = body.into_data_stream();
    let stream = futures_util::stream::unfold(Some((upstream, translator)), |state| async move {
        let (mut upstream, mut translator) = state?;
        loop {
            match upstream.next().await {
                Some(Ok(chunk)) => {
                    let out = translator.push(&chunk);
                    if !out.is_empty() {
                        return Some((
                            Ok::<_, std::convert::Infallible>(Bytes::from(out)),
                            Some((upstream, translator)),
                        ));
                    }
                }
                Some(Err(_)) | None => {
                    let out = translator.finish();
                    return (!out.is_empty()).then(|| (Ok(Bytes::from(out)), None));
                }
            }
        }
    });
    Body::from_stream(stream)
}

/// `POST /v1/messages/count_tokens`: an estimate of the input tokens (see `tokens`).
pub async fn count_tokens(body: Bytes) -> Response {
    let counted = parse(&body).and_then(|mut request| {
        if request.get("max_tokens").is_none() {
            request["max_tokens"] = json!(1);
        }
        request::to_openai(&request).map(|(openai, _, _)| tokens::estimate_request(&openai))
    });
    match counted {
        Ok(n) => Json(json!({ "input_tokens": n })).into_response(),
        Err(e) => error_response(&e),
    }
}

#[cfg(test)]
mod tests;
