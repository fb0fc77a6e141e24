//! `POST /v1/chat/completions`, the OpenAI ingress: read only what routing needs (model,
//! stream) and hand the body, untouched, to the dispatcher.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::convert::Format;
use crate::dispatch::{Call, dispatch};
use crate::upstream::Operation;
use crate::{AiError, Gateway};

/// The fields routing needs; everything else in the body is skipped unparsed.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: bool,
}

/// Reads the routing fields of a JSON body. `missing_model` words the error of the API.
pub fn peek(body: &[u8], missing_model: &str) -> Result<(String, bool), AiError> {
    let peek: Peek<'_> = serde_json::from_slice(body)
        .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    match peek.model {
        Some(model) if !model.is_empty() => Ok((model.into_owned(), peek.stream)),
        _ => Err(AiError::BadRequest(missing_model.into())),
    }
}

/// The handler.
pub async fn completions(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    let routed = match peek(&body, "you must provide a model parameter") {
        Ok((model, stream)) => {
            let call = Call {
                operation: Operation::Chat,
                format: Format::OpenAi,
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
mod tests {
    use super::*;

    const MISSING: &str = "you must provide a model parameter";

    #[test]
    fn peek_reads_model_and_stream_only() {
        let body = br#"{"messages":[{"x":[1,2,{"deep":true}]}],"model":"gpt-4o","stream":true}"#;
        let (model, stream) = peek(body, MISSING).unwrap();
        assert_eq!((model.as_str(), stream), ("gpt-4o", true));
        assert!(matches!(peek(b"{}", MISSING), Err(AiError::BadRequest(m)) if m == MISSING));
        assert!(
            matches!(peek(b"{nope", MISSING), Err(AiError::BadRequest(m)) if m.contains("not valid JSON"))
        );
        assert!(matches!(
            peek(br#"{"model":""}"#, MISSING),
            Err(AiError::BadRequest(_))
        ));
    }
}
