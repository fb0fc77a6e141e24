//! Virtual servers over several upstreams: prefixes, filters, overrides, a composite cursor,
//! and routing by name and URI.

use serde_json::json;
use strata_testkit::McpFixture;
use strata_testkit::mcp_fixture::fixture_binary;

use crate::harness::{Client, Gateway, names};

async fn two_upstreams(server: &str) -> (McpFixture, Gateway) {
    let fixture = McpFixture::start().await.expect("fixture");
    let binary = fixture_binary();
    let gateway = Gateway::start(&format!(
        "upstreams:
  - {{ name: web, url: \"{url}\" }}
  - {{ name: local, stdio: {{ command: \"{bin}\", args: [--stdio] }} }}
servers:
{server}",
        url = fixture.url(),
        bin = binary.display(),
    ))
    .await;
    (fixture, gateway)
}

#[tokio::test]
async fn tools_of_two_upstreams_are_prefixed_filtered_renamed_and_paged() {
    let (_fixture, gateway) = two_upstreams(
        "  - name: dev
    upstreams: [web, local]
    tools:
      deny: [\"local/test_image*\", \"*elicitation*\"]
      overrides:
        web/test_simple_text: { name: hello, description: Says hello }
",
    )
    .await;
    let mut client = Client::new(gateway.url("dev"));
    let init = client.initialize("2025-11-25").await;
    assert_eq!(init.last()["result"]["serverInfo"]["name"], "strata/dev");

    let first = client.call("tools/list", json!({})).await;
    let web = names(&first, "tools");
    assert!(web.contains(&"hello".to_string()), "{web:?}");
    assert!(
        web.contains(&"web_test_image_content".to_string()),
        "{web:?}"
    );
    assert!(
        web.iter().all(|n| !n.contains("elicitation")),
        "deny applies: {web:?}"
    );
    let hello = first["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "hello")
        .expect("hello");
    assert_eq!(hello["description"], "Says hello");
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a cursor to the second upstream");

    let second = client.call("tools/list", json!({ "cursor": cursor })).await;
    let local = names(&second, "tools");
    assert!(
        local.contains(&"local_test_simple_text".to_string()),
        "{local:?}"
    );
    assert!(
        !local.contains(&"local_test_image_content".to_string()),
        "denied by upstream/tool glob"
    );
    assert!(
        second.get("nextCursor").is_none(),
        "the last page: {second}"
    );

    let bad = client
        .call("tools/list", json!({ "cursor": "garbage" }))
        .await;
    assert_eq!(bad["error"]["code"], -32602);

    let text = client
        .call("tools/call", json!({"name": "hello", "arguments": {}}))
        .await;
    assert_eq!(text["content"][0]["type"], "text", "{text}");
    let local = client
        .call(
            "tools/call",
            json!({"name": "local_test_simple_text", "arguments": {}}),
        )
        .await;
    assert_eq!(local["content"][0]["type"], "text", "{local}");
    let denied = client
        .call(
            "tools/call",
            json!({"name": "local_test_image_content", "arguments": {}}),
        )
        .await;
    assert_eq!(
        denied["error"]["code"], -32602,
        "a denied tool cannot be called: {denied}"
    );
}

#[tokio::test]
async fn a_tool_called_before_any_list_is_found() {
    let (_fixture, gateway) =
        two_upstreams("  - { name: dev, upstreams: [web, local], prefix: always }\n").await;
    let mut client = Client::new(gateway.url("dev"));
    client.initialize("2025-11-25").await;
    let result = client
        .call(
            "tools/call",
            json!({"name": "local_test_simple_text", "arguments": {}}),
        )
        .await;
    assert_eq!(result["content"][0]["type"], "text", "{result}");
    let unknown = client
        .call("tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    assert_eq!(unknown["error"]["code"], -32602);
}

#[tokio::test]
async fn prompts_and_resources_route_to_their_owner() {
    let (_fixture, gateway) = two_upstreams("  - { name: dev, upstreams: [web, local] }\n").await;
    let mut client = Client::new(gateway.url("dev"));
    client.initialize("2025-11-25").await;
    let prompts = client.call("prompts/list", json!({})).await;
    assert!(
        names(&prompts, "prompts").contains(&"web_test_simple_prompt".to_string()),
        "{prompts}"
    );
    let prompt = client
        .call("prompts/get", json!({"name": "web_test_simple_prompt"}))
        .await;
    assert!(prompt["messages"].is_array(), "{prompt}");
    let resources = client.call("resources/list", json!({})).await;
    let uri = resources["resources"][0]["uri"]
        .as_str()
        .expect("a resource")
        .to_string();
    assert!(uri.starts_with("test://"), "URIs are not rewritten: {uri}");
    let read = client.call("resources/read", json!({"uri": uri})).await;
    assert_eq!(read["contents"][0]["uri"], uri.as_str(), "{read}");
    let missing = client
        .call("resources/read", json!({"uri": "test://does-not-exist"}))
        .await;
    assert!(missing["error"]["code"].is_i64(), "{missing}");
    let level = client
        .call("logging/setLevel", json!({"level": "debug"}))
        .await;
    assert_eq!(level, json!({}));
}
