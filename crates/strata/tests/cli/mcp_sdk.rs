//! The official MCP Python SDK (`mcp`) against `strata serve`, with the reference MCP servers
//! from npm (everything, filesystem, memory) as stdio upstreams run by the gateway; and, on the
//! wire, what the gateway does with a call the client cancels.
//!
//! The servers are installed once into the tools cache (`strata_testkit::npm`) and run as
//! `node <package>/dist/index.js`, so nothing is fetched while the tests run. Without node, npm
//! or Python the tests are skipped, unless `STRATA_TEST_REQUIRE_SERVICES=1`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_testkit::python::{e2e_dir, python_with_sdks};
use strata_testkit::skip;

use crate::harness::{Stack, eventually};

const EVERYTHING: (&str, &str) = ("@modelcontextprotocol/server-everything", "2026.8.31");
const FILESYSTEM: (&str, &str) = ("@modelcontextprotocol/server-filesystem", "2026.8.31");
const MEMORY: (&str, &str) = ("@modelcontextprotocol/server-memory", "2026.8.31");

/// The scenarios of `tests/e2e/mcp_sdk.py`, each of which must print `ok <scenario>`.
const SCENARIOS: [&str; 12] = [
    "tools_single_upstream",
    "tools_merged",
    "filesystem",
    "memory",
    "resources",
    "prompts",
    "sampling",
    "elicitation",
    "progress",
    "cancellation",
    "roots",
    "crash",
];

/// The entry points (`dist/index.js`) of the reference servers.
pub(crate) struct ReferenceServers {
    pub everything: PathBuf,
    filesystem: PathBuf,
    pub memory: PathBuf,
}

/// Installs the reference servers (once; one test at a time), or reports the skip.
pub(crate) fn reference_servers(test: &str) -> Option<ReferenceServers> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        skip(test, "node is not available");
        return None;
    }
    let mut entries = Vec::new();
    for (package, version) in [EVERYTHING, FILESYSTEM, MEMORY] {
        let Some(folder) = strata_testkit::npm::install(package, version) else {
            skip(
                test,
                &format!("cannot install {package}@{version} with npm"),
            );
            return None;
        };
        entries.push(folder.join("dist/index.js"));
    }
    let [everything, filesystem, memory] = <[PathBuf; 3]>::try_from(entries).ok()?;
    Some(ReferenceServers {
        everything,
        filesystem,
        memory,
    })
}

/// A path as a YAML scalar (a JSON string is a valid double-quoted YAML scalar).
pub(crate) fn yaml(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap()
}

/// Pids of the processes whose command line contains `pattern`.
fn processes_matching(pattern: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_python_sdk_works_through_the_gateway() {
    const TEST: &str = "the_mcp_python_sdk_works_through_the_gateway";
    let Some(servers) = reference_servers(TEST) else {
        return;
    };
    let Some(python) = python_with_sdks(TEST) else {
        return;
    };
    if std::process::Command::new("pgrep")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            TEST,
            "pgrep is not available (the test finds the gateway's children with it)",
        );
        return;
    }
    // Every child's command line carries this folder's path: the script finds the children of
    // the `crash` server by it, and this test checks that no child outlives its session.
    let files = tempfile::tempdir().unwrap();
    let root = files.path().canonicalize().unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("hello.txt"), "hello from strata\n").unwrap();
    let memory_file = root.join("memory.jsonl");
    let crash_memory = root.join("crashmem.jsonl");
    let crash_everything = root.join("crashev");
    let config = format!(
        "mcp:\n  upstreams:\n\
         \x20   - {{ name: everything, stdio: {{ command: node, args: [{ev}, stdio, {ev_mark}] }} }}\n\
         \x20   - {{ name: fs, stdio: {{ command: node, args: [{fs}, {data}] }} }}\n\
         \x20   - {{ name: memory, stdio: {{ command: node, args: [{mem}, {mem_file}], env: {{ MEMORY_FILE_PATH: {mem_file} }} }} }}\n\
         \x20   - {{ name: crashmem, stdio: {{ command: node, args: [{mem}, {crash_mem}], env: {{ MEMORY_FILE_PATH: {crash_mem} }} }} }}\n\
         \x20   - {{ name: crashev, stdio: {{ command: node, args: [{ev}, stdio, {crash_ev}] }} }}\n\
         \x20 servers:\n\
         \x20   - {{ name: everything, upstreams: [everything], prefix: never }}\n\
         \x20   - {{ name: all, upstreams: [everything, fs, memory] }}\n\
         \x20   - {{ name: crash, upstreams: [crashmem, crashev] }}\n",
        ev = yaml(&servers.everything),
        ev_mark = yaml(&root.join("everything")),
        fs = yaml(&servers.filesystem),
        data = yaml(&data),
        mem = yaml(&servers.memory),
        mem_file = yaml(&memory_file),
        crash_mem = yaml(&crash_memory),
        crash_ev = yaml(&crash_everything),
    );
    let stack = Stack::start(&config, &["--log-level", "info,strata_mcp=debug"], &[]).await;
    let out = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new(&python)
            .arg(e2e_dir().join("mcp_sdk.py"))
            .env(
                "STRATA_MCP_URL",
                format!("http://127.0.0.1:{}/mcp", stack.ports.mcp),
            )
            .env("STRATA_E2E_DATA", &data)
            .env("STRATA_E2E_CRASH_MEMORY", &crash_memory)
            .env("STRATA_E2E_CRASH_EVERYTHING", &crash_everything)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("mcp_sdk.py finishes within 10 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // What the script observed (e.g. how the session came through the crash), for the report.
    for line in stdout.lines().filter(|l| l.starts_with("info ")) {
        eprintln!("{line}");
    }
    crate::harness::assert_scenarios(&SCENARIOS, &out, &stack.process.logs());
    // The memory upstream kept its graph where the config told it to.
    let graph = std::fs::read_to_string(&memory_file).unwrap();
    assert!(graph.contains("\"strata-e2e\""), "{graph}");
    // Every session ended with the script (the SDK deletes it): no child is left running.
    let pattern = root.display().to_string();
    eventually(
        Duration::from_secs(10),
        "the children of ended sessions to exit",
        || async { processes_matching(&pattern).is_empty().then_some(()) },
    )
    .await;
}

/// Reads a `text/event-stream` body; returns its JSON-RPC messages as they come.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// The next message, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.iter().any(|d| !d.is_empty()) {
                    return Some(serde_json::from_str(&data.join("\n")).unwrap());
                }
                continue;
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

/// A raw Streamable HTTP session with one virtual server.
struct RawSession {
    http: reqwest::Client,
    url: String,
    id: String,
}

impl RawSession {
    async fn open(url: String) -> Self {
        let http = reqwest::Client::new();
        let response = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        let session = Self { http, url, id };
        let accepted = session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(accepted.status(), 202);
        session
    }

    async fn post(&self, message: &Value) -> reqwest::Response {
        self.http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .json(message)
            .send()
            .await
            .unwrap()
    }
}

/// A client cancels a call in flight to a real upstream: the gateway stops waiting for an
/// answer the upstream will never send (it was cancelled) and ends the request's stream at once.
/// On the 2025 wire a stream ends with a response for its id, so the only answer allowed is a
/// "request cancelled" error (-32800, what the official Python SDK's server sends): no result, no
/// timeout error once the upstream's timeout has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_not_waited_for() {
    const TEST: &str = "a_cancelled_call_is_not_waited_for";
    let Some(servers) = reference_servers(TEST) else {
        return;
    };
    // A short upstream timeout, so that a gateway still waiting for the cancelled call's
    // answer shows it within the test.
    let config = format!(
        "mcp:\n  upstreams:\n\
         \x20   - {{ name: everything, timeout: 5s, stdio: {{ command: node, args: [{}, stdio] }} }}\n\
         \x20 servers:\n\
         \x20   - {{ name: everything, upstreams: [everything], prefix: never }}\n",
        yaml(&servers.everything)
    );
    let stack = Stack::start(&config, &["--log-level", "info,strata_mcp=debug"], &[]).await;
    let session = RawSession::open(format!(
        "http://127.0.0.1:{}/mcp/everything",
        stack.ports.mcp
    ))
    .await;
    let response = session
        .post(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "trigger-long-running-operation",
            "arguments": {"duration": 20, "steps": 20},
            "_meta": {"progressToken": "slow"}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut stream = SseReader {
        response,
        buffer: String::new(),
    };
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the first progress notification within 10 s")
        .expect("the stream is open");
    assert_eq!(first["method"], "notifications/progress", "{first}");
    let cancelled = session
        .post(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 2, "reason": "the user changed their mind"}}),
        )
        .await;
    assert_eq!(cancelled.status(), 202);
    let cancelled_at = Instant::now();
    let mut after = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = stream.next().await {
            after.push((cancelled_at.elapsed(), message));
        }
    })
    .await
    .is_ok();
    let ended_after = cancelled_at.elapsed();
    let answers: Vec<_> = after
        .iter()
        .filter(|(_, m)| m.get("id").is_some())
        .collect();
    assert!(
        answers
            .iter()
            .all(|(_, m)| m["id"] == 2 && m["error"]["code"] == -32800),
        "the cancelled request got an answer other than \"request cancelled\": {answers:?}\n\
         strata logs:\n{}",
        stack.process.logs()
    );
    assert!(
        ended && ended_after < Duration::from_secs(3),
        "the cancelled request's stream was still open {ended_after:?} after the cancel \
         (ended: {ended}); it carried {after:?}"
    );
    // The session goes on.
    let echo = session
        .post(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "after"}}}))
        .await;
    let text = echo.text().await.unwrap();
    assert!(text.contains("Echo: after"), "{text}");
}
