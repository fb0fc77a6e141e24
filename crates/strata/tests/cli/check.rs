//! `strata check` and `strata schema`, and `strata serve` refusing a bad config.

use std::process::Command;

use crate::harness::bin;

const FIVE_MISTAKES: &str = r#"listeners:
  ai: 127.0.0.1:4000
  mcp: 127.0.0.1:40001x
ai:
  providers:
    - name: openai
      models: [gpt-4o]
      timeouts: { total: 30 }
    - name: anthropic
      fallback: openia
    - name: openai
auth:
  keys:
    - { name: team-a, key: "${STRATA_TEST_NEVER_SET_VAR}" }
storage:
  url: sqlite://strata.db
  pool_size: 5
"#;

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("strata.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_prints_every_mistake_with_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, FIVE_MISTAKES);
    let out = Command::new(bin())
        .args(["check", "--config", &path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = [
        format!("{path}:3:8: listeners.mcp: `127.0.0.1:40001x` is not a listen address"),
        format!(
            "{path}:8:26: ai.providers[0].timeouts.total: expected a duration such as 500ms, 30s, 2m or 1h 30m, found an integer"
        ),
        format!(
            "{path}:10:17: ai.providers[1].fallback: unknown provider `openia`, did you mean `openai`?"
        ),
        format!(
            "{path}:11:13: ai.providers[2].name: duplicate provider name `openai` (first defined at line 6)"
        ),
        format!(
            "{path}:14:28: auth.keys[0].key: environment variable STRATA_TEST_NEVER_SET_VAR is not set"
        ),
        format!("{path}:17:3: storage.pool_size: unknown key `pool_size`"),
    ];
    assert!(stderr.starts_with("6 errors in config:\n"), "{stderr}");
    let mut last = 0;
    for line in &expected {
        let at = stderr
            .find(line.as_str())
            .unwrap_or_else(|| panic!("missing {line:?} in:\n{stderr}"));
        assert!(at > last, "errors out of file order:\n{stderr}");
        last = at;
    }
}

#[test]
fn serve_refuses_the_same_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, FIVE_MISTAKES);
    let out = Command::new(bin())
        .args(["serve", "--config", &path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("6 errors in config:\n"), "{stderr}");
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(
        !dir.path().join("strata.db").exists(),
        "nothing was started"
    );
}

#[test]
fn check_accepts_a_valid_config_and_exits_0() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart.yaml"
    );
    let out = Command::new(bin())
        .args(["check", "--config", example])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(": ok (1 provider(s)"), "{stdout}");
}

#[test]
fn check_reports_an_unreadable_file() {
    let out = Command::new(bin())
        .args(["check", "--config", "/nonexistent/strata.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("/nonexistent/strata.yaml: cannot read the config file"),
        "{stderr}"
    );
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let out = Command::new(bin()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/config.json"
    ))
    .unwrap();
    assert_eq!(
        printed, on_disk,
        "schema/config.json drifted: run `strata schema > schema/config.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        schema["properties"]["listeners"]["$ref"],
        "#/$defs/Listeners"
    );
}

#[test]
fn workflow_globs_resolve_against_a_config_named_without_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "ai:\n  providers:\n    - { name: mock, models: [mock-1] }\nagent:\n  workflows: [\"*.wf.yaml\"]\n",
    );
    std::fs::write(
        dir.path().join("hello.wf.yaml"),
        "name: hello\nsteps:\n  done: { succeed: { output: hi } }\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["check", "--config", "strata.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn store_commands_work_while_an_openapi_document_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        &format!(
            "storage:\n  url: sqlite://{}\n\
             mcp:\n  upstreams:\n    - name: inventory\n      openapi: {{ spec: 'http://127.0.0.1:9/openapi.json', base_url: 'http://127.0.0.1:9' }}\n\
             \x20 servers:\n    - {{ name: tools, upstreams: [inventory] }}\n",
            dir.path().join("strata.db").display()
        ),
    );
    // Serving needs the document; `strata check` says where it failed.
    let check = Command::new(bin())
        .args(["check", "--config", &path])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(errors.contains("openapi"), "{errors}");
    // The store's commands do not.
    for args in [
        vec!["audit", "--format", "jsonl"],
        vec!["spend"],
        vec!["keys", "list"],
        vec!["runs", "list"],
    ] {
        let out = Command::new(bin())
            .args(&args)
            .args(["--config", &path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "strata {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
