//! Telemetry: structured logs (JSON or pretty), W3C trace context accepted and propagated,
//! OTLP trace export, and the Prometheus registry every layer records into.

mod genai;
mod governance;
mod http;
mod ids;
mod init;
mod metrics;
mod propagation;
pub mod spans;
mod tally;

pub use genai::{CallLabels, GenAi};
pub use governance::Governance;
pub use http::{HttpObserver, observe};
pub use init::{LogFormat, Telemetry, TelemetryError, TelemetryOptions};
pub use metrics::{HttpLabels, Metrics, ReloadLabels};
pub use propagation::{extract, inject_current, trace_id_of_current};
pub use tally::LayerStats;
