//! The mcp layer's audit log survives `kill -9`: every call that returned has its record,
//! read back with `strata audit`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Stack, bin};

const CONFIG: &str = "
auth:
  keys:
    - { name: alice, key: sk-alice, roles: [caller] }
  roles:
    caller: { tools: [\"tools/*\"] }
mcp:
  upstreams:
    - { name: demo, builtin: demo }
  servers:
    - { name: tools, upstreams: [demo], audit: { arguments: full } }
";

/// Calls that must have returned before the process is killed.
const BEFORE_KILL: usize = 400;
/// Calls that return in all.
const TOTAL: usize = 1000;
const WORKERS: usize = 8;

async fn post(url: &str, session: Option<&str>, body: &Value) -> Option<reqwest::Response> {
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-alice")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .timeout(Duration::from_secs(10))
        .json(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.ok()
}

async fn open_session(url: &str) -> String {
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "audit-test", "version": "1" } } });
    let r = post(url, None, &init).await.expect("initialize");
    assert_eq!(r.status(), 200);
    r.headers()["mcp-session-id"].to_str().unwrap().to_string()
}

/// Calls `echo` with `call-N` (N from `next`, up to `last`) on `WORKERS` connections until
/// `stop` is set or the gateway stops answering; returns the N of every call that returned
/// its result.
async fn call_until(
    url: String,
    next: Arc<AtomicU64>,
    last: u64,
    stop: Arc<AtomicBool>,
) -> Vec<u64> {
    let session = open_session(&url).await;
    let returned = Arc::new(Mutex::new(Vec::new()));
    let workers = (0..WORKERS).map(|_| {
        let (url, session, next, stop, returned) = (
            url.to_string(),
            session.clone(),
            next.clone(),
            stop.clone(),
            returned.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let n = next.fetch_add(1, Ordering::AcqRel);
                if n > last {
                    return;
                }
                let call = json!({ "jsonrpc": "2.0", "id": n, "method": "tools/call",
                    "params": { "name": "echo", "arguments": { "text": format!("call-{n}") } } });
                let Some(response) = post(&url, Some(&session), &call).await else {
                    return;
                };
                let Ok(answer) = response.json::<Value>().await else {
                    return;
                };
                assert_eq!(answer["result"]["content"][0]["text"], format!("call-{n}"));
                returned.lock().unwrap().push(n);
            }
        })
    });
    for worker in futures_util::future::join_all(workers).await {
        worker.unwrap();
    }
    std::mem::take(&mut *returned.lock().unwrap())
}

/// The calls among `returned` whose text (`call-{n}`) is not in `texts`.
fn not_in(returned: &[u64], texts: &HashSet<&str>) -> Vec<u64> {
    returned
        .iter()
        .copied()
        .filter(|n| !texts.contains(format!("call-{n}").as_str()))
        .collect()
}

/// The `echo` texts of the audited calls, read with `strata audit --format jsonl`.
fn audited_texts(stack: &Stack) -> Vec<String> {
    let config = stack.config.display().to_string();
    let out = std::process::Command::new(bin())
        .args([
            "audit", "--config", &config, "--server", "tools", "--action",
        ])
        .args([
            "tools/call",
            "--outcome",
            "ok",
            "--limit",
            "100000",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["principal"], "alice");
            assert_eq!(record["target"], "echo");
            record["detail"]["arguments"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The `text` arguments of the `tools/call` records waiting in the audit spool, which a
/// killed process leaves behind (`storage.spool_dir` defaults to the database's path plus
/// `.spool`). A line the kill cut short is skipped, as recovery skips it.
fn spooled_texts(stack: &Stack) -> Vec<String> {
    let dir = stack.dir.path().join("strata.db.spool");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("audit_log-")
        {
            continue;
        }
        let content = std::fs::read_to_string(entry.path()).unwrap();
        for record in content
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|r| r["action"] == "tools/call" && r["outcome"] == "ok")
        {
            if let Some(text) = record["detail"]["arguments"]["text"].as_str() {
                texts.push(text.to_string());
            }
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_that_returned_is_audited_across_a_kill_9() {
    let mut stack = Stack::start(CONFIG, &["--log-level", "warn"], &[]).await;
    let url = format!("http://127.0.0.1:{}/mcp/tools", stack.ports.mcp);
    let next = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));

    // Calls run on eight connections; the process dies under them without warning.
    let calling = tokio::spawn(call_until(
        url.clone(),
        next.clone(),
        u64::MAX,
        stop.clone(),
    ));
    let started = std::time::Instant::now();
    while next.load(Ordering::Acquire) < (BEFORE_KILL + WORKERS) as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "calls too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stack.process.signal("KILL");
    stack.process.wait_exit(Duration::from_secs(10));
    let mut returned = calling.await.unwrap();
    assert!(returned.len() >= BEFORE_KILL, "{} returned", returned.len());
    let committed = audited_texts(&stack);
    let spooled = spooled_texts(&stack);
    eprintln!(
        "killed with {} calls returned, {} records committed and {} in the spool",
        returned.len(),
        committed.len(),
        spooled.len()
    );
    // At the kill every call that had returned was committed or in the spool, and the
    // writer had been committing (not everything waited in the spool).
    assert!(
        !committed.is_empty(),
        "nothing was committed before the kill"
    );
    let safe: HashSet<&str> = committed
        .iter()
        .chain(&spooled)
        .map(String::as_str)
        .collect();
    let lost = not_in(&returned, &safe);
    assert!(
        lost.is_empty(),
        "returned before the kill, neither committed nor spooled: {lost:?}"
    );

    // Restarted on the same database: the rest of the thousand calls.
    let config = stack.config.display().to_string();
    stack.restart(&["--log-level", "warn"]).await;
    let first = next.load(Ordering::Acquire);
    let last = first + (TOTAL - returned.len()) as u64 - 1;
    returned.extend(call_until(url, next, last, stop).await);
    assert_eq!(returned.len(), TOTAL);
    stack.process.signal("TERM");
    stack.process.wait_exit(Duration::from_secs(20));

    let texts = audited_texts(&stack);
    let audited: HashSet<&str> = texts.iter().map(String::as_str).collect();
    let missing = not_in(&returned, &audited);
    assert!(
        missing.is_empty(),
        "{} of {} returned calls have no audit record: {missing:?}",
        missing.len(),
        returned.len()
    );
    // The table form lists the same records.
    let out = std::process::Command::new(bin())
        .args([
            "audit",
            "--config",
            &config,
            "--principal",
            "alice",
            "--limit",
            "3",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("time "), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_past_their_retention_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("strata.db").display());
    let storage = strata_config::Storage {
        url: strata_core::Secret::new(&url),
        ..Default::default()
    };
    let store = strata_store::Store::connect(&storage).await.unwrap();
    let writer = strata_store::BatchWriter::spawn(store.clone(), Default::default());
    let day_ms = 24 * 3600 * 1000;
    for (action, age_days) in [("old", 40), ("recent", 2)] {
        let mut record = strata_store::AuditRecord::new("mcp", action, strata_store::Outcome::Ok);
        record.ts_ms = strata_core::now_ms() - age_days * day_ms;
        writer.write_durable(record).await.unwrap();
    }
    store.close().await;
    let stack = Stack::start(
        &format!("storage:\n  url: {url}\n  audit_retention: 30d\n"),
        &[],
        &[],
    )
    .await;
    let config = stack.config.display().to_string();
    let actions = || {
        let out = std::process::Command::new(bin())
            .args([
                "audit", "--config", &config, "--layer", "mcp", "--format", "jsonl",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].to_string())
            .collect::<Vec<_>>()
    };
    crate::harness::eventually(Duration::from_secs(10), "the old record to go", || async {
        (actions() == ["\"recent\""]).then_some(())
    })
    .await;
}
