//! Remote A2A agents (`agent.agents`): `agent` and `handoff` steps that name one send it a
//! message over JSON-RPC (protocol 1.0, or 0.3 when its card offers only that), blocking or
//! streamed, with the agent's configured credentials and the run's `traceparent`; the task's
//! outcome is the step's output.

mod card;
mod reply;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use sse_stream::SseStream;
use strata_config::RemoteAgent;

use super::{CallContext, CallError, Called};
pub use card::Endpoint;
use reply::Reply;

/// The configured remote agents, and where each one's card says to reach it.
#[derive(Debug)]
pub struct RemoteAgents {
    http: reqwest::Client,
    agents: HashMap<String, RemoteAgent>,
    cards: card::Cache,
}

impl RemoteAgents {
    #[must_use]
    pub fn new(http: reqwest::Client, agents: &[RemoteAgent]) -> Self {
        Self {
            http,
            agents: agents.iter().map(|a| (a.name.clone(), a.clone())).collect(),
            cards: card::Cache::default(),
        }
    }

    /// The remote agent `name`, if the config lists one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&RemoteAgent> {
        self.agents.get(name)
    }

    /// The agent's card (read once, then kept for a while) and its JSON-RPC endpoint.
    pub async fn endpoint(&self, agent: &RemoteAgent) -> Result<Endpoint, CallError> {
        self.cards.endpoint(&self.http, agent).await
    }

    /// The HTTP client and headers for requests to `agent`.
    pub fn request(&self, agent: &RemoteAgent, url: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.post(url).timeout(agent.timeout.0);
        for (k, v) in &agent.headers {
            r = r.header(k, v.expose());
        }
        r
    }

    /// Sends `input` (`{ "message": …, "context"?: … }`) to agent `name` and waits for the
    /// task's outcome.
    pub async fn send(&self, name: &str, input: &Value, ctx: &CallContext) -> Called {
        let started = Instant::now();
        let mut record = json!({ "layer": "a2a", "agent": name, "traceparent": ctx.traceparent() });
        let Some(agent) = self.agents.get(name) else {
            let e = CallError::new("not_found", format!("no remote agent `{name}`"));
            return Called::finish(Err(e), record, started);
        };
        let result = match tokio::time::timeout(
            agent.timeout.0,
            self.exchange(agent, input, ctx, &mut record),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(CallError::new(
                "timeout",
                format!("agent `{name}` did not finish within {:?}", agent.timeout.0),
            )),
        };
        Called::finish(result, record, started)
    }

    async fn exchange(
        &self,
        agent: &RemoteAgent,
        input: &Value,
        ctx: &CallContext,
        record: &mut Value,
    ) -> Result<Value, CallError> {
        let endpoint = self.endpoint(agent).await?;
        record["url"] = json!(endpoint.url);
        let v10 = endpoint.v10;
        let method = match (agent.streaming, v10) {
            (false, true) => "SendMessage",
            (true, true) => "SendStreamingMessage",
            (false, false) => "message/send",
            (true, false) => "message/stream",
        };
        let body = json!({
            "jsonrpc": "2.0",
            "id": ctx.idempotency_key,
            "method": method,
            "params": {
                "message": message(input, ctx, v10),
                "configuration": if v10 { json!({ "returnImmediately": false }) } else { json!({ "blocking": true }) },
            },
        });
        record["request"] = json!({ "method": method, "message": input.get("message") });
        let response = self
            .request(agent, &endpoint.url)
            .header("a2a-version", if v10 { "1.0" } else { "0.3" })
            .header("traceparent", ctx.traceparent())
            .json(&body)
            .send()
            .await
            .map_err(|e| CallError::new("unavailable", format!("{}: {e}", endpoint.url)))?;
        let status = response.status().as_u16();
        record["status"] = json!(status);
        if status >= 400 {
            let text = response.text().await.unwrap_or_default();
            return Err(CallError::new(
                CallError::class_of(status),
                format!(
                    "agent answered HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                ),
            ));
        }
        let mut reply = Reply::default();
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            let mut events = SseStream::from_bytes_stream(response.bytes_stream());
            while let Some(event) = events.next().await {
                let event = event
                    .map_err(|e| CallError::new("unavailable", format!("event stream: {e}")))?;
                if let Some(data) = event.data.filter(|d| !d.trim().is_empty()) {
                    reply.absorb_rpc(&parse(&data)?)?;
                }
            }
        } else {
            let text = response
                .text()
                .await
                .map_err(|e| CallError::new("unavailable", format!("reading the answer: {e}")))?;
            reply.absorb_rpc(&parse(&text)?)?;
        }
        // A blocking send that came back unfinished (the agent's own wait ran out): poll.
        while reply.pending() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let id = reply.task_id.clone().unwrap_or_default();
            let get = json!({ "jsonrpc": "2.0", "id": ctx.idempotency_key,
                "method": if v10 { "GetTask" } else { "tasks/get" }, "params": { "id": id } });
            let text = self
                .request(agent, &endpoint.url)
                .header("a2a-version", if v10 { "1.0" } else { "0.3" })
                .header("traceparent", ctx.traceparent())
                .json(&get)
                .send()
                .await
                .map_err(|e| CallError::new("unavailable", format!("{}: {e}", endpoint.url)))?
                .text()
                .await
                .map_err(|e| CallError::new("unavailable", e.to_string()))?;
            reply.absorb_rpc(&parse(&text)?)?;
        }
        record["task_id"] = json!(reply.task_id);
        record["context_id"] = json!(reply.context_id);
        record["state"] = json!(reply.state);
        reply.outcome()
    }
}

fn parse(text: &str) -> Result<Value, CallError> {
    serde_json::from_str(text).map_err(|e| {
        CallError::new(
            "unavailable",
            format!("the agent's answer is not JSON: {e}"),
        )
    })
}

/// The outgoing message: the text, and for a handoff the run's state as a data part. The
/// message id is the attempt's idempotency key, so a repeated attempt is recognisable; the
/// context is the run's session (so the agent keeps one conversation per session), else the run.
fn message(input: &Value, ctx: &CallContext, v10: bool) -> Value {
    let text = input
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut parts = vec![if v10 {
        json!({ "text": text })
    } else {
        json!({ "kind": "text", "text": text })
    }];
    if let Some(context) = input.get("context").filter(|c| !c.is_null()) {
        let data = json!({ "context": context });
        parts.push(if v10 {
            json!({ "data": data })
        } else {
            json!({ "kind": "data", "data": data })
        });
    }
    let mut m = json!({
        "messageId": ctx.idempotency_key,
        "role": if v10 { "ROLE_USER" } else { "user" },
        "parts": parts,
        "contextId": ctx.session.as_deref().unwrap_or(&ctx.run_id),
        "metadata": { "io.strata/run-id": ctx.run_id, "traceparent": ctx.traceparent() },
    });
    if !v10 {
        m["kind"] = json!("message");
    }
    m
}
