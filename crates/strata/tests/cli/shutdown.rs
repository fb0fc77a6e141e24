//! SIGTERM and SIGINT: stop, drain, flush the audit log, exit 0.

use std::time::Duration;

use strata_config::Storage;
use strata_core::Secret;
use strata_store::{AuditQuery, Store};

use crate::harness::Stack;

async fn stop_with(signal: &str) {
    let mut stack = Stack::start("", &[], &[]).await;
    stack.process.signal(signal);
    let code = stack.process.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit code; logs:\n{}", stack.process.logs());
    let logs = stack.process.logs();
    assert!(logs.contains("shutdown requested"), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");

    // The buffered audit records were flushed before exit.
    let store = Store::connect(&Storage {
        url: Secret::new(stack.db_url()),
        ..Storage::default()
    })
    .await
    .unwrap();
    let records = store.audit_records(&AuditQuery::default()).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["server.stop", "server.start"], "{records:?}");
    assert_eq!(records[0].detail["drained"], true);
    store.close().await;
}

#[tokio::test]
async fn sigterm_drains_flushes_and_exits_0() {
    stop_with("TERM").await;
}

#[tokio::test]
async fn sigint_drains_flushes_and_exits_0() {
    stop_with("INT").await;
}
