//! Multi round-trip requests (2026-07-28) for stateless clients of a stdio upstream: what the
//! upstream asks mid-call reaches the client as an `InputRequiredResult`, and the client's
//! retry with `inputResponses` and the signed `requestState` completes the same call.

use serde_json::{Value, json};

use crate::harness::{Gateway, read};

const VERSION: &str = "2026-07-28";

struct Client {
    url: String,
    key: &'static str,
    capabilities: Value,
}

impl Client {
    /// Sends one stateless request; the HTTP status and the JSON-RPC message.
    async fn send(&self, method: &str, mut params: Value) -> (u16, Value) {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": VERSION,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "mrtr-test", "version": "1"}
        });
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(self.key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .header("mcp-method", method);
        if let Some(name) = params["name"].as_str() {
            request = request.header("mcp-name", name);
        }
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let reply = read(request.json(&body).send().await.expect("POST")).await;
        (reply.status, reply.last().clone())
    }

    /// A `tools/call`: its message (HTTP 200, or 400 for refused params).
    async fn call(&self, params: Value) -> Value {
        let (status, message) = self.send("tools/call", params).await;
        let expected = if message["error"]["code"] == -32602 {
            400
        } else {
            200
        };
        assert_eq!(status, expected, "{message}");
        message
    }
}

/// The one input request of an `InputRequiredResult`: its key and request, and the state.
fn asked(message: &Value) -> (String, Value, String) {
    let result = &message["result"];
    assert_eq!(result["resultType"], "input_required", "{message}");
    let requests = result["inputRequests"].as_object().expect("inputRequests");
    assert_eq!(requests.len(), 1, "{message}");
    let (key, request) = requests.iter().next().expect("one");
    let state = result["requestState"].as_str().expect("requestState");
    (key.clone(), request.clone(), state.to_string())
}

#[tokio::test]
async fn what_a_stdio_upstream_asks_reaches_stateless_clients_as_multi_round_trips() {
    let gateway = Gateway::start_config(&format!(
        "auth:
  keys:
    - {{ name: alice, key: sk-alice }}
    - {{ name: bob, key: sk-bob }}
mcp:
  upstreams:
    - {{ name: local, stdio: {{ command: \"{}\", args: [--stdio] }} }}
  servers:
    - {{ name: solo, upstreams: [local] }}
",
        strata_testkit::mcp_fixture::fixture_binary().display()
    ))
    .await;
    let url = gateway.url("solo");
    let alice = Client {
        url: url.clone(),
        key: "sk-alice",
        capabilities: json!({"elicitation": {"form": {}}, "sampling": {}}),
    };

    // Elicitation: asked, then answered by the retry.
    let elicit = json!({"name": "test_elicitation", "arguments": {"message": "Your name?"}});
    let first = alice.call(elicit.clone()).await;
    let (key, request, state) = asked(&first);
    assert_eq!(request["method"], "elicitation/create", "{first}");
    assert_eq!(request["params"]["message"], "Your name?", "{first}");

    // A changed state, another tool, or another caller is refused; none of them uses it up.
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let answers = json!({ key.clone(): {"action": "accept", "content": {"name": "Ada"}} });
    let retry = |state: &str, name: &str| {
        json!({"name": name, "arguments": {"message": "Your name?"},
               "inputResponses": answers, "requestState": state})
    };
    let refused = alice.call(retry(&tampered, "test_elicitation")).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let refused = alice.call(retry(&state, "test_sampling")).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let bob = Client {
        key: "sk-bob",
        url: url.clone(),
        capabilities: alice.capabilities.clone(),
    };
    let refused = bob.call(retry(&state, "test_elicitation")).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("another caller")),
        "{refused}"
    );

    let done = alice.call(retry(&state, "test_elicitation")).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("action=accept") && text.contains("Ada"),
        "the upstream got the client's answer: {done}"
    );
    // A state is good for one retry.
    let replayed = alice.call(retry(&state, "test_elicitation")).await;
    assert_eq!(replayed["error"]["code"], -32602, "{replayed}");

    // Sampling: a retry without the answer is asked again; then answered.
    let sample = json!({"name": "test_sampling", "arguments": {"prompt": "Capital of France?"}});
    let first = alice.call(sample).await;
    let (key, request, state) = asked(&first);
    assert_eq!(request["method"], "sampling/createMessage", "{first}");
    let again = alice
        .call(
            json!({"name": "test_sampling", "arguments": {}, "inputResponses": {},
                     "requestState": state}),
        )
        .await;
    let (again_key, _, state) = asked(&again);
    assert_eq!(again_key, key, "the same question, asked again");
    let answer = json!({"role": "assistant", "model": "m", "stopReason": "endTurn",
                        "content": {"type": "text", "text": "Paris"}});
    let done = alice
        .call(json!({"name": "test_sampling", "arguments": {},
                     "inputResponses": {key: answer}, "requestState": state}))
        .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "LLM response: Paris",
        "{done}"
    );

    // A client that declares nothing is never asked: the upstream cannot ask it.
    let silent = Client {
        capabilities: json!({}),
        ..alice
    };
    let plain = silent
        .call(json!({"name": "test_elicitation", "arguments": {}}))
        .await;
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    assert_eq!(plain["result"]["isError"], true, "{plain}");
}
