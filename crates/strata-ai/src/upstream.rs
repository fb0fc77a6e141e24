//! Calls to OpenAI-compatible upstreams. The request body is passed through as bytes (only
//! the model name is rewritten, when a fallback asks another model); the response streams
//! back as it arrives.

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::value::RawValue;
use strata_config::ProviderKind;

use crate::convert::Format;
use crate::dispatch::Call;
use crate::provider::{Candidate, Endpoint};

/// What one upstream call came back with.
pub enum Reply {
    /// The upstream answered; `status` may still be an error to fall back from.
    Answer(Answer),
    /// No answer: connect error, timeout, or a body that could not be sent.
    Failed(String),
}

/// An upstream's answer: its head, and its body as it arrives.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Chunks,
}

/// Rewrites the top-level `model`, and with `usage` sets `stream_options.include_usage`;
/// the other values are copied as the raw text they were sent as, never parsed.
pub fn rewrite(body: &Bytes, model: &str, usage: bool) -> Result<Bytes, serde_json::Error> {
    let raw: std::collections::BTreeMap<String, &RawValue> = serde_json::from_slice(body)?;
    let mut out = Vec::with_capacity(body.len() + model.len() + 40);
    out.push(b'{');
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    for (key, value) in &raw {
        comma(&mut out);
        serde_json::to_writer(&mut out, key)?;
        out.push(b':');
        if key == "model" {
            serde_json::to_writer(&mut out, model)?;
        } else if key == "stream_options" && usage {
            let mut options: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(value.get()).unwrap_or_default();
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            serde_json::to_writer(&mut out, &options)?;
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    if usage && !raw.contains_key("stream_options") {
        comma(&mut out);
        out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
    }
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// What a call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Embeddings,
}

impl Operation {
    /// `gen_ai.operation.name`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// The URL and authentication header of an operation at a provider, or why it has none.
fn endpoint(
    candidate: &Candidate,
    operation: Operation,
    stream: bool,
) -> Result<(Endpoint, Option<(HeaderName, String)>), String> {
    let provider = &candidate.provider;
    let key = provider.api_key.as_ref().map(|k| k.expose());
    let unsupported = || {
        format!(
            "{}: {} is not supported for provider kind {:?}",
            provider.name,
            operation.name(),
            provider.kind
        )
    };
    let parsed = |url: String| {
        Endpoint::parse(&url).map_err(|e| format!("{}: bad URL {url}: {e}", provider.name))
    };
    let (url, auth) = match provider.kind {
        ProviderKind::Openai | ProviderKind::Anthropic => {
            // Parsed once, when the config was loaded.
            let url = provider
                .urls
                .get(operation)
                .cloned()
                .ok_or_else(unsupported)?;
            let auth = match provider.kind {
                ProviderKind::Openai => key.map(|k| (header::AUTHORIZATION, format!("Bearer {k}"))),
                _ => key.map(|k| (HeaderName::from_static("x-api-key"), k.to_string())),
            };
            (url, auth)
        }
        ProviderKind::Azure => {
            let path = if operation == Operation::Chat {
                "chat/completions"
            } else {
                "embeddings"
            };
            let url = format!(
                "{}/openai/deployments/{}/{path}?api-version={}",
                provider.base_url,
                urlencode(&candidate.model),
                provider.api_version
            );
            (
                parsed(url)?,
                key.map(|k| (HeaderName::from_static("api-key"), k.to_string())),
            )
        }
        ProviderKind::Gemini if operation == Operation::Chat => {
            let action = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            let url = format!(
                "{}/models/{}:{action}",
                provider.base_url,
                urlencode(&candidate.model)
            );
            (
                parsed(url)?,
                key.map(|k| (HeaderName::from_static("x-goog-api-key"), k.to_string())),
            )
        }
        ProviderKind::Gemini | ProviderKind::Mock => return Err(unsupported()),
    };
    Ok((url, auth))
}

/// Percent-encodes a path segment.
fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs `body` to the candidate's provider for `operation`, with that provider's
/// authentication, within its total timeout.
pub async fn post(candidate: &Candidate, call: &Call, body: Bytes) -> Reply {
    let (operation, stream) = (call.operation, call.stream);
    let provider = &candidate.provider;
    let (url, auth) = match endpoint(candidate, operation, stream) {
        Ok(endpoint) => endpoint,
        Err(reason) => return Reply::Failed(reason),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some((name, value)) = auth
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert(name, value);
    }
    if provider.kind == ProviderKind::Anthropic {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
    }
    for (name, value) in &provider.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.expose()),
        ) {
            headers.insert(name, value);
        }
    }
    if let Some(key) = &call.idempotency_key {
        headers.insert("idempotency-key", key.clone());
    }
    strata_telemetry::inject_current(&mut headers);
    let failed = |timeout: bool, connect: bool, error: &dyn std::fmt::Display| {
        Reply::Failed(match (timeout, connect) {
            (true, _) => format!("{}: timed out", provider.name),
            (false, true) => format!("{}: cannot connect", provider.name),
            (false, false) => format!("{}: {error}", provider.name),
        })
    };
    if let Some(pool) = &provider.direct {
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = url.path;
        *request.headers_mut() = headers;
        let deadline = tokio::time::Instant::now() + provider.timeouts.total;
        return match pool.send(request, Some(deadline)).await {
            Ok(answer) => {
                let (head, body) = answer.into_parts();
                Reply::Answer(Answer {
                    status: head.status,
                    headers: head.headers,
                    body: Box::pin(body.into_chunks().map_err(|e| e.to_string())),
                })
            }
            Err(e) => failed(e.is_timeout(), e.is_connect(), &e),
        };
    }
    match provider
        .client
        .post(url.url)
        .headers(headers)
        .timeout(provider.timeouts.total)
        .body(body)
        .send()
        .await
    {
        Ok(answer) => Reply::Answer(Answer {
            status: answer.status(),
            headers: answer.headers().clone(),
            body: Box::pin(answer.bytes_stream().map_err(|e| e.to_string())),
        }),
        Err(e) => failed(e.is_timeout(), e.is_connect(), &e),
    }
}

/// The Anthropic API version Strata speaks (sent unless the provider's headers override it).
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Whether another provider should be tried after this status.
#[must_use]
pub fn should_fall_back(status: StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 401 | 403 | 408 | 409 | 429)
}

/// An upstream body as a stream of chunks.
pub type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// Waits for the first chunk of a streamed answer until `deadline`. A stream that fails or
/// stays silent until then can still be given up for another provider: nothing has been
/// sent downstream yet.
pub async fn first_chunk_of(
    mut chunks: Chunks,
    deadline: tokio::time::Instant,
) -> Result<(Bytes, Chunks), String> {
    match tokio::time::timeout_at(deadline, chunks.next()).await {
        Ok(Some(Ok(first))) => Ok((first, chunks)),
        Ok(Some(Err(e))) => Err(format!("the stream failed before its first chunk: {e}")),
        Ok(None) => Err("the stream ended before its first chunk".into()),
        Err(_) => Err("no first token within the first_token timeout".into()),
    }
}

/// Chunks passed on as they arrive (after `first`, if given). If the upstream breaks off
/// mid-stream, a last chunk carries an error event in `format` and the stream ends.
pub fn passthrough(first: Option<Bytes>, chunks: Chunks, format: Format) -> Body {
    let rest = futures_util::stream::unfold(Some(chunks), move |state| async move {
        let mut chunks = state?;
        match chunks.next().await {
            Some(Ok(chunk)) => Some((Ok::<_, Infallible>(chunk), Some(chunks))),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "upstream stream broke off");
                let message = format!("the upstream stream broke off: {e}");
                Some((Ok(format.stream_error(&message)), None))
            }
            None => None,
        }
    });
    let first = futures_util::stream::iter(first.map(Ok));
    Body::from_stream(first.chain(rest))
}

/// A stream of ready chunks (for answers produced in-process).
pub fn from_chunks(chunks: Vec<Bytes>) -> Body {
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, Infallible>> + Send>> =
        Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_model() {
        let body = Bytes::from_static(
            br#"{"model":"a","messages":[{"role":"user","content":"x"}],"stream":true}"#,
        );
        let out: serde_json::Value =
            serde_json::from_slice(&rewrite(&body, "b", false).unwrap()).unwrap();
        assert_eq!(out["model"], "b");
        let asked: serde_json::Value =
            serde_json::from_slice(&rewrite(&body, "b", true).unwrap()).unwrap();
        assert_eq!(
            asked["stream_options"],
            serde_json::json!({ "include_usage": true })
        );
        assert_eq!(asked["messages"], out["messages"]);
        let had =
            Bytes::from_static(br#"{"model":"a","stream_options":{"include_usage":false,"x":1}}"#);
        let asked: serde_json::Value =
            serde_json::from_slice(&rewrite(&had, "a", true).unwrap()).unwrap();
        assert_eq!(
            asked["stream_options"],
            serde_json::json!({ "include_usage": true, "x": 1 })
        );
        assert_eq!(out["messages"][0]["content"], "x");
        assert_eq!(out["stream"], true);
    }

    #[test]
    fn fallback_statuses() {
        for s in [500, 502, 503, 429, 401, 403, 408] {
            assert!(should_fall_back(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 404, 422] {
            assert!(!should_fall_back(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
