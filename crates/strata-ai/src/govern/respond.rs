//! The answer's side of governance: response guardrails, the cost header, the usage record,
//! and settling the ticket. A whole answer is read before it is passed on (its usage and
//! cost go in headers; guardrails see all of it); a stream passes on as it arrives, its text
//! guarded chunk by chunk, and is accounted when it ends.

use axum::body::Body;
use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::{Value, json};
use strata_config::GuardSide;
use strata_policy::guard::Verdict;
use strata_store::UsageRecord;
use tokio::sync::oneshot;

use super::cache::Cached;
use super::{Governance, Ticket, side_name};
use crate::AiError;
use crate::accounting::Served;
use crate::pricing::{Prices, Tokens, usd_text};

/// Largest whole answer read (beyond it the call fails as an upstream error).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// The answer to a call from the response cache: nothing was called, nothing costs.
pub async fn cached(gov: &Governance, mut ticket: Ticket, hit: Cached) -> Response {
    ticket.cache = Some("hit");
    let (body, content_type) = if hit.stream {
        // The stored stream has the usage chunk; a client that did not ask for it gets none.
        let (_, never) = oneshot::channel();
        let replay = super::cache::replay(&hit.body);
        let strip = !ticket.client_usage;
        let (body, _) =
            super::cost_stream::stamp(replay, ticket.format, never, gov.prices.clone(), strip);
        (body, "text/event-stream")
    } else {
        (Body::from(hit.body), "application/json")
    };
    finish(gov, ticket, 200, None).await;
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert("x-strata-cache", HeaderValue::from_static("hit"));
    cost_header(&mut response, 0);
    response
}

/// The response to a governed call; a successful answer is kept in the cache under
/// `cache_key`.
pub async fn answer(
    gov: &Governance,
    mut ticket: Ticket,
    result: Result<Response, AiError>,
    usage: oneshot::Receiver<Served>,
    cache_key: Option<String>,
) -> Response {
    let format = ticket.format;
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            finish(gov, ticket, e.status().as_u16(), None).await;
            return format.error_response(&e);
        }
    };
    let status = response.status();
    if ticket.stream && status.is_success() {
        let (parts, body) = response.into_parts();
        let (body, verdicts) = if ticket.response_guards.applies_to(GuardSide::Response) {
            let (body, verdicts) =
                super::stream::guard(body, ticket.response_guards.clone(), format);
            (body, Some(verdicts))
        } else {
            (body, None)
        };
        // Webhooks judge the whole text; the stream's end waits for them.
        let hooks = ticket.response_guards.webhooks();
        let (body, hook_verdicts) = if hooks.applies_to(GuardSide::Response) {
            let (body, verdicts) = super::hook_stream::hold_end(body, hooks, format);
            (body, Some(verdicts))
        } else {
            (body, None)
        };
        let body = match (&gov.cache, cache_key) {
            (Some(cache), Some(key)) => cache.tee(body, key),
            _ => body,
        };
        // The cost goes into the stream's usage event (headers have left by then).
        let strip = !ticket.client_usage;
        let (body, usage) =
            super::cost_stream::stamp(body, format, usage, gov.prices.clone(), strip);
        let mut parts = parts;
        mark_cache(&mut parts.headers, ticket.cache);
        let (shared, prices, metrics) =
            (gov.shared.clone(), gov.prices.clone(), gov.metrics.clone());
        tokio::spawn(async move {
            let served = usage.await.ok();
            for verdicts in [verdicts, hook_verdicts].into_iter().flatten() {
                let verdicts = verdicts.await.unwrap_or_default();
                super::count(&metrics, &verdicts);
                ticket.verdicts.extend(verdicts);
            }
            settle(&shared, &prices, &metrics, ticket, status.as_u16(), served).await;
        });
        return Response::from_parts(parts, body);
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = AiError::Upstream {
                model: ticket.model.clone(),
                attempts: 1,
                last: format!("the answer could not be read: {e}"),
            };
            finish(gov, ticket, e.status().as_u16(), None).await;
            return format.error_response(&e);
        }
    };
    let served = usage.await.ok();
    let mut bytes = bytes;
    if status.is_success()
        && ticket.response_guards.applies_to(GuardSide::Response)
        && let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes)
    {
        {
            match ticket
                .response_guards
                .check_json(GuardSide::Response, &mut answer)
                .await
            {
                Ok(verdicts) => {
                    gov.count_verdicts(&verdicts);
                    if verdicts.iter().any(rewrote) {
                        bytes = axum::body::Bytes::from(answer.to_string());
                        parts.headers.remove(http::header::CONTENT_LENGTH);
                    }
                    ticket.verdicts.extend(verdicts);
                }
                Err(blocked) => {
                    gov.count_verdicts(&blocked.verdicts);
                    gov.metrics.governance().refusal("guardrail");
                    ticket.verdicts.extend(blocked.verdicts.iter().cloned());
                    let e = AiError::Guardrail {
                        guardrail: blocked.guardrail,
                        side: side_name(blocked.side),
                        reason: blocked.reason,
                    };
                    let cost = finish(gov, ticket, e.status().as_u16(), served).await;
                    let mut response = format.error_response(&e);
                    cost_header(&mut response, cost);
                    return response;
                }
            }
        }
    }
    if status.is_success()
        && let (Some(cache), Some(key)) = (&gov.cache, cache_key)
    {
        let answer = Cached {
            stream: false,
            body: bytes.clone(),
        };
        cache.put(key, answer).await;
    }
    mark_cache(&mut parts.headers, ticket.cache);
    let cost = finish(gov, ticket, status.as_u16(), served).await;
    let mut response = Response::from_parts(parts, Body::from(bytes));
    cost_header(&mut response, cost);
    response
}

/// `x-strata-cache`: whether the cache was consulted, and how it went.
fn mark_cache(headers: &mut http::HeaderMap, cache: Option<&'static str>) {
    if let Some(result) = cache {
        headers.insert("x-strata-cache", HeaderValue::from_static(result));
    }
}

/// `x-strata-cost-usd`: what the call cost, in dollars.
fn cost_header(response: &mut Response, cost_micros: i64) {
    if let Ok(value) = HeaderValue::from_str(&usd_text(cost_micros)) {
        response.headers_mut().insert("x-strata-cost-usd", value);
    }
}

/// Whether a verdict changed the text.
pub(crate) fn rewrote(v: &Verdict) -> bool {
    matches!(
        v.action,
        strata_config::GuardAction::Redact | strata_config::GuardAction::Mask
    )
}

/// Accounts a call that has ended: its cost, its usage record, the ticket settled. Returns
/// the cost in micro-dollars.
pub(super) async fn finish(
    gov: &Governance,
    ticket: Ticket,
    status: u16,
    served: Option<Served>,
) -> i64 {
    settle(
        &gov.shared,
        &gov.prices,
        &gov.metrics,
        ticket,
        status,
        served,
    )
    .await
}

async fn settle(
    shared: &super::Shared,
    prices: &Prices,
    metrics: &strata_telemetry::Metrics,
    ticket: Ticket,
    status: u16,
    served: Option<Served>,
) -> i64 {
    let tokens = served.as_ref().and_then(|s| s.tokens);
    let cost = served.as_ref().zip(tokens).map_or(0, |(s, t)| {
        Prices::cost_micros(prices.price(&s.provider, &s.model), t)
    });
    if let Some(s) = &served {
        metrics.governance().cost(&s.provider, &s.model, cost);
    }
    // A served call without reported usage is charged its estimate against token limits.
    let used = match (&served, tokens) {
        (_, Some(t)) => t.input + t.output,
        (Some(_), None) => ticket.estimated_tokens(),
        (None, None) => 0,
    };
    let record = usage_record(&ticket, status, served.as_ref(), tokens, cost);
    if let Some(writer) = &shared.usage
        && let Err(e) = writer.write(record).await
    {
        tracing::error!(error = %e, "usage record not accepted");
    }
    ticket.settle(&shared.limiter, used, cost).await;
    cost
}

fn usage_record(
    ticket: &Ticket,
    status: u16,
    served: Option<&Served>,
    tokens: Option<Tokens>,
    cost_micros: i64,
) -> UsageRecord {
    let tokens = tokens.unwrap_or_default();
    let who = ticket.who.as_deref();
    UsageRecord {
        id: strata_core::new_id(),
        ts_ms: strata_core::now_ms(),
        key_name: who.map(|k| k.name.clone()),
        team: who.and_then(|k| k.team.clone()),
        operation: ticket.operation.name().to_string(),
        model: ticket.model.clone(),
        provider: served.map(|s| s.provider.clone()),
        served_model: served.map(|s| s.model.clone()),
        status,
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        cached_tokens: tokens.cached,
        cost_micros,
        latency_ms: u64::try_from(ticket.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        cache: ticket.cache.map(str::to_string),
        guardrails: Value::Array(
            ticket
                .verdicts
                .iter()
                .map(|v| {
                    json!({ "guardrail": v.guardrail, "side": side_name(v.side),
                            "action": super::action_name(v.action), "matches": v.matches,
                            "entities": v.entities, "reason": v.reason })
                })
                .collect(),
        ),
        metadata: who.map_or_else(|| json!({}), |k| json!(k.metadata)),
        trace_id: ticket.trace_id.clone(),
    }
}
