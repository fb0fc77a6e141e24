//! The agent layer over A2A with the official A2A Python SDK (`tests/e2e/a2a_sdk.py`): every
//! workflow is an agent; tasks are runs in sessions; two callers never see each other's tasks.

use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::python::{e2e_dir, python_with_sdks};

use crate::harness::Stack;

const CONFIG: &str = "auth:\n  keys:\n\
    \x20   - { name: alice, key: sk-alice }\n\
    \x20   - { name: bob, key: sk-bob }\n\
    ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n\
    mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
    agent:\n  workflows: [\"*.wf.yaml\"]\n  poll_interval: 100ms\n";

pub const QUICK: &str = r#"
name: quick
description: Answers with the model.
metadata: { team: support, examples: ["What is 2 + 3?"] }
steps:
  think:
    llm: { model: mock-1, messages: [{ role: user, content: "{{ input.message }}" }] }
    output: thought
  done: { needs: [think], succeed: { output: "{{ state.thought }}" } }
"#;

pub const CONCIERGE: &str = r#"
name: concierge
description: Asks which account to use, then looks it up with a tool.
steps:
  ask:
    human: { prompt: "Which account for: {{ input.message }}?" }
    output: account
  look:
    needs: [ask]
    tool: { server: demo, name: echo, arguments: { text: "account {{ state.account }}" } }
    output: found
  answer: { needs: [look], succeed: { output: "{{ state.found }}" } }
"#;

const SLOW: &str = r"
name: slow
steps:
  one: { wait: { duration: 1s } }
  two: { needs: [one], wait: { duration: 1s } }
  done: { needs: [two], succeed: { output: slept } }
";

const SCENARIOS: [&str; 10] = [
    "the_card_describes_the_workflow",
    "a_blocking_send_answers_with_the_finished_task",
    "return_immediately_then_poll_with_get_task",
    "a_streamed_send_yields_the_task_then_its_updates",
    "input_required_then_the_next_message_resumes_the_task",
    "a_stream_resumes_after_a_dropped_connection",
    "another_caller_can_neither_see_nor_cancel_the_task",
    "a_finished_task_cannot_be_canceled",
    "the_http_json_binding_works_the_same",
    "requests_without_a_version_speak_0_3",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_a2a_sdk_drives_workflows_as_agents() {
    let Some(python) = python_with_sdks("the_a2a_sdk_drives_workflows_as_agents") else {
        return;
    };
    let stack = Stack::start_with_files(
        CONFIG,
        &[
            ("quick.wf.yaml", QUICK),
            ("concierge.wf.yaml", CONCIERGE),
            ("slow.wf.yaml", SLOW),
        ],
        &[],
        &[],
    )
    .await;
    let agent = stack.ports.agent_url("");
    let envs = [
        ("STRATA_AGENT_URL", agent.as_str()),
        ("STRATA_KEY_A", "sk-alice"),
        ("STRATA_KEY_B", "sk-bob"),
    ];
    let out = crate::harness::run_script(&python, "a2a_sdk.py", &envs).await;
    crate::harness::assert_scenarios(&SCENARIOS, &out, &stack.process.logs());
}

/// A remote agent built with the A2A SDK (`tests/e2e/a2a_remote_agent.py`), killed on drop.
struct RemoteAgent {
    _child: tokio::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl RemoteAgent {
    async fn start(python: &std::path::Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("remote.log");
        let port = strata_testkit::process::free_port();
        let child = tokio::process::Command::new(python)
            .arg(e2e_dir().join("a2a_remote_agent.py"))
            .arg(port.to_string())
            .arg("helper")
            .env("STRATA_REMOTE_LOG", &log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let card = format!("http://127.0.0.1:{port}/.well-known/agent-card.json");
        crate::harness::eventually(
            Duration::from_secs(60),
            "the remote agent serves its card",
            || async {
                reqwest::get(&card)
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            },
        )
        .await;
        Self {
            _child: child,
            port,
            log,
            _dir: dir,
        }
    }

    /// The requests it received, one JSON object each.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

const TRIAGE: &str = r#"
name: triage
steps:
  think:
    llm: { model: mock-1, messages: [{ role: user, content: "{{ input.message }}" }] }
    output: thought
  look:
    needs: [think]
    tool: { server: demo, name: echo, arguments: { text: "looked up" } }
    output: found
  ask:
    needs: [look]
    agent: { name: helper-stream, message: "second opinion on {{ state.thought }}" }
    output: opinion
  escalate:
    needs: [ask]
    handoff: { agent: helper, message: "please take over: {{ input.message }}" }
"#;

fn remote_config(port: u16) -> String {
    format!(
        "admin:\n  key: sk-admin\n\
         auth:\n  keys:\n\
         \x20   - {{ name: alice, key: sk-alice }}\n\
         \x20   - {{ name: bob, key: sk-bob }}\n\
         ai:\n  providers:\n    - {{ name: mock, models: [mock-1] }}\n\
         mcp:\n  upstreams:\n    - {{ name: demo, builtin: demo }}\n  servers:\n    - {{ name: demo, upstreams: [demo] }}\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n  poll_interval: 100ms\n  agents:\n\
         \x20   - {{ name: helper, card: \"http://127.0.0.1:{port}\", headers: {{ Authorization: \"Bearer remote-secret\" }} }}\n\
         \x20   - {{ name: helper-stream, card: \"http://127.0.0.1:{port}/.well-known/agent-card.json\", streaming: true }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_calls_a_model_a_tool_and_remote_agents_is_one_trace() {
    let Some(python) =
        python_with_sdks("a_run_that_calls_a_model_a_tool_and_remote_agents_is_one_trace")
    else {
        return;
    };
    let remote = RemoteAgent::start(&python).await;
    let (collector, received) = crate::telemetry::collector().await;
    let config = format!(
        "{}telemetry:\n  otlp:\n    endpoint: {collector}\n    service_name: strata-a2a\n",
        remote_config(remote.port)
    );
    let stack = Stack::start_with_files(&config, &[("triage.wf.yaml", TRIAGE)], &[], &[]).await;
    let response = reqwest::Client::new()
        .post(stack.ports.agent_url("/v1/workflows/triage/runs"))
        .bearer_auth("sk-alice")
        .json(&json!({ "input": { "message": "refund" }, "wait": "60s" }))
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    assert_eq!(
        run["status"],
        "succeeded",
        "{run:#}\n{}",
        stack.process.logs()
    );
    // The handoff's outcome is the run's: the remote agent got the message and the state.
    assert_eq!(
        run["output"],
        "remote helper got: please take over: refund (context: found, opinion, thought)"
    );
    let trace: Value = reqwest::Client::new()
        .get(
            stack
                .ports
                .agent_url(&format!("/v1/runs/{}/trace", run["id"].as_str().unwrap())),
        )
        .bearer_auth("sk-alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trace_id = trace["trace_id"].as_str().unwrap().to_string();
    let hops: Vec<(String, String)> = trace["children"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|step| step["children"].as_array().unwrap().iter())
        .flat_map(|attempt| attempt["children"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["layer"].as_str().unwrap().to_string(),
                c["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("ai", "mock-1"),
        ("mcp", "demo/echo"),
        ("a2a", "helper-stream"),
        ("a2a", "helper"),
    ];
    assert_eq!(
        hops,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "{trace:#}"
    );

    // The remote agent saw the run's trace, the configured credentials (never alice's key),
    // one message streamed and one blocking.
    let seen = remote.requests();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    for r in &seen {
        let tp = r["traceparent"].as_str().unwrap();
        assert_eq!(
            strata_core::trace_id_of(tp).as_deref(),
            Some(trace_id.as_str()),
            "{r}"
        );
        assert_eq!(r["a2a_version"], "1.0");
        assert!(!r.to_string().contains("sk-alice"));
    }
    assert_eq!(seen[0]["authorization"], Value::Null);
    assert_eq!(seen[1]["authorization"], "Bearer remote-secret");
    assert_eq!(
        seen[1]["context_keys"],
        json!(["found", "opinion", "thought"])
    );

    // The collector got one connected trace: the run, its steps, attempts and calls, and
    // the ai and mcp layers' own spans under the attempts that called them.
    let spans = crate::harness::eventually(
        Duration::from_secs(30),
        "the run's spans at the collector",
        || {
            let received = received.clone();
            let trace_id = trace_id.clone();
            async move {
                let spans = exported_spans(&received.lock().unwrap(), &trace_id);
                let calls = spans
                    .iter()
                    .filter(|s| s.name.starts_with("invoke_agent"))
                    .count();
                let layers = spans.iter().filter(|s| s.scope != "strata-agent").count();
                (calls == 2 && layers >= 2).then_some(spans)
            }
        },
    )
    .await;
    assert_connected(&spans, "workflow triage");
    let names: Vec<&str> = spans
        .iter()
        .filter(|s| s.scope == "strata-agent")
        .map(|s| s.name.as_str())
        .collect();
    for want in [
        "chat mock-1",
        "execute_tool demo/echo",
        "invoke_agent helper-stream",
        "invoke_agent helper",
        "step escalate",
    ] {
        assert!(names.contains(&want), "no span {want} in {names:?}");
    }
    let chat = spans.iter().find(|s| s.name == "chat mock-1").unwrap();
    assert!(
        chat.attributes
            .iter()
            .any(|(k, v)| k == "gen_ai.usage.input_tokens" && v.contains("IntValue")),
        "{:?}",
        chat.attributes
    );

    // The model call and the tool call were recorded in the same trace.
    let record = vec![(Some("alice".to_string()), Some(trace_id))];
    assert_eq!(
        crate::topologies::eventually_recorded(&stack, crate::topologies::TOOL_CALLS).await,
        record
    );
    assert_eq!(
        crate::topologies::eventually_recorded(&stack, crate::topologies::MODEL_CALLS).await,
        record
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_agents_are_reachable_through_the_gateway_with_its_auth_and_audit() {
    let Some(python) =
        python_with_sdks("remote_agents_are_reachable_through_the_gateway_with_its_auth_and_audit")
    else {
        return;
    };
    let remote = RemoteAgent::start(&python).await;
    let stack = Stack::start_with_files(
        &remote_config(remote.port),
        &[("triage.wf.yaml", TRIAGE)],
        &[],
        &[],
    )
    .await;
    let agent = stack.ports.agent_url("");
    let envs = [
        ("STRATA_AGENT_URL", agent.as_str()),
        ("STRATA_KEY_A", "sk-alice"),
        ("STRATA_KEY_B", "sk-bob"),
    ];
    let out = crate::harness::run_script(&python, "a2a_proxy.py", &envs).await;
    let scenarios = [
        "the_card_points_at_the_gateway",
        "a_message_through_the_proxy_reaches_the_agent",
        "another_caller_cannot_reach_the_task",
        "an_unknown_key_is_refused",
    ];
    crate::harness::assert_scenarios(&scenarios, &out, &stack.process.logs());
    // The agent got the gateway's credentials, never a caller's key.
    let seen = remote.requests();
    assert_eq!(seen.len(), 1, "only alice's message reached it: {seen:#?}");
    assert_eq!(seen[0]["authorization"], "Bearer remote-secret");
    assert!(strata_core::trace_id_of(seen[0]["traceparent"].as_str().unwrap()).is_some());

    // Every proxied request is in the audit log, bob's attempts as denied.
    let audited = crate::harness::eventually(
        Duration::from_secs(10),
        "the proxy's audit records",
        || async {
            let r: Value = reqwest::Client::new()
                .get(stack.ports.admin_url("/admin/api/audit?layer=agent"))
                .bearer_auth("sk-admin")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let records = r["records"].as_array().cloned().unwrap_or_default();
            (records.len() >= 4).then_some(records)
        },
    )
    .await;
    let summary: Vec<(String, String, String)> = audited
        .iter()
        .rev()
        .map(|r| {
            (
                r["principal"].as_str().unwrap_or_default().to_string(),
                r["action"].as_str().unwrap_or_default().to_string(),
                r["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want = [
        ("alice", "a2a.SendMessage", "ok"),
        ("alice", "a2a.GetTask", "ok"),
        ("bob", "a2a.GetTask", "denied"),
        ("bob", "a2a.CancelTask", "denied"),
    ];
    assert_eq!(
        summary,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
        "{audited:#?}"
    );
    for r in &audited {
        assert_eq!(r["target"], "helper");
        assert_eq!(r["trace_id"].as_str().map(str::len), Some(32), "{r}");
    }
}

/// Asserts `spans` form one tree under a root named `root`.
pub fn assert_connected(spans: &[Exported], root: &str) {
    let ids: std::collections::HashSet<&[u8]> =
        spans.iter().map(|s| s.span_id.as_slice()).collect();
    let roots: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(roots, [root], "one root: {spans:#?}");
    for s in spans {
        assert!(
            s.parent.is_empty() || ids.contains(s.parent.as_slice()),
            "{} hangs off a span outside the trace: {spans:#?}",
            s.name
        );
    }
}

/// A span as a collector received it.
#[derive(Debug)]
pub struct Exported {
    pub name: String,
    pub scope: String,
    pub span_id: Vec<u8>,
    pub parent: Vec<u8>,
    pub attributes: Vec<(String, String)>,
}

/// The spans of trace `trace_id` (hex) in the OTLP/HTTP protobuf bodies a collector received.
pub fn exported_spans(bodies: &[axum::body::Bytes], trace_id: &str) -> Vec<Exported> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let mut out = Vec::new();
    for body in bodies {
        let Ok(request) = ExportTraceServiceRequest::decode(body.as_ref()) else {
            continue;
        };
        for rs in request.resource_spans {
            for ss in rs.scope_spans {
                let scope = ss.scope.map(|s| s.name).unwrap_or_default();
                for span in ss.spans {
                    if hex::encode(&span.trace_id) != trace_id {
                        continue;
                    }
                    let attributes = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            (
                                kv.key.clone(),
                                format!("{:?}", kv.value.as_ref().and_then(|v| v.value.as_ref())),
                            )
                        })
                        .collect();
                    out.push(Exported {
                        name: span.name,
                        scope: scope.clone(),
                        span_id: span.span_id,
                        parent: span.parent_span_id,
                        attributes,
                    });
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_keys_each_caller_sees_only_its_own_runs() {
    let stack = Stack::start_with_files(CONFIG, &[("quick.wf.yaml", QUICK)], &[], &[]).await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, key: &'static str| {
        let body = if path.ends_with("/runs") && method == reqwest::Method::POST {
            json!({ "input": { "message": "mine" }, "wait": "30s" })
        } else if path.ends_with("/fork") {
            json!({ "step": "think" })
        } else {
            json!({})
        };
        let request = http
            .request(method, stack.ports.agent_url(&path))
            .bearer_auth(key)
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, run) = call(
        reqwest::Method::POST,
        "/v1/workflows/quick/runs".into(),
        "sk-alice",
    )
    .await;
    assert_eq!(status, 200, "{run:#}");
    let id = run["id"].as_str().unwrap().to_string();
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/runs/{id}")),
        (reqwest::Method::GET, format!("/v1/runs/{id}/trace")),
        (reqwest::Method::GET, format!("/v1/runs/{id}/events")),
        (reqwest::Method::POST, format!("/v1/runs/{id}/cancel")),
        (reqwest::Method::POST, format!("/v1/runs/{id}/fork")),
    ] {
        let (status, body) = call(method, path.clone(), "sk-bob").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("unknown_run")),
            "{path}"
        );
    }
    let (_, theirs) = call(reqwest::Method::GET, "/v1/runs".into(), "sk-bob").await;
    assert!(theirs["runs"].as_array().unwrap().is_empty(), "{theirs:#}");
    let (_, mine) = call(reqwest::Method::GET, "/v1/runs".into(), "sk-alice").await;
    assert_eq!(mine["runs"][0]["id"], id.as_str());
    let (status, _) = call(reqwest::Method::GET, format!("/v1/runs/{id}"), "sk-alice").await;
    assert_eq!(status, 200);
}
