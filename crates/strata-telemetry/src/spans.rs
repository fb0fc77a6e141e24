//! Spans recorded after the fact: the agent layer reconstructs a run's spans from its journal
//! (with the trace and span ids the run's calls already carried in `traceparent`) and hands
//! them here; with OTLP configured they are exported next to the live spans, so a collector
//! shows one connected trace per run. Without OTLP, [`emit`] does nothing.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub trace_id: u128,
    pub span_id: u64,
    /// The parent span, in the same trace; `None` for the root.
    pub parent: Option<u64>,
    pub name: String,
    /// It stands for a call to another service.
    pub client: bool,
    pub start_ms: i64,
    pub end_ms: i64,
    pub attributes: Vec<(&'static str, Attr)>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
    Float(f64),
}

static SINK: OnceLock<BatchSpanProcessor> = OnceLock::new();

/// Installs the processor that exports recorded spans (once, at start).
pub(crate) fn install(processor: BatchSpanProcessor) {
    let _ = SINK.set(processor);
}

/// Exports what is pending.
pub(crate) fn flush() {
    if let Some(p) = SINK.get() {
        let _ = p.force_flush();
    }
}

/// Whether recorded spans go anywhere.
#[must_use]
pub fn enabled() -> bool {
    SINK.get().is_some()
}

/// Exports `spans` (batched, off the caller's path).
pub fn emit(spans: Vec<Recorded>) {
    let Some(sink) = SINK.get() else { return };
    for span in spans {
        sink.on_end(data(span));
    }
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn data(span: Recorded) -> SpanData {
    let context = SpanContext::new(
        TraceId::from(span.trace_id),
        SpanId::from(span.span_id),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let attributes = span
        .attributes
        .into_iter()
        .map(|(k, v)| match v {
            Attr::Str(s) => KeyValue::new(k, s),
            Attr::Int(i) => KeyValue::new(k, i),
            Attr::Float(f) => KeyValue::new(k, f),
        })
        .collect();
    SpanData {
        span_context: context,
        parent_span_id: span.parent.map_or(SpanId::INVALID, SpanId::from),
        parent_span_is_remote: false,
        span_kind: if span.client {
            SpanKind::Client
        } else {
            SpanKind::Internal
        },
        name: Cow::Owned(span.name),
        start_time: time(span.start_ms),
        end_time: time(span.end_ms.max(span.start_ms)),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: match span.error {
            Some(e) => Status::error(e),
            None => Status::Ok,
        },
        instrumentation_scope: InstrumentationScope::builder("strata-agent").build(),
    }
}
