//! Two principals through the official MCP Python SDK (`tests/e2e/mcp_rbac.py`) against
//! `@modelcontextprotocol/server-everything` behind one virtual server: roles decide what each
//! sees and calls, and the admin API's audit log shows who did what.

use std::time::Duration;

use serde_json::Value;
use strata_testkit::python::{e2e_dir, python_with_sdks};

use crate::harness::Stack;
use crate::mcp_sdk::{reference_servers, yaml};

const SCENARIOS: [&str; 3] = [
    "ops_sees_and_calls_the_tool",
    "view_sees_no_difference",
    "a_foreign_key_is_refused",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_principals_see_what_their_roles_grant_through_the_mcp_sdk() {
    const TEST: &str = "two_principals_see_what_their_roles_grant_through_the_mcp_sdk";
    let Some(servers) = reference_servers(TEST) else {
        return;
    };
    let Some(python) = python_with_sdks(TEST) else {
        return;
    };
    let config = format!(
        "admin:\n  key: sk-admin\n\
         auth:\n  keys:\n\
         \x20   - {{ name: ops, key: sk-ops, roles: [operator] }}\n\
         \x20   - {{ name: view, key: sk-view, roles: [viewer] }}\n\
         \x20 roles:\n\
         \x20   operator: {{ tools: [\"secure/echo\", \"secure/get-sum\"] }}\n\
         \x20   viewer: {{ tools: [\"secure/get-sum\"] }}\n\
         mcp:\n  upstreams:\n\
         \x20   - {{ name: everything, stdio: {{ command: node, args: [{ev}, stdio] }} }}\n\
         \x20 servers:\n\
         \x20   - {{ name: secure, upstreams: [everything], prefix: never, audit: {{ arguments: full }} }}\n",
        ev = yaml(&servers.everything),
    );
    let stack = Stack::start(&config, &[], &[]).await;
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(&python)
            .arg(e2e_dir().join("mcp_rbac.py"))
            .env(
                "STRATA_MCP_URL",
                format!("http://127.0.0.1:{}/mcp/secure", stack.ports.mcp),
            )
            .env("STRATA_KEY_OPS", "sk-ops")
            .env("STRATA_KEY_VIEW", "sk-view")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("mcp_rbac.py finishes")
    .unwrap();
    crate::harness::assert_scenarios(&SCENARIOS, &out, &stack.process.logs());

    // The admin API shows each principal's calls, the refused one as denied.
    let audit = |query: &str| {
        let url = stack
            .ports
            .admin_url(&format!("/admin/api/audit?server=secure&{query}"));
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth("sk-admin")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["records"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let ops = audit("principal=ops&action=tools/call&outcome=ok").await;
    let targets: Vec<&str> = ops.iter().filter_map(|r| r["target"].as_str()).collect();
    assert!(
        targets.contains(&"echo") && targets.contains(&"get-sum"),
        "{ops:#?}"
    );
    let echo = ops.iter().find(|r| r["target"] == "echo").unwrap();
    assert_eq!(echo["detail"]["arguments"]["message"], "allowed");
    assert_eq!(echo["detail"]["upstream"], "everything");
    let refused = audit("principal=view&outcome=denied").await;
    let targets: Vec<&str> = refused
        .iter()
        .filter_map(|r| r["target"].as_str())
        .collect();
    assert!(targets.contains(&"echo"), "{refused:#?}");
    let unauthenticated = audit("action=auth").await;
    assert!(!unauthenticated.is_empty());
    // Without the admin key the audit log is not shown.
    let r = reqwest::get(stack.ports.admin_url("/admin/api/audit"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
