//! `openapi` and `http` upstreams: a REST API's operations as tools, through the same
//! sessions, filters and audit log as any upstream.

use serde_json::{Value, json};
use strata_testkit::mcp_fixture::fixture_binary;

use crate::harness::{Client, Gateway, names};
use crate::rest_api::{DOCUMENT, RestApi};

/// A gateway serving `upstreams` (YAML list items, indented by 4) on server `api`, with the
/// API's document in the config's folder as `inventory.yaml`.
async fn gateway(
    upstreams: &str,
    server: &str,
) -> (Gateway, crate::harness::Audit, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inventory.yaml"), DOCUMENT).expect("write");
    let config = format!("mcp:\n  upstreams:\n{upstreams}  servers:\n{server}");
    let env = |name: &str| (name == "INVENTORY_TOKEN").then(|| "tok-123".to_string());
    let (gateway, audit) = Gateway::start_in(&config, dir.path(), &env).await;
    (gateway, audit, dir)
}

fn tool<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no tool {name} in {list}"))
}

async fn error_of(client: &Client, name: &str, arguments: Value) -> Value {
    let reply = client
        .post(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}))
        .await;
    reply.last()["error"].clone()
}

#[tokio::test]
async fn operations_are_tools_with_resolved_schemas_and_calls_reach_the_api() {
    let api = RestApi::start().await;
    let upstream = format!(
        "    - name: inventory\n      openapi:\n        spec: inventory.yaml\n        base_url: {}\n        auth: {{ bearer: {{ env: INVENTORY_TOKEN }} }}\n        overrides:\n          get_tags: {{ name: list_tags, description: Every tag }}\n",
        api.base
    );
    let (gateway, audit, _dir) = gateway(
        &upstream,
        "    - { name: api, upstreams: [inventory], audit: { arguments: full } }\n",
    )
    .await;
    let mut client = Client::new(gateway.url("api"));
    client.initialize("2025-11-25").await;

    let list = client.call("tools/list", json!({})).await;
    let mut listed = names(&list, "tools");
    listed.sort();
    assert_eq!(
        listed,
        ["createItem", "deleteItem", "getItem", "list_tags", "slow"]
    );
    let get_item = tool(&list, "getItem");
    assert_eq!(get_item["description"], "Read an item");
    assert_eq!(
        get_item["inputSchema"]["properties"]["item_id"]["type"],
        "string"
    );
    assert_eq!(
        get_item["inputSchema"]["properties"]["verbose"]["description"],
        "Say more"
    );
    assert_eq!(get_item["inputSchema"]["required"], json!(["item_id"]));
    assert_eq!(
        get_item["outputSchema"]["properties"]["id"]["type"], "string",
        "$ref resolved"
    );
    assert_eq!(get_item["annotations"]["readOnlyHint"], true);
    let create = tool(&list, "createItem");
    assert_eq!(create["inputSchema"]["required"], json!(["name", "price"]));
    assert_eq!(
        create["inputSchema"]["properties"]["note"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(create["inputSchema"]["additionalProperties"], false);
    let tags = tool(&list, "list_tags");
    assert_eq!(tags["description"], "Every tag");
    assert_eq!(
        tags["outputSchema"]["properties"]["result"]["type"],
        "array"
    );
    assert!(tool(&list, "slow").get("outputSchema").is_none());

    // GET with path, query and header parameters: structured content.
    let got = client
        .call("tools/call", json!({"name": "getItem", "arguments": {"item_id": "w1", "verbose": true, "X-Trace": "t-1"}}))
        .await;
    assert_eq!(
        got["structuredContent"],
        json!({"id": "w1", "name": "widget", "verbose": true})
    );
    assert_eq!(
        serde_json::from_str::<Value>(got["content"][0]["text"].as_str().unwrap()).unwrap(),
        got["structuredContent"]
    );
    let seen = api.seen();
    assert_eq!(seen[0].target, "/items/w1?verbose=true");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok-123"));
    assert_eq!(seen[0].trace.as_deref(), Some("t-1"));

    // POST with a JSON body made of the flattened fields.
    let created = client
        .call(
            "tools/call",
            json!({"name": "createItem", "arguments": {"name": "bolt", "price": 2.5}}),
        )
        .await;
    assert_eq!(
        created["structuredContent"],
        json!({"id": "new", "name": "bolt", "price": 2.5})
    );
    assert_eq!(api.seen()[1].method, "POST");
    assert_eq!(
        api.seen()[1].body,
        Some(json!({"name": "bolt", "price": 2.5}))
    );
    let tags = client
        .call("tools/call", json!({"name": "list_tags", "arguments": {}}))
        .await;
    assert_eq!(tags["structuredContent"], json!({"result": ["a", "b"]}));

    // A non-2xx answer is a tool error with its status and body.
    let missing = client
        .call(
            "tools/call",
            json!({"name": "getItem", "arguments": {"item_id": "missing"}}),
        )
        .await;
    assert_eq!(missing["isError"], true);
    let text = missing["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("404") && text.contains("no item missing"),
        "{text}"
    );

    // Invalid arguments are refused before any request, naming the field.
    let before = api.seen().len();
    let error = error_of(&client, "createItem", json!({"name": "x", "price": -1})).await;
    assert_eq!(error["code"], -32602);
    assert_eq!(error["data"]["field"], "price");
    assert!(
        error["message"].as_str().unwrap().contains("`price`"),
        "{error}"
    );
    let error = error_of(
        &client,
        "getItem",
        json!({"item_id": "x", "url": "http://evil/"}),
    )
    .await;
    assert_eq!(error["data"]["field"], "url");
    let error = error_of(&client, "getItem", json!({"verbose": true})).await;
    assert_eq!(error["data"]["field"], "item_id");
    let error = error_of(&client, "getItem", json!({"item_id": ".."})).await;
    assert_eq!(error["data"]["field"], "item_id");
    assert_eq!(api.seen().len(), before, "no request reached the API");

    // Path arguments stay one percent-encoded segment under the base URL.
    for (id, target) in [
        ("../../x", "/items/..%2F..%2Fx"),
        ("http://evil/", "/items/http%3A%2F%2Fevil%2F"),
    ] {
        let r = client
            .call(
                "tools/call",
                json!({"name": "getItem", "arguments": {"item_id": id}}),
            )
            .await;
        assert_eq!(r["structuredContent"]["id"], id, "{r}");
        assert_eq!(api.seen().last().unwrap().target, target);
    }

    // The audit log has every call, errors and refusals included.
    let records = audit.records().await;
    let calls: Vec<(String, String)> = records
        .iter()
        .filter(|r| r.action == "tools/call")
        .map(|r| {
            (
                r.target.clone().unwrap_or_default(),
                format!("{:?}", r.outcome),
            )
        })
        .collect();
    for expected in [
        ("getItem", "Ok"),
        ("createItem", "Ok"),
        ("list_tags", "Ok"),
        ("getItem", "Error"),
        ("createItem", "Error"),
    ] {
        assert!(
            calls.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {calls:?}"
        );
    }
    let refused = records
        .iter()
        .find(|r| {
            r.action == "tools/call" && r.error.as_deref().is_some_and(|e| e.contains("price"))
        })
        .expect("the refused call");
    assert_eq!(refused.detail["arguments"]["price"], -1);
    assert_eq!(refused.detail["upstream"], "inventory");
}

#[tokio::test]
async fn selection_and_read_only_pick_the_operations() {
    let api = RestApi::start().await;
    let upstream = format!(
        "    - name: inventory\n      openapi:\n        spec: inventory.yaml\n        base_url: {}\n        read_only: true\n        include: {{ paths: [\"/items/*\"], operations: [slow] }}\n        exclude: {{ tags: [admin] }}\n",
        api.base
    );
    let (gateway, _audit, _dir) =
        gateway(&upstream, "    - { name: api, upstreams: [inventory] }\n").await;
    let mut client = Client::new(gateway.url("api"));
    client.initialize("2025-11-25").await;
    let mut listed = names(&client.call("tools/list", json!({})).await, "tools");
    listed.sort();
    assert_eq!(
        listed,
        ["getItem", "slow"],
        "POST is not read-only, DELETE is tagged admin, /tags is not included"
    );
    let error = error_of(&client, "createItem", json!({"name": "x", "price": 1})).await;
    assert!(
        error["message"].as_str().unwrap().contains("createItem"),
        "{error}"
    );
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn timeouts_and_unreachable_apis_are_tool_errors() {
    let api = RestApi::start().await;
    let upstreams = format!(
        "    - name: inventory\n      timeout: 1s\n      openapi: {{ spec: inventory.yaml, base_url: \"{}\" }}\n    - name: gone\n      openapi: {{ spec: inventory.yaml, base_url: \"http://127.0.0.1:1\" }}\n",
        api.base
    );
    let (gateway, audit, _dir) = gateway(
        &upstreams,
        "    - { name: api, upstreams: [inventory, gone] }\n",
    )
    .await;
    let mut client = Client::new(gateway.url("api"));
    client.initialize("2025-11-25").await;
    let slow = client
        .call(
            "tools/call",
            json!({"name": "inventory_slow", "arguments": {}}),
        )
        .await;
    assert_eq!(slow["isError"], true, "{slow}");
    let text = slow["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("timed out after 900ms") && text.contains("/slow"),
        "{text}"
    );
    let gone = client
        .call(
            "tools/call",
            json!({"name": "gone_getItem", "arguments": {"item_id": "a"}}),
        )
        .await;
    assert_eq!(gone["isError"], true, "{gone}");
    let text = gone["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("GET http://127.0.0.1:1/items/a failed"),
        "{text}"
    );
    let errors = audit
        .records()
        .await
        .into_iter()
        .filter(|r| r.action == "tools/call" && format!("{:?}", r.outcome) == "Error")
        .count();
    assert_eq!(errors, 2);
}

#[tokio::test]
async fn http_tools_call_their_endpoint() {
    let api = RestApi::start().await;
    let upstream = format!(
        "    - name: ops
      headers: {{ X-Trace: from-config }}
      http:
        auth: {{ header: {{ name: Authorization, value: Token s3cret }} }}
        tools:
          - name: item
            description: One item
            method: GET
            url: \"{base}/items/{{item_id}}\"
            input_schema: {{ type: object, properties: {{ item_id: {{ type: string }}, verbose: {{ type: boolean }} }}, required: [item_id] }}
            output_schema: {{ type: object, properties: {{ id: {{ type: string }} }} }}
          - name: moved
            method: GET
            url: \"{base}/moved\"
          - name: create
            method: POST
            url: \"{base}/items\"
            input_schema: {{ type: object, properties: {{ name: {{ type: string }}, price: {{ type: number }} }}, required: [name] }}
",
        base = api.base
    );
    let (gateway, _audit, _dir) =
        gateway(&upstream, "    - { name: api, upstreams: [ops] }\n").await;
    let mut client = Client::new(gateway.url("api"));
    client.initialize("2025-11-25").await;
    let list = client.call("tools/list", json!({})).await;
    assert_eq!(
        tool(&list, "item")["outputSchema"]["properties"]["id"]["type"],
        "string"
    );
    let got = client
        .call(
            "tools/call",
            json!({"name": "item", "arguments": {"item_id": "a/b", "verbose": false}}),
        )
        .await;
    assert_eq!(got["structuredContent"]["id"], "a/b");
    let seen = api.seen();
    assert_eq!(seen[0].target, "/items/a%2Fb?verbose=false");
    assert_eq!(seen[0].authorization.as_deref(), Some("Token s3cret"));
    assert_eq!(seen[0].trace.as_deref(), Some("from-config"));
    let created = client
        .call(
            "tools/call",
            json!({"name": "create", "arguments": {"name": "n", "price": 1}}),
        )
        .await;
    assert_ne!(created["isError"], true, "{created}");
    assert_eq!(api.seen()[1].body, Some(json!({"name": "n", "price": 1})));
    let error = error_of(&client, "create", json!({"price": 1})).await;
    assert_eq!(error["data"]["field"], "name");
    assert_eq!(api.seen().len(), 2);
    // A redirect is the API's answer, never followed to another host.
    let moved = client
        .call("tools/call", json!({"name": "moved", "arguments": {}}))
        .await;
    assert_eq!(moved["isError"], true, "{moved}");
    let text = moved["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("HTTP 307 Temporary Redirect"), "{text}");
}

#[tokio::test]
async fn an_openapi_upstream_sits_beside_a_real_mcp_server() {
    let api = RestApi::start().await;
    let upstreams = format!(
        "    - {{ name: inventory, openapi: {{ spec: inventory.yaml, base_url: \"{}\" }} }}\n    - {{ name: local, stdio: {{ command: \"{}\", args: [--stdio] }} }}\n",
        api.base,
        fixture_binary().display()
    );
    let server = "    - name: mixed\n      upstreams: [inventory, local]\n      tools: { allow: [\"inventory/getItem\", \"local/test_simple_text\"] }\n";
    let (gateway, _audit, _dir) = gateway(&upstreams, server).await;
    let mut client = Client::new(gateway.url("mixed"));
    client.initialize("2025-11-25").await;
    // Every page of the merged list (each upstream's tools come on their own page).
    let mut listed = Vec::new();
    let mut params = json!({});
    loop {
        let page = client.call("tools/list", params).await;
        listed.extend(names(&page, "tools"));
        match page["nextCursor"].as_str() {
            Some(cursor) => params = json!({ "cursor": cursor }),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, ["inventory_getItem", "local_test_simple_text"]);
    let got = client
        .call(
            "tools/call",
            json!({"name": "inventory_getItem", "arguments": {"item_id": "z"}}),
        )
        .await;
    assert_eq!(got["structuredContent"]["id"], "z");
    let text = client
        .call(
            "tools/call",
            json!({"name": "local_test_simple_text", "arguments": {}}),
        )
        .await;
    assert!(text["content"][0]["text"].is_string(), "{text}");
}
