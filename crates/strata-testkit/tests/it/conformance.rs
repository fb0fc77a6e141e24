//! The official MCP conformance suite against the in-process fixture. Opt-in: it needs
//! npm (first run installs Node 22 and the suite into the tools cache) and takes ~15 s.
//! Run with `STRATA_CONFORMANCE=1 cargo test -p strata-testkit conformance`.

use std::io::Write;

use strata_testkit::McpFixture;
use strata_testkit::conformance::{ScenarioResult, SuiteOptions, run_suite};

fn enabled(test: &str) -> bool {
    let on = std::env::var("STRATA_CONFORMANCE").is_ok_and(|v| v == "1");
    if !on {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: set STRATA_CONFORMANCE=1 to run the MCP conformance suite"
        );
    }
    on
}

fn assert_all_pass(results: &[ScenarioResult]) {
    assert!(!results.is_empty(), "the suite reported no scenario");
    let failures: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.checks
                .iter()
                .filter(|c| c.status == "FAILURE")
                .map(move |c| format!("{} / {}: {:?}", r.scenario, c.id, c.error))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "failed checks:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn fixture_passes_suite_0_1_16() {
    if !enabled("fixture_passes_suite_0_1_16") {
        return;
    }
    let server = McpFixture::start().await.expect("fixture starts");
    let results = run_suite(&server.url(), &SuiteOptions::default())
        .await
        .expect("suite runs");
    assert_all_pass(&results);
    assert!(results.iter().any(|r| r.scenario == "server-sse-polling"));
}

#[tokio::test]
async fn fixture_passes_suite_2026_07_28() {
    if !enabled("fixture_passes_suite_2026_07_28") {
        return;
    }
    let server = McpFixture::start().await.expect("fixture starts");
    let options = SuiteOptions {
        package: "@modelcontextprotocol/conformance@0.2.0-alpha.12".to_owned(),
        spec_version: Some("2026-07-28".to_owned()),
        ..SuiteOptions::default()
    };
    let results = run_suite(&server.url(), &options)
        .await
        .expect("suite runs");
    assert_all_pass(&results);
    assert!(results.iter().any(|r| r.scenario == "server-stateless"));
}
