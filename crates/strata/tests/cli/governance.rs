//! ai-layer governance end to end: keys (config and stored), model access, rate limits,
//! budgets, cost and the usage ledger, guardrails seen from the upstream.

use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::MockLlm;

use crate::harness::{Stack, bin, eventually};

async fn chat(stack: &Stack, key: Option<&str>, model: &str, text: &str) -> reqwest::Response {
    let body = json!({ "model": model, "messages": [{ "role": "user", "content": text }] });
    send(stack, key, body).await
}

/// A call whose estimate is small (`max_tokens` 16): what budgets reserve is the estimate.
async fn small_call(stack: &Stack, key: &str, text: &str) -> reqwest::Response {
    let body = json!({ "model": "mock-1", "max_tokens": 16,
        "messages": [{ "role": "user", "content": text }] });
    send(stack, Some(key), body).await
}

async fn send(stack: &Stack, key: Option<&str>, body: Value) -> reqwest::Response {
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", stack.ports.ai);
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

fn strata(stack: &Stack, args: &[&str]) -> (bool, String, String) {
    let config = stack.config.display().to_string();
    let mut all = args.to_vec();
    all.extend(["--config", &config]);
    let out = std::process::Command::new(bin())
        .args(&all)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const KEYS: &str = "
auth:
  keys:
    - { name: open, key: sk-open }
    - { name: narrow, key: sk-narrow, models: ['mock-f*'], metadata: { env: test } }
    - { name: slow, key: sk-slow, limits: { rpm: 3 } }
    - { name: ops-1, key: sk-ops-1, team: ops }
    - { name: duo-1, key: sk-duo-1, team: duo }
    - { name: duo-2, key: sk-duo-2, team: duo }
    - { name: tok, key: sk-tok, limits: { tpm: 100 } }
  teams:
    - { name: ops, budget: { usd: 0.001, period: daily } }
    - { name: duo, limits: { rpm: 2 } }
ai:
  providers:
    - { name: mock, models: [mock-1, mock-fast], pricing: { mock-1: { input: 10, output: 20 } } }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_models_limits_budgets_and_the_ledger() {
    let stack = Stack::start(KEYS, &["--layers", "ai"], &[]).await;
    // Unknown key: 401 in OpenAI's shape.
    let r = chat(&stack, Some("sk-nope"), "mock-1", "hi").await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(chat(&stack, None, "mock-1", "hi").await.status(), 401);
    // A model the key may not use: 403.
    let r = chat(&stack, Some("sk-narrow"), "mock-1", "hi").await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_allowed", "{body}");
    let r = chat(&stack, Some("sk-narrow"), "mock-fast", "hi").await;
    assert_eq!(r.status(), 200);
    // The cost comes back in a header: mock-1 is priced at 10 and 20 micro-dollars a token.
    let r = chat(&stack, Some("sk-open"), "mock-1", "hello there").await;
    assert_eq!(r.status(), 200);
    let cost: f64 = r.headers()["x-strata-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let (input, output) = (
        body["usage"]["prompt_tokens"].as_f64().unwrap(),
        body["usage"]["completion_tokens"].as_f64().unwrap(),
    );
    assert!(
        (cost - (input * 10.0 + output * 20.0) / 1e6).abs() < 1e-9,
        "{cost} {body}"
    );
    // Requests per minute: the fourth of a burst is refused with Retry-After.
    for _ in 0..3 {
        assert_eq!(
            chat(&stack, Some("sk-slow"), "mock-1", "x").await.status(),
            200
        );
    }
    let r = chat(&stack, Some("sk-slow"), "mock-1", "x").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // A team's limit holds for its keys together.
    assert_eq!(
        chat(&stack, Some("sk-duo-1"), "mock-1", "x").await.status(),
        200
    );
    assert_eq!(
        chat(&stack, Some("sk-duo-2"), "mock-1", "x").await.status(),
        200
    );
    let r = chat(&stack, Some("sk-duo-1"), "mock-1", "x").await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team duo"),
        "{body}"
    );
    // Tokens per minute: the first call holds the minute's 100 tokens (its estimate, 200
    // output tokens, is more) and gives back what it did not use; the next one does not fit.
    let big = json!({ "model": "mock-1", "max_tokens": 200,
        "messages": [{ "role": "user", "content": "x" }] });
    assert_eq!(
        send(&stack, Some("sk-tok"), big.clone()).await.status(),
        200
    );
    let r = send(&stack, Some("sk-tok"), big).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("token"),
        "{body}"
    );
    // A call whose estimate (256 output tokens when it sets no max_tokens) is more than the
    // team's whole budget ($0.001 a day) is refused before it is sent.
    let r = chat(&stack, Some("sk-ops-1"), "mock-1", "spend some money").await;
    assert_eq!(r.status(), 429);
    // Smaller calls pass until the budget is spent; then 429 budget_exceeded.
    let mut refused = None;
    for _ in 0..100 {
        let r = small_call(&stack, "sk-ops-1", "spend some money please").await;
        if r.status() != 200 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("the budget never ran out");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team ops"),
        "{body}"
    );
    // The ledger: spend by key, through the admin API and the CLI.
    let report = eventually(Duration::from_secs(10), "usage in the ledger", || async {
        let (status, report) = stack.get_json("/admin/api/spend?by=key&since=1h").await;
        assert_eq!(status, 200, "{report}");
        let rows = report["rows"].as_array().cloned().unwrap_or_default();
        rows.iter().any(|r| r["group"] == "ops-1").then_some(report)
    })
    .await;
    let ops = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "ops-1")
        .unwrap()
        .clone();
    let spent = ops["cost_usd"].as_f64().unwrap();
    // Calls are admitted while spent + estimate fits: the budget is used to within one
    // estimate (16 output tokens × 20 µ$ plus the input), and never exceeded (each call
    // costs less than its estimate).
    assert!(spent > 0.0005 && spent <= 0.001, "{ops}");
    let (ok, out, err) = strata(&stack, &["spend", "--by", "team", "--since", "1h"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["group"] == "ops"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_keys_are_created_shown_once_and_revoked() {
    let stack = Stack::start(
        "ai:\n  providers:\n    - { name: mock, models: [mock-1, mock-fast] }\n",
        &["--layers", "ai"],
        &[],
    )
    .await;
    let admin = reqwest::Client::new();
    let created: Value = admin
        .post(stack.ports.admin_url("/admin/api/keys"))
        .json(&json!({ "name": "svc", "models": ["mock-1"], "limits": { "rpm": 100 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-strata-"), "{created}");
    // With a key stored, the layer is no longer open.
    assert_eq!(chat(&stack, None, "mock-1", "hi").await.status(), 401);
    assert_eq!(chat(&stack, Some(&key), "mock-1", "hi").await.status(), 200);
    assert_eq!(
        chat(&stack, Some(&key), "mock-fast", "hi").await.status(),
        403
    );
    // Listed without the key; a second key by the CLI.
    let (status, list) = stack.get_json("/admin/api/keys").await;
    assert_eq!(status, 200);
    assert!(
        !list.to_string().contains(&key),
        "the key is shown once only"
    );
    let (ok, out, err) = strata(&stack, &["keys", "create", "--name", "cli", "--rpm", "5"]);
    assert!(ok, "{err}");
    let cli_key = serde_json::from_str::<Value>(&out).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(
        Duration::from_secs(10),
        "the CLI's key in the gateway",
        || async {
            (chat(&stack, Some(&cli_key), "mock-1", "hi").await.status() == 200).then_some(())
        },
    )
    .await;
    // The stored digest is not the key.
    let (ok, out, _) = strata(&stack, &["keys", "list"]);
    assert!(
        ok && !out.contains(&cli_key) && out.contains("\"cli\""),
        "{out}"
    );
    // Revoked: 401 at once in this process.
    let r = admin
        .delete(stack.ports.admin_url("/admin/api/keys/svc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(chat(&stack, Some(&key), "mock-1", "hi").await.status(), 401);
    let (ok, _, _) = strata(&stack, &["keys", "revoke", "cli"]);
    assert!(ok);
    eventually(
        Duration::from_secs(10),
        "the CLI's revocation in the gateway",
        || async {
            (chat(&stack, Some(&cli_key), "mock-1", "hi").await.status() == 401).then_some(())
        },
    )
    .await;
    let (ok, _, err) = strata(&stack, &["keys", "revoke", "cli"]);
    assert!(!ok && err.contains("no active stored key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_never_sees_what_was_redacted() {
    let upstream = MockLlm::start().await;
    let extra = format!(
        "ai:\n  guardrails:\n    - {{ name: no-toxic, kind: toxicity_filter, words: [frobnicate] }}\n  providers:\n    - {{ name: up, kind: openai, api_base: '{}', models: [gpt-4o], guardrails: [pii_redaction, no-toxic] }}\n",
        upstream.base_url
    );
    let stack = Stack::start(&extra, &["--layers", "ai"], &[]).await;
    let secret = "mail jane.doe@example.com, card 4111 1111 1111 1111, key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";
    let r = chat(&stack, None, "gpt-4o", secret).await;
    assert_eq!(r.status(), 200);
    let seen = upstream.received();
    let sent = seen.last().unwrap().body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for leaked in [
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "sk-ant-api03",
    ] {
        assert!(
            !sent.contains(leaked),
            "{leaked} reached the upstream: {sent}"
        );
    }
    assert!(
        sent.contains("[EMAIL]") && sent.contains("[CREDIT_CARD]"),
        "{sent}"
    );
    // A toxic request is refused before any upstream call, naming the guardrail only.
    let before = upstream.received().len();
    let r = chat(&stack, None, "gpt-4o", "please frobnicate this").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no-toxic") && !message.contains("frobnicate"),
        "{message}"
    );
    assert_eq!(upstream.received().len(), before);
    // Both calls are in the usage ledger with their verdicts, the refused one too.
    let store = strata_store::Store::connect(&strata_config::Storage {
        url: strata_core::Secret::new(stack.db_url()),
        ..strata_config::Storage::default()
    })
    .await
    .unwrap();
    let rows = eventually(Duration::from_secs(10), "usage records", || async {
        let mut rows = store.usage_records(0, 10).await.unwrap();
        rows.reverse();
        (rows.len() == 2).then_some(rows)
    })
    .await;
    let verdicts = |i: usize| rows[i].guardrails.to_string();
    assert_eq!(rows[0].status, 200);
    assert!(
        verdicts(0).contains("\"pii_redaction\"") && verdicts(0).contains("email"),
        "{rows:?}"
    );
    assert_eq!(rows[1].status, 400);
    assert!(
        verdicts(1).contains("\"no-toxic\"") && verdicts(1).contains("block"),
        "{rows:?}"
    );
    // Verdicts are counted in the metrics.
    let metrics = reqwest::get(stack.ports.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("strata_guardrail_verdicts_total{guardrail=\"pii_redaction\""),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdks_meet_every_policy() {
    let Some(python) =
        strata_testkit::python::python_with_sdks("the_official_sdks_meet_every_policy")
    else {
        return;
    };
    let [webhook_port, closed_port] = strata_testkit::free_ports();
    // `slow-1` answers after 800 ms: the concurrency scenario's three calls overlap.
    let slow = MockLlm::start().await;
    let claude = MockLlm::start().await;
    slow.script((0..3).map(|_| strata_testkit::Behavior::Delay(Duration::from_millis(800))));
    let extra = format!(
        "
auth:
  keys:
    - {{ name: tok, key: sk-tok, limits: {{ tpm: 100 }} }}
    - {{ name: one, key: sk-one, limits: {{ concurrent: 1 }} }}
    - {{ name: open, key: sk-open, guardrails: [civil] }}
    - {{ name: out, key: sk-out, guardrails: [out-pii] }}
    - {{ name: narrow, key: sk-narrow, models: ['mock-fast*'] }}
    - {{ name: slow, key: sk-slow, limits: {{ rpm: 2 }} }}
    - {{ name: ops, key: sk-ops, team: ops }}
    - {{ name: hook, key: sk-hook, guardrails: [hook, inject] }}
    - {{ name: down, key: sk-down, guardrails: [down] }}
  teams:
    - {{ name: ops, budget: {{ usd: 0.0005, period: daily }} }}
ai:
  guardrails:
    - {{ name: civil, kind: toxicity_filter, words: [frobnicate] }}
    - {{ name: out-pii, kind: pii_redaction, apply_to: [response] }}
    - {{ name: hook, kind: webhook, url: 'http://127.0.0.1:{webhook_port}/check', timeout: 2s }}
    - {{ name: down, kind: webhook, url: 'http://127.0.0.1:{closed_port}/check', timeout: 500ms, on_error: open }}
    - {{ name: inject, kind: prompt_injection, action: block }}
  cache: {{ ttl: 1m }}
  providers:
    - {{ name: mock, models: [mock-1, mock-fast], pricing: {{ mock-1: {{ input: 10, output: 20 }} }} }}
    - {{ name: slow, kind: openai, api_base: '{slow_url}', models: [slow-1] }}
    - {{ name: claude, kind: anthropic, api_base: '{claude_url}', models: [claude-up] }}
",
        slow_url = slow.base_url,
        claude_url = claude.base_url,
    );
    let stack = Stack::start(&extra, &["--layers", "ai"], &[]).await;
    let out = tokio::process::Command::new(&python)
        .arg(strata_testkit::python::e2e_dir().join("governance_sdk.py"))
        .env(
            "STRATA_AI_URL",
            format!("http://127.0.0.1:{}", stack.ports.ai),
        )
        .env("STRATA_ADMIN_URL", stack.ports.admin_url(""))
        .env("STRATA_WEBHOOK_PORT", webhook_port.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "governance_sdk.py failed:\n{stdout}\n{}\nstrata logs:\n{}",
        String::from_utf8_lossy(&out.stderr),
        stack.process.logs()
    );
    for scenario in [
        "unauthorized",
        "forbidden",
        "cost_header",
        "rate_limited",
        "budget_exceeded",
        "redaction",
        "guardrail_blocked",
        "cache",
        "webhook",
        "webhook_stream",
        "prompt_injection",
        "token_limit",
        "concurrency_limit",
        "stored_key_and_spend",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {scenario}")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
}

/// Two gateway processes on one Redis admit together no more than a key's limit, and
/// concurrent calls against a small budget overspend it by less than one call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_limits_and_budgets_through_redis() {
    let Some(redis) = strata_testkit::service_url(strata_testkit::Service::Redis) else {
        strata_testkit::skip(
            "two_processes_share_limits_and_budgets_through_redis",
            "STRATA_TEST_REDIS_URL is not set",
        );
        return;
    };
    // Fresh names: counters in Redis outlive a test run.
    let run = uuid_like();
    let extra = format!(
        "storage: {{ redis: '{redis}' }}
auth:
  keys:
    - {{ name: limited-{run}, key: sk-limited-{run}, limits: {{ rpm: 10 }} }}
    - {{ name: budget-{run}, key: sk-budget-{run}, budget: {{ usd: 0.002, period: total }} }}
ai:
  providers:
    - {{ name: mock, models: [mock-1], pricing: {{ mock-1: {{ input: 10, output: 20 }} }} }}
"
    );
    // `storage:` given: each process keeps its own SQLite file in its directory.
    let (a, b) = tokio::join!(
        Stack::start(&extra, &["--layers", "ai"], &[]),
        Stack::start(&extra, &["--layers", "ai"], &[])
    );
    let started = std::time::Instant::now();
    let key = format!("sk-limited-{run}");
    let mut calls = Vec::new();
    for i in 0..40 {
        let stack = if i % 2 == 0 { &a } else { &b };
        calls.push(chat(stack, Some(&key), "mock-1", "x"));
    }
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "too slow to be exact"
    );
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(admitted, 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // The budget race: 60 concurrent calls against $0.002.
    let key = format!("sk-budget-{run}");
    let mut calls = Vec::new();
    for i in 0..60 {
        let stack = if i % 2 == 0 { &a } else { &b };
        calls.push(small_call(stack, &key, "a call that costs a little money"));
    }
    let responses = futures_util::future::join_all(calls).await;
    let mut spent = 0.0;
    let mut most = 0.0f64;
    for r in &responses {
        if r.status() == 200 {
            let cost: f64 = r.headers()["x-strata-cost-usd"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            spent += cost;
            most = most.max(cost);
        } else {
            assert_eq!(r.status(), 429);
        }
    }
    assert!(spent > 0.0012, "the budget was barely used: {spent}");
    assert!(
        spent <= 0.002 + most,
        "overspent: {spent} with calls of up to {most}"
    );
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A route's guardrails apply to calls of the route, not to the provider's other calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_carry_their_own_guardrails() {
    let upstream = MockLlm::start().await;
    let extra = format!(
        "ai:\n  providers:\n    - {{ name: plain, kind: openai, api_base: '{}', models: [gpt-x] }}\n  routes:\n    - {{ name: safe, targets: [{{ provider: plain, model: gpt-x }}], guardrails: [pii_redaction] }}\n",
        upstream.base_url
    );
    let stack = Stack::start(&extra, &["--layers", "ai"], &[]).await;
    let last_sent = || {
        upstream.received().last().unwrap().body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        chat(&stack, None, "gpt-x", "mail bo@example.com")
            .await
            .status(),
        200
    );
    assert_eq!(last_sent(), "mail bo@example.com");
    assert_eq!(
        chat(&stack, None, "safe", "mail bo@example.com")
            .await
            .status(),
        200
    );
    assert_eq!(last_sent(), "mail [EMAIL]");
}
