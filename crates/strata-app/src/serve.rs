//! `strata serve`: load the config, connect the store, bind every listener, serve until a
//! signal, drain, flush, exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use strata_config::{Config, ConfigErrors, Layer, Listeners};
use strata_core::Shutdown;
use strata_store::{AuditRecord, BatchWriter, BatchWriterOptions, Outcome, Store, UsageRecord};
use strata_telemetry::{LogFormat, Metrics, Telemetry, TelemetryOptions};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::runtime::{LayerDeps, Runtime};
use crate::{AppError, admin, dispatch, reload, server};

/// What `strata serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The config file; the embedded defaults when absent.
    pub config: Option<PathBuf>,
    /// The layers to serve (the admin listener always runs).
    pub layers: Vec<Layer>,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// The state shared by every listener and background task.
#[derive(Debug)]
pub struct AppState {
    pub current: ArcSwap<Runtime>,
    pub store: Store,
    pub metrics: Metrics,
    pub shutdown: Shutdown,
    pub audit: BatchWriter<AuditRecord>,
    /// The usage ledger's writer (the admin API flushes it before reading spend).
    pub usage: BatchWriter<UsageRecord>,
    /// Each served layer and whether its listener is up.
    pub layers: Vec<(Layer, AtomicBool)>,
    pub config_path: Option<PathBuf>,
    pub deps: LayerDeps,
    /// Keys created at run time (refreshed from the store).
    pub stored_keys: Arc<strata_policy::StoredKeys>,
}

impl AppState {
    /// Records an audit event of the process itself; never blocks serving for long.
    pub async fn audit(&self, record: AuditRecord) {
        if let Err(e) = self.audit.write(record).await {
            tracing::error!(error = %e, "audit record not accepted");
        }
    }
}

const EMBEDDED: &str = include_str!("embedded.yaml");
const DEMO_WORKFLOW: &str = include_str!("demo.wf.yaml");

/// Loads the config (or the embedded defaults, with the demo workflow) with its source text.
/// The settings a store-only command needs (`audit`, `keys`, `spend`, `runs`): no OpenAPI
/// document or workflow file is read.
pub fn load_settings(path: Option<&std::path::Path>) -> Result<Config, ConfigErrors> {
    match path {
        Some(path) => strata_config::load_file_settings(path),
        None => load(None).map(|(config, _)| config),
    }
}

pub fn load(path: Option<&std::path::Path>) -> Result<(Config, String), ConfigErrors> {
    let env = |name: &str| std::env::var(name).ok();
    match path {
        Some(path) => strata_config::load_file_with_source(path),
        None => {
            let mut config = strata_config::load_str(EMBEDDED, "<embedded defaults>", &env)?;
            let (demo, _) =
                strata_config::load_workflow(DEMO_WORKFLOW, "<embedded demo workflow>", &env)
                    .map_err(ConfigErrors)?;
            config.workflows.push(demo);
            Ok((config, EMBEDDED.to_string()))
        }
    }
}

async fn bind(what: &'static str, addr: &str) -> Result<TcpListener, AppError> {
    let error = |source| AppError::Bind {
        what,
        addr: addr.to_string(),
        source,
    };
    let sock: SocketAddr = Listeners::parse(addr)
        .map_err(|e| error(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    TcpListener::bind(sock).await.map_err(error)
}

/// Runs the server until SIGTERM/SIGINT, then drains and flushes.
pub async fn serve(options: ServeOptions) -> Result<(), AppError> {
    let (config, source) = load(options.config.as_deref())?;
    let telemetry = Telemetry::init(&TelemetryOptions {
        format: options.log_format,
        level: options.log_level.clone(),
        otlp: config.telemetry.otlp.clone(),
    })?;
    let result = run(options, config, &source).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "strata stopped with an error");
    }
    telemetry.shutdown();
    result
}

async fn run(options: ServeOptions, config: Config, source: &str) -> Result<(), AppError> {
    let drain_timeout = config.server.drain_timeout.0;
    let store = Store::connect(&config.storage).await?;
    let metrics = Metrics::new();
    let shutdown = Shutdown::new();
    let agent = options
        .layers
        .contains(&Layer::Agent)
        .then(|| strata_agent::Deps::new(store.clone(), &config, shutdown.clone()));
    let stored_keys = Arc::new(strata_policy::StoredKeys::default());
    crate::keys::load(&store, &stored_keys).await?;
    let limiter = match store.redis() {
        Some(redis) => strata_policy::limits::Limiter::redis(redis.conn(), "strata:"),
        None => strata_policy::limits::Limiter::local(),
    };
    // Spooled: a record is safe from a crash of the process once written, not once committed,
    // so it can wait longer for company (fewer, larger transactions).
    let spooled = BatchWriterOptions {
        linger: std::time::Duration::from_millis(100),
        ..BatchWriterOptions::default()
    };
    let usage = BatchWriter::spawn_spooled(store.clone(), spooled, store.spool_dir()).await?;
    let audit = BatchWriter::spawn_spooled(store.clone(), spooled, store.spool_dir()).await?;
    let mut governance = strata_ai::govern::Shared::new(
        limiter.clone(),
        stored_keys.clone(),
        Some(usage.clone()),
        Some(store.clone()),
    );
    if let Some(redis) = store.redis() {
        governance = governance.with_redis(redis.conn());
    }
    let agent = agent.map(|a| a.with_audit(audit.clone()));
    let deps = LayerDeps {
        ai: strata_ai::Deps::new(metrics.clone()).with_governance(governance),
        mcp: mcp_deps(&config, &store)
            .with_stored_keys(stored_keys.clone())
            .with_audit(audit.clone())
            .with_limiter(limiter),
        agent,
    };
    let runtime = Runtime::build(config, source, 1, &options.layers, &deps)?;
    metrics.set_config_generation(1);

    let listeners_config = runtime.config.listeners.clone();
    let admin_listener = bind("admin", &listeners_config.admin).await?;
    let mut layer_listeners = Vec::new();
    for &layer in &options.layers {
        layer_listeners.push((
            layer,
            bind(layer.name(), listeners_config.layer(layer)).await?,
        ));
    }

    let app = Arc::new(AppState {
        current: ArcSwap::from_pointee(runtime),
        audit,
        usage: usage.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
        layers: options
            .layers
            .iter()
            .map(|&l| (l, AtomicBool::new(false)))
            .collect(),
        config_path: options.config.clone(),
        deps,
        stored_keys: stored_keys.clone(),
    });
    crate::keys::spawn_refresh(store.clone(), stored_keys, shutdown.clone());
    if let Some(retention) = app.current.load().config.storage.audit_retention {
        crate::audit::spawn_retention(store.clone(), retention.0, shutdown.clone());
    }

    let mut routers = vec![(
        admin_listener,
        dispatch::with_http_layers(
            admin::router(app.clone()).merge(crate::console::router(app.clone())),
            "admin",
            metrics.clone(),
        ),
    )];
    for (layer, listener) in layer_listeners {
        tracing::info!(layer = layer.name(), addr = %listeners_config.layer(layer), "listening");
        routers.push((listener, dispatch::layer_service(app.clone(), layer)));
    }
    tracing::info!(layer = "admin", addr = %listeners_config.admin, "listening");

    spawn_signal_handlers(app.clone())?;
    if let Some(agent) = &app.deps.agent {
        agent.start();
    }
    if let Some(path) = &options.config {
        reload::spawn(app.clone(), path)?;
    }

    let layer_names: Vec<&str> = options.layers.iter().map(|l| l.name()).collect();
    let mut start = AuditRecord::new("admin", "server.start", Outcome::Ok);
    start.detail = serde_json::json!({
        "version": strata_core::VERSION,
        "layers": layer_names,
        "config_sha256": app.current.load().digest,
        "storage": format!("{:?}", store.backend()),
    });
    app.audit(start).await;
    for (_, up) in &app.layers {
        up.store(true, Ordering::Release);
    }
    tracing::info!(version = strata_core::VERSION, layers = ?layer_names, "strata is serving");
    if options.config.is_none() {
        print_next_steps(&listeners_config);
    }

    let mcp = app.deps.mcp.clone();
    let draining = shutdown.clone();
    tokio::spawn(async move {
        draining.token().cancelled().await;
        // Idle standalone streams would hold their connections open for the whole drain.
        mcp.begin_drain();
    });
    let outcome = server::serve_routers(routers, shutdown, drain_timeout).await;
    app.deps.mcp.shutdown().await;

    let mut stop = AuditRecord::new("admin", "server.stop", Outcome::Ok);
    stop.latency_ms = Some(i64::try_from(outcome.took.as_millis()).unwrap_or(i64::MAX));
    stop.detail = serde_json::json!({ "drained": outcome.clean });
    app.audit(stop).await;
    if let Err(e) = app.audit.flush().await {
        tracing::error!(error = %e, "flushing the audit log failed");
    }
    if let Err(e) = usage.flush().await {
        tracing::error!(error = %e, "flushing the usage ledger failed");
    }
    store.close().await;
    tracing::info!(
        drained = outcome.clean,
        took_ms = outcome.took.as_millis() as u64,
        "stopped"
    );
    Ok(())
}

/// Prints what to try against the embedded defaults, once they serve.
#[allow(clippy::print_stdout)]
fn print_next_steps(listeners: &Listeners) {
    println!("{}", next_steps(listeners));
}

/// What to try against the embedded defaults.
fn next_steps(listeners: &Listeners) -> String {
    format!(
        "\nStrata is serving the embedded defaults (mock provider `mock-1`, demo tool server `demo`, workflow `demo`). Try:\n\
         \x20 curl -s {ai}/v1/chat/completions -H 'content-type: application/json' -d '{{\"model\":\"mock-1\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'\n\
         \x20 curl -s {agent}/v1/workflows/demo/runs -H 'content-type: application/json' -d '{{\"input\":{{\"question\":\"hi\"}},\"wait\":true}}'\n\
         \x20 an MCP client at {mcp}/mcp/demo (Streamable HTTP), or: strata mcp-stdio --server demo\n\
         \x20 strata doctor --live        # the deployment checklist against this stack\n\
         \x20 strata runs list; strata audit --limit 20; strata spend\n\
         \x20 the console: {admin}/   (the A2A card of the workflow: {agent}/a2a/demo/.well-known/agent-card.json)\n\
         \x20 curl -s {admin}/metrics\n",
        ai = base_url(&listeners.ai),
        agent = base_url(&listeners.agent),
        mcp = base_url(&listeners.mcp),
        admin = base_url(&listeners.admin),
    )
}

fn base_url(addr: &str) -> String {
    format!("http://{}", addr.replace("0.0.0.0", "127.0.0.1"))
}

/// The mcp layer's dependencies; with Redis, the session directory shared by the replicas.
fn mcp_deps(config: &Config, store: &Store) -> strata_mcp::Deps {
    let deps = strata_mcp::Deps::new();
    let Some(redis) = store.redis() else {
        return deps;
    };
    let advertise = config.mcp.advertise_url.clone().or_else(|| {
        let addr = Listeners::parse(&config.listeners.mcp).ok()?;
        (!addr.ip().is_unspecified()).then(|| format!("http://{addr}"))
    });
    match advertise {
        Some(url) => deps.with_directory(redis.conn(), url),
        None => {
            tracing::warn!(
                "the mcp listener is on an unspecified address: set mcp.advertise_url for other replicas to reach its sessions"
            );
            deps
        }
    }
}

fn spawn_signal_handlers(app: Arc<AppState>) -> Result<(), AppError> {
    let mut term = signal(SignalKind::terminate()).map_err(AppError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AppError::Signals)?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutdown requested");
        app.shutdown.trigger();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid_and_serve_the_mock() {
        let (config, source) = load(None).unwrap();
        assert_eq!(source, EMBEDDED);
        assert_eq!(config.listeners, Listeners::default());
        let mock = &config.ai.providers[0];
        assert_eq!(
            mock.effective_kind(),
            Some(strata_config::ProviderKind::Mock)
        );
        assert!(mock.models.contains(&"mock-1".to_string()));
        assert_eq!(config.workflows[0].name, "demo");
    }

    #[test]
    fn the_next_steps_name_the_listeners_and_the_demo_things() {
        let text = next_steps(&Listeners::default());
        for expected in [
            "http://127.0.0.1:4000/v1/chat/completions",
            "http://127.0.0.1:4002/v1/workflows/demo/runs",
            "http://127.0.0.1:4001/mcp/demo",
            "strata doctor --live",
            "http://127.0.0.1:4003/metrics",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
    }
}
