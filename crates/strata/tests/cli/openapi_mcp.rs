//! A real REST service (FastAPI, `tests/e2e/openapi_service.py`) exposed through an `openapi`
//! upstream whose document is read by URL, driven by the official MCP Python SDK
//! (`tests/e2e/openapi_mcp.py`); the audit log read back with `strata audit`. And a document
//! given as a file, read again when the config is reloaded.

use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::free_port;
use strata_testkit::python::{e2e_dir, python_with_sdks};

use crate::harness::{Stack, bin, eventually, post_mcp};

const SCENARIOS: [&str; 6] = [
    "tools_are_listed_with_schemas",
    "get_and_post_with_path_query_and_body",
    "an_error_response_is_a_tool_error",
    "an_invalid_argument_is_refused_before_the_call",
    "ssrf_attempts_stay_under_the_base_url",
    "rbac_hides_an_operation_from_one_principal",
];

/// Starts the FastAPI service on a free port and waits for its document.
async fn start_service(python: &std::path::Path) -> (tokio::process::Child, String) {
    let port = free_port();
    let child = tokio::process::Command::new(python)
        .arg(e2e_dir().join("openapi_service.py"))
        .arg(port.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("start the service");
    let base = format!("http://127.0.0.1:{port}");
    let document = format!("{base}/openapi.json");
    eventually(
        Duration::from_secs(30),
        "the service's document",
        || async {
            let r = reqwest::get(&document).await.ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await;
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_service_is_served_as_mcp_tools_through_the_mcp_sdk() {
    const TEST: &str = "a_rest_service_is_served_as_mcp_tools_through_the_mcp_sdk";
    let Some(python) = python_with_sdks(TEST) else {
        return;
    };
    let (_service, base) = start_service(&python).await;
    let config = format!(
        "auth:
  keys:
    - {{ name: ops, key: sk-ops, roles: [operator] }}
    - {{ name: view, key: sk-view, roles: [viewer] }}
  roles:
    operator: {{ tools: [\"inventory/*\"] }}
    viewer: {{ tools: [\"inventory/get_item\", \"inventory/list_items\"] }}
mcp:
  upstreams:
    - name: api
      openapi:
        spec: {base}/openapi.json
        base_url: {base}
        auth: {{ bearer: {{ env: INVENTORY_TOKEN }} }}
  servers:
    - {{ name: inventory, upstreams: [api], prefix: never, audit: {{ arguments: full }} }}
"
    );
    let stack = Stack::start(&config, &[], &[("INVENTORY_TOKEN", "tok-e2e")]).await;
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(&python)
            .arg(e2e_dir().join("openapi_mcp.py"))
            .env(
                "STRATA_MCP_URL",
                format!("http://127.0.0.1:{}/mcp/inventory", stack.ports.mcp),
            )
            .env("STRATA_KEY_OPS", "sk-ops")
            .env("STRATA_KEY_VIEW", "sk-view")
            .env("SERVICE_URL", &base)
            .env("SERVICE_TOKEN", "tok-e2e")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("openapi_mcp.py finishes")
    .unwrap();
    crate::harness::assert_scenarios(&SCENARIOS, &out, &stack.process.logs());
    assert!(
        !stack.process.logs().contains("tok-e2e"),
        "the token is never logged"
    );

    // Every call is in the audit log: who, which tool, with what, and how it ended.
    let config = stack.config.display().to_string();
    let audit = || {
        let out = std::process::Command::new(bin())
            .args(["audit", "--config", &config, "--server", "inventory"])
            .args([
                "--action",
                "tools/call",
                "--limit",
                "1000",
                "--format",
                "jsonl",
            ])
            .env("INVENTORY_TOKEN", "tok-e2e")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<Value>>()
    };
    // 15 calls: 4 + 1 + 3 + 4 + 3 per scenario (the unknown tool included); the log is
    // written in batches.
    let mut records = audit();
    for _ in 0..50 {
        if records.len() >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        records = audit();
    }
    let find = |principal: &str, target: &str, outcome: &str, check: &dyn Fn(&Value) -> bool| {
        records.iter().any(|r| {
            r["principal"] == principal
                && r["target"] == target
                && r["outcome"] == outcome
                && check(r)
        })
    };
    let all = |_: &Value| true;
    let expected: [Expected<'_>; 7] = [
        ("ops", "get_item", "ok", &|r| {
            r["detail"]["arguments"] == json!({"item_id": "w1"})
        }),
        ("ops", "list_items", "ok", &|r| {
            r["detail"]["arguments"]["limit"] == 5
        }),
        ("ops", "create_item", "ok", &|r| {
            r["detail"]["arguments"]["name"] == "bolt"
        }),
        ("ops", "get_item", "error", &|r| {
            r["detail"]["arguments"]["item_id"] == "nope"
        }),
        ("ops", "create_item", "error", &|r| {
            r["error"].as_str().is_some_and(|e| e.contains("`price`"))
        }),
        ("ops", "get_item", "error", &|r| {
            r["detail"]["arguments"]["item_id"] == "../../x"
        }),
        ("view", "create_item", "denied", &all),
    ];
    for (principal, target, outcome, check) in expected {
        assert!(
            find(principal, target, outcome, check),
            "no {outcome} {target} by {principal} in {records:#?}"
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r["detail"]["upstream"] == "api" || r["outcome"] == "denied"),
        "{records:#?}"
    );
}

/// An audit record looked for: principal, tool, outcome, and a check of the rest.
type Expected<'a> = (&'a str, &'a str, &'a str, &'a dyn Fn(&Value) -> bool);

const DOCUMENT: &str = "openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /a: { get: { operationId: first, responses: { '200': { description: ok } } } }
";

async fn tool_names(port: u16) -> Vec<String> {
    let client = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "reload-test", "version": "1"}}});
    let (_, session, _) = post_mcp(&client, port, None, &init).await;
    let session = session.expect("a session");
    let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post_mcp(&client, port, Some(&session), &done).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let (_, _, reply) = post_mcp(&client, port, Some(&session), &list).await;
    let mut names: Vec<String> = reply["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_changed_document_is_read_again_on_reload() {
    let config = "mcp:
  upstreams:
    - { name: api, openapi: { spec: api.yaml, base_url: \"http://127.0.0.1:9\" } }
  servers:
    - { name: demo, upstreams: [api] }
";
    let stack = Stack::start_with_files(config, &[("api.yaml", DOCUMENT)], &[], &[]).await;
    assert_eq!(tool_names(stack.ports.mcp).await, ["first"]);
    let changed = format!(
        "{DOCUMENT}  /b: {{ post: {{ operationId: second, responses: {{ '201': {{ description: ok }} }} }} }}\n"
    );
    std::fs::write(stack.dir.path().join("api.yaml"), changed).unwrap();
    stack.process.signal("HUP");
    eventually(
        Duration::from_secs(10),
        "the new document's tools",
        || async { (tool_names(stack.ports.mcp).await == ["first", "second"]).then_some(()) },
    )
    .await;
    // A broken document is refused like a broken config: the last good one keeps serving.
    std::fs::write(
        stack.dir.path().join("api.yaml"),
        "openapi: 3.1.0\npaths: { /c: { get: { parameters: [{ name: s, in: cookie }] } } }\n",
    )
    .unwrap();
    stack.process.signal("HUP");
    eventually(Duration::from_secs(10), "the rejected reload", || async {
        stack
            .process
            .logs()
            .contains("cookie parameter `s` is not supported")
            .then_some(())
    })
    .await;
    assert_eq!(tool_names(stack.ports.mcp).await, ["first", "second"]);
}

#[test]
fn check_reports_document_mistakes_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /a:
    get: { operationId: same, responses: {} }
  /b:
    get: { operationId: same, responses: {} }
";
    std::fs::write(dir.path().join("api.yaml"), doc).unwrap();
    let config = "mcp:
  upstreams:
    - { name: api, openapi: { spec: api.yaml, base_url: \"http://127.0.0.1:9\" } }
    - { name: gone, openapi: { spec: missing.yaml, base_url: \"http://127.0.0.1:9\" } }
";
    let path = dir.path().join("strata.yaml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(bin())
        .args(["check", "--config", &path.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let dir = dir.path().display();
    for line in [
        format!(
            "{dir}/strata.yaml:4:38: mcp.upstreams[1].openapi.spec: cannot load the OpenAPI document: cannot read `{dir}/missing.yaml`"
        ),
        format!(
            "{dir}/api.yaml:7:10: paths./b.get: duplicate tool name `same`: GET /a (line 5) has it too; rename one with `overrides`"
        ),
    ] {
        assert!(stderr.contains(&line), "{line}\nnot in\n{stderr}");
    }
}
