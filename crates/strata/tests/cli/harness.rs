//! Starts `strata serve` on free ports with a config in a temp directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_testkit::{StrataProcess, free_ports};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strata"))
}

/// The four listener ports of one stack.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub ai: u16,
    pub mcp: u16,
    pub agent: u16,
    pub admin: u16,
}

impl Ports {
    pub fn free() -> Self {
        let [ai, mcp, agent, admin] = free_ports();
        Self {
            ai,
            mcp,
            agent,
            admin,
        }
    }

    /// The `listeners` section for these ports.
    pub fn listeners_yaml(&self) -> String {
        format!(
            "listeners:\n  ai: 127.0.0.1:{}\n  mcp: 127.0.0.1:{}\n  agent: 127.0.0.1:{}\n  admin: 127.0.0.1:{}\n",
            self.ai, self.mcp, self.agent, self.admin
        )
    }

    /// The `listeners` and `storage` sections for these ports and `dir`.
    pub fn base_yaml(&self, dir: &Path) -> String {
        format!(
            "listeners:\n  ai: 127.0.0.1:{}\n  mcp: 127.0.0.1:{}\n  agent: 127.0.0.1:{}\n  admin: 127.0.0.1:{}\n\
             storage:\n  url: sqlite://{}\n",
            self.ai,
            self.mcp,
            self.agent,
            self.admin,
            dir.join("strata.db").display()
        )
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin)
    }

    pub fn agent_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.agent)
    }

    pub fn ai_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ai)
    }
}

/// A running stack; the process is killed and the directory removed on drop.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub ports: Ports,
    pub config: PathBuf,
    pub process: StrataProcess,
}

impl Stack {
    /// Starts `strata serve` with the base config plus `extra` YAML.
    pub async fn start(extra: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_with_files(extra, &[], args, envs).await
    }

    /// Like [`Stack::start`], with more files (workflows) written beside the config first.
    pub async fn start_with_files(
        extra: &str,
        files: &[(&str, &str)],
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let config = dir.path().join("strata.yaml");
        // A config that brings its own storage (a shared Postgres) replaces the SQLite file.
        let own_storage = extra.starts_with("storage:") || extra.contains("\nstorage:");
        let config_arg = config.display().to_string();
        let mut all_args = vec!["serve", "--config", &config_arg];
        all_args.extend_from_slice(args);
        // Free ports are free when picked; another test's process may take one before this
        // one binds it. Then the stack starts again on other ports.
        let mut tries = 0;
        loop {
            tries += 1;
            let ports = Ports::free();
            let base = if own_storage {
                ports.listeners_yaml()
            } else {
                ports.base_yaml(dir.path())
            };
            std::fs::write(&config, format!("{base}{extra}")).unwrap();
            let mut process = StrataProcess::start(&bin(), dir.path(), &all_args, envs);
            match process
                .try_wait_ready(&ports.admin_url("/healthz"), Duration::from_secs(20))
                .await
            {
                Ok(()) => {
                    return Self {
                        dir,
                        ports,
                        config,
                        process,
                    };
                }
                Err(e) if tries < 4 && e.contains("Address already in use") => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::get(self.ports.admin_url(path)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Rewrites the config file (same base, new `extra`).
    pub fn write_config(&self, extra: &str) {
        let text = format!("{}{extra}", self.ports.base_yaml(self.dir.path()));
        std::fs::write(&self.config, text).unwrap();
    }

    /// Starts `strata serve` again on the same config and directory (after the process was
    /// stopped or killed), with `args` added, and waits until it answers.
    pub async fn restart(&mut self, args: &[&str]) {
        let config = self.config.display().to_string();
        let mut all_args = vec!["serve", "--config", &config];
        all_args.extend_from_slice(args);
        self.process = StrataProcess::start(&bin(), self.dir.path(), &all_args, &[]);
        self.process
            .wait_ready(&self.ports.admin_url("/healthz"), Duration::from_secs(20))
            .await;
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("strata.db").display())
    }
}

/// POSTs `body` as JSON to `url` and reads the answer as JSON, whatever its status.
pub async fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new().post(url).json(body).send().await;
    response.unwrap().json().await.unwrap()
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks that a scenario script printed `ok NAME` for each of `scenarios` and exited 0;
/// otherwise fails with its output and the gateway's logs.
pub fn assert_scenarios(scenarios: &[&str], out: &std::process::Output, logs: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = scenarios
        .iter()
        .copied()
        .filter(|s| !stdout.lines().any(|l| l == format!("ok {s}")))
        .collect();
    assert!(
        failed.is_empty() && out.status.success(),
        "scenarios that did not pass: {failed:?}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- strata logs\n{logs}",
        String::from_utf8_lossy(&out.stderr),
    );
}

/// Runs `tests/e2e/{script}` with `python` and `envs`, for at most five minutes.
pub async fn run_script(
    python: &Path,
    script: &str,
    envs: &[(&str, &str)],
) -> std::process::Output {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(strata_testkit::python::e2e_dir().join(script))
        .kill_on_drop(true);
    for (k, v) in envs {
        command.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within five minutes"))
        .unwrap()
}

/// POSTs one JSON-RPC message to `/mcp/demo` on `port` (with `client`, and the session id when
/// given); returns the status, the session id the answer names, and the JSON-RPC message (from
/// JSON or the last SSE event).
pub async fn post_mcp(
    client: &reqwest::Client,
    port: u16,
    session: Option<&str>,
    body: &serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    let mut request = client
        .post(format!("http://127.0.0.1:{port}/mcp/demo"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let data = text
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data:"))
        .find(|d| !d.trim().is_empty())
        .map_or(text.as_str(), str::trim);
    (
        status,
        id,
        serde_json::from_str(data).unwrap_or(serde_json::Value::Null),
    )
}
