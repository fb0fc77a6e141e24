//! Runs the official MCP conformance suite (`tests/conformance/run.sh`, server mode)
//! against a URL and parses its summary: one JSON object per scenario on stdout.

use std::path::PathBuf;

use serde_json::Value;

/// Which suite to run. `Default` is `@modelcontextprotocol/conformance@0.1.16 --suite all`.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The npm package, with its version.
    pub package: String,
    /// `all`, `active`, `pending` (and `draft` in 0.2.x).
    pub suite: String,
    /// `--spec-version`, e.g. `2025-11-25` or `2026-07-28`.
    pub spec_version: Option<String>,
    /// Run only this scenario.
    pub scenario: Option<String>,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self {
            package: "@modelcontextprotocol/conformance@0.1.16".to_owned(),
            suite: "all".to_owned(),
            spec_version: None,
            scenario: None,
        }
    }
}

/// One check of a scenario, as the suite reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub id: String,
    /// `SUCCESS`, `FAILURE`, `WARNING` or `SKIPPED`.
    pub status: String,
    pub error: Option<String>,
}

/// The checks of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioResult {
    pub scenario: String,
    pub passed: u64,
    pub failed: u64,
    pub warnings: u64,
    pub skipped: u64,
    pub checks: Vec<Check>,
}

/// `tests/conformance/run.sh` in this repository.
#[must_use]
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/run.sh")
}

/// Parses the scenario lines of `run.sh`'s stdout; other lines are ignored.
#[must_use]
pub fn parse_summary(stdout: &str) -> Vec<ScenarioResult> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|row| {
            let count = |key: &str| row[key].as_u64().unwrap_or(0);
            let checks = row["checks"]
                .as_array()
                .map(|checks| {
                    checks
                        .iter()
                        .map(|c| Check {
                            id: c["id"].as_str().unwrap_or_default().to_owned(),
                            status: c["status"].as_str().unwrap_or_default().to_owned(),
                            error: c["error"].as_str().map(str::to_owned),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(ScenarioResult {
                scenario: row["scenario"].as_str()?.to_owned(),
                passed: count("passed"),
                failed: count("failed"),
                warnings: count("warnings"),
                skipped: count("skipped"),
                checks,
            })
        })
        .collect()
}

/// Runs the suite against `url` (installing Node 22 and the package into the tools
/// cache on first use) and returns one result per scenario.
///
/// # Errors
/// When the script cannot be started or reports an infrastructure failure (its stderr
/// is in the message). Failed checks are not errors: they are in the results.
pub async fn run_suite(url: &str, options: &SuiteOptions) -> std::io::Result<Vec<ScenarioResult>> {
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(script())
        .arg(url)
        .args(["--package", &options.package]);
    match &options.scenario {
        Some(scenario) => command.args(["--scenario", scenario]),
        None => command.args(["--suite", &options.suite]),
    };
    if let Some(version) = &options.spec_version {
        command.args(["--spec-version", version]);
    }
    let output = command.output().await?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "run.sh exited {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(parse_summary(&String::from_utf8_lossy(&output.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenario_lines_and_ignores_the_rest() {
        let out = concat!(
            r#"{"scenario":"ping","passed":1,"failed":0,"warnings":0,"skipped":0,"checks":[{"id":"ping","status":"SUCCESS"}]}"#,
            "\n",
            r#"{"scenario":"x","passed":0,"failed":1,"warnings":0,"checks":[{"id":"x","status":"FAILURE","error":"boom"}]}"#,
            "\nconformance: 1 passed, 1 failed\n"
        );
        let results = parse_summary(out);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].scenario, "ping");
        assert_eq!(results[0].passed, 1);
        assert_eq!(results[1].failed, 1);
        assert_eq!(results[1].checks[0].error.as_deref(), Some("boom"));
    }
}
