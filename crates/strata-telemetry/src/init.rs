//! Installs the global tracing subscriber: an env-filtered log layer (JSON or pretty, on
//! stderr) and an OpenTelemetry layer that gives every span W3C ids and, when an OTLP
//! endpoint is configured, exports them.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::str::FromStr;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use strata_config::Otlp;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable, for terminals.
    #[default]
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("unknown log format {other:?} (json or pretty)")),
        }
    }
}

/// What to set up.
#[derive(Debug, Clone, Default)]
pub struct TelemetryOptions {
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `strata_app=debug`; `RUST_LOG` wins.
    pub level: String,
    pub otlp: Option<Otlp>,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("bad log filter: {0}")]
    Filter(String),
    #[error("cannot set up OTLP export: {0}")]
    Otlp(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps telemetry running; [`Telemetry::shutdown`] flushes pending spans.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Installs the global subscriber and propagator.
    pub fn init(options: &TelemetryOptions) -> Result<Self, TelemetryError> {
        let filter = match std::env::var("RUST_LOG") {
            Ok(directive) if !directive.is_empty() => EnvFilter::try_new(directive),
            _ => EnvFilter::try_new(if options.level.is_empty() {
                "info"
            } else {
                &options.level
            }),
        }
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;

        let provider = tracer_provider(options.otlp.as_ref())?;
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // Spans become OpenTelemetry spans only when they are exported; otherwise the ids
        // layer gives them their W3C ids alone (`ids.rs`).
        let exporting = options.otlp.is_some();
        // Busy/idle time, thread and source-location attributes cost a bookkeeping step on
        // every poll of every instrumented future; traces do not need them. Neither does
        // Strata need a span's OpenTelemetry context made the thread's current one on every
        // poll (context activation): it reads a span's context from the span itself
        // (`propagation.rs`), and no OpenTelemetry-instrumented library runs inside a request.
        let otel = exporting.then(|| {
            tracing_opentelemetry::layer()
                .with_context_activation(false)
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_tracer(provider.tracer("strata"))
        });
        let ids = (!exporting).then_some(crate::ids::IdsLayer);

        let registry = tracing_subscriber::registry()
            .with(filter)
            .with(otel)
            .with(ids);
        let result = match options.format {
            LogFormat::Json => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_current_span(true)
                        .with_span_list(false)
                        .with_writer(std::io::stderr),
                )
                .try_init(),
            LogFormat::Pretty => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(std::io::stderr),
                )
                .try_init(),
        };
        result.map_err(|_| TelemetryError::AlreadyInstalled)?;
        Ok(Self { provider })
    }

    /// Exports what is pending and stops the exporter.
    pub fn shutdown(&self) {
        crate::spans::flush();
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

fn tracer_provider(otlp: Option<&Otlp>) -> Result<SdkTracerProvider, TelemetryError> {
    let Some(otlp) = otlp else {
        // No exporter: no span is built (the ids layer keeps trace context flowing).
        return Ok(SdkTracerProvider::builder().build());
    };
    let headers: HashMap<String, String> = otlp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    let exporter = |()| {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(otlp.endpoint.clone())
            .with_headers(headers.clone())
            .build()
            .map_err(|e| TelemetryError::Otlp(e.to_string()))
    };
    let resource = Resource::builder()
        .with_service_name(otlp.service_name.clone())
        .build();
    // Spans the agent layer records from its journal go out through their own batch.
    let mut recorded = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter(())?).build();
    opentelemetry_sdk::trace::SpanProcessor::set_resource(&mut recorded, &resource);
    crate::spans::install(recorded);
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter(())?)
        .with_resource(resource)
        .build())
}
