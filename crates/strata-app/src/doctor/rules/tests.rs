#![allow(clippy::unwrap_used)]

use super::super::{Context, STATIC, Status, run_static};

/// The (check, status) pairs that are not passes, for a config text.
fn problems(text: &str, replicas: u32) -> Vec<(&'static str, Status)> {
    let config = strata_config::load_str(text, "doctor.yaml", &|_| None).unwrap();
    let ctx = Context {
        config: &config,
        source: text,
        replicas,
    };
    run_static(&ctx)
        .into_iter()
        .filter(|f| f.status != Status::Pass)
        .map(|f| (f.check, f.status))
        .collect()
}

#[test]
fn the_embedded_defaults_pass_every_check() {
    let (config, source) = crate::serve::load(None).unwrap();
    let ctx = Context {
        config: &config,
        source: &source,
        replicas: 1,
    };
    let findings = run_static(&ctx);
    assert_eq!(findings.len(), STATIC.len());
    assert!(
        findings.iter().all(|f| f.status == Status::Pass),
        "{findings:#?}"
    );
}

#[test]
fn exposed_listeners_without_credentials_fail() {
    let found = problems("listeners: { ai: 0.0.0.0:4000, admin: 0.0.0.0:4003 }\n", 1);
    assert!(
        found.contains(&("listeners.exposed", Status::Fail)),
        "{found:?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|(c, _)| *c == "listeners.exposed")
            .count(),
        2
    );
    let keyed =
        "listeners: { ai: 0.0.0.0:4000 }\nauth:\n  keys:\n    - { name: a, key: \"${A_KEY}\" }\n";
    let config = strata_config::load_str(keyed, "d.yaml", &|_| Some("x".into())).unwrap();
    let ctx = Context {
        config: &config,
        source: keyed,
        replicas: 1,
    };
    assert!(
        run_static(&ctx)
            .iter()
            .filter(|f| f.check == "listeners.exposed")
            .all(|f| f.status == Status::Pass)
    );
}

#[test]
fn agents_and_mcp_traffic_must_go_through_the_layers() {
    let text = "
ai:
  providers:
    - { name: openai, api_base: 'https://api.openai.com/v1', models: [gpt-4o], fallback: local, guardrails: [pii_redaction] }
    - { name: local, kind: openai, api_base: 'http://127.0.0.1:8000/v1', models: [gpt-4o] }
mcp:
  upstreams:
    - { name: fs, url: 'http://127.0.0.1:9000/mcp' }
    - { name: wrong, url: 'http://127.0.0.1:4000/mcp' }
  servers:
    - { name: dev, upstreams: [fs, wrong] }
agent:
  ai: { url: 'https://api.openai.com/v1', key: k }
  mcp: { url: 'http://127.0.0.1:9000/mcp', key: k }
";
    let found = problems(text, 1);
    let agent = found
        .iter()
        .filter(|(c, _)| *c == "agent.through-layers")
        .count();
    assert_eq!(agent, 2, "{found:?}");
    assert!(
        found.contains(&("mcp.session-aware-path", Status::Fail)),
        "{found:?}"
    );
}

#[test]
fn rbac_audit_fallback_guardrails_and_replicas_are_checked() {
    let text = "
storage: { url: 'sqlite://x.db' }
auth:
  keys:
    - { name: a, key: sk-literal-key }
mcp:
  upstreams:
    - { name: demo, builtin: demo }
  servers:
    - { name: open, upstreams: [demo], auth: off, audit: { enabled: false } }
    - { name: closed, upstreams: [demo] }
ai:
  providers:
    - { name: openai, models: [gpt-4o], timeouts: { total: 0s } }
";
    let found = problems(text, 3);
    for expected in [
        ("mcp.rbac", Status::Warn),
        ("mcp.auth-off", Status::Warn),
        ("audit.durable", Status::Warn),
        ("ai.fallback", Status::Warn),
        ("ai.external-guardrails", Status::Warn),
        ("scale.shared-state", Status::Fail),
        ("secrets.literal", Status::Warn),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    // Two fallback findings (no fallback, zero timeout); SQLite and no Redis for replicas.
    assert_eq!(found.iter().filter(|(c, _)| *c == "ai.fallback").count(), 2);
    assert_eq!(
        found
            .iter()
            .filter(|(c, _)| *c == "scale.shared-state")
            .count(),
        2
    );
    assert!(
        !problems(text, 1)
            .iter()
            .any(|(c, _)| *c == "scale.shared-state")
    );
}

#[test]
fn literal_secrets_are_found_and_references_are_not() {
    let text = "
storage: { url: 'postgres://app:hunter2@db/strata' }
auth:
  keys:
    - { name: a, key: \"${A_KEY}\" }
    - { name: b, key: 'sha256:0000000000000000000000000000000000000000000000000000000000000000' }
    - name: c
      key: sk-written-here
ai:
  providers:
    - { name: openai, models: [gpt-4o], api_key: '${OPENAI_API_KEY}' }
";
    let config = strata_config::load_str(text, "d.yaml", &|_| Some("v".into())).unwrap();
    let ctx = Context {
        config: &config,
        source: text,
        replicas: 1,
    };
    let secrets: Vec<String> = run_static(&ctx)
        .into_iter()
        .filter(|f| f.check == "secrets.literal" && f.status == Status::Warn)
        .map(|f| f.message)
        .collect();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert!(
        secrets[0].contains("line 2") && secrets[0].contains("password"),
        "{secrets:?}"
    );
    assert!(secrets[1].contains("line 8"), "{secrets:?}");
}
