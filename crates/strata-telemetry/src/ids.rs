//! Trace context without OpenTelemetry spans, for a process that exports none (no
//! `telemetry.otlp`). Every span still gets W3C ids: a root span starts a trace, a child
//! shares its parent's, and a request span continues the caller's `traceparent`; so trace
//! ids still reach usage and audit records, `traceparent` still goes upstream and back to
//! the caller. What is skipped is building an OpenTelemetry span (its attributes, events and
//! timings) for every tracing span, only to drop it at its end: about a sixth of the ai
//! layer's CPU per call at the default log level (`docs/benchmarks.md`).

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::span;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The layer that gives spans their ids when no OpenTelemetry layer is installed.
#[derive(Debug)]
pub(crate) struct IdsLayer;

/// A span's W3C ids, kept in its extensions.
#[derive(Debug, Clone)]
struct Ids(SpanContext);

impl<S> tracing_subscriber::Layer<S> for IdsLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let span_id = RandomIdGenerator::default().new_span_id();
        let own = span
            .parent()
            .and_then(|p| {
                p.extensions()
                    .get::<Ids>()
                    .map(|ids| in_trace_of(&ids.0, span_id))
            })
            .unwrap_or_else(|| new_trace(span_id));
        span.extensions_mut().insert(Ids(own));
    }
}

/// The ids of span `span_id` in the trace of `parent` (its trace id, flags and state).
fn in_trace_of(parent: &SpanContext, span_id: SpanId) -> SpanContext {
    SpanContext::new(
        parent.trace_id(),
        span_id,
        parent.trace_flags(),
        false,
        parent.trace_state().clone(),
    )
}

/// The ids of span `span_id` starting a trace: sampled, as the SDK's default sampler decides
/// for a root.
fn new_trace(span_id: SpanId) -> SpanContext {
    SpanContext::new(
        RandomIdGenerator::default().new_trace_id(),
        span_id,
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    )
}

/// Runs `f` on the ids of `span`, when this layer gave it some.
fn with_ids<T>(span: &tracing::Span, f: impl FnOnce(&mut SpanContext) -> T) -> Option<T> {
    let mut out = None;
    span.with_subscriber(|(id, dispatch)| {
        let Some(registry) = dispatch.downcast_ref::<Registry>() else {
            return;
        };
        let Some(data) = registry.span(id) else {
            return;
        };
        let mut extensions = data.extensions_mut();
        if let Some(ids) = extensions.get_mut::<Ids>() {
            out = Some(f(&mut ids.0));
        }
    });
    out
}

/// The ids of `span`, if this layer is the one that keeps them.
pub(crate) fn of(span: &tracing::Span) -> Option<SpanContext> {
    with_ids(span, |ids| ids.clone())
}

/// Makes `span` continue the trace of `remote` (a caller's context): its trace id, flags and
/// state, or a trace of its own when `remote` is not valid (a request that carries no
/// `traceparent` starts a trace, whatever span was current when it was created). The span
/// keeps its own span id. `false` when this layer does not keep the span's ids. Call it
/// before the span has children.
pub(crate) fn continue_remote(span: &tracing::Span, remote: &SpanContext) -> bool {
    with_ids(span, |ids| {
        *ids = if remote.is_valid() {
            in_trace_of(remote, ids.span_id())
        } else {
            new_trace(ids.span_id())
        };
    })
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceId;
    use tracing_subscriber::layer::SubscriberExt;

    fn subscriber() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry().with(IdsLayer)
    }

    #[test]
    fn a_root_starts_a_sampled_trace_and_children_share_it() {
        tracing::subscriber::with_default(subscriber(), || {
            let root = tracing::info_span!("root");
            let root_ids = of(&root).expect("ids");
            assert!(root_ids.is_valid());
            assert!(root_ids.is_sampled());
            let child = root.in_scope(|| tracing::info_span!("child"));
            let child_ids = of(&child).expect("ids");
            assert_eq!(child_ids.trace_id(), root_ids.trace_id());
            assert_ne!(child_ids.span_id(), root_ids.span_id());
            // Another root: another trace.
            let other = of(&tracing::info_span!(parent: None, "other")).expect("ids");
            assert_ne!(other.trace_id(), root_ids.trace_id());
        });
    }

    #[test]
    fn a_span_continues_a_remote_trace_and_passes_it_on() {
        tracing::subscriber::with_default(subscriber(), || {
            let remote = SpanContext::new(
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
                SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
                TraceFlags::default(),
                true,
                TraceState::from_key_value([("vendor", "x")]).expect("state"),
            );
            let span = tracing::info_span!("request");
            let own = of(&span).expect("ids").span_id();
            assert!(continue_remote(&span, &remote));
            let ids = of(&span).expect("ids");
            assert_eq!(ids.trace_id(), remote.trace_id());
            assert_eq!(ids.span_id(), own);
            assert!(!ids.is_sampled(), "the caller's flags are kept");
            assert_eq!(ids.trace_state().header(), "vendor=x");
            let child = span.in_scope(|| tracing::info_span!("call"));
            let child_ids = of(&child).expect("ids");
            assert_eq!(child_ids.trace_id(), remote.trace_id());
            assert_eq!(child_ids.trace_state().header(), "vendor=x");
        });
    }

    #[test]
    fn without_a_remote_trace_a_span_starts_its_own() {
        tracing::subscriber::with_default(subscriber(), || {
            let outer = tracing::info_span!("outer");
            let outer_ids = of(&outer).expect("ids");
            let request = outer.in_scope(|| tracing::info_span!("request"));
            assert_eq!(of(&request).expect("ids").trace_id(), outer_ids.trace_id());
            assert!(continue_remote(&request, &SpanContext::empty_context()));
            let ids = of(&request).expect("ids");
            assert!(ids.is_valid() && ids.is_sampled());
            assert_ne!(ids.trace_id(), outer_ids.trace_id());
        });
    }

    #[test]
    fn without_the_layer_there_are_no_ids() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            let span = tracing::info_span!("request");
            assert!(of(&span).is_none());
            assert!(!continue_remote(&span, &SpanContext::empty_context()));
        });
    }
}
