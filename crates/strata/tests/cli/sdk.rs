//! The official OpenAI and Anthropic Python SDKs against `strata serve`, with the project's
//! mock provider server as the upstream.

use strata_testkit::python::{e2e_dir, python_with_sdks};
use strata_testkit::{Behavior, MockLlm};

use crate::harness::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_sdk_works_unmodified() {
    openai_sdk_scenarios("the_openai_sdk_works_unmodified", false).await;
}

/// The same scenarios with every provider called through reqwest, the client Strata keeps for
/// upstreams its inline HTTP/1 client does not serve (TLS, proxies): `STRATA_INLINE_HTTP=0`
/// turns the inline client off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_sdk_works_unmodified_through_reqwest() {
    openai_sdk_scenarios("the_openai_sdk_works_unmodified_through_reqwest", true).await;
}

/// Runs `openai_sdk.py` against a stack (with the inline client turned off when
/// `through_reqwest`) and checks every scenario.
async fn openai_sdk_scenarios(test: &str, through_reqwest: bool) {
    let Some(python) = python_with_sdks(test) else {
        return;
    };
    let (primary, backup, limited, claude, gemini, flaky, slow) = (
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
    );
    flaky.script([Behavior::Status(429, Some(1))]);
    slow.script((0..3).map(|_| Behavior::Delay(std::time::Duration::from_secs(3))));
    // Three 500s: the first try and both default retries fail, then `backup` serves.
    primary.script((0..3).map(|_| Behavior::Status(500, None)));
    limited.script((0..5).map(|_| Behavior::Status(429, Some(1))));
    let providers = format!(
        "ai:\n  providers:\n\
         \x20   - {{ name: mock, models: [mock-1] }}\n\
         \x20   - {{ name: primary, kind: openai, api_base: '{}', models: [gpt-primary], fallback: backup }}\n\
         \x20   - {{ name: backup, kind: openai, api_base: '{}', models: [gpt-backup, text-embed] }}\n\
         \x20   - {{ name: limited, kind: openai, api_base: '{}', models: [gpt-limited] }}\n\
         \x20   - {{ name: claude, kind: anthropic, api_base: '{}', models: [claude-upstream] }}\n\
         \x20   - {{ name: gemini, api_base: '{}/v1beta', models: [gemini-upstream] }}\n\
         \x20   - {{ name: flaky, kind: openai, api_base: '{}', models: [gpt-flaky] }}\n\
         \x20   - {{ name: slow, kind: openai, api_base: '{}', models: [gpt-slow], fallback: backup, timeouts: {{ total: 300ms }} }}\n",
        primary.base_url,
        backup.base_url,
        limited.base_url,
        claude.base_url,
        gemini.root_url,
        flaky.base_url,
        slow.base_url
    );
    let envs: &[(&str, &str)] = if through_reqwest {
        &[("STRATA_INLINE_HTTP", "0")]
    } else {
        &[]
    };
    let stack = Stack::start(&providers, &[], envs).await;
    let url = format!("http://127.0.0.1:{}/v1", stack.ports.ai);
    let stdout = run_script(&python, "openai_sdk.py", &url, &stack).await;
    for model in ["mock-1", "claude-upstream", "gemini-upstream"] {
        for scenario in [
            "plain",
            "streaming",
            "tools",
            "responses_plain",
            "responses_streaming",
            "responses_tools",
        ] {
            let line = format!("ok {scenario} {model}");
            assert!(
                stdout.lines().any(|l| l == line),
                "{line} missing:\n{stdout}"
            );
        }
    }
    // The Anthropic upstream was asked in its own format.
    assert!(
        claude
            .received()
            .iter()
            .all(|r| r.body["max_tokens"].is_u64() && r.headers.contains_key("anthropic-version"))
    );
    for scenario in [
        "multipart_and_json_mode",
        "embeddings",
        "models",
        "fallback",
        "retry_after_429",
        "timeout",
        "rate_limited",
        "unknown_model",
        "malformed_body",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {scenario}")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
    // Which client called the upstreams: reqwest adds `accept: */*` of its own accord, the
    // inline client sends only the headers Strata sets.
    let seen: Vec<_> = [&primary, &backup, &claude, &gemini, &flaky]
        .iter()
        .flat_map(|upstream| upstream.received())
        .collect();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request.headers.contains_key("accept"),
            through_reqwest,
            "{} {:?}",
            request.path,
            request.headers
        );
    }
}

/// Runs a script of `tests/e2e` against the stack; returns its stdout, or fails with everything
/// there is to see.
async fn run_script(python: &std::path::Path, script: &str, url: &str, stack: &Stack) -> String {
    let out = tokio::process::Command::new(python)
        .arg(e2e_dir().join(script))
        .env("STRATA_AI_URL", url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nstrata logs:\n{}",
        String::from_utf8_lossy(&out.stderr),
        stack.process.logs()
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_sdk_works_unmodified_against_openai_upstreams() {
    let Some(python) =
        python_with_sdks("the_anthropic_sdk_works_unmodified_against_openai_upstreams")
    else {
        return;
    };
    let (upstream, claude, gemini) = (
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
    );
    let providers = format!(
        "ai:\n  providers:\n\
         \x20   - {{ name: mock, models: [mock-1] }}\n\
         \x20   - {{ name: upstream, kind: openai, api_base: '{}', models: [gpt-upstream] }}\n\
         \x20   - {{ name: claude, kind: anthropic, api_base: '{}', models: [claude-upstream] }}\n\
         \x20   - {{ name: gemini, api_base: '{}/v1beta', models: [gemini-upstream] }}\n",
        upstream.base_url, claude.base_url, gemini.root_url
    );
    let stack = Stack::start(&providers, &[], &[]).await;
    let url = format!("http://127.0.0.1:{}", stack.ports.ai);
    let stdout = run_script(&python, "anthropic_sdk.py", &url, &stack).await;
    for model in [
        "mock-1",
        "gpt-upstream",
        "claude-upstream",
        "gemini-upstream",
    ] {
        for scenario in ["plain", "streaming", "tools", "streaming_tools"] {
            let line = format!("ok {scenario} {model}");
            assert!(
                stdout.lines().any(|l| l == line),
                "{line} missing:\n{stdout}"
            );
        }
    }
    for scenario in ["count_tokens", "errors"] {
        let line = format!("ok {scenario}");
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} missing:\n{stdout}"
        );
    }
    // The upstream was asked in OpenAI's format, and the client's key never reached it.
    let seen = upstream.received();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|r| r.body["messages"].is_array() && r.body["max_tokens"] == 100)
    );
    assert!(
        seen.iter()
            .all(|r| !format!("{:?}", r.headers).contains("sk-ant-client"))
    );
}
