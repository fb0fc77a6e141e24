//! A downstream session: its upstream connections, its streams, and the bookkeeping that maps
//! JSON-RPC ids, progress tokens and server requests between the client and the upstreams.

mod registry;
mod relay;
pub(crate) mod streams;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Caller;
use crate::jsonrpc::{self, RpcError, code};
use crate::upstream::{ConnectContext, ConnectError, Connection, Inbound, Sink};
use crate::virtual_server::VirtualServer;

pub(crate) use registry::Sessions;
use streams::{Event, Streams};

/// A JSON-RPC id as a map key (`1` and `"1"` stay distinct).
pub(crate) fn id_key(id: &Value) -> String {
    id.to_string()
}

/// One upstream of the session.
#[derive(Debug)]
struct Slot {
    connection: RwLock<Option<Arc<Connection>>>,
    /// Woken when the connection was replaced (re-initialised) or given up.
    replaced: tokio::sync::Notify,
}

/// How long a request waits for an upstream that is being re-initialised.
const RECONNECT_WAIT: Duration = Duration::from_secs(10);

/// A request an upstream sent that waits for the client's answer.
#[derive(Debug, Clone)]
struct ServerRequest {
    upstream: usize,
    id: Value,
}

#[derive(Debug, Default)]
struct Routing {
    /// (upstream, upstream request id) → the stream of the client's request it serves.
    inflight: HashMap<(usize, i64), u64>,
    /// The client's request id → (upstream, upstream request id), for cancellation.
    by_client: HashMap<String, (usize, i64)>,
    /// A progress token → the stream of the request that carried it.
    progress: HashMap<String, u64>,
    /// Gateway id → the upstream request it stands for.
    server_requests: HashMap<i64, ServerRequest>,
}

/// Names the client has seen, mapped back to their upstreams.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub tools: HashMap<String, (usize, String)>,
    pub prompts: HashMap<String, (usize, String)>,
    pub resources: HashMap<String, usize>,
    /// URI template prefix (up to its first `{`) → upstream.
    pub templates: Vec<(String, usize)>,
}

/// A downstream session.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub server: Arc<VirtualServer>,
    /// The protocol revision agreed with the client.
    pub protocol_version: String,
    /// The client's `initialize` params, reused when an upstream is re-initialised.
    init_params: Value,
    slots: Vec<Slot>,
    pub streams: Arc<Streams>,
    routing: Mutex<Routing>,
    pub names: Mutex<Names>,
    next_server_request: AtomicI64,
    last_seen_ms: AtomicU64,
    pub idle_timeout: Duration,
    cancel: CancellationToken,
    inbound: mpsc::UnboundedSender<Inbound>,
    context: ConnectContext,
    /// The principal that opened the session (none on an open server).
    pub caller: Option<Arc<Caller>>,
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("no upstream of server `{server}` could be reached: {errors}")]
    NoUpstream { server: String, errors: String },
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Session {
    /// Connects to every upstream of `server` with the client's own `initialize` params. An
    /// upstream that cannot be reached is left out (and logged); none at all is an error.
    pub(crate) async fn start(
        server: Arc<VirtualServer>,
        caller: Option<Arc<Caller>>,
        protocol_version: String,
        init_params: Value,
        idle_timeout: Duration,
        context: &ConnectContext,
    ) -> Result<Arc<Self>, StartError> {
        let cancel = CancellationToken::new();
        let context = ConnectContext {
            cancel: cancel.clone(),
            ..context.clone()
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let connects = server.upstreams.iter().enumerate().map(|(index, config)| {
            let sink = Sink {
                index,
                tx: tx.clone(),
            };
            let params = upstream_init_params(&init_params);
            let context = &context;
            let config = with_identity(config, caller.as_deref());
            async move { Connection::connect(&config, &params, sink, context).await }
        });
        let results = futures_util::future::join_all(connects).await;
        let mut errors = Vec::new();
        let slots = results
            .into_iter()
            .map(|result| Slot {
                replaced: tokio::sync::Notify::new(),
                connection: RwLock::new(match result {
                    Ok(connection) => Some(Arc::new(connection)),
                    Err(error) => {
                        tracing::warn!(server = %server.name, %error, "upstream left out of the session");
                        errors.push(error.to_string());
                        None
                    }
                }),
            })
            .collect::<Vec<_>>();
        if errors.len() == slots.len() {
            cancel.cancel();
            return Err(StartError::NoUpstream {
                server: server.name.clone(),
                errors: errors.join("; "),
            });
        }
        let session = Arc::new(Session {
            id: uuid::Uuid::new_v4().simple().to_string(),
            server,
            protocol_version,
            init_params,
            slots,
            streams: Arc::default(),
            routing: Mutex::default(),
            names: Mutex::default(),
            next_server_request: AtomicI64::new(1),
            last_seen_ms: AtomicU64::new(now_ms()),
            idle_timeout,
            cancel,
            inbound: tx,
            context,
            caller,
        });
        tokio::spawn(relay::run(Arc::downgrade(&session), rx));
        for index in 0..session.slots.len() {
            if let Some(connection) = session.upstream(index) {
                connection.order_answers();
            }
        }
        Ok(session)
    }

    /// The connection to upstream `index`, live or not (its negotiated capabilities stay
    /// readable while it is re-initialised).
    pub(crate) fn upstream(&self, index: usize) -> Option<Arc<Connection>> {
        let slot = self.slots.get(index)?;
        slot.connection
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The live connection to upstream `index`.
    pub(crate) fn connection(&self, index: usize) -> Option<Arc<Connection>> {
        self.upstream(index).filter(|c| !c.is_closed())
    }

    /// The live connection to upstream `index`, waiting while a dead one is re-initialised:
    /// a request never sees the session half-alive.
    async fn ready(&self, index: usize) -> Option<Arc<Connection>> {
        let slot = self.slots.get(index)?;
        let deadline = tokio::time::Instant::now() + RECONNECT_WAIT;
        loop {
            let replaced = slot.replaced.notified();
            if let Some(connection) = self.connection(index) {
                return Some(connection);
            }
            if self.upstream(index).is_none() || self.is_ended() {
                return None;
            }
            if tokio::time::timeout_at(deadline, replaced).await.is_err() {
                return None;
            }
        }
    }

    /// The upstreams that offer `capability` (`tools`, `resources`, `logging`…), in order.
    pub(crate) fn offering(&self, capability: &str) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|i| {
                self.upstream(*i)
                    .is_some_and(|c| c.negotiated.capabilities.get(capability).is_some())
            })
            .collect()
    }

    /// Indexes of the upstreams the session has (live, or being re-initialised).
    pub(crate) fn live_upstreams(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|i| self.upstream(*i).is_some())
            .collect()
    }

    /// Whether `caller` is the principal that opened the session.
    pub(crate) fn owned_by(&self, caller: Option<&Caller>) -> bool {
        crate::auth::name_of(self.caller.as_deref()) == crate::auth::name_of(caller)
    }

    pub(crate) fn touch(&self) {
        self.last_seen_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.last_seen_ms.load(Ordering::Relaxed)))
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Forwards a client request to upstream `index` and waits for its answer; progress and
    /// other messages the upstream sends about it go to `stream`.
    pub(crate) async fn forward(
        &self,
        index: usize,
        stream: u64,
        client_id: &Value,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, RpcError> {
        let connection = self.ready(index).await.ok_or_else(|| {
            RpcError::new(
                code::CONNECTION_CLOSED,
                format!("upstream `{}` is not connected", self.upstream_name(index)),
            )
        })?;
        let client_key = id_key(client_id);
        let token = jsonrpc::progress_token(params.as_ref()).map(id_key);
        if let Some(token) = &token {
            lock(&self.routing).progress.insert(token.clone(), stream);
        }
        let mut sent_id = None;
        let mut on_sent = |upstream_id: i64| {
            sent_id = Some(upstream_id);
            let mut routing = lock(&self.routing);
            routing.inflight.insert((index, upstream_id), stream);
            routing
                .by_client
                .insert(client_key.clone(), (index, upstream_id));
        };
        let answer = connection.request(method, params, Some(&mut on_sent)).await;
        if answer.streamed {
            // The upstream streamed its answer: so does the gateway.
            self.streams.prefer_sse(stream);
        }
        let mut routing = lock(&self.routing);
        if let Some(upstream_id) = sent_id {
            routing.inflight.remove(&(index, upstream_id));
        }
        routing.by_client.remove(&client_key);
        if let Some(token) = token {
            routing.progress.remove(&token);
        }
        answer.outcome
    }

    /// The client cancelled one of its requests: tell the upstream working on it.
    pub(crate) async fn cancel_request(&self, params: Option<Value>) {
        let Some(request_id) = params.as_ref().and_then(|p| p.get("requestId")) else {
            return;
        };
        let target = lock(&self.routing)
            .by_client
            .get(&id_key(request_id))
            .copied();
        let Some((index, upstream_id)) = target else {
            return;
        };
        let Some(connection) = self.connection(index) else {
            return;
        };
        let mut params = params.unwrap_or_default();
        params["requestId"] = upstream_id.into();
        // Stop waiting first, so the upstream closing its stream is not taken for a pause.
        connection.abandon(upstream_id);
        connection
            .notify("notifications/cancelled", Some(params))
            .await;
    }

    /// The client answered a request an upstream sent: pass it back with the upstream's id.
    pub(crate) async fn answer_server_request(
        &self,
        id: &Value,
        outcome: Result<Value, RpcError>,
    ) -> bool {
        let Some(gateway_id) = id.as_i64() else {
            return false;
        };
        let Some(request) = lock(&self.routing).server_requests.remove(&gateway_id) else {
            return false;
        };
        if let Some(connection) = self.connection(request.upstream) {
            connection.respond(request.id, outcome).await;
        }
        true
    }

    /// Sends a notification to every live upstream.
    pub(crate) async fn broadcast(&self, method: &str, params: Option<Value>) {
        for index in self.live_upstreams() {
            if let Some(connection) = self.connection(index) {
                connection.notify(method, params.clone()).await;
            }
        }
    }

    pub(crate) fn upstream_name(&self, index: usize) -> &str {
        self.server
            .upstreams
            .get(index)
            .map_or("?", |u| u.name.as_str())
    }

    /// Pushes a message onto a stream.
    pub(crate) fn send(&self, stream: u64, message: &Value) {
        self.streams
            .push(stream, Event::Message(message.to_string().into()));
    }

    /// Ends the session: every upstream connection closes (children are killed and reaped),
    /// every stream ends.
    pub(crate) async fn end(&self) {
        if self.cancel.is_cancelled() {
            return;
        }
        let connections: Vec<_> = (0..self.slots.len())
            .filter_map(|i| self.connection(i))
            .collect();
        // Ended first, so that upstreams closing now are not taken for failures to recover.
        self.cancel.cancel();
        for connection in connections {
            connection.shutdown().await;
        }
        self.streams.close_all();
        for slot in &self.slots {
            slot.replaced.notify_waiters();
        }
    }

    /// Re-initialises upstream `index` after its connection died, with backoff. `false` when it
    /// could not be brought back.
    async fn reconnect(&self, index: usize) -> bool {
        let Some(config) = self.server.upstreams.get(index) else {
            return false;
        };
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=5 {
            if self.cancel.is_cancelled() {
                return false;
            }
            let sink = Sink {
                index,
                tx: self.inbound.clone(),
            };
            let params = upstream_init_params(&self.init_params);
            let config = with_identity(config, self.caller.as_deref());
            match Connection::connect(&config, &params, sink, &self.context).await {
                Ok(connection) => {
                    connection.order_answers();
                    let slot = &self.slots[index];
                    *slot
                        .connection
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(Arc::new(connection));
                    slot.replaced.notify_waiters();
                    tracing::info!(upstream = %config.name, attempt, "upstream re-initialised");
                    return true;
                }
                Err(ConnectError::Transport { message, .. }) if message.contains("maximum") => {
                    tracing::warn!(upstream = %config.name, %message, "cannot restart upstream");
                    return false;
                }
                Err(error) => {
                    tracing::warn!(upstream = %config.name, attempt, %error, "upstream restart failed");
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        false
    }
}

/// An upstream's config as a session uses it: with the caller's name and roles in the
/// headers its `forward_identity` names (never the caller's own credentials).
fn with_identity<'a>(
    config: &'a strata_config::Upstream,
    caller: Option<&Caller>,
) -> std::borrow::Cow<'a, strata_config::Upstream> {
    let (Some(forward), Some(caller)) = (&config.forward_identity, caller) else {
        return std::borrow::Cow::Borrowed(config);
    };
    let mut config = config.clone();
    if let Some(header) = &forward.principal {
        config
            .headers
            .insert(header.clone(), strata_core::Secret::new(&caller.name));
    }
    if let Some(header) = &forward.roles {
        config.headers.insert(
            header.clone(),
            strata_core::Secret::new(caller.roles.join(",")),
        );
    }
    std::borrow::Cow::Owned(config)
}

/// What the gateway sends upstream as `initialize` params: the client's own, so its
/// capabilities are mirrored and never exceeded.
fn upstream_init_params(client: &Value) -> Value {
    client.clone()
}

fn now_ms() -> u64 {
    u64::try_from(strata_core::now_ms()).unwrap_or_default()
}
