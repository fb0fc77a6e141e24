//! The heart of the ai layer: try the candidate providers of a call in order until one
//! answers, speaking each provider's own format. When the ingress format equals the
//! provider's, the body passes through as bytes (only `model` is rewritten, and only when a
//! fallback asks another model); otherwise it is translated there and back, streams included.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strata_config::ProviderKind;
use strata_telemetry::CallLabels;
use tracing::Instrument;

use crate::accounting::{self, CallRecord};
use crate::convert::{self, Format};
use crate::provider::Candidate;
use crate::upstream::{self, Answer, Operation, Reply};
use crate::{AiError, Gateway, mock, resilience};

/// One call as it came in.
#[derive(Debug)]
pub struct Call {
    /// What is asked for.
    pub operation: Operation,
    /// The API the client speaks (and must be answered in).
    pub format: Format,
    /// The body as received.
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
    /// The caller's `Idempotency-Key`, passed on to the provider.
    pub idempotency_key: Option<HeaderValue>,
    /// Where the served answer's usage is reported (taken by the attempt that serves).
    pub usage: std::sync::Mutex<Option<accounting::UsageSink>>,
}

impl Call {
    /// The whole body, parsed: only needed when translating.
    fn parsed(&self) -> Result<Value, AiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))
    }

    /// The body for a provider speaking `target`, asking for `model`.
    /// A stream to an OpenAI-format provider always asks for the usage chunk, so every
    /// streamed call is accounted whether or not the client asked (the chunk is then not
    /// passed on to it).
    fn body_for(&self, target: Format, model: &str) -> Result<Bytes, AiError> {
        let usage = self.stream && target == Format::OpenAi;
        if target == self.format {
            if model == self.model && !usage {
                return Ok(self.body.clone());
            }
            return upstream::rewrite(&self.body, model, usage).map_err(|e| {
                AiError::BadRequest(format!("the request body is not a JSON object: {e}"))
            });
        }
        let mut translated = convert::request(self.format, target, &self.parsed()?)?;
        if target != Format::Gemini {
            // Gemini takes the model in the URL.
            translated["model"] = Value::String(model.to_string());
        }
        if usage && let Some(body) = translated.as_object_mut() {
            body.insert(
                "stream_options".into(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        Ok(Bytes::from(translated.to_string()))
    }
}

/// Sends the call to its candidates in order until one answers, retrying each (with
/// backoff) on transient failures and skipping those whose circuit breaker is open. The
/// response is in the call's format: the served answer, streaming as it arrives, or the last
/// upstream error when every candidate failed with one.
pub async fn dispatch(gateway: &Gateway, call: &Call) -> Result<Response, AiError> {
    let span = tracing::info_span!(
        "gen_ai.call",
        otel.kind = "client",
        gen_ai.operation.name = call.operation.name(),
        gen_ai.request.model = %call.model,
        gen_ai.provider.name = tracing::field::Empty,
        strata.provider = tracing::field::Empty,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        strata.attempts = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = route(gateway, call, &span, started)
        .instrument(span.clone())
        .await;
    if let Err(e) = &result {
        span.record("error.type", e.kind_name());
        let labels = labels(None, call, e.kind_name());
        gateway
            .metrics
            .genai()
            .call(&labels, started.elapsed().as_secs_f64(), None, None);
    }
    result
}

fn labels(candidate: Option<&Candidate>, call: &Call, error: &str) -> CallLabels {
    CallLabels {
        gen_ai_operation_name: call.operation.name(),
        gen_ai_provider_name: candidate.map_or("", |c| semconv_provider(c.provider.kind)),
        strata_provider: candidate
            .map(|c| c.provider.name.clone())
            .unwrap_or_default(),
        gen_ai_request_model: call.model.clone(),
        gen_ai_response_model: candidate.map(|c| c.model.clone()).unwrap_or_default(),
        error_type: error.to_string(),
    }
}

/// `gen_ai.provider.name` of the semantic conventions.
fn semconv_provider(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Azure => "azure.ai.openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Mock => "strata.mock",
    }
}

async fn route(
    gateway: &Gateway,
    call: &Call,
    span: &tracing::Span,
    started: Instant,
) -> Result<Response, AiError> {
    let candidates = gateway.candidates(&call.model);
    if candidates.is_empty() {
        return Err(AiError::ModelNotFound(call.model.clone()));
    }
    let mut last_failure = String::new();
    let mut last_answer: Option<(Response, Format)> = None;
    let mut attempts = 0;
    // Time spent waiting on providers (and between retries): the rest is the gateway's own.
    let mut waited = Duration::ZERO;
    for candidate in &candidates {
        let name = &candidate.provider.name;
        if !gateway.breakers.allow(name) {
            last_failure = format!("{name}: circuit breaker open");
            continue;
        }
        let mut retries = 0;
        loop {
            attempts += 1;
            let attempt_span = tracing::info_span!("gen_ai.attempt", strata.provider = %name, gen_ai.request.model = %candidate.model, attempt = attempts);
            let attempt_started = Instant::now();
            match attempt(candidate, call, &mut waited)
                .instrument(attempt_span)
                .await?
            {
                Outcome::Served(response, format) => {
                    gateway.breakers.success(name);
                    gateway
                        .stats
                        .observe(name, &candidate.model, attempt_started.elapsed());
                    let converting = Instant::now();
                    let response =
                        convert::response(response, format, call, &candidate.model).await;
                    if format != call.format && !call.stream {
                        waited += converting.elapsed(); // mostly reading the provider's answer
                    }
                    span.record(
                        "gen_ai.provider.name",
                        semconv_provider(candidate.provider.kind),
                    );
                    span.record("strata.provider", name.as_str());
                    span.record("gen_ai.response.model", candidate.model.as_str());
                    span.record("strata.attempts", attempts);
                    gateway
                        .metrics
                        .genai()
                        .added_latency(started.elapsed().saturating_sub(waited).as_secs_f64());
                    let sink = call.usage.lock().ok().and_then(|mut s| s.take());
                    let record = CallRecord::new(
                        gateway.metrics.clone(),
                        labels(Some(candidate), call, ""),
                        call.stream,
                        started,
                        span.clone(),
                    )
                    .reporting_to(sink);
                    let (parts, body) = served(response, candidate, attempts).into_parts();
                    return Ok(Response::from_parts(parts, accounting::watch(body, record)));
                }
                Outcome::FallBack(failure) => {
                    gateway.breakers.failure(name);
                    tracing::warn!(provider = %name, model = %candidate.model, reason = %failure.reason, "provider call failed");
                    last_failure = failure.reason;
                    if failure.answer.is_some() {
                        last_answer = failure.answer;
                    }
                    let retry = &gateway.retry;
                    if !failure.retriable || retries >= retry.attempts {
                        break;
                    }
                    retries += 1;
                    let wait = failure
                        .retry_after
                        .unwrap_or_else(|| resilience::backoff(retry, retries));
                    if wait > retry.max_retry_after.0 {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
    }
    span.record("strata.attempts", attempts);
    // Every candidate failed: pass on the last upstream error as the client would have seen
    // it (a 429 keeps its Retry-After), or say that nobody answered.
    match last_answer {
        Some((answer, format)) => {
            let status = answer.status();
            let mut response = convert::response(answer, format, call, &call.model).await;
            response
                .headers_mut()
                .insert("x-strata-attempts", HeaderValue::from(attempts));
            span.record("error.type", status.as_str());
            let labels = labels(None, call, status.as_str());
            gateway
                .metrics
                .genai()
                .call(&labels, started.elapsed().as_secs_f64(), None, None);
            Ok(response)
        }
        None => Err(AiError::Upstream {
            model: call.model.clone(),
            attempts,
            last: last_failure,
        }),
    }
}

/// Why an attempt did not serve the call.
struct Failure {
    reason: String,
    /// The provider's error response, passed on if nobody serves the call.
    answer: Option<(Response, Format)>,
    /// Whether trying the same provider again may help (429, 5xx, 408, network, timeouts).
    retriable: bool,
    /// What the provider asked us to wait before trying again.
    retry_after: Option<Duration>,
}

enum Outcome {
    /// An answer to give the client, in the provider's format.
    Served(Response, Format),
    FallBack(Failure),
}

fn network_failure(reason: String) -> Outcome {
    Outcome::FallBack(Failure {
        reason,
        answer: None,
        retriable: true,
        retry_after: None,
    })
}

async fn attempt(
    candidate: &Candidate,
    call: &Call,
    waited: &mut Duration,
) -> Result<Outcome, AiError> {
    let provider = &candidate.provider;
    let target = match (provider.kind, call.operation) {
        (ProviderKind::Mock, operation) => {
            let body = call.body_for(Format::OpenAi, &candidate.model)?;
            let response = mock_response(operation, &body, &candidate.model, call.stream)?;
            return Ok(Outcome::Served(response, Format::OpenAi));
        }
        (ProviderKind::Openai | ProviderKind::Azure, _) => Format::OpenAi,
        (ProviderKind::Anthropic, Operation::Chat) => Format::Anthropic,
        (ProviderKind::Gemini, Operation::Chat) => Format::Gemini,
        (kind, operation) => {
            return Ok(Outcome::FallBack(Failure {
                reason: format!(
                    "{}: {} is not supported for provider kind {kind:?} yet",
                    provider.name,
                    operation.name()
                ),
                answer: None,
                retriable: false,
                retry_after: None,
            }));
        }
    };
    let body = call.body_for(target, &candidate.model)?;
    let sent = Instant::now();
    let first_token_deadline = tokio::time::Instant::now() + provider.timeouts.first_token;
    let reply = if call.stream {
        match tokio::time::timeout_at(first_token_deadline, upstream::post(candidate, call, body))
            .await
        {
            Ok(reply) => reply,
            Err(_) => Reply::Failed(format!(
                "{}: no answer within the first_token timeout",
                provider.name
            )),
        }
    } else {
        upstream::post(candidate, call, body).await
    };
    *waited += sent.elapsed();
    let answer = match reply {
        Reply::Answer(answer) => answer,
        Reply::Failed(reason) => return Ok(network_failure(reason)),
    };
    let status = answer.status;
    if upstream::should_fall_back(status) {
        let retry_after = resilience::retry_after(&answer.headers);
        let retriable = status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 429);
        return Ok(Outcome::FallBack(Failure {
            reason: format!("{}: HTTP {}", provider.name, status.as_u16()),
            answer: Some((relay(answer, target), target)),
            retriable,
            retry_after,
        }));
    }
    if call.stream && status.is_success() {
        // Until the first chunk is here, a silent or failing stream can still fall back.
        let head = Head(relay_head(&answer));
        let chunks = answer.body;
        let waiting = Instant::now();
        let first = upstream::first_chunk_of(chunks, first_token_deadline).await;
        *waited += waiting.elapsed();
        return match first {
            Ok((first, rest)) => {
                let body = upstream::passthrough(Some(first), rest, target);
                Ok(Outcome::Served(head.with_body(body), target))
            }
            Err(reason) => Ok(network_failure(format!("{}: {reason}", provider.name))),
        };
    }
    Ok(Outcome::Served(relay(answer, target), target))
}

/// The status and headers of an upstream answer, to put a body under later.
struct Head(Response);

impl Head {
    fn with_body(self, body: axum::body::Body) -> Response {
        let (parts, _) = self.0.into_parts();
        Response::from_parts(parts, body)
    }
}

/// Status, content type and `Retry-After` of an upstream answer, with an empty body.
fn relay_head(answer: &Answer) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers.get(&name) {
            headers.insert(name, value.clone());
        }
    }
    response
}

/// An upstream answer as ours: its head, and the body as it arrives (ending with an error
/// event in the provider's format if it breaks off).
fn relay(answer: Answer, format: Format) -> Response {
    let head = Head(relay_head(&answer));
    head.with_body(upstream::passthrough(None, answer.body, format))
}

/// Marks a response with who served it.
fn served(mut response: Response, candidate: &Candidate, attempts: u32) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&candidate.provider.name) {
        headers.insert("x-strata-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(&candidate.model) {
        headers.insert("x-strata-model", v);
    }
    headers.insert("x-strata-attempts", HeaderValue::from(attempts));
    response
}

/// The built-in mock's answer, in OpenAI's format.
fn mock_response(
    operation: Operation,
    body: &Bytes,
    model: &str,
    stream: bool,
) -> Result<Response, AiError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| AiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    if operation == Operation::Embeddings {
        return Ok(axum::Json(mock::embeddings(&request, model)?).into_response());
    }
    if !stream {
        return Ok(axum::Json(mock::chat_completion(&request, model)).into_response());
    }
    let mut chunks: Vec<Bytes> = mock::chat_chunks(&request, model)
        .into_iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .collect();
    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Ok((
        [(header::CONTENT_TYPE, "text/event-stream")],
        upstream::from_chunks(chunks),
    )
        .into_response())
}
