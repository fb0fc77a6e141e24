use crate::{errors, load};

#[test]
fn five_mistakes_are_all_reported_with_lines() {
    let text = r#"listeners:
  ai: 127.0.0.1:4000
  mcp: localhost-4001
ai:
  providers:
    - name: openai
      models: [gpt-4o]
      priority: hihg
    - name: anthropic
      models: [claude-3-5]
      fallback: openia
    - name: openai
      models: [gpt-4o-mini]
auth:
  keys:
    - { name: team-a, key: "${UNSET_KEY}", roles: [] }
storage:
  urll: sqlite://x.db
"#;
    let errs = errors(text);
    let expected = [
        "strata.yaml:3:8: listeners.mcp: `localhost-4001` is not a listen address: write IP:PORT, e.g. 127.0.0.1:4000",
        "strata.yaml:8:17: ai.providers[0].priority: expected high, medium, low or an integer, found a string",
        "strata.yaml:11:17: ai.providers[1].fallback: unknown provider `openia`, did you mean `openai`?",
        "strata.yaml:12:13: ai.providers[2].name: duplicate provider name `openai` (first defined at line 6)",
        "strata.yaml:16:28: auth.keys[0].key: environment variable UNSET_KEY is not set (set it, or write ${UNSET_KEY:-default})",
        "strata.yaml:18:3: storage.urll: unknown key `urll`, did you mean `url`?",
    ];
    assert_eq!(errs, expected, "got:\n{}", errs.join("\n"));
}

#[test]
fn wrong_types_name_what_was_expected() {
    let errs = errors("storage:\n  max_connections: lots\nserver:\n  drain_timeout: soon\n");
    assert_eq!(
        errs,
        [
            "strata.yaml:2:20: storage.max_connections: expected an integer, found a string",
            "strata.yaml:4:18: server.drain_timeout: expected a duration such as 500ms, 30s, 2m or 1h 30m, found `soon`",
        ]
    );
}

#[test]
fn missing_required_keys() {
    let errs = errors("ai:\n  providers:\n    - models: [x]\n");
    assert_eq!(
        errs,
        ["strata.yaml:3:7: ai.providers[0]: missing required key `name`"]
    );
}

#[test]
fn references_between_sections() {
    let text = r"auth:
  roles:
    analyst: {}
  keys:
    - { name: a, key: k1, roles: [analyst, admin] }
    - { name: b, key: k1 }
mcp:
  upstreams:
    - { name: fs, stdio: { command: npx } }
    - { name: both, url: 'http://127.0.0.1:9/mcp', stdio: { command: x } }
    - { name: none }
    - { name: ftp, url: 'ftp://example.org/' }
  servers:
    - { name: dev, upstreams: [fs, serch] }
    - { name: dev, upstreams: [], tools: { deny: [ok, 'bad['] } }
";
    let errs = errors(text);
    let expected = [
        "strata.yaml:5:44: auth.keys[0].roles[1]: unknown role `admin` (known: analyst)",
        "strata.yaml:6:23: auth.keys[1].key: key `b` has the same key value as key `a`",
        "strata.yaml:10:15: mcp.upstreams[1].name: upstream `both` needs exactly one of `stdio`, `url`, `builtin`, `openapi` or `http`",
        "strata.yaml:11:15: mcp.upstreams[2].name: upstream `none` needs exactly one of `stdio`, `url`, `builtin`, `openapi` or `http`",
        "strata.yaml:12:25: mcp.upstreams[3].url: URL scheme `ftp` is not supported here (use http, https)",
        "strata.yaml:14:36: mcp.servers[0].upstreams[1]: unknown upstream `serch` (known: fs, both, none, ftp)",
        "strata.yaml:15:15: mcp.servers[1].name: duplicate server name `dev` (first defined at line 14)",
        "strata.yaml:15:55: mcp.servers[1].tools.deny[1]: invalid glob `bad[`: unclosed character class; missing ']'",
    ];
    assert_eq!(errs, expected, "got:\n{}", errs.join("\n"));
}

#[test]
fn fallback_cycles_and_self_references() {
    let text = r"ai:
  providers:
    - { name: openai, fallback: anthropic }
    - { name: anthropic, fallback: openai }
    - { name: gemini, fallback: gemini }
    - { name: corp-llm }
";
    let errs = errors(text);
    assert_eq!(
        errs,
        [
            "strata.yaml:3:33: ai.providers[0].fallback: fallback cycle: openai -> anthropic -> openai",
            "strata.yaml:4:36: ai.providers[1].fallback: fallback cycle: anthropic -> openai -> anthropic",
            "strata.yaml:5:33: ai.providers[2].fallback: provider `gemini` cannot fall back to itself",
            "strata.yaml:6:15: ai.providers[3].name: cannot tell what API provider `corp-llm` speaks: add `kind: openai` (or azure, anthropic, gemini, mock)",
        ],
        "got:\n{}",
        errs.join("\n")
    );
}

#[test]
fn listeners_must_differ_and_storage_urls_are_checked_without_echoing_them() {
    let text = "listeners: { ai: '127.0.0.1:4000', mcp: '127.0.0.1:4000' }\nstorage: { url: 'mysql://root:hunter2@db/x', redis: 'http://x' }\n";
    let errs = errors(text);
    assert_eq!(
        errs,
        [
            "strata.yaml:1:41: listeners.mcp: address 127.0.0.1:4000 is already used by listeners.ai",
            "strata.yaml:2:17: storage.url: storage URL must start with sqlite:// or postgres://",
            "strata.yaml:2:53: storage.redis: Redis URL must start with redis:// or rediss://",
        ]
    );
    assert!(!errs.concat().contains("hunter2"));
}

#[test]
fn yaml_syntax_errors_and_duplicate_keys() {
    let errs = errors("ai:\n  providers: [\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("strata.yaml:3:"), "{errs:?}");
    assert!(errs[0].contains("invalid YAML"), "{errs:?}");

    let errs = errors("storage: {}\nstorage: {}\n");
    assert_eq!(
        errs,
        ["strata.yaml:2:1: duplicate key `storage` (first written at line 1)"]
    );
}

#[test]
fn interpolation_fills_values_and_keeps_types() {
    let config = load(
        "auth:\n  keys:\n    - name: a\n      key: ${TEAM_A_KEY}\n      limits:\n        rpm: ${RPM}\n        tpm: ${TPM:-1000}\n",
    )
    .unwrap();
    let key = &config.auth.keys[0];
    assert_eq!(key.key.expose(), "sk-team-a");
    let limits = key.limits.as_ref().unwrap();
    assert_eq!((limits.rpm, limits.tpm), (Some(600), Some(1000)));
}

#[test]
fn unquoted_scalars_are_read_as_strings_where_strings_belong() {
    let config =
        load("ai:\n  providers:\n    - { name: azure, api_version: 2024-10-21, api_key: 12345 }\n")
            .unwrap();
    let p = &config.ai.providers[0];
    assert_eq!(p.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!(p.api_key.as_ref().unwrap().expose(), "12345");
}

#[test]
fn secrets_never_print() {
    let config = load("auth:\n  keys: [{ name: a, key: '${TEAM_A_KEY}' }]\n").unwrap();
    let debug = format!("{config:?}");
    let json = serde_json::to_string(&config).unwrap();
    assert!(!debug.contains("sk-team-a") && !json.contains("sk-team-a"));
    assert!(json.contains("\"key\":\"********\""), "{json}");
}

#[test]
fn the_design_example_is_valid() {
    let text = r#"
listeners: { ai: 127.0.0.1:4000, mcp: 127.0.0.1:4001, agent: 127.0.0.1:4002, admin: 127.0.0.1:4003 }
storage:
  url: sqlite://strata.db
  redis: redis://127.0.0.1:6379
auth:
  keys:
    - { name: team-a, key: "${TEAM_A_KEY}", roles: [analyst], budget: { usd: 50, period: monthly },
        limits: { rpm: 600, tpm: 200000 } }
  roles:
    analyst: { models: ["gpt-4o*"], tools: ["search/*"], workflows: ["triage"] }
ai:
  providers:
    - name: openai
      models: [gpt-4o, gpt-4o-mini]
      priority: high
      guardrails: [pii_redaction, toxicity_filter]
    - name: anthropic
      models: [claude-3-5]
      priority: medium
      fallback: openai
mcp:
  upstreams:
    - { name: fs, stdio: { command: npx, args: [-y, "@modelcontextprotocol/server-filesystem", /data] } }
    - { name: search, url: "http://127.0.0.1:9000/mcp", headers: { Authorization: "Bearer ${SEARCH_TOKEN:-x}" } }
  servers:
    - { name: dev, upstreams: [fs, search], prefix: conditional, tools: { deny: ["fs_write_*"] } }
agent:
  workflows: ["workflows/*.yaml"]
"#;
    let config = load(text).unwrap();
    assert_eq!(
        config.ai.providers[0].guardrails,
        ["pii_redaction", "toxicity_filter"]
    );
    assert_eq!(config.ai.providers[1].fallback.as_deref(), Some("openai"));
    assert_eq!(config.mcp.servers[0].tools.deny, ["fs_write_*"]);
}

#[test]
fn routes_reference_providers_and_sla_needs_an_objective() {
    let text = r"ai:
  providers:
    - { name: openai }
  routes:
    - { name: smart, strategy: sla, targets: [{ provider: openai, model: a }, { provider: anthropic, model: b }] }
    - { name: smart, targets: [] }
";
    let errs = errors(text);
    assert_eq!(
        errs,
        [
            "strata.yaml:5:32: ai.routes[0].strategy: route `smart` uses strategy sla but sets no `objective` (e.g. objective: { ttft_p95: 800ms })",
            "strata.yaml:5:91: ai.routes[0].targets[1].provider: unknown provider `anthropic` (known: openai)",
            "strata.yaml:6:15: ai.routes[1].name: duplicate route name `smart` (first defined at line 5)",
            "strata.yaml:6:31: ai.routes[1].targets: route `smart` has no targets",
        ],
        "got:\n{}",
        errs.join("\n")
    );
}

#[test]
fn governance_references_and_guardrail_definitions_are_checked() {
    let text = r#"auth:
  keys:
    - { name: a, key: k1, team: opz, guardrails: [pii, nope], models: ["gpt-[4o"] }
  teams:
    - { name: ops, budget: { usd: -1 } }
    - { name: ops }
ai:
  guardrails:
    - { name: pii, kind: pii_redaction, words: [x] }
    - { name: rx, kind: regex, patterns: ["(unclosed"] }
    - { name: hook, kind: webhook, action: block }
    - { name: toxicity_filter, kind: regex, patterns: [a], threshold: 2 }
    - { name: empty, kind: regex }
  providers:
    - { name: mock, guardrails: [prompt_injection, rx] }
  routes:
    - { name: r, targets: [{ provider: mock, model: m }], guardrails: [hok] }
"#;
    let errors = errors(text);
    let expect = [
        "ai.guardrails[0].words: guardrail `pii` is of kind pii_redaction, which does not take `words` (only toxicity_filter)",
        "ai.guardrails[1].patterns[0]: not a valid regular expression: error: unclosed group",
        "ai.guardrails[2].kind: webhook guardrail `hook` needs a `url`",
        "ai.guardrails[2].action: a webhook guardrail takes its action from the webhook's answer; remove `action`",
        "ai.guardrails[3].name: `toxicity_filter` names a built-in guardrail kind; a guardrail of kind regex needs another name",
        "ai.guardrails[3].threshold: guardrail `toxicity_filter` is of kind regex, which does not take `threshold` (only toxicity_filter)",
        "ai.guardrails[3].threshold: the threshold is a score from 0 to 1",
        "ai.guardrails[4].kind: regex guardrail `empty` needs `patterns`",
        "ai.routes[0].guardrails[0]: unknown guardrail `hok`, did you mean `hook`?",
        "auth.keys[0].guardrails[1]: unknown guardrail `nope`",
        "auth.teams[1].name: duplicate team name `ops`",
        "auth.keys[0].team: unknown team `opz`, did you mean `ops`?",
        "auth.keys[0].models[0]: not a valid glob: unclosed character class; missing ']'",
        "auth.teams[0].budget.usd: a budget must be zero or more US dollars",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|got| got.contains(e)),
            "missing {e:?} in:\n{}",
            errors.join("\n")
        );
    }
}
