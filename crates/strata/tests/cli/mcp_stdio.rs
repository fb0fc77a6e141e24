//! `strata mcp-stdio --server NAME`: a stdio client reaches a virtual server through the binary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::mcp_fixture::fixture_binary;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::harness::bin;

#[tokio::test]
async fn a_stdio_client_lists_and_calls_tools_and_stdin_eof_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.yaml");
    std::fs::write(
        &config,
        format!(
            "mcp:\n  upstreams:\n    - {{ name: local, stdio: {{ command: \"{}\", args: [--stdio] }} }}\n  servers:\n    - {{ name: desk, upstreams: [local] }}\n",
            fixture_binary().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args(["mcp-stdio", "--server", "desk", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    {
        let mut exchange = async |message: Value| -> Value {
            stdin
                .write_all(format!("{message}\n").as_bytes())
                .await
                .unwrap();
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .expect("an answer within 10 s")
                .unwrap()
                .expect("a line");
            serde_json::from_str(&line).expect("stdout carries JSON-RPC only")
        };
        let init = exchange(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "desktop", "version": "1"}}}))
    .await;
        assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
        let tools = exchange(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
        assert!(
            tools["result"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "{tools}"
        );
        let call = exchange(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "test_simple_text", "arguments": {}}})).await;
        assert_eq!(call["result"]["content"][0]["type"], "text", "{call}");
        let garbage = exchange(json!("not a message")).await;
        assert_eq!(garbage["error"]["code"], -32600, "{garbage}");
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits after stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}
