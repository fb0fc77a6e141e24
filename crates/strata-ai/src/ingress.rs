//! The model-call ingresses: OpenAI chat completions, OpenAI Responses, embeddings and
//! Anthropic Messages. Each is the same few steps (authenticate, read only the routing fields,
//! dispatch, answer errors in the client API's own shape); they differ in format and operation.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
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

/// Largest request body the ai layer reads (images travel inline as base64).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// The body, or the error of an unreadable or too large one.
pub fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, AiError> {
    body.map_err(|rejection| {
        if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            AiError::TooLarge(MAX_REQUEST_BYTES)
        } else {
            AiError::BadRequest(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Whether an OpenAI chat body asks for the stream's usage (`stream_options.include_usage`);
/// only bodies that mention it are parsed.
fn asks_for_usage(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Options {
        #[serde(default)]
        include_usage: bool,
    }
    #[derive(serde::Deserialize)]
    struct Asks {
        stream_options: Option<Options>,
    }
    body.windows(13).any(|w| w == b"include_usage")
        && serde_json::from_slice::<Asks>(body)
            .ok()
            .and_then(|a| a.stream_options)
            .is_some_and(|o| o.include_usage)
}

/// The body and its routing fields (model, stream).
pub fn read(
    received: Result<Bytes, BytesRejection>,
    missing_model: &str,
) -> Result<(Bytes, String, bool), AiError> {
    let body = body(received)?;
    let (model, stream) = peek(&body, missing_model)?;
    Ok((body, model, stream))
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

/// Serves one model call arriving in `format`: who calls, may they use the model, admit
/// the call (limits, request guardrails, reservations), dispatch it, answer (response
/// guardrails, cost, usage ledger).
async fn serve(
    gateway: &Gateway,
    principal: Option<&strata_core::Principal>,
    headers: &HeaderMap,
    received: Result<Bytes, BytesRejection>,
    operation: Operation,
    format: Format,
) -> Response {
    let missing_model = match format {
        Format::Anthropic => "model: Field required",
        _ => "you must provide a model parameter",
    };
    let routed = async {
        let gov = &gateway.gov;
        let who = gov.identify(headers, principal).await?;
        let (body, model, stream) = read(received, missing_model)?;
        gov.authorize(who.as_deref(), &model)?;
        let stream = stream && operation == Operation::Chat;
        let providers = || {
            gateway
                .candidates(&model)
                .iter()
                .map(|c| c.provider.name.clone())
                .collect::<Vec<_>>()
        };
        // Only an OpenAI client's stream can do without its usage chunk.
        let client_usage = !stream || format != Format::OpenAi || asks_for_usage(&body);
        let mut ticket = gov
            .admit(who, operation, format, &model, stream, body, &providers)
            .await?;
        ticket.client_usage = client_usage;
        // The caller's own trace first (an in-process caller has no span of this request).
        ticket.trace_id = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(strata_core::trace_id_of)
            .or_else(strata_telemetry::trace_id_of_current);
        let mut cache_key = None;
        if let Some(cache) = &gov.cache {
            let api = format!("{format:?}/{}", operation.name());
            cache_key = crate::govern::cache::ResponseCache::key(&ticket, &api, headers);
            let hit = match &cache_key {
                Some(key) => cache.get(key).await,
                None => None,
            };
            let result = match (&cache_key, &hit) {
                (None, _) => "bypass",
                (Some(_), Some(_)) => "hit",
                (Some(_), None) => "miss",
            };
            gov.metrics.governance().cache(result);
            ticket.cache = Some(result);
            if let Some(hit) = hit {
                return Ok(crate::govern::cached(gov, ticket, hit).await);
            }
        }
        let (sink, usage) = tokio::sync::oneshot::channel();
        let call = Call {
            operation,
            format,
            body: ticket.body.clone(),
            model,
            stream,
            idempotency_key: headers.get("idempotency-key").cloned(),
            usage: std::sync::Mutex::new(Some(sink)),
        };
        let result = dispatch(gateway, &call).await;
        // A call nobody served still holds the usage sender: dropping it ends the wait.
        drop(call);
        Ok::<_, AiError>(crate::govern::answer(gov, ticket, result, usage, cache_key).await)
    }
    .await;
    routed.unwrap_or_else(|e| format.error_response(&e))
}

/// The route of one model-call ingress: `POST` in `format`, asking for `operation`.
pub fn route(operation: Operation, format: Format) -> MethodRouter<Arc<Gateway>> {
    post(
        move |State(gateway): State<Arc<Gateway>>,
              principal: Option<Extension<strata_core::Principal>>,
              headers: HeaderMap,
              received: Result<Bytes, BytesRejection>| async move {
            // An in-process caller (the agent layer) was authenticated by its own layer.
            let principal = principal.map(|Extension(p)| p);
            serve(
                &gateway,
                principal.as_ref(),
                &headers,
                received,
                operation,
                format,
            )
            .await
        },
    )
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
