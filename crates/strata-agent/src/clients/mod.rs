//! How the agent layer reaches the layers below: a model client (the ai layer's
//! OpenAI-compatible API) and a tool client (the mcp layer's Streamable HTTP), each over a
//! transport that is either in-process (the layer's router, called directly, with the run's
//! principal attached) or HTTP (the layer's URL, with the agent layer's own key).

pub mod agents;
mod model;
mod tool;
mod transport;

use std::fmt;

use futures_util::future::BoxFuture;
use std::time::Instant;

use serde_json::{Value, json};

pub use agents::RemoteAgents;
pub use model::LayerModels;
pub use tool::LayerTools;
pub use transport::{Http, InProcess, Transport};

/// Reads a whole response body (layers answer small bodies to these calls).
async fn read_body(body: axum::body::Body) -> Result<bytes::Bytes, CallError> {
    axum::body::to_bytes(body, 64 << 20)
        .await
        .map_err(|e| CallError::new("unavailable", format!("reading the answer: {e}")))
}

/// Who a call is for and how to recognize a repeat of it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub principal: Option<String>,
    /// The same for every try of one step attempt (also after a crash).
    pub idempotency_key: String,
    pub run_id: String,
    /// The run's session (A2A `contextId`), if it has one.
    pub session: Option<String>,
    /// The run's trace (32 hex digits): its own, or the run that started it.
    pub trace: String,
}

impl CallContext {
    /// The W3C `traceparent` of this attempt's calls: the run's trace (its id's 32 hex
    /// digits, or its parent run's), and a span of the attempt (from its idempotency key).
    #[must_use]
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{:016x}-01",
            self.trace,
            span_id(&self.idempotency_key)
        )
    }
}

/// The trace id of run `run_id`: its id's 32 hex digits.
#[must_use]
pub fn trace_id(run_id: &str) -> String {
    let hex: String = run_id.chars().filter(char::is_ascii_hexdigit).collect();
    format!("{hex:0>32.32}")
}

/// A span id derived from `text` (FNV-1a): an attempt's from its idempotency key, so every
/// try of the attempt, and the journal's record of it, name the same span.
#[must_use]
pub fn span_id(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .max(1)
}

/// A failed call: the error class retry and catch rules see, and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub class: &'static str,
    pub message: String,
    /// What the layer answered, for the journal.
    pub response: Option<Value>,
}

impl CallError {
    pub fn new(class: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            response: None,
        }
    }

    /// The class of an HTTP status from a layer.
    #[must_use]
    pub fn class_of(status: u16) -> &'static str {
        match status {
            401 | 403 => "unauthorized",
            404 => "not_found",
            408 | 504 => "timeout",
            429 => "rate_limited",
            400..=499 => "bad_request",
            _ => "unavailable",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

/// A call through a layer: what the step gets, and the exchange for the journal
/// (`{ layer, request, response | error, tokens, cost_usd }`).
#[derive(Debug, Clone)]
pub struct Called {
    pub result: Result<Value, CallError>,
    pub record: Value,
}

impl Called {
    /// The call's outcome with its journal record, stamped with how long it took.
    #[must_use]
    pub fn finish(result: Result<Value, CallError>, mut record: Value, started: Instant) -> Self {
        record["ms"] = json!(started.elapsed().as_millis() as u64);
        if let Err(e) = &result {
            record["error"] = json!({ "class": e.class, "message": e.message });
        }
        Self { result, record }
    }
}

/// Chat completions through the ai layer.
pub trait ModelClient: Send + Sync + fmt::Debug {
    /// Sends an OpenAI chat completions body (plus `output_schema`); the output is the
    /// answer's text, or the parsed JSON when an output schema is given.
    fn chat<'a>(&'a self, body: Value, ctx: &'a CallContext) -> BoxFuture<'a, Called>;
}

/// Tool calls through the mcp layer.
pub trait ToolClient: Send + Sync + fmt::Debug {
    /// Calls `name` on the virtual server `server`.
    fn call_tool<'a>(
        &'a self,
        server: &'a str,
        name: &'a str,
        arguments: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Called>;
}
