//! The project's mock LLM provider server: an OpenAI-compatible HTTP upstream whose answers
//! come from `strata_ai::mock`, with scripted failures (status codes, `Retry-After`, delays,
//! streams that break off) and a record of every request it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Answer normally.
    Answer,
    /// Answer with this status and an OpenAI error body (and `Retry-After` seconds, if set).
    Status(u16, Option<u64>),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Stream: send this many chunks, then cut the connection.
    BreakAfter(usize),
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Behavior>,
    received: Vec<Received>,
    chunk_delay: Duration,
}

/// A running mock provider; stops when dropped.
pub struct MockLlm {
    /// Base URL, e.g. `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// The server's root, e.g. `http://127.0.0.1:PORT` (Azure-style providers add their own paths).
    pub root_url: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLlm")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl MockLlm {
    /// Starts on a free loopback port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/messages", post(messages))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1beta/models/{model_action}", post(gemini))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(chat),
            )
            .route(
                "/openai/deployments/{deployment}/embeddings",
                post(embeddings),
            )
            .route("/v1/models", get(models))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let root_url = format!("http://{}", listener.local_addr().expect("addr"));
        let base_url = format!("{root_url}/v1");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url,
            root_url,
            inner,
            task,
        }
    }

    /// Queues behaviors for the next requests (then it answers normally).
    pub fn script(&self, behaviors: impl IntoIterator<Item = Behavior>) {
        self.lock().script.extend(behaviors);
    }

    /// Pause between streamed chunks.
    pub fn set_chunk_delay(&self, delay: Duration) {
        self.lock().chunk_delay = delay;
    }

    /// Every request received so far.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn models() -> Response {
    axum::Json(json!({ "object": "list", "data": [{ "id": "mock-upstream", "object": "model", "created": 0, "owned_by": "mock" }] }))
        .into_response()
}

/// How to answer one request.
struct Plan {
    request: Value,
    /// Cut the stream after this many events.
    cut_after: Option<usize>,
    /// Pause between streamed events.
    delay: Duration,
    /// Wait this long before answering.
    wait: Option<Duration>,
}

/// Records the request and takes the next scripted behavior, waiting first when the behavior
/// says so; a scripted failure is answered here (in the given API's error shape).
async fn begin(
    inner: &Mutex<Inner>,
    uri: &Uri,
    headers: HeaderMap,
    body: &[u8],
    anthropic: bool,
) -> Result<Plan, Box<Response>> {
    let plan = plan(inner, uri, headers, body, anthropic)?;
    if let Some(wait) = plan.wait {
        tokio::time::sleep(wait).await;
    }
    Ok(plan)
}

/// [`begin`] without the wait.
fn plan(
    inner: &Mutex<Inner>,
    uri: &Uri,
    headers: HeaderMap,
    body: &[u8],
    anthropic: bool,
) -> Result<Plan, Box<Response>> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        let error = json!({ "error": { "message": "bad JSON", "type": "invalid_request_error", "param": null, "code": null } });
        return Err(Box::new(
            (StatusCode::BAD_REQUEST, axum::Json(error)).into_response(),
        ));
    };
    let (behavior, chunk_delay) = {
        let mut inner = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.received.push(Received {
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), ToString::to_string),
            headers,
            body: request.clone(),
        });
        (
            inner.script.pop_front().unwrap_or(Behavior::Answer),
            inner.chunk_delay,
        )
    };
    match behavior {
        Behavior::Answer => Ok(Plan {
            request,
            cut_after: None,
            delay: chunk_delay,
            wait: None,
        }),
        Behavior::Delay(d) => Ok(Plan {
            request,
            cut_after: None,
            delay: chunk_delay,
            wait: Some(d),
        }),
        Behavior::BreakAfter(n) => Ok(Plan {
            request,
            cut_after: Some(n),
            delay: chunk_delay,
            wait: None,
        }),
        Behavior::Status(code, retry_after) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = format!("mock says {code}");
            let error = if anthropic {
                json!({ "type": "error", "error": { "type": "api_error", "message": message } })
            } else {
                json!({ "error": { "message": message, "type": "api_error", "param": null, "code": null } })
            };
            let mut response = (status, axum::Json(error)).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.into());
            }
            Err(Box::new(response))
        }
    }
}

/// An SSE body from ready events, paced by `delay`, cut after `cut_after` events if set.
fn sse(events: Vec<Bytes>, cut_after: Option<usize>, delay: Duration) -> Response {
    let mut chunks: Vec<Result<Bytes, std::io::Error>> = events.into_iter().map(Ok).collect();
    if let Some(n) = cut_after {
        chunks.truncate(n);
        chunks.push(Err(std::io::Error::other("mock cut the stream")));
    }
    let stream = futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
        let next = rest.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((next, rest))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn chat(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Plan {
        request,
        cut_after,
        delay,
        ..
    } = match begin(&inner, &uri, headers, &body, false).await {
        Ok(begun) => begun,
        Err(response) => return *response,
    };
    let model = request["model"].as_str().unwrap_or("mock").to_string();
    if !request["stream"].as_bool().unwrap_or(false) {
        return axum::Json(strata_ai::mock::chat_completion(&request, &model)).into_response();
    }
    let mut events: Vec<Bytes> = strata_ai::mock::chat_chunks(&request, &model)
        .into_iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .collect();
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    sse(events, cut_after, delay)
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Plan {
        request,
        cut_after,
        delay,
        ..
    } = match begin(&inner, &uri, headers, &body, true).await {
        Ok(begun) => begun,
        Err(response) => return *response,
    };
    let model = request["model"].as_str().unwrap_or("mock").to_string();
    if request.get("max_tokens").and_then(Value::as_u64).is_none() {
        let error = json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "max_tokens: Field required" } });
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    if !request["stream"].as_bool().unwrap_or(false) {
        return axum::Json(strata_ai::mock::anthropic_message(&request, &model)).into_response();
    }
    let events = strata_ai::mock::anthropic_events(&request, &model)
        .into_iter()
        .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
        .collect();
    sse(events, cut_after, delay)
}

async fn embeddings(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Plan { request, .. } = match begin(&inner, &uri, headers, &body, false).await {
        Ok(plan) => plan,
        Err(response) => return *response,
    };
    let model = request["model"].as_str().unwrap_or("mock").to_string();
    match strata_ai::mock::embeddings(&request, &model) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Gemini: `/v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.
async fn gemini(
    State(inner): State<Arc<Mutex<Inner>>>,
    axum::extract::Path(model_action): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Plan {
        request,
        cut_after,
        delay,
        ..
    } = match begin(&inner, &uri, headers, &body, false).await {
        Ok(plan) => plan,
        Err(response) => return *response,
    };
    let (model, action) = model_action.split_once(':').unwrap_or((&model_action, ""));
    match action {
        "generateContent" => {
            let answer = strata_ai::mock::gemini_chunks(&request, model, false).remove(0);
            axum::Json(answer).into_response()
        }
        "streamGenerateContent" => {
            let events = strata_ai::mock::gemini_chunks(&request, model, true)
                .into_iter()
                .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
                .collect();
            sse(events, cut_after, delay)
        }
        other => {
            let error = json!({ "error": { "code": 404, "message": format!("unknown action {other}"), "status": "NOT_FOUND" } });
            (StatusCode::NOT_FOUND, axum::Json(error)).into_response()
        }
    }
}
