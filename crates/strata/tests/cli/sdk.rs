//! The official OpenAI Python SDK against `strata serve`, with the project's mock provider
//! server as the upstream.

use strata_testkit::python::{e2e_dir, python_with_sdks};
use strata_testkit::{Behavior, MockLlm};

use crate::harness::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_sdk_works_unmodified() {
    let Some(python) = python_with_sdks("the_openai_sdk_works_unmodified") else {
        return;
    };
    let (primary, backup, limited) = (
        MockLlm::start().await,
        MockLlm::start().await,
        MockLlm::start().await,
    );
    primary.script([Behavior::Status(500, None)]);
    limited.script((0..5).map(|_| Behavior::Status(429, Some(1))));
    let providers = format!(
        "ai:\n  providers:\n\
         \x20   - {{ name: mock, models: [mock-1] }}\n\
         \x20   - {{ name: primary, kind: openai, api_base: '{}', models: [gpt-primary], fallback: backup }}\n\
         \x20   - {{ name: backup, kind: openai, api_base: '{}', models: [gpt-backup] }}\n\
         \x20   - {{ name: limited, kind: openai, api_base: '{}', models: [gpt-limited] }}\n",
        primary.base_url, backup.base_url, limited.base_url
    );
    let stack = Stack::start(&providers, &[], &[]).await;
    let url = format!("http://127.0.0.1:{}/v1", stack.ports.ai);
    let out = tokio::process::Command::new(python)
        .arg(e2e_dir().join("openai_sdk.py"))
        .env("STRATA_AI_URL", &url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openai_sdk.py failed:\n{stdout}\n{}\nstrata logs:\n{}",
        String::from_utf8_lossy(&out.stderr),
        stack.process.logs()
    );
    for scenario in [
        "plain",
        "multipart_and_json_mode",
        "streaming",
        "tools",
        "models",
        "fallback",
        "rate_limited",
        "unknown_model",
        "malformed_body",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {scenario}")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
}
