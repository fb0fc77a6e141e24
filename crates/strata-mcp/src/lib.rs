//! The tool gateway: session-aware MCP in front of upstream MCP servers.
//!
//! Clients connect to a virtual server at `/mcp/{server}` (Streamable HTTP). Each downstream
//! session gets its own session on every upstream of that server (a child process for stdio
//! upstreams), so upstream state stays as isolated as without the gateway. Messages are relayed
//! as JSON: the gateway reads the method, ids, names and URIs it routes by, and passes every
//! other field through untouched.

mod audit;
mod auth;
mod directory;
mod downstream;
mod duplex;
mod error;
mod http;
pub mod jsonrpc;
mod session;
mod stateless;
mod upstream;
mod virtual_server;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use strata_config::Config;
use tokio_util::sync::CancellationToken;

pub use error::McpError;
pub use virtual_server::BuildError;

/// How often idle sessions are looked for: a quarter of the idle timeout, within these bounds.
const REAP_EVERY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(15));

/// What the mcp layer keeps across config reloads: the live sessions (with their upstream
/// connections and children), the HTTP client and the per-upstream process limits.
#[derive(Debug, Clone)]
pub struct Deps {
    sessions: session::Sessions,
    /// Keys created at run time, shared with the other layers.
    stored_keys: Arc<strata_policy::StoredKeys>,
    http: reqwest::Client,
    /// Connections to plain-`http` upstreams (the rest go through `http`).
    pools: upstream::Pools,
    limits: upstream::ProcessLimits,
    legacy: http::LegacyConnections,
    bridges: stateless::Bridges,
    reaper: Arc<AtomicBool>,
    /// Tool rate limits (in process, or shared through Redis).
    limiter: strata_policy::limits::Limiter,
    /// The audit log's writer; none when the layer runs without a store.
    audit: Option<strata_store::BatchWriter<strata_store::AuditRecord>>,
    /// Which replica holds which session (with Redis); none for a single process.
    directory: Option<(redis::aio::ConnectionManager, String)>,
}

impl Default for Deps {
    fn default() -> Self {
        Self::new()
    }
}

impl Deps {
    #[must_use]
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(upstream::CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_default();
        Self {
            sessions: session::Sessions::default(),
            stored_keys: Arc::default(),
            http,
            pools: upstream::Pools::default(),
            limits: upstream::ProcessLimits::default(),
            legacy: http::LegacyConnections::default(),
            bridges: stateless::Bridges::default(),
            reaper: Arc::default(),
            limiter: strata_policy::limits::Limiter::local(),
            audit: None,
            directory: None,
        }
    }

    /// The same, sharing sessions with the other replicas on `redis`: this replica's mcp
    /// listener is reached by them at `advertise` (e.g. `http://10.0.0.5:4001`).
    #[must_use]
    pub fn with_directory(
        mut self,
        redis: redis::aio::ConnectionManager,
        advertise: String,
    ) -> Self {
        self.directory = Some((redis, advertise));
        self
    }

    /// The same, writing the audit log with `writer`.
    #[must_use]
    pub fn with_audit(
        mut self,
        writer: strata_store::BatchWriter<strata_store::AuditRecord>,
    ) -> Self {
        self.audit = Some(writer);
        self
    }

    /// The same, counting tool rate limits with `limiter` (shared through Redis when it is).
    #[must_use]
    pub fn with_limiter(mut self, limiter: strata_policy::limits::Limiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// The same, accepting the keys created at run time too.
    #[must_use]
    pub fn with_stored_keys(mut self, stored: Arc<strata_policy::StoredKeys>) -> Self {
        self.stored_keys = stored;
        self
    }

    /// Live downstream sessions.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Ends every session's standalone stream, so that idle GET connections do not hold up a
    /// graceful drain; requests in flight finish.
    pub fn begin_drain(&self) {
        self.sessions.end_standalone_streams();
    }

    /// Ends every session: stdio children are killed and reaped, upstream HTTP sessions
    /// deleted. Called on shutdown.
    pub async fn shutdown(&self) {
        self.bridges.end_all().await;
        self.sessions.end_all().await;
    }
}

/// Builds the mcp layer's router from the config.
pub fn build(config: &Config, deps: &Deps) -> Result<Router, McpError> {
    Ok(http::router(state(config, deps)?))
}

/// Bridges a desktop client speaking MCP over stdio (`stdin`/`stdout`, one JSON-RPC message
/// per line) to virtual server `server`, until `stdin` ends. Logs must go elsewhere (stderr).
pub async fn serve_stdio<R, W>(
    config: &Config,
    deps: &Deps,
    server: &str,
    stdin: R,
    mut stdout: W,
) -> Result<(), McpError>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let state = Arc::new(state(config, deps)?);
    let virtual_server = state.server(server)?.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Arc<str>>();
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let line = format!("{message}\n");
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                return;
            }
        }
    });
    let duplex = duplex::Duplex::new(state.clone(), virtual_server, None, tx.clone());
    let mut lines = tokio_util::codec::FramedRead::new(
        stdin,
        tokio_util::codec::LinesCodec::new_with_max_length(64 << 20),
    );
    while let Some(line) = lines.next().await {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| (jsonrpc::code::PARSE_ERROR, format!("Parse error: {e}")))
            .and_then(|v| {
                jsonrpc::Message::parse(v).map_err(|e| (jsonrpc::code::INVALID_REQUEST, e))
            });
        match parsed {
            Ok(message) => duplex.receive(message).await,
            Err((code, message)) => {
                let error = jsonrpc::response(
                    serde_json::Value::Null,
                    Err(jsonrpc::RpcError::new(code, message)),
                );
                let _ = tx.send(error.to_string().into());
            }
        }
    }
    duplex.close().await;
    drop(duplex);
    drop(tx);
    let _ = writer.await;
    Ok(())
}

fn state(config: &Config, deps: &Deps) -> Result<http::McpState, McpError> {
    let mcp = &config.mcp;
    let policy = Arc::new(virtual_server::policy::Policy {
        access: strata_policy::access::Access::new(&config.auth)
            .map_err(|e| McpError::Build(BuildError::Access(e.to_string())))?,
        limiter: deps.limiter.clone(),
        auditor: audit::Auditor::new(deps.audit.clone()),
    });
    let servers = mcp
        .servers
        .iter()
        .map(|s| {
            Ok((
                s.name.clone(),
                Arc::new(virtual_server::VirtualServer::build(
                    s,
                    mcp,
                    policy.clone(),
                )?),
            ))
        })
        .collect::<Result<HashMap<_, _>, BuildError>>()?;
    if !deps.reaper.swap(true, Ordering::AcqRel) {
        let every = (mcp.session_idle_timeout.0 / 4).clamp(REAP_EVERY.0, REAP_EVERY.1);
        deps.sessions.spawn_reaper(every);
    }
    let state = http::McpState {
        auth: Arc::new(auth::McpAuth::new(
            config,
            deps.stored_keys.clone(),
            deps.http.clone(),
        )?),
        servers: Arc::new(servers),
        sessions: deps.sessions.clone(),
        guard: http::guard::Guard::new(
            &config.listeners.mcp,
            &mcp.allowed_hosts,
            &mcp.allowed_origins,
        ),
        connect: upstream::ConnectContext {
            client: deps.http.clone(),
            pools: deps.pools.clone(),
            limits: deps.limits.clone(),
            cancel: CancellationToken::new(),
        },
        idle_timeout: mcp.session_idle_timeout.0,
        directory: deps.directory.as_ref().map(|(redis, me)| {
            Arc::new(directory::Directory::new(
                redis.clone(),
                me,
                mcp.session_idle_timeout.0,
                deps.http.clone(),
            ))
        }),
        legacy: deps.legacy.clone(),
        bridges: deps.bridges.clone(),
    };
    Ok(state)
}
