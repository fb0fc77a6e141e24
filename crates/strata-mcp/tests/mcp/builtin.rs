//! The demo tool server built into the binary (`builtin: demo`), through a virtual server.

use serde_json::json;

use crate::harness::{Client, Gateway};

#[tokio::test]
async fn the_builtin_demo_server_lists_and_answers() {
    let gateway = Gateway::start(
        "upstreams:\n  - { name: demo, builtin: demo }\nservers:\n  - { name: demo, upstreams: [demo] }\n",
    )
    .await;
    let mut client = Client::new(gateway.url("demo"));
    let init = client.initialize("2025-11-25").await;
    assert_eq!(init.last()["result"]["serverInfo"]["name"], "strata-demo");
    let tools = client.call("tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["echo", "add", "current_time"]);
    let sum = client
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(sum["content"][0]["text"], "5", "{sum}");
    let echo = client
        .call(
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
        )
        .await;
    assert_eq!(echo["content"][0]["text"], "hi");
    let bad = client
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": "x"}}),
        )
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let readme = client
        .call("resources/read", json!({"uri": "demo://readme"}))
        .await;
    assert!(
        readme["contents"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Strata demo")
    );
    let prompt = client
        .call(
            "prompts/get",
            json!({"name": "greet", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert!(prompt.to_string().contains("Say hello to Ada."), "{prompt}");
}
