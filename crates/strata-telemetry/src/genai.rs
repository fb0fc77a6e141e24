//! Model-call metrics following the OpenTelemetry GenAI semantic conventions
//! (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
//! `gen_ai.server.time_to_first_token`), plus the gateway's own added latency.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Who served a call: the attributes every GenAI metric carries.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `chat`, `embeddings`, …
    pub gen_ai_operation_name: &'static str,
    /// The provider's API per the conventions: `openai`, `anthropic`, …
    pub gen_ai_provider_name: &'static str,
    /// The configured provider's name.
    pub strata_provider: String,
    pub gen_ai_request_model: String,
    pub gen_ai_response_model: String,
    /// Empty on success; the error class otherwise.
    pub error_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    #[prometheus(flatten)]
    call: CallLabels,
    gen_ai_token_type: &'static str,
}

/// The series one label set records into, looked up once: a family's own lookup hashes
/// and compares the labels (and the token families clone them) on every call.
#[derive(Debug)]
struct Series {
    duration: Histogram,
    /// Made on the first call that reports these tokens (no empty series before).
    input: OnceLock<Histogram>,
    output: OnceLock<Histogram>,
}

/// The GenAI metric families.
#[derive(Debug, Clone)]
pub struct GenAi {
    token_usage: Family<TokenLabels, Histogram>,
    duration: Family<CallLabels, Histogram>,
    time_to_first_token: Family<CallLabels, Histogram>,
    added_latency: Histogram,
    series: Arc<RwLock<HashMap<CallLabels, Arc<Series>>>>,
}

fn tokens_histogram() -> Histogram {
    Histogram::new([
        1.0,
        4.0,
        16.0,
        64.0,
        256.0,
        1024.0,
        4096.0,
        16384.0,
        65536.0,
        262_144.0,
        1_048_576.0,
        4_194_304.0,
        16_777_216.0,
        67_108_864.0,
    ])
}

fn seconds_histogram() -> Histogram {
    Histogram::new([
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ])
}

fn added_histogram() -> Histogram {
    Histogram::new([
        0.000_025, 0.000_05, 0.000_1, 0.000_15, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
        0.025, 0.05, 0.1,
    ])
}

impl GenAi {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let token_usage =
            Family::<TokenLabels, Histogram>::new_with_constructor(tokens_histogram as fn() -> _);
        registry.register(
            "gen_ai_client_token_usage",
            "Tokens used per model call, by token type (input, output)",
            token_usage.clone(),
        );
        let duration =
            Family::<CallLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        registry.register(
            "gen_ai_client_operation_duration_seconds",
            "Duration of model calls, to the end of the answer",
            duration.clone(),
        );
        let time_to_first_token =
            Family::<CallLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        registry.register(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from a streamed call's arrival to its first chunk leaving the gateway",
            time_to_first_token.clone(),
        );
        let added_latency = added_histogram();
        registry.register(
            "strata_ai_added_latency_seconds",
            "Time the gateway added to a call: time to the answer's head minus time spent waiting on providers",
            added_latency.clone(),
        );
        Self {
            token_usage,
            duration,
            time_to_first_token,
            added_latency,
            series: Arc::default(),
        }
    }

    fn series(&self, labels: &CallLabels) -> Arc<Series> {
        if let Some(series) = self
            .series
            .read()
            .ok()
            .and_then(|known| known.get(labels).cloned())
        {
            return series;
        }
        let series = Arc::new(Series {
            duration: self.duration.get_or_create_owned(labels),
            input: OnceLock::new(),
            output: OnceLock::new(),
        });
        match self.series.write() {
            Ok(mut known) => known.entry(labels.clone()).or_insert(series).clone(),
            Err(_) => series,
        }
    }

    fn tokens(&self, labels: &CallLabels, kind: &'static str) -> Histogram {
        self.token_usage.get_or_create_owned(&TokenLabels {
            call: labels.clone(),
            gen_ai_token_type: kind,
        })
    }

    /// Records a finished call.
    pub fn call(&self, labels: &CallLabels, seconds: f64, input: Option<u64>, output: Option<u64>) {
        let series = self.series(labels);
        series.duration.observe(seconds);
        if let Some(tokens) = input {
            let histogram = series.input.get_or_init(|| self.tokens(labels, "input"));
            histogram.observe(tokens as f64);
        }
        if let Some(tokens) = output {
            let histogram = series.output.get_or_init(|| self.tokens(labels, "output"));
            histogram.observe(tokens as f64);
        }
    }

    /// Records a streamed call's time to first chunk.
    pub fn first_token(&self, labels: &CallLabels, seconds: f64) {
        self.time_to_first_token
            .get_or_create(labels)
            .observe(seconds);
    }

    /// Records the time the gateway itself added to a call.
    pub fn added_latency(&self, seconds: f64) {
        self.added_latency.observe(seconds);
    }
}
