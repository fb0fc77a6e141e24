//! `strata mcp-stdio --server NAME`: a desktop client that only speaks stdio reaches a virtual
//! server through this process. Stdout carries JSON-RPC only; logs go to stderr.

use std::path::PathBuf;

use strata_telemetry::{LogFormat, Telemetry, TelemetryOptions};

use crate::AppError;
use crate::serve::load;

/// What `strata mcp-stdio` needs.
#[derive(Debug, Clone)]
pub struct McpStdioOptions {
    pub config: Option<PathBuf>,
    pub server: String,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// Serves the virtual server on stdin/stdout until stdin ends; stdio upstreams are stopped.
pub async fn mcp_stdio(options: McpStdioOptions) -> Result<(), AppError> {
    let (config, _) = load(options.config.as_deref())?;
    let telemetry = Telemetry::init(&TelemetryOptions {
        format: options.log_format,
        level: options.log_level.clone(),
        otlp: config.telemetry.otlp.clone(),
    })?;
    let deps = strata_mcp::Deps::new();
    let result = strata_mcp::serve_stdio(
        &config,
        &deps,
        &options.server,
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
    .map_err(|e| AppError::Layer {
        layer: "mcp",
        message: e.to_string(),
    });
    deps.shutdown().await;
    telemetry.shutdown();
    result
}
