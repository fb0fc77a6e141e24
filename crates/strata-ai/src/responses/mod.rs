//! The OpenAI Responses API (`POST /v1/responses`), stateless: the request (with the whole
//! conversation in `input`) is translated to chat completions, routed like any call, and the
//! answer (streams included) translated back into Responses output items and events.

mod request;
mod response;
mod stream;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub use request::to_chat;
pub use response::from_chat;
pub use stream::ChatToResponses;

use crate::Gateway;
use crate::chat::read;
use crate::convert::Format;
use crate::dispatch::{Call, dispatch};
use crate::upstream::Operation;

/// `POST /v1/responses`.
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    received: Result<Bytes, BytesRejection>,
) -> Response {
    let routed = match gateway
        .authenticate(&headers)
        .and_then(|_| read(received, "you must provide a model parameter"))
    {
        Ok((body, model, stream)) => {
            let call = Call {
                operation: Operation::Chat,
                format: Format::Responses,
                body,
                model,
                stream,
            };
            dispatch(&gateway, &call).await
        }
        Err(e) => Err(e),
    };
    routed.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests;
