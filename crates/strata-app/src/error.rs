//! Errors at the composition root.

use strata_config::ConfigErrors;

/// Why `strata serve` could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        what: &'static str,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Store(#[from] strata_store::StoreError),
    #[error("telemetry: {0}")]
    Telemetry(#[from] strata_telemetry::TelemetryError),
    #[error("building the {layer} layer: {message}")]
    Layer {
        layer: &'static str,
        message: String,
    },
    #[error("cannot watch the config file: {0}")]
    Watch(#[from] notify::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}
