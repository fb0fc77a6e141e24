//! `strata doctor`: the checklist document equals the code's, static checks fail a bad config,
//! and `--live` passes against a running stack that serves every layer.

use std::process::Command;

use crate::harness::{Stack, bin};

fn doctor(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin())
        .arg("doctor")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_checklist_document_is_generated_from_the_checks() {
    let (code, printed) = doctor(&["--checklist"]);
    assert_eq!(code, 0);
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/checklist.md"
    ))
    .unwrap();
    assert_eq!(
        printed, file,
        "docs/checklist.md is out of date: cargo run -p strata -- doctor --checklist > docs/checklist.md"
    );
    for check in [
        "listeners.exposed",
        "secrets.literal",
        "live.mcp",
        "live.records",
    ] {
        assert!(file.contains(&format!("`{check}`")), "{check}");
    }
}

#[test]
fn a_config_with_known_mistakes_fails_with_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "listeners: { ai: 0.0.0.0:4000 }\nai:\n  providers:\n    - { name: openai, models: [gpt-4o], api_key: sk-in-the-file }\n",
    )
    .unwrap();
    let config = path.display().to_string();
    let (code, text) = doctor(&["--config", &config]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("fail  listeners.exposed"), "{text}");
    assert!(text.contains("warn  secrets.literal"), "{text}");
    assert!(text.contains("fix: "), "{text}");
    let (code, json) = doctor(&["--config", &config, "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["ok"], false);
    // The embedded defaults pass.
    assert_eq!(doctor(&[]).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_checks_pass_against_a_running_stack() {
    let stack = Stack::start_with_files(
        "ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n\
         mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
         agent:\n  workflows: [demo.wf.yaml]\n",
        &[("demo.wf.yaml", include_str!("../../../strata-app/src/demo.wf.yaml"))],
        &[],
        &[],
    )
    .await;
    let config = stack.config.display().to_string();
    let (code, text) =
        tokio::task::spawn_blocking(move || doctor(&["--config", &config, "--live"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{text}");
    for check in [
        "live.health",
        "live.metrics",
        "live.ai",
        "live.mcp",
        "live.agent",
        "live.records",
    ] {
        assert!(text.contains(&format!("pass  {check}")), "{check}:\n{text}");
    }
    assert!(
        text.contains("`add` called") || text.contains("called"),
        "{text}"
    );
}

/// Every reference topology in `examples/topologies/` loads and passes the static checks
/// (with its secrets from the environment, as in production), `scale-out.yaml` for 3 replicas.
#[test]
fn the_reference_topologies_pass_the_checks() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/topologies");
    let env = [
        "APP_KEY",
        "AGENT_TIER_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "AZURE_OPENAI_KEY",
        "SEARCH_TOKEN",
        "STRATA_ADMIN_KEY",
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let replicas = if path.ends_with("scale-out.yaml") {
            "3"
        } else {
            "1"
        };
        let mut command = Command::new(bin());
        command
            .args(["doctor", "--config"])
            .arg(&path)
            .args(["--replicas", replicas])
            .env("STRATA_STORAGE_URL", "postgres://strata@db.internal/strata")
            .env("STRATA_REDIS_URL", "redis://redis.internal:6379")
            .env("AZURE_OPENAI_BASE", "https://example.openai.azure.com")
            .env("STRATA_ADVERTISE_URL", "http://10.0.0.5:4001");
        for name in env {
            command.env(name, format!("value-of-{name}"));
        }
        let out = command.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}:\n{text}{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("0 warnings, 0 failed"),
            "{}:\n{text}",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}
