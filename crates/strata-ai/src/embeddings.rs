//! `POST /v1/embeddings` (OpenAI): routed like chat, passed through to OpenAI-compatible and
//! Azure providers, answered in-process by the mock.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::Gateway;
use crate::chat::read;
use crate::convert::Format;
use crate::dispatch::{Call, dispatch};
use crate::upstream::Operation;

/// The handler.
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    received: Result<Bytes, BytesRejection>,
) -> Response {
    let routed = match gateway
        .authenticate(&headers)
        .and_then(|_| read(received, "you must provide a model parameter"))
    {
        Ok((body, model, _)) => {
            let call = Call {
                operation: Operation::Embeddings,
                format: Format::OpenAi,
                body,
                model,
                stream: false,
            };
            dispatch(&gateway, &call).await
        }
        Err(e) => Err(e),
    };
    routed.unwrap_or_else(IntoResponse::into_response)
}
