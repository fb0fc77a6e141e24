//! `strata doctor --live`: the running deployment a config describes, checked step by step
//! through its own listeners, with one credential (`--key`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_config::Config;

use super::{Finding, Status};

/// The live checks, for the checklist.
pub(super) static LIVE: &[(&str, &str)] = &[
    (
        "live.health",
        "the admin listener answers `/healthz`, and `/readyz` says ready (storage, Redis and each layer up)",
    ),
    (
        "live.metrics",
        "`/metrics` serves Prometheus text with Strata's metrics",
    ),
    (
        "live.ai",
        "the ai layer lists models for the key and answers a chat completion",
    ),
    (
        "live.mcp",
        "a virtual server opens an MCP session, lists tools, calls one that needs no arguments, and ends the session",
    ),
    (
        "live.agent",
        "the agent layer lists workflows and runs one to its end",
    ),
    (
        "live.records",
        "the round trips above left audit records (mcp) and usage records (ai) in the store",
    ),
];

/// The options of `--live`.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Presented to the ai, mcp and agent layers as `Authorization: Bearer`.
    pub key: Option<String>,
}

/// `http://ADDR` of a listener; an unspecified address is reached on loopback.
fn base(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}", a.port()),
        _ => format!("http://{addr}"),
    }
}

struct Probe<'a> {
    http: reqwest::Client,
    key: Option<&'a str>,
}

impl Probe<'_> {
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn json(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Value, reqwest::header::HeaderMap), String> {
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| e.to_string())?;
        // An SSE answer: its last data line.
        let body = text
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("data:"))
            .find(|d| !d.trim().is_empty())
            .map_or(text.as_str(), str::trim);
        let value = serde_json::from_str(body).unwrap_or(Value::String(text.clone()));
        Ok((status, value, headers))
    }
}

fn finding(check: &'static str, status: Status, message: String, fix: &str) -> Finding {
    Finding {
        check,
        status,
        message,
        fix: fix.to_string(),
    }
}

/// Runs the live checks against the listeners of `config`.
pub(super) async fn run(config: &Config, options: &LiveOptions) -> Vec<Finding> {
    let started_ms = strata_core::now_ms();
    let probe = Probe {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default(),
        key: options.key.as_deref(),
    };
    let mut out = Vec::new();
    let admin = base(&config.listeners.admin);
    let served = health(&probe, &admin, &mut out).await;
    out.push(metrics(&probe, &admin).await);
    let serves = |layer: &str| {
        served
            .as_ref()
            .is_some_and(|s| s.get(layer) == Some(&json!("up")))
    };
    if serves("ai") {
        out.push(ai(&probe, &base(&config.listeners.ai)).await);
    }
    if serves("mcp") {
        out.push(mcp(&probe, &base(&config.listeners.mcp), config).await);
    }
    if serves("agent") {
        out.push(agent(&probe, &base(&config.listeners.agent)).await);
    }
    out.push(records(config, started_ms, serves("ai"), serves("mcp")).await);
    out
}

/// `/healthz` and `/readyz`; returns the layers `/readyz` reports.
async fn health(probe: &Probe<'_>, admin: &str, out: &mut Vec<Finding>) -> Option<Value> {
    let fix = "start `strata serve` with this config, or fix what /readyz reports";
    let healthz = probe.json(probe.http.get(format!("{admin}/healthz"))).await;
    let readyz = probe.json(probe.http.get(format!("{admin}/readyz"))).await;
    match (healthz, readyz) {
        (Ok((200, _, _)), Ok((200, ready, _))) => {
            out.push(finding(
                "live.health",
                Status::Pass,
                format!("alive and ready: {}", ready["checks"]),
                "",
            ));
            Some(ready["checks"].clone())
        }
        (Ok((200, _, _)), Ok((status, ready, _))) => {
            out.push(finding(
                "live.health",
                Status::Fail,
                format!("/readyz answered {status}: {}", ready["checks"]),
                fix,
            ));
            Some(ready["checks"].clone())
        }
        (Err(e), _) | (_, Err(e)) => {
            out.push(finding(
                "live.health",
                Status::Fail,
                format!("the admin listener {admin} does not answer: {e}"),
                fix,
            ));
            None
        }
        (Ok((status, _, _)), _) => {
            out.push(finding(
                "live.health",
                Status::Fail,
                format!("/healthz answered {status}"),
                fix,
            ));
            None
        }
    }
}

async fn metrics(probe: &Probe<'_>, admin: &str) -> Finding {
    match probe.http.get(format!("{admin}/metrics")).send().await {
        Ok(r) if r.status().is_success() => {
            let text = r.text().await.unwrap_or_default();
            if text.contains("strata_") {
                finding(
                    "live.metrics",
                    Status::Pass,
                    "Prometheus metrics are exposed".into(),
                    "",
                )
            } else {
                finding(
                    "live.metrics",
                    Status::Fail,
                    "/metrics has no strata_ metrics".into(),
                    "check that the admin listener is Strata's",
                )
            }
        }
        Ok(r) => finding(
            "live.metrics",
            Status::Fail,
            format!("/metrics answered {}", r.status()),
            "check the admin listener",
        ),
        Err(e) => finding(
            "live.metrics",
            Status::Fail,
            format!("/metrics: {e}"),
            "check the admin listener",
        ),
    }
}

async fn ai(probe: &Probe<'_>, ai: &str) -> Finding {
    let fix = "pass a key the ai layer accepts (--key) and check the providers";
    let models = match probe
        .json(probe.request(reqwest::Method::GET, &format!("{ai}/v1/models")))
        .await
    {
        Ok((200, models, _)) => models,
        Ok((status, body, _)) => {
            return finding(
                "live.ai",
                Status::Fail,
                format!("GET /v1/models answered {status}: {body}"),
                fix,
            );
        }
        Err(e) => {
            return finding(
                "live.ai",
                Status::Fail,
                format!("the ai layer does not answer: {e}"),
                fix,
            );
        }
    };
    let Some(model) = models["data"][0]["id"].as_str() else {
        return finding(
            "live.ai",
            Status::Fail,
            "the key may use no model".into(),
            fix,
        );
    };
    let body = json!({ "model": model, "max_tokens": 16,
        "messages": [{ "role": "user", "content": "strata doctor: reply with one word" }] });
    let chat = probe
        .request(reqwest::Method::POST, &format!("{ai}/v1/chat/completions"))
        .json(&body);
    match probe.json(chat).await {
        Ok((200, answer, headers)) if answer["choices"][0]["message"].is_object() => {
            let provider = headers
                .get("x-strata-provider")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            finding(
                "live.ai",
                Status::Pass,
                format!("`{model}` answered (provider {provider})"),
                "",
            )
        }
        Ok((status, answer, _)) => finding(
            "live.ai",
            Status::Fail,
            format!("a chat completion with `{model}` answered {status}: {answer}"),
            fix,
        ),
        Err(e) => finding(
            "live.ai",
            Status::Fail,
            format!("chat completion: {e}"),
            fix,
        ),
    }
}

async fn mcp(probe: &Probe<'_>, mcp: &str, config: &Config) -> Finding {
    let fix = "pass a key the mcp layer accepts (--key) and check the upstreams";
    let Some(server) = config.mcp.servers.first() else {
        return finding(
            "live.mcp",
            Status::Pass,
            "no virtual server is configured".into(),
            "",
        );
    };
    let url = format!("{mcp}/mcp/{}", server.name);
    let post = |session: Option<&str>, body: Value| {
        let mut request = probe
            .request(reqwest::Method::POST, &url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    };
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "strata-doctor", "version": strata_core::VERSION } } });
    let session = match probe.json(post(None, init)).await {
        Ok((200, _, headers)) => headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        Ok((status, body, _)) => {
            return finding(
                "live.mcp",
                Status::Fail,
                format!("initialize on `{}` answered {status}: {body}", server.name),
                fix,
            );
        }
        Err(e) => {
            return finding(
                "live.mcp",
                Status::Fail,
                format!("the mcp layer does not answer: {e}"),
                fix,
            );
        }
    };
    let Some(session) = session else {
        return finding(
            "live.mcp",
            Status::Fail,
            "initialize gave no session id".into(),
            fix,
        );
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let _ = post(Some(&session), initialized).send().await;
    let list = probe
        .json(post(
            Some(&session),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
        ))
        .await;
    let result = match list {
        Ok((200, list, _)) if list["result"]["tools"].is_array() => {
            let tools = list["result"]["tools"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let callable = tools.iter().find(|t| {
                t["inputSchema"]["required"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            });
            match callable.and_then(|t| t["name"].as_str()) {
                Some(name) => {
                    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": { "name": name, "arguments": {} } });
                    match probe.json(post(Some(&session), call)).await {
                        Ok((200, answer, _)) if answer["result"].is_object() => finding(
                            "live.mcp",
                            Status::Pass,
                            format!(
                                "`{}`: {} tools listed, `{name}` called",
                                server.name,
                                tools.len()
                            ),
                            "",
                        ),
                        Ok((status, answer, _)) => finding(
                            "live.mcp",
                            Status::Fail,
                            format!("tools/call `{name}` answered {status}: {answer}"),
                            fix,
                        ),
                        Err(e) => {
                            finding("live.mcp", Status::Fail, format!("tools/call: {e}"), fix)
                        }
                    }
                }
                None => finding(
                    "live.mcp",
                    Status::Warn,
                    format!(
                        "`{}`: {} tools listed, none callable without arguments",
                        server.name,
                        tools.len()
                    ),
                    "nothing to do: the session round trip worked",
                ),
            }
        }
        Ok((status, list, _)) => finding(
            "live.mcp",
            Status::Fail,
            format!("tools/list answered {status}: {list}"),
            fix,
        ),
        Err(e) => finding("live.mcp", Status::Fail, format!("tools/list: {e}"), fix),
    };
    let _ = probe
        .request(reqwest::Method::DELETE, &url)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await;
    result
}

/// Input for a workflow: a sample value for each required property of its input schema.
fn sample_input(schema: &Value) -> Value {
    let mut input = serde_json::Map::new();
    for name in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let value = match schema["properties"][name]["type"].as_str() {
            Some("number" | "integer") => json!(1),
            Some("boolean") => json!(true),
            Some("object") => json!({}),
            Some("array") => json!([]),
            _ => json!("strata doctor"),
        };
        input.insert(name.to_string(), value);
    }
    Value::Object(input)
}

async fn agent(probe: &Probe<'_>, agent: &str) -> Finding {
    let fix = "pass a key the agent layer accepts (--key) and check the workflows";
    let list = match probe
        .json(probe.request(reqwest::Method::GET, &format!("{agent}/v1/workflows")))
        .await
    {
        Ok((200, list, _)) => list,
        Ok((status, body, _)) => {
            return finding(
                "live.agent",
                Status::Fail,
                format!("GET /v1/workflows answered {status}: {body}"),
                fix,
            );
        }
        Err(e) => {
            return finding(
                "live.agent",
                Status::Fail,
                format!("the agent layer does not answer: {e}"),
                fix,
            );
        }
    };
    let Some(workflow) = list["workflows"]
        .as_array()
        .and_then(|w| w.first())
        .cloned()
    else {
        return finding(
            "live.agent",
            Status::Pass,
            "no workflow is configured".into(),
            "",
        );
    };
    let name = workflow["name"].as_str().unwrap_or_default().to_string();
    let body = json!({ "input": sample_input(&workflow["input"]), "wait": true });
    let started = Instant::now();
    let run = probe
        .request(
            reqwest::Method::POST,
            &format!("{agent}/v1/workflows/{name}/runs"),
        )
        .json(&body);
    match probe.json(run).await {
        Ok((status, run, _)) if status < 300 && run["status"] == "succeeded" => finding(
            "live.agent",
            Status::Pass,
            format!(
                "workflow `{name}` ran to its end in {} ms",
                started.elapsed().as_millis()
            ),
            "",
        ),
        Ok((status, run, _)) => finding(
            "live.agent",
            Status::Fail,
            format!(
                "workflow `{name}` answered {status}, status {}: {}",
                run["status"], run["error"]
            ),
            fix,
        ),
        Err(e) => finding(
            "live.agent",
            Status::Fail,
            format!("starting `{name}`: {e}"),
            fix,
        ),
    }
}

/// Records the round trips left, read from the store (they are written in batches).
async fn records(config: &Config, since_ms: i64, ai: bool, mcp: bool) -> Finding {
    let fix = "check the storage section and the process's logs for write errors";
    let store = match strata_store::Store::connect(&config.storage).await {
        Ok(store) => store,
        Err(e) => return finding("live.records", Status::Fail, format!("the store: {e}"), fix),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let outcome = loop {
        let audit = store
            .audit_records(&strata_store::AuditQuery {
                layer: Some("mcp".into()),
                since_ms: Some(since_ms),
                limit: 1,
                ..Default::default()
            })
            .await
            .map(|r| r.len());
        let usage = store
            .spend(&strata_store::SpendQuery {
                group: strata_store::SpendGroup::Key,
                since_ms,
                until_ms: strata_core::now_ms() + 1,
                key: None,
                team: None,
            })
            .await
            .map(|rows| rows.iter().map(|r| r.requests).sum::<i64>());
        match (audit, usage) {
            (Ok(a), Ok(u)) if (!mcp || a > 0) && (!ai || u > 0) => {
                break finding(
                    "live.records",
                    Status::Pass,
                    format!(
                        "audit and usage records written ({u} calls in the ledger since the check began)"
                    ),
                    "",
                );
            }
            (Err(e), _) | (_, Err(e)) => {
                break finding(
                    "live.records",
                    Status::Fail,
                    format!("reading the store: {e}"),
                    fix,
                );
            }
            _ if Instant::now() > deadline => {
                break finding(
                    "live.records",
                    Status::Fail,
                    "no audit or usage record of the round trips after 5 s".into(),
                    fix,
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    store.close().await;
    outcome
}
