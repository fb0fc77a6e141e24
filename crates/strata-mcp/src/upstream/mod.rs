//! One downstream session's connection to one upstream MCP server.
//!
//! Every downstream session gets its own upstream session: a child process for stdio upstreams,
//! its own `Mcp-Session-Id` for HTTP ones. That keeps upstream state (subscriptions, log levels,
//! pending server requests) exactly as isolated as it would be without the gateway.

mod builtin;
pub(crate) mod http;
mod rest;
mod sse;
mod stdio;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use strata_config::{Upstream as UpstreamConfig, UrlTransport};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::jsonrpc::{self, Message, RpcError, code};

pub(crate) use stdio::ProcessLimits;

/// What an upstream connection reports to its session.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A request or notification from the upstream. `related` is the upstream request id whose
    /// response stream carried it, when the transport tells.
    Message {
        upstream: usize,
        message: Message,
        related: Option<i64>,
    },
    /// The upstream closed the response stream of request `related` before answering and asked
    /// the client to come back after `retry` (SSE polling); the gateway resumes it.
    Paused {
        upstream: usize,
        related: i64,
        retry: Option<u64>,
    },
    /// The connection is gone (the child exited, the HTTP session expired).
    Closed { upstream: usize, reason: String },
    /// An answer, queued behind the messages that came before it.
    Answer {
        waiter: oneshot::Sender<Answer>,
        answer: Answer,
    },
}

/// What the upstream agreed to in `initialize`.
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    pub protocol_version: String,
    pub capabilities: Value,
    pub server_info: Value,
    pub instructions: Option<String>,
}

/// The transport under an upstream connection.
#[derive(Debug)]
enum Wire {
    Stdio(stdio::StdioWire),
    Http(http::HttpWire),
    Sse(sse::SseWire),
}

/// Where a connection's incoming messages go.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    pub index: usize,
    pub tx: mpsc::UnboundedSender<Inbound>,
}

/// An upstream's answer to a request.
#[derive(Debug)]
pub(crate) struct Answer {
    pub outcome: Result<Value, RpcError>,
    /// It came on an SSE stream (the upstream chose to stream its answer).
    pub streamed: bool,
}

impl Answer {
    fn error(error: RpcError) -> Self {
        Self {
            outcome: Err(error),
            streamed: false,
        }
    }
}

/// The shared part of a connection: the pending requests its transport resolves.
#[derive(Debug)]
pub(crate) struct Shared {
    pending: Mutex<HashMap<i64, oneshot::Sender<Answer>>>,
    sink: Sink,
    closed: AtomicBool,
    /// Answers go through the session's queue (set once the handshake is done and the
    /// session's relay runs).
    ordered: AtomicBool,
}

impl Shared {
    /// Hands an incoming message to a waiting request or to the session.
    pub(crate) fn deliver(&self, value: Value, related: Option<i64>, streamed: bool) {
        self.deliver_in_order(value, related, streamed, true);
    }

    /// Delivers a whole HTTP answer body: nothing came before it on its response, so its
    /// answer need not queue behind anything (and saves a hand-off).
    pub(crate) fn deliver_body(&self, value: Value, related: Option<i64>) {
        self.deliver_in_order(value, related, false, false);
    }

    fn deliver_in_order(&self, value: Value, related: Option<i64>, streamed: bool, in_order: bool) {
        let message = match Message::parse(value) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(upstream = self.sink.index, %error, "upstream sent an invalid message");
                return;
            }
        };
        if let Message::Response { id, outcome } = message {
            let waiter = id.as_i64().and_then(|id| lock(&self.pending).remove(&id));
            let Some(waiter) = waiter else {
                tracing::debug!(upstream = self.sink.index, %id, "response to no pending request");
                return;
            };
            let answer = Answer { outcome, streamed };
            if !in_order || !self.ordered.load(Ordering::Acquire) {
                let _ = waiter.send(answer);
                return;
            }
            // Through the session's queue, behind the notifications the upstream sent before
            // it: progress must not arrive after the result it belongs to.
            if let Err(mpsc::error::SendError(Inbound::Answer { waiter, answer })) =
                self.sink.tx.send(Inbound::Answer { waiter, answer })
            {
                let _ = waiter.send(answer);
            }
            return;
        }
        let _ = self.sink.tx.send(Inbound::Message {
            upstream: self.sink.index,
            message,
            related,
        });
    }

    /// Whether request `id` still waits for its answer.
    pub(crate) fn is_pending(&self, id: i64) -> bool {
        lock(&self.pending).contains_key(&id)
    }

    pub(crate) fn paused(&self, related: i64, retry: Option<u64>) {
        let _ = self.sink.tx.send(Inbound::Paused {
            upstream: self.sink.index,
            related,
            retry,
        });
    }

    /// Fails every pending request and tells the session, once.
    pub(crate) fn close(&self, reason: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for (_, waiter) in lock(&self.pending).drain() {
            let _ = waiter.send(Answer::error(RpcError::new(
                code::CONNECTION_CLOSED,
                format!("upstream connection closed: {reason}"),
            )));
        }
        let _ = self.sink.tx.send(Inbound::Closed {
            upstream: self.sink.index,
            reason: reason.to_string(),
        });
    }

    fn fail(&self, id: i64, error: RpcError) {
        if let Some(waiter) = lock(&self.pending).remove(&id) {
            let _ = waiter.send(Answer::error(error));
        }
    }
}

/// A connection to one upstream for one downstream session.
#[derive(Debug)]
pub(crate) struct Connection {
    pub name: String,
    pub negotiated: Negotiated,
    shared: Arc<Shared>,
    wire: Wire,
    next_id: AtomicI64,
    timeout: Duration,
    cancel: CancellationToken,
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("upstream `{0}` has no `stdio`, `url`, `builtin`, `openapi` or `http`")]
    NoTransport(String),
    #[error("upstream `{name}`: {message}")]
    Transport { name: String, message: String },
    #[error("upstream `{name}` refused initialize: {error}")]
    Initialize { name: String, error: String },
}

impl ConnectError {
    fn transport(name: &str, message: impl Into<String>) -> Self {
        ConnectError::Transport {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// Keep-alive connections to plain-`http` upstreams by URL, driven in the task of the call
/// that uses them (see `strata-http`); upstreams it cannot serve (TLS, a proxy) use reqwest.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pools(Arc<Mutex<HashMap<String, Option<strata_http::Pool>>>>);

impl Pools {
    /// The pool for `url`, if it is one this client serves.
    pub(crate) fn for_url(&self, url: &str) -> Option<strata_http::Pool> {
        lock(&self.0)
            .entry(url.to_string())
            .or_insert_with(|| strata_http::Pool::for_url(url, CONNECT_TIMEOUT))
            .clone()
    }
}

/// How long opening a connection to an HTTP upstream may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What connecting needs besides the upstream's config.
#[derive(Debug, Clone)]
pub(crate) struct ConnectContext {
    pub client: reqwest::Client,
    /// Connections to plain-`http` upstreams, shared by every session.
    pub pools: Pools,
    pub limits: ProcessLimits,
    /// The session's token: cancelling it stops every task of the connection.
    pub cancel: CancellationToken,
}

impl Connection {
    /// Opens the transport and runs `initialize` with the client's own parameters, then sends
    /// `notifications/initialized`.
    pub(crate) async fn connect(
        config: &UpstreamConfig,
        init_params: &Value,
        sink: Sink,
        ctx: &ConnectContext,
    ) -> Result<Self, ConnectError> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            sink,
            closed: AtomicBool::new(false),
            ordered: AtomicBool::new(false),
        });
        let cancel = ctx.cancel.child_token();
        let wire = match (&config.stdio, &config.url) {
            _ if config.builtin.is_some() => Wire::Stdio(builtin::start(shared.clone(), &cancel)),
            _ if config.openapi.is_some() || config.http.is_some() => {
                Wire::Stdio(rest::start(config, shared.clone(), &cancel).ok_or_else(|| {
                    ConnectError::transport(&config.name, "its REST tools were not loaded")
                })?)
            }
            (Some(stdio), _) => Wire::Stdio(
                stdio::StdioWire::spawn(&config.name, stdio, &ctx.limits, shared.clone(), &cancel)
                    .map_err(|e| ConnectError::transport(&config.name, e))?,
            ),
            (None, Some(url)) => match config.transport {
                UrlTransport::StreamableHttp => Wire::Http(
                    http::HttpWire::new(
                        ctx.client.clone(),
                        ctx.pools.for_url(url),
                        url,
                        &config.headers,
                        shared.clone(),
                        cancel.clone(),
                    )
                    .map_err(|e| ConnectError::transport(&config.name, e))?,
                ),
                UrlTransport::Sse => Wire::Sse(
                    sse::SseWire::connect(
                        ctx.client.clone(),
                        url,
                        &config.headers,
                        shared.clone(),
                        cancel.clone(),
                    )
                    .await
                    .map_err(|e| ConnectError::transport(&config.name, e))?,
                ),
            },
            (None, None) => return Err(ConnectError::NoTransport(config.name.clone())),
        };
        let mut connection = Connection {
            name: config.name.clone(),
            negotiated: Negotiated {
                protocol_version: String::new(),
                capabilities: json!({}),
                server_info: json!({}),
                instructions: None,
            },
            shared,
            wire,
            next_id: AtomicI64::new(1),
            timeout: config.timeout.0,
            cancel,
        };
        let result = connection
            .request("initialize", Some(init_params.clone()), None)
            .await
            .outcome
            .map_err(|e| ConnectError::Initialize {
                name: config.name.clone(),
                error: e.message,
            })?;
        connection.negotiated = Negotiated {
            protocol_version: result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
            server_info: result.get("serverInfo").cloned().unwrap_or(json!({})),
            instructions: jsonrpc::param_str(Some(&result), "instructions").map(String::from),
        };
        if let Wire::Http(http) = &connection.wire {
            http.set_protocol_version(&connection.negotiated.protocol_version);
        }
        connection.notify("notifications/initialized", None).await;
        if let Wire::Http(http) = &connection.wire {
            http.open_standalone_stream();
        }
        Ok(connection)
    }

    /// Sends a request and waits for its answer, cancelling it upstream on timeout. `on_sent`
    /// learns the upstream id first, so that cancellations and related messages can be mapped.
    pub(crate) async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        on_sent: Option<&mut (dyn FnMut(i64) + Send)>,
    ) -> Answer {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        if self.shared.closed.load(Ordering::Acquire) {
            self.shared.fail(
                id,
                RpcError::new(code::CONNECTION_CLOSED, "upstream connection closed"),
            );
        }
        if let Some(on_sent) = on_sent {
            on_sent(id);
        }
        let message = jsonrpc::request(id.into(), method, params);
        self.send(message, Some(id)).await;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Answer::error(RpcError::new(
                code::CONNECTION_CLOSED,
                "upstream connection closed",
            )),
            Err(_) => {
                lock(&self.shared.pending).remove(&id);
                let params = json!({ "requestId": id, "reason": "timed out at the gateway" });
                self.notify("notifications/cancelled", Some(params)).await;
                Answer::error(RpcError::new(
                    code::REQUEST_TIMEOUT,
                    format!(
                        "upstream `{}` did not answer {method} within {}",
                        self.name,
                        humantime::format_duration(self.timeout)
                    ),
                ))
            }
        }
    }

    /// Stops waiting for request `id` (the client cancelled it); its late answer is dropped.
    pub(crate) fn abandon(&self, id: i64) {
        self.shared.fail(
            id,
            RpcError::new(code::REQUEST_CANCELLED, "the client cancelled the request"),
        );
    }

    pub(crate) async fn notify(&self, method: &str, params: Option<Value>) {
        self.send(jsonrpc::notification(method, params), None).await;
    }

    /// Answers a request the upstream sent (sampling, elicitation, roots…).
    pub(crate) async fn respond(&self, id: Value, outcome: Result<Value, RpcError>) {
        self.send(jsonrpc::response(id, outcome), None).await;
    }

    async fn send(&self, message: Value, request_id: Option<i64>) {
        let sent = match &self.wire {
            Wire::Stdio(wire) => wire.send(&message),
            Wire::Http(wire) => wire.send(message, request_id).await,
            Wire::Sse(wire) => wire.send(&message).await,
        };
        if let Err(error) = sent {
            tracing::warn!(upstream = %self.name, %error, "could not send to the upstream");
            if let Some(id) = request_id {
                self.shared.fail(
                    id,
                    RpcError::internal(format!("upstream `{}`: {error}", self.name)),
                );
            }
        }
    }

    /// From now on answers are delivered in order with the upstream's other messages; the
    /// session's relay must be running.
    pub(crate) fn order_answers(&self) {
        self.shared.ordered.store(true, Ordering::Release);
    }

    /// Whether the connection has died.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Ends the connection: the child is killed and reaped, the HTTP session deleted.
    pub(crate) async fn shutdown(&self) {
        if let Wire::Http(http) = &self.wire {
            http.delete_session().await;
        }
        self.cancel.cancel();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
