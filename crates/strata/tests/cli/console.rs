//! The console in a real browser (`tests/e2e/console.mjs`: Debian's Chromium driven by
//! playwright-core from npm) against a stack that has served model calls, tool calls and
//! workflows: log in, every page, its data against the API, the run actions, screenshots.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::python::e2e_dir;

use crate::harness::{Stack, post_mcp};

const CONFIG: &str = "admin:\n  key: sk-admin-console\n\
    auth:\n  keys:\n\
    \x20   - { name: alice, key: sk-alice, budget: { usd: 10, period: monthly } }\n\
    ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n\
    mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
    agent:\n  workflows: [\"*.wf.yaml\"]\n  poll_interval: 100ms\n";

const APPROVAL: &str = r#"
name: approval
steps:
  ask: { human: { prompt: "Approve?" }, output: decision }
  decide:
    needs: [ask]
    choice: [{ when: "state.decision.approved", next: "yes" }, { default: "no" }]
  "yes": { succeed: { output: approved } }
  "no": { succeed: { output: rejected } }
"#;

/// Debian's Chromium, or `STRATA_CHROMIUM`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("STRATA_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    path.is_file().then_some(path)
}

async fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", "Bearer sk-alice".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Model calls, tool calls, a finished demo run and two runs waiting for a person.
async fn traffic(stack: &Stack) -> (String, String, String) {
    let http = client().await;
    for question in ["one", "two", "three"] {
        let r = http
            .post(stack.ports.ai_url("/v1/chat/completions"))
            .json(&json!({ "model": "mock-1", "messages": [{ "role": "user", "content": question }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "console-test", "version": "1" } } });
    let (_, session, _) = post_mcp(&http, stack.ports.mcp, None, &init).await;
    let session = session.expect("a session");
    post_mcp(
        &http,
        stack.ports.mcp,
        Some(&session),
        &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    )
    .await;
    for (id, a) in [(2, 1), (3, 2)] {
        let call = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": "add", "arguments": { "a": a, "b": 3 } } });
        let (status, _, answer) = post_mcp(&http, stack.ports.mcp, Some(&session), &call).await;
        assert_eq!(status, 200, "{answer}");
    }
    let start = |workflow: &'static str, wait: bool| {
        let http = http.clone();
        let url = stack
            .ports
            .agent_url(&format!("/v1/workflows/{workflow}/runs"));
        async move {
            let body = if wait {
                json!({ "input": {}, "wait": "30s" })
            } else {
                json!({ "input": {} })
            };
            let run: Value = http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            run["id"].as_str().unwrap().to_string()
        }
    };
    // More runs than a page holds (50), before the ones the pages are checked on.
    for _ in 0..55 {
        start("noop", false).await;
    }
    let done = start("demo", true).await;
    let (a, b) = (
        start("approval", false).await,
        start("approval", false).await,
    );
    for id in [&a, &b] {
        crate::harness::eventually(
            Duration::from_secs(20),
            "the approval run waits",
            || async {
                let run: Value = http
                    .get(stack.ports.agent_url(&format!("/v1/runs/{id}")))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (run["status"] == "waiting").then_some(())
            },
        )
        .await;
    }
    (done, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_stack_at_work_in_a_browser() {
    const TEST: &str = "the_console_shows_the_stack_at_work_in_a_browser";
    let Some(browser) = chromium() else {
        strata_testkit::services::skip(
            TEST,
            "no Chromium (apt-get install chromium, or set STRATA_CHROMIUM)",
        );
        return;
    };
    let Some(playwright) = strata_testkit::npm::install("playwright-core", "1.65.1") else {
        strata_testkit::services::skip(TEST, "playwright-core could not be installed from npm");
        return;
    };
    let demo = include_str!("../../../strata-app/src/demo.wf.yaml");
    let stack = Stack::start_with_files(
        CONFIG,
        &[
            ("demo.wf.yaml", demo),
            ("approval.wf.yaml", APPROVAL),
            (
                "noop.wf.yaml",
                "name: noop\nsteps:\n  done: { succeed: { output: ok } }\n",
            ),
        ],
        &[],
        &[],
    )
    .await;
    let (done, a, b) = traffic(&stack).await;
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new("node")
            .arg(e2e_dir().join("console.mjs"))
            .env("PLAYWRIGHT_CORE", &playwright)
            .env("CHROMIUM", &browser)
            .env("STRATA_ADMIN_URL", stack.ports.admin_url(""))
            .env("STRATA_ADMIN_KEY", "sk-admin-console")
            .env("STRATA_RUN", &done)
            .env("STRATA_WAITING_A", &a)
            .env("STRATA_WAITING_B", &b)
            .env("SCREENSHOTS", &screenshots)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("console.mjs finishes")
    .unwrap();
    let scenarios = [
        "login_needs_the_admin_key",
        "overview_shows_each_layer_and_the_runs",
        "models_show_traffic_tokens_cost_and_budgets",
        "tools_show_servers_calls_and_the_audit_log",
        "a_run_shows_its_graph_and_trace",
        "waiting_runs_can_be_signalled_and_cancelled",
        "config_hides_secrets_and_shows_the_doctor",
        "the_pages_raised_no_errors",
    ];
    crate::harness::assert_scenarios(&scenarios, &out, &stack.process.logs());
    for page in [
        "login",
        "overview",
        "models",
        "tools",
        "workflows",
        "run",
        "config",
    ] {
        assert!(
            screenshots.join(format!("{page}.png")).is_file(),
            "no screenshot of {page}"
        );
    }
    eprintln!("console screenshots: {}", screenshots.display());
}
