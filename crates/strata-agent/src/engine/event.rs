//! The journal's events. A run's state is the fold of its events over its definition, so
//! the journal alone resumes, replays and forks a run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a step attempt failed: a class retry and catch rules match on, and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub class: String,
    pub message: String,
}

impl StepError {
    pub fn new(class: &str, message: impl Into<String>) -> Self {
        Self {
            class: class.to_string(),
            message: message.into(),
        }
    }

    /// A template or expression that could not be evaluated.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new("bad_request", message)
    }

    /// Whether `classes` (from a retry or catch rule) covers this error.
    #[must_use]
    pub fn matches(&self, classes: &[String]) -> bool {
        classes.iter().any(|c| c == "all" || *c == self.class)
    }

    /// As JSON, for the `error` scope variable.
    #[must_use]
    pub fn to_value(&self) -> Value {
        serde_json::json!({ "class": self.class, "message": self.message })
    }
}

/// One journaled event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The run began with this input.
    RunStarted { input: Value },
    /// An attempt of a task began with this (rendered) input.
    StepStarted {
        task: String,
        attempt: u32,
        input: Value,
        /// The idempotency key the attempt's calls carry.
        key: String,
    },
    /// An attempt succeeded.
    StepSucceeded {
        task: String,
        attempt: u32,
        output: Value,
        /// Each ai/mcp call the attempt made, with request and response.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        calls: Vec<Value>,
        ms: u64,
    },
    /// An attempt failed; `retry_at` (ms) when another attempt follows.
    StepFailed {
        task: String,
        attempt: u32,
        error: StepError,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        calls: Vec<Value>,
        ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<i64>,
    },
    /// An attempt waits for something outside (a signal, a timer, a child run).
    StepParked {
        task: String,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wake_at: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        child: Option<String>,
    },
    /// A signal arrived (for the waiting `human` step named, or buffered until it waits).
    SignalReceived {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        data: Value,
    },
    /// Someone cancelled the run.
    RunCancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The run's own timeout passed.
    RunTimedOut,
    /// The run ended.
    RunFinished {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<StepError>,
    },
}

impl Event {
    /// The stored `kind` column.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::StepStarted { .. } => "step_started",
            Event::StepSucceeded { .. } => "step_succeeded",
            Event::StepFailed { .. } => "step_failed",
            Event::StepParked { .. } => "step_parked",
            Event::SignalReceived { .. } => "signal_received",
            Event::RunCancelled { .. } => "run_cancelled",
            Event::RunTimedOut => "run_timed_out",
            Event::RunFinished { .. } => "run_finished",
        }
    }

    /// The task it is about, if any.
    #[must_use]
    pub fn task(&self) -> Option<&str> {
        match self {
            Event::StepStarted { task, .. }
            | Event::StepSucceeded { task, .. }
            | Event::StepFailed { task, .. }
            | Event::StepParked { task, .. } => Some(task),
            _ => None,
        }
    }
}
