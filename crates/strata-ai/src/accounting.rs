//! What a served call cost and how long it took: the body is watched on its way out (never
//! held back) for the first chunk and the usage the provider reported; when it ends, the
//! GenAI metrics are recorded and the call's span closes with its usage.

use std::time::Instant;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use serde_json::Number;
use strata_telemetry::{CallLabels, Metrics};

use crate::pricing::Tokens;
use crate::sse::DataLines;

/// What a served call used, reported when its answer has been passed on (or abandoned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub provider: String,
    pub model: String,
    /// `None` when the provider reported no usage.
    pub tokens: Option<Tokens>,
}

/// Where a call's usage goes when it is known.
pub type UsageSink = tokio::sync::oneshot::Sender<Served>;

/// Largest non-streamed answer copied aside to read its usage.
const MAX_COPY: usize = 8 * 1024 * 1024;

/// Token counts in any API's shape: OpenAI's `prompt_tokens`/`completion_tokens`,
/// Anthropic's and the Responses API's `input_tokens`/`output_tokens` (Anthropic's cache
/// reads and writes count as input), and the cached part of the input. Typed, so that
/// reading it skips the rest of the answer without building any of it.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Usage {
    prompt_tokens: Option<Number>,
    completion_tokens: Option<Number>,
    input_tokens: Option<Number>,
    output_tokens: Option<Number>,
    cache_read_input_tokens: Option<Number>,
    cache_creation_input_tokens: Option<Number>,
    prompt_tokens_details: Option<Details>,
    input_tokens_details: Option<Details>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Details {
    cached_tokens: Option<Number>,
}

/// Whatever holds a `usage` at its top: a whole (non-streamed) answer, an Anthropic
/// `message_start`'s `message`, a Responses event's `response`.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct WithUsage {
    usage: Option<Usage>,
}

/// A stream event: its usage is at the top or one level down.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Event {
    usage: Option<Usage>,
    message: Option<WithUsage>,
    response: Option<WithUsage>,
}

impl Event {
    fn usage(self) -> Option<Usage> {
        self.usage
            .or_else(|| self.message.and_then(|m| m.usage))
            .or_else(|| self.response.and_then(|r| r.usage))
    }
}

/// The top-level usage of a whole answer. Only `usage` is built; the rest is skipped, and
/// most of it not even read: answers carry their usage at or near their end, so the last
/// `usage` key is tried first ([`tail_usage`]) and the whole answer read only when that was
/// not the top-level one.
fn usage_of_answer(answer: &[u8]) -> Option<Usage> {
    match tail_usage(answer) {
        Some(usage) => usage,
        None => serde_json::from_slice::<WithUsage>(answer).ok()?.usage,
    }
}

/// The value of the last `"usage"` key of `answer`, if that key is a member of the top-level
/// object: what follows its value must be the rest of that object's members and its end
/// (parsed as such), so a `usage` nested in a later member is not taken. `None` when this
/// cannot tell; `Some(None)` for `"usage": null`.
fn tail_usage(answer: &[u8]) -> Option<Option<Usage>> {
    const KEY: &[u8] = b"\"usage\"";
    // Inside a string a quote is escaped, so these bytes can only be a key.
    let at = answer.windows(KEY.len()).rposition(|w| w == KEY)?;
    let before = answer[..at].trim_ascii_end().last()?;
    if !matches!(before, b'{' | b',') {
        return None;
    }
    let value = answer[at + KEY.len()..]
        .trim_ascii_start()
        .strip_prefix(b":")?;
    let mut values = serde_json::Deserializer::from_slice(value).into_iter::<Option<Usage>>();
    let usage = values.next()?.ok()?;
    let after = value[values.byte_offset()..].trim_ascii_start();
    let closes_top_level = match after.split_first()? {
        (b'}', end) => end.trim_ascii().is_empty(),
        (b',', members) => {
            let mut object = Vec::with_capacity(members.len() + 1);
            object.push(b'{');
            object.extend_from_slice(members);
            serde_json::from_slice::<serde::de::IgnoredAny>(&object).is_ok()
        }
        _ => false,
    };
    closes_top_level.then_some(usage)
}

fn count(n: Option<&Number>) -> Option<u64> {
    n.and_then(Number::as_u64)
}

/// One served call being watched.
pub struct CallRecord {
    pub metrics: Metrics,
    pub labels: CallLabels,
    pub stream: bool,
    pub started: Instant,
    pub span: tracing::Span,
    first_chunk: bool,
    copy: Vec<u8>,
    lines: DataLines,
    input: Option<u64>,
    output: Option<u64>,
    cached: u64,
    done: bool,
    sink: Option<UsageSink>,
}

impl CallRecord {
    #[must_use]
    pub fn new(
        metrics: Metrics,
        labels: CallLabels,
        stream: bool,
        started: Instant,
        span: tracing::Span,
    ) -> Self {
        Self {
            metrics,
            labels,
            stream,
            started,
            span,
            first_chunk: false,
            copy: Vec::new(),
            lines: DataLines::default(),
            input: None,
            output: None,
            cached: 0,
            done: false,
            sink: None,
        }
    }

    /// Sends the call's usage to `sink` when it ends.
    #[must_use]
    pub fn reporting_to(mut self, sink: Option<UsageSink>) -> Self {
        self.sink = sink;
        self
    }

    fn observe(&mut self, chunk: &[u8]) {
        if !self.first_chunk {
            self.first_chunk = true;
            if self.stream {
                let seconds = self.started.elapsed().as_secs_f64();
                self.metrics.genai().first_token(&self.labels, seconds);
            }
        }
        if !self.stream {
            if self.copy.len() + chunk.len() <= MAX_COPY {
                self.copy.extend_from_slice(chunk);
            }
            return;
        }
        // Streams: only lines that mention usage are parsed.
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |data| {
            if data.windows(7).any(|w| w == b"\"usage\"")
                && let Some(usage) = serde_json::from_slice::<Event>(data)
                    .ok()
                    .and_then(Event::usage)
            {
                self.read_usage(&usage);
            }
        });
        self.lines = lines;
    }

    /// Takes the call's token counts from a usage in any API's shape.
    fn read_usage(&mut self, usage: &Usage) {
        let anthropic_input = count(usage.input_tokens.as_ref()).map(|i| {
            i + count(usage.cache_read_input_tokens.as_ref()).unwrap_or(0)
                + count(usage.cache_creation_input_tokens.as_ref()).unwrap_or(0)
        });
        if let Some(input) = count(usage.prompt_tokens.as_ref())
            .or(anthropic_input)
            .filter(|i| *i > 0 || self.input.is_none())
        {
            self.input = Some(input);
        }
        if let Some(output) =
            count(usage.completion_tokens.as_ref()).or_else(|| count(usage.output_tokens.as_ref()))
        {
            self.output = Some(output);
        }
        let details =
            |d: &Option<Details>| count(d.as_ref().and_then(|d| d.cached_tokens.as_ref()));
        let cached = details(&usage.prompt_tokens_details)
            .or_else(|| details(&usage.input_tokens_details))
            .or_else(|| count(usage.cache_read_input_tokens.as_ref()));
        if let Some(cached) = cached.filter(|c| *c > 0) {
            self.cached = cached;
        }
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if !self.stream
            && !self.copy.is_empty()
            && let Some(usage) = usage_of_answer(&std::mem::take(&mut self.copy))
        {
            self.read_usage(&usage);
        }
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics
            .genai()
            .call(&self.labels, seconds, self.input, self.output);
        if let Some(input) = self.input {
            self.span.record("gen_ai.usage.input_tokens", input);
        }
        if let Some(output) = self.output {
            self.span.record("gen_ai.usage.output_tokens", output);
        }
        if let Some(sink) = self.sink.take() {
            let tokens = (self.input.is_some() || self.output.is_some()).then(|| Tokens {
                input: self.input.unwrap_or(0),
                output: self.output.unwrap_or(0),
                cached: self.cached,
            });
            let _ = sink.send(Served {
                provider: self.labels.strata_provider.clone(),
                model: self.labels.gen_ai_response_model.clone(),
                tokens,
            });
        }
    }
}

impl Drop for CallRecord {
    /// A client that hangs up mid-answer still gets its call recorded.
    fn drop(&mut self) {
        self.finish();
    }
}

/// Passes `body` on unchanged, watching it with `record`.
pub fn watch(body: Body, record: CallRecord) -> Body {
    let chunks = body.into_data_stream();
    let stream = futures_util::stream::unfold(Some((chunks, record)), |state| async move {
        let (mut chunks, mut record) = state?;
        match chunks.next().await {
            Some(Ok(chunk)) => {
                record.observe(&chunk);
                Some((Ok::<Bytes, axum::Error>(chunk), Some((chunks, record))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None => {
                record.finish();
                None
            }
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(stream: bool) -> CallRecord {
        let labels = CallLabels {
            gen_ai_operation_name: "chat",
            gen_ai_provider_name: "openai",
            strata_provider: "p".into(),
            gen_ai_request_model: "m".into(),
            gen_ai_response_model: "m".into(),
            error_type: String::new(),
        };
        CallRecord::new(
            Metrics::new(),
            labels,
            stream,
            Instant::now(),
            tracing::Span::none(),
        )
    }

    #[test]
    fn reads_usage_from_openai_and_anthropic_streams() {
        let mut r = record(true);
        r.observe(
            b"data: {\"choices\":[]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,",
        );
        r.observe(b"\"completion_tokens\":5}}\n\ndata: [DONE]\n\n");
        assert_eq!((r.input, r.output), (Some(12), Some(5)));

        let mut r = record(true);
        r.observe(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\n\n");
        r.observe(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n");
        assert_eq!((r.input, r.output), (Some(10), Some(9)));
    }

    #[test]
    fn reads_cached_tokens_and_responses_events_and_skips_null_usage() {
        let mut r = record(true);
        r.observe(b"data: {\"choices\":[],\"usage\":null}\n\n");
        assert_eq!((r.input, r.output), (None, None));
        r.observe(b"data: {\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n");
        assert_eq!((r.input, r.output, r.cached), (Some(20), Some(2), 8));

        let mut r = record(true);
        r.observe(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"output\":[{\"x\":1}],\"usage\":{\"input_tokens\":11,\"output_tokens\":4,\"input_tokens_details\":{\"cached_tokens\":3}}}}\n\n");
        assert_eq!((r.input, r.output, r.cached), (Some(11), Some(4), 3));

        // A whole answer: only its top-level usage counts.
        let mut r = record(false);
        r.observe(br#"{"message":"not an object","usage":{"input_tokens":5,"output_tokens":6}}"#);
        r.finish();
        assert_eq!((r.input, r.output), (Some(5), Some(6)));
    }

    #[test]
    fn reads_the_top_level_usage_of_whole_answers_whatever_follows_it() {
        let tokens = |answer: &str| {
            usage_of_answer(answer.as_bytes()).map(|u| {
                (
                    count(u.prompt_tokens.as_ref()),
                    count(u.completion_tokens.as_ref()),
                )
            })
        };
        let last = r#"{"choices":[{"message":{"content":"say \"usage\": {}"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
        assert_eq!(tokens(last), Some((Some(1), Some(2))));
        // Members after the usage, and a nested `usage` before or after it.
        let followed = r#"{"usage" : {"prompt_tokens":3,"completion_tokens":4} , "service_tier":"default", "x":{"a":[1,{"b":null}]} }"#;
        assert_eq!(tokens(followed), Some((Some(3), Some(4))));
        let nested_after = r#"{"usage":{"prompt_tokens":5,"completion_tokens":6},"x_groq":{"usage":{"prompt_tokens":50,"completion_tokens":60}}}"#;
        assert_eq!(tokens(nested_after), Some((Some(5), Some(6))));
        let nested_only = r#"{"choices":[{"usage":{"prompt_tokens":7}}],"id":"x"}"#;
        assert_eq!(tokens(nested_only), None);
        let in_array_last = r#"{"id":"x","choices":[{"usage":{"prompt_tokens":7}}]}"#;
        assert_eq!(tokens(in_array_last), None);
        assert_eq!(tokens(r#"{"usage":null}"#), None);
        assert_eq!(tokens(r#"{"id":"x"}"#), None);
        assert_eq!(tokens(r#"{"usage":{"prompt_tokens":1}"#), None);
        assert_eq!(tokens("not json"), None);
        // Which answers were read from their tail alone, and which in whole.
        for (answer, from_tail) in [
            (last, true),
            (followed, true),
            (r#"{"usage":null}"#, true),
            (nested_after, false),
            (nested_only, false),
            (in_array_last, false),
        ] {
            assert_eq!(
                tail_usage(answer.as_bytes()).is_some(),
                from_tail,
                "{answer}"
            );
        }
    }

    #[test]
    fn reads_usage_from_whole_answers_and_records_metrics() {
        let mut r = record(false);
        r.observe(br#"{"id":"x","usage":{"prompt_tokens":3,"#);
        r.observe(br#""completion_tokens":4,"total_tokens":7}}"#);
        let metrics = r.metrics.clone();
        drop(r);
        let text = metrics.encode();
        assert!(
            text.contains("gen_ai_client_token_usage_count{gen_ai_operation_name=\"chat\""),
            "{text}"
        );
        assert!(text.contains("gen_ai_token_type=\"output\"} 1"), "{text}");
        assert!(
            text.contains("gen_ai_client_operation_duration_seconds_count"),
            "{text}"
        );
    }
}
