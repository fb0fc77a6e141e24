//! Streamable HTTP upstreams: one POST per message; answers as JSON or as an SSE stream, which
//! the server may close early and the client resumes with `Last-Event-ID` (SSE polling).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use sse_stream::SseStream;
use strata_core::Secret;
use tokio_util::sync::CancellationToken;

use super::{Shared, lock};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// How often a broken stream is resumed before the gateway gives up on it.
const MAX_RESUMES: u32 = 5;
const DEFAULT_RETRY: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(crate) struct HttpWire {
    client: reqwest::Client,
    /// Used for POSTs instead of `client` when the upstream is plain `http`.
    direct: Option<(strata_http::Pool, axum::http::Uri)>,
    url: reqwest::Url,
    headers: HeaderMap,
    state: Arc<Mutex<State>>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    session_id: Option<HeaderValue>,
    protocol_version: Option<HeaderValue>,
}

impl HttpWire {
    pub(crate) fn new(
        client: reqwest::Client,
        direct: Option<strata_http::Pool>,
        url: &str,
        configured: &BTreeMap<String, Secret>,
        shared: Arc<Shared>,
        cancel: CancellationToken,
    ) -> Result<Self, String> {
        // Parsed once: a URL given as text would be parsed again on every request.
        let url = reqwest::Url::parse(url).map_err(|e| format!("invalid URL `{url}`: {e}"))?;
        let direct = direct.zip(strata_http::origin_form(url.as_str()));
        Ok(Self {
            client,
            direct,
            url,
            headers: header_map(configured),
            state: Arc::default(),
            shared,
            cancel,
        })
    }

    pub(crate) fn set_protocol_version(&self, version: &str) {
        lock(&self.state).protocol_version = HeaderValue::from_str(version).ok();
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let state = lock(&self.state);
        let mut builder = self
            .client
            .request(method, self.url.clone())
            .headers(self.headers.clone());
        if let Some(id) = &state.session_id {
            builder = builder.header(SESSION_HEADER, id.clone());
        }
        if let Some(version) = &state.protocol_version {
            builder = builder.header(VERSION_HEADER, version.clone());
        }
        builder
    }

    /// POSTs one message. A request's answer (JSON or a stream) is delivered by the shared
    /// dispatcher; this returns once the upstream accepted the message.
    pub(crate) async fn send(&self, message: Value, request_id: Option<i64>) -> Result<(), String> {
        let response = self.post(&message).await?;
        if let Some(id) = response.headers.get(SESSION_HEADER) {
            let mut state = lock(&self.state);
            if state.session_id.is_none() {
                state.session_id = Some(id.clone());
            }
        }
        let status = response.status;
        if status == StatusCode::NOT_FOUND && lock(&self.state).session_id.is_some() {
            self.shared
                .close("the upstream ended its session (HTTP 404)");
            return Err("the upstream session is gone".into());
        }
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            // A JSON-RPC error answering the request is passed on with its own code.
            if let Ok(value) = serde_json::from_str::<Value>(&body)
                && request_id.is_some()
                && value.get("id").and_then(Value::as_i64) == request_id
            {
                self.shared.deliver_body(value, request_id);
                return Ok(());
            }
            return Err(error_from_body(status, &body));
        }
        if status == StatusCode::ACCEPTED || request_id.is_none() {
            return Ok(());
        }
        let is_sse = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            let stream = Stream {
                wire: self.clone_parts(),
                related: request_id,
            };
            tokio::spawn(stream.read(response.body));
            return Ok(());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(batch)) => batch
                .into_iter()
                .for_each(|m| self.shared.deliver(m, request_id, false)),
            Ok(value) => self.shared.deliver_body(value, request_id),
            Err(e) => return Err(format!("the upstream answered with invalid JSON: {e}")),
        }
        Ok(())
    }

    /// POSTs one message, through the direct pool when the upstream has one.
    async fn post(&self, message: &Value) -> Result<Answer, String> {
        let failed = |e: &dyn std::fmt::Display| format!("POST failed: {e}");
        let Some((pool, path)) = &self.direct else {
            let response = self
                .request(reqwest::Method::POST)
                .header(ACCEPT, "application/json, text/event-stream")
                .header(CONTENT_TYPE, "application/json")
                .json(message)
                .send()
                .await
                .map_err(|e| failed(&e))?;
            return Ok(Answer::from_reqwest(response));
        };
        let body = serde_json::to_vec(message).map_err(|e| failed(&e))?;
        let mut request = axum::http::Request::new(Bytes::from(body));
        *request.method_mut() = axum::http::Method::POST;
        *request.uri_mut() = path.clone();
        let headers = request.headers_mut();
        headers.clone_from(&self.headers);
        {
            let state = lock(&self.state);
            if let Some(id) = &state.session_id {
                headers.insert(SESSION_HEADER, id.clone());
            }
            if let Some(version) = &state.protocol_version {
                headers.insert(VERSION_HEADER, version.clone());
            }
        }
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let response = pool.send(request, None).await.map_err(|e| failed(&e))?;
        Ok(Answer::from_pool(response))
    }

    /// Opens the standalone GET stream for server-initiated messages, if the upstream has one.
    pub(crate) fn open_standalone_stream(&self) {
        let stream = Stream {
            wire: self.clone_parts(),
            related: None,
        };
        tokio::spawn(stream.standalone());
    }

    pub(crate) async fn delete_session(&self) {
        if lock(&self.state).session_id.is_none() {
            return;
        }
        let request = self
            .request(reqwest::Method::DELETE)
            .timeout(Duration::from_secs(2));
        if let Err(error) = request.send().await {
            tracing::debug!(%error, "DELETE of the upstream session failed");
        }
    }

    fn clone_parts(&self) -> Parts {
        Parts {
            client: self.client.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            state: self.state.clone(),
            shared: self.shared.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

/// What a stream reader task needs of the wire.
#[derive(Debug)]
struct Parts {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    state: Arc<Mutex<State>>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

/// One SSE stream from the upstream: a POST's answer or the standalone GET stream.
#[derive(Debug)]
struct Stream {
    wire: Parts,
    related: Option<i64>,
}

/// How one read of a stream ended.
struct Ended {
    last_event_id: Option<String>,
    retry: Option<u64>,
    answered: bool,
}

impl Stream {
    async fn read(self, body: Chunks) {
        let mut ended = self.drain(body).await;
        let Some(related) = self.related else { return };
        let mut resumes = 0;
        // A request nobody waits for any more (cancelled, timed out) is not resumed.
        while !ended.answered
            && !self.wire.cancel.is_cancelled()
            && self.wire.shared.is_pending(related)
        {
            let Some(last) = ended.last_event_id.clone() else {
                self.wire.shared.fail(
                    related,
                    crate::jsonrpc::RpcError::internal(
                        "the upstream closed the stream before answering",
                    ),
                );
                return;
            };
            resumes += 1;
            if resumes > MAX_RESUMES {
                self.wire.shared.fail(
                    related,
                    crate::jsonrpc::RpcError::internal("the upstream stream broke too often"),
                );
                return;
            }
            self.wire.shared.paused(related, ended.retry);
            let wait = ended.retry.map_or(DEFAULT_RETRY, Duration::from_millis);
            tokio::time::sleep(wait).await;
            if !self.wire.shared.is_pending(related) {
                return;
            }
            if let Ok(Some(response)) = self.get(Some(&last)).await {
                let next = self.drain(Answer::from_reqwest(response).body).await;
                ended = Ended {
                    last_event_id: next.last_event_id.or(Some(last)),
                    retry: next.retry.or(ended.retry),
                    answered: next.answered,
                };
            }
        }
    }

    async fn standalone(self) {
        let mut last = None;
        let mut failures = 0u32;
        while !self.wire.cancel.is_cancelled() {
            match self.get(last.as_deref()).await {
                Ok(Some(response)) => {
                    failures = 0;
                    let ended = self.drain(Answer::from_reqwest(response).body).await;
                    last = ended.last_event_id.or(last);
                    let wait = ended.retry.map_or(DEFAULT_RETRY, Duration::from_millis);
                    tokio::time::sleep(wait).await;
                }
                // 405: the upstream offers no standalone stream.
                Ok(None) => return,
                Err(()) => {
                    failures += 1;
                    if failures > MAX_RESUMES {
                        return;
                    }
                    tokio::time::sleep(DEFAULT_RETRY * failures).await;
                }
            }
        }
    }

    async fn get(&self, last_event_id: Option<&str>) -> Result<Option<reqwest::Response>, ()> {
        let parts = &self.wire;
        let mut builder = {
            let state = lock(&parts.state);
            let mut b = parts
                .client
                .get(parts.url.clone())
                .headers(parts.headers.clone());
            if let Some(id) = &state.session_id {
                b = b.header(SESSION_HEADER, id.clone());
            }
            if let Some(version) = &state.protocol_version {
                b = b.header(VERSION_HEADER, version.clone());
            }
            b
        };
        builder = builder.header(ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            builder = builder.header("last-event-id", id);
        }
        let response = tokio::select! {
            () = parts.cancel.cancelled() => return Err(()),
            r = builder.send() => r.map_err(|_| ())?,
        };
        match response.status() {
            s if s.is_success() => Ok(Some(response)),
            StatusCode::METHOD_NOT_ALLOWED => Ok(None),
            StatusCode::NOT_FOUND => {
                parts
                    .shared
                    .close("the upstream ended its session (HTTP 404)");
                Err(())
            }
            _ => Err(()),
        }
    }

    async fn drain(&self, body: Chunks) -> Ended {
        let mut events = SseStream::from_bytes_stream(body);
        let mut ended = Ended {
            last_event_id: None,
            retry: None,
            answered: false,
        };
        loop {
            let event = tokio::select! {
                () = self.wire.cancel.cancelled() => break,
                e = events.next() => e,
            };
            let Some(Ok(event)) = event else { break };
            if let Some(id) = event.id {
                ended.last_event_id = Some(id);
            }
            if event.retry.is_some() {
                ended.retry = event.retry;
            }
            let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                continue;
            };
            match serde_json::from_str::<Value>(&data) {
                Ok(value) => {
                    let answers = self.related.is_some()
                        && value.get("id").and_then(Value::as_i64) == self.related
                        && value.get("method").is_none();
                    self.wire.shared.deliver(value, self.related, true);
                    if answers {
                        ended.answered = true;
                        break;
                    }
                }
                Err(error) => tracing::warn!(%error, "upstream SSE event is not JSON"),
            }
        }
        ended
    }
}

/// An answer's body as it arrives.
type Chunks = std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send>>;

/// An upstream's answer, from reqwest or from the direct pool.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Chunks,
}

impl Answer {
    fn from_reqwest(response: reqwest::Response) -> Self {
        Self {
            status: response.status(),
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream().map_err(std::io::Error::other)),
        }
    }

    fn from_pool(response: axum::http::Response<strata_http::Body>) -> Self {
        let (head, body) = response.into_parts();
        Self {
            status: head.status,
            headers: head.headers,
            body: Box::pin(body.into_chunks().map_err(std::io::Error::other)),
        }
    }

    /// The whole body.
    async fn bytes(mut self) -> std::io::Result<Bytes> {
        let Some(first) = self.body.try_next().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.body.try_next().await? else {
            return Ok(first);
        };
        let mut all = Vec::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(more) = self.body.try_next().await? {
            all.extend_from_slice(&more);
        }
        Ok(Bytes::from(all))
    }
}

pub(crate) fn header_map(configured: &BTreeMap<String, Secret>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in configured {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value.expose()),
        ) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                headers.insert(name, value);
            }
            _ => {
                tracing::warn!(header = %name, "skipping an upstream header that is not valid HTTP")
            }
        }
    }
    headers
}

/// An upstream's HTTP error as one line (its JSON-RPC message when it sent one).
fn error_from_body(status: StatusCode, body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    format!("HTTP {status}: {message}")
}
