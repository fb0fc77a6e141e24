//! The Anthropic Messages API: the ingress (`POST /v1/messages`,
//! `POST /v1/messages/count_tokens`) and the translations to and from OpenAI's format that
//! let Anthropic clients use any provider and OpenAI clients use Anthropic providers.

mod request;
mod response;
mod stream;
mod stream_to_openai;
mod upstream;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use response::{error_body, error_from_openai, from_openai as response_from_openai};
pub use stream::StreamTranslator;
pub use stream_to_openai::StreamToOpenAi;
pub use upstream::{error_to_openai, request_from_openai, response_to_openai};

use crate::convert::Format;
use crate::{AiError, Gateway, ingress, tokens};

/// An Anthropic request as an OpenAI request.
pub fn request_to_openai(body: &Value) -> Result<Value, AiError> {
    request::to_openai(body).map(|(openai, _, _)| openai)
}

/// `POST /v1/messages/count_tokens`: an estimate of the input tokens (see `tokens`).
pub async fn count_tokens(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    received: Result<Bytes, BytesRejection>,
) -> Response {
    let counted = gateway
        .gov
        .identify(&headers, None)
        .await
        .and_then(|_| ingress::body(received))
        .and_then(|body| {
            serde_json::from_slice::<Value>(&body).map_err(|e| {
                AiError::BadRequest(format!("the request body is not valid JSON: {e}"))
            })
        })
        .and_then(|mut request| {
            if request.get("max_tokens").is_none() {
                request["max_tokens"] = json!(1);
            }
            request_to_openai(&request).map(|openai| tokens::estimate_request(&openai))
        });
    match counted {
        Ok(n) => Json(json!({ "input_tokens": n })).into_response(),
        Err(e) => Format::Anthropic.error_response(&e),
    }
}

#[cfg(test)]
mod tests;
