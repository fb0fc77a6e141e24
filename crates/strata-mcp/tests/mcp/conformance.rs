//! The official conformance suite through the gateway: every check that passes against the
//! fixture directly must pass through a virtual server (`prefix: never`) in front of it.
//! Needs Node (installed by the script); runs when `STRATA_CONFORMANCE=1`, as CI sets.

use std::collections::BTreeMap;

use strata_testkit::McpFixture;
use strata_testkit::conformance::{ScenarioResult, SuiteOptions, run_suite};

use crate::harness::Gateway;

fn enabled(test: &str) -> bool {
    if std::env::var("STRATA_CONFORMANCE").as_deref() == Ok("1") {
        return true;
    }
    strata_testkit::skip(
        test,
        "set STRATA_CONFORMANCE=1 to run the MCP conformance suite (needs npm)",
    );
    false
}

/// check id → status, per scenario.
fn statuses(results: &[ScenarioResult]) -> BTreeMap<(String, String), String> {
    results
        .iter()
        .flat_map(|r| {
            r.checks
                .iter()
                .map(move |c| ((r.scenario.clone(), c.id.clone()), c.status.clone()))
        })
        .collect()
}

/// `@modelcontextprotocol/server-everything`, run over stdio as a second upstream.
const EVERYTHING: (&str, &str) = ("@modelcontextprotocol/server-everything", "2026.8.31");

/// Identity and RBAC configured for the gateway (none of it for the suite's server).
const SECURED: &str = "auth:\n  keys:\n    - { name: someone, key: sk-someone, roles: [r] }\n  roles:\n    r: { tools: [\"elsewhere/*\"] }\n";

/// Runs the suite against the fixture directly and through the gateway, where the virtual
/// server `conf` has the fixture and, with `second`, server-everything beside it.
async fn compare(options: SuiteOptions, second: bool) {
    let fixture = McpFixture::start().await.expect("fixture");
    let mut upstreams = format!("  - {{ name: fixture, url: \"{}\" }}\n", fixture.url());
    let mut names = "fixture".to_string();
    if second {
        let everything = strata_testkit::npm::install(EVERYTHING.0, EVERYTHING.1)
            .expect("npm installs server-everything");
        upstreams.push_str(&format!(
            "  - {{ name: everything, stdio: {{ command: node, args: [\"{}\", stdio] }} }}\n",
            everything.join("dist/index.js").display()
        ));
        names.push_str(", everything");
    }
    // Keys and roles are configured, so every other server would require them; the suite
    // runs with authentication switched off on its server, and every call is audited.
    let (gateway, audit) = Gateway::start_audited(&format!(
        "{SECURED}mcp:\n  upstreams:\n{}  servers:\n    - {{ name: conf, upstreams: [{names}], prefix: never, auth: off }}\n",
        upstreams.lines().map(|l| format!("  {l}\n")).collect::<String>()
    ))
    .await;
    let direct = run_suite(&fixture.url(), &options)
        .await
        .expect("suite runs");
    let through = run_suite(&gateway.url("conf"), &options)
        .await
        .expect("suite runs");
    assert!(!direct.is_empty(), "the suite ran no scenario");
    let through = statuses(&through);
    let mut regressions = Vec::new();
    for ((scenario, check), status) in statuses(&direct) {
        if status != "SUCCESS" {
            continue;
        }
        let got = through
            .get(&(scenario.clone(), check.clone()))
            .map_or("missing", String::as_str);
        if got != "SUCCESS" {
            regressions.push(format!("{scenario}/{check}: {got}"));
        }
    }
    let passed = through.values().filter(|s| *s == "SUCCESS").count();
    eprintln!("conformance through the gateway: {passed} checks passed");
    assert!(
        regressions.is_empty(),
        "checks that pass direct but not through the gateway:\n{}",
        regressions.join("\n")
    );
    let calls = audit.records().await;
    assert!(
        calls.iter().any(|r| r.action == "tools/call"),
        "the suite's calls are audited"
    );
}

#[tokio::test]
async fn the_2025_suite_passes_through_the_gateway_as_it_passes_direct() {
    if !enabled("the_2025_suite_passes_through_the_gateway_as_it_passes_direct") {
        return;
    }
    compare(SuiteOptions::default(), false).await;
}

#[tokio::test]
async fn the_2025_suite_passes_with_server_everything_beside_the_fixture() {
    if !enabled("the_2025_suite_passes_with_server_everything_beside_the_fixture") {
        return;
    }
    compare(SuiteOptions::default(), true).await;
}

#[tokio::test]
async fn the_2026_stateless_suite_passes_through_the_gateway_as_it_passes_direct() {
    if !enabled("the_2026_stateless_suite_passes_through_the_gateway_as_it_passes_direct") {
        return;
    }
    let options = SuiteOptions {
        package: "@modelcontextprotocol/conformance@0.2.0-alpha.12".into(),
        spec_version: Some("2026-07-28".into()),
        ..SuiteOptions::default()
    };
    compare(options, false).await;
}
