//! Tool-level RBAC, per-principal tool limits and the audit log, through a real gateway in
//! front of the built-in demo server (tools `echo`, `add`, `current_time`, the resource
//! `demo://readme`, the prompt `greet`).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use strata_store::Outcome;

use crate::harness::{Client, Gateway, names};

const CONFIG: &str = "
auth:
  keys:
    - { name: alice, key: sk-alice, roles: [adder] }
    - { name: bob, key: sk-bob, roles: [greeter] }
    - { name: carol, key: sk-carol, roles: [adder, no_add] }
  roles:
    adder: { tools: [\"demo/add\", \"demo/echo\"], prompts: [\"demo/*\"], resources: [\"demo/demo://*\"] }
    greeter:
      models: [\"gpt-*\"]
      rules: [{ tools: [\"demo/echo\"], when: \"args.text.startsWith('hi')\" }]
    no_add: { deny: { tools: [\"demo/add\"] } }
mcp:
  upstreams:
    - { name: demo, builtin: demo }
  servers:
    - name: demo
      upstreams: [demo]
      limits: [{ tools: [echo], rpm: 3 }]
      audit: { arguments: full }
    - { name: hashed, upstreams: [demo], audit: { arguments: hash } }
    - { name: quiet, upstreams: [demo], audit: { enabled: false } }
";

/// A client of `server` that presents `key`.
async fn client(gateway: &Gateway, server: &str, key: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let mut client = Client {
        http,
        url: gateway.url(server),
        session: None,
    };
    client.initialize("2025-11-25").await;
    client
}

/// The error of a call, without its id.
async fn error_of(client: &Client, method: &str, params: Value) -> Value {
    let reply = client
        .post(json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params }))
        .await;
    reply.last()["error"].clone()
}

fn call(name: &str, arguments: &Value) -> Value {
    json!({ "name": name, "arguments": arguments })
}

#[tokio::test]
async fn each_principal_sees_and_calls_only_what_its_roles_grant() {
    let (gateway, _audit) = Gateway::start_audited(CONFIG).await;
    let alice = client(&gateway, "demo", "sk-alice").await;
    let bob = client(&gateway, "demo", "sk-bob").await;
    let carol = client(&gateway, "demo", "sk-carol").await;

    let tools = |c: &Client| {
        let c = c.clone_handle();
        async move { names(&c.call("tools/list", json!({})).await, "tools") }
    };
    assert_eq!(tools(&alice).await, ["echo", "add"]);
    // A conditional grant lists the tool; deny wins over another role's grant.
    assert_eq!(tools(&bob).await, ["echo"]);
    assert_eq!(tools(&carol).await, ["echo"]);

    let ok = alice
        .call("tools/call", call("add", &json!({ "a": 2, "b": 3 })))
        .await;
    assert_eq!(ok["content"][0]["text"], "5", "{ok}");

    // A tool the caller may not use answers exactly like one that does not exist.
    let missing = error_of(&bob, "tools/call", call("no_such_tool", &json!({}))).await;
    assert_eq!(missing["code"], -32602, "{missing}");
    for (who, name) in [(&bob, "add"), (&bob, "current_time"), (&carol, "add")] {
        let forbidden = error_of(who, "tools/call", call(name, &json!({ "a": 1, "b": 1 }))).await;
        let absent = error_of(who, "tools/call", call(name, &json!({}))).await;
        assert_eq!(forbidden, absent);
        assert_eq!(
            forbidden,
            json!({ "code": -32602, "message": format!("unknown tool: {name}") })
        );
    }
    // The same shape for the missing tool, with its own name.
    assert_eq!(
        missing,
        json!({ "code": -32602, "message": "unknown tool: no_such_tool" })
    );

    // The condition sees the arguments.
    let hi = bob
        .call("tools/call", call("echo", &json!({ "text": "hi there" })))
        .await;
    assert_eq!(hi["content"][0]["text"], "hi there", "{hi}");
    let bye = error_of(&bob, "tools/call", call("echo", &json!({ "text": "bye" }))).await;
    assert_eq!(bye["message"], "unknown tool: echo");

    // Prompts and resources follow the same rules.
    assert_eq!(
        names(&alice.call("prompts/list", json!({})).await, "prompts"),
        ["greet"]
    );
    assert!(names(&bob.call("prompts/list", json!({})).await, "prompts").is_empty());
    let resources = bob.call("resources/list", json!({})).await;
    assert_eq!(resources["resources"], json!([]), "{resources}");
    let read = alice
        .call("resources/read", json!({ "uri": "demo://readme" }))
        .await;
    assert!(read["contents"][0]["text"].is_string(), "{read}");
    let forbidden = error_of(&bob, "resources/read", json!({ "uri": "demo://readme" })).await;
    assert_eq!(
        forbidden,
        json!({ "code": -32002, "message": "resource not found: demo://readme" })
    );
    let absent = error_of(&alice, "resources/read", json!({ "uri": "demo://nothing" })).await;
    assert_eq!(
        absent,
        json!({ "code": -32002, "message": "resource not found: demo://nothing" })
    );
    let prompt = error_of(&bob, "prompts/get", json!({ "name": "greet" })).await;
    assert_eq!(prompt["message"], "unknown prompt: greet");
}

#[tokio::test]
async fn tool_limits_hold_per_principal_and_tool() {
    let (gateway, audit) = Gateway::start_audited(CONFIG).await;
    let alice = client(&gateway, "demo", "sk-alice").await;
    let carol = client(&gateway, "demo", "sk-carol").await;
    for i in 0..3 {
        let r = alice
            .call(
                "tools/call",
                call("echo", &json!({ "text": format!("{i}") })),
            )
            .await;
        assert_eq!(r["content"][0]["text"], format!("{i}"));
    }
    let limited = error_of(&alice, "tools/call", call("echo", &json!({ "text": "4" }))).await;
    assert_eq!(limited["code"], -32029, "{limited}");
    assert!(
        limited["data"]["retryAfterMs"].as_u64().unwrap() > 0,
        "{limited}"
    );
    // Another tool, and another principal, have their own allowance.
    let sum = alice
        .call("tools/call", call("add", &json!({ "a": 1, "b": 1 })))
        .await;
    assert_eq!(sum["content"][0]["text"], "2");
    let r = carol
        .call("tools/call", call("echo", &json!({ "text": "c" })))
        .await;
    assert_eq!(r["content"][0]["text"], "c");
    let refused: Vec<_> = audit
        .records()
        .await
        .into_iter()
        .filter(|r| r.outcome == Outcome::Denied)
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].error.as_deref(), Some("rate limited"));
    assert_eq!(refused[0].principal.as_deref(), Some("alice"));
}

#[tokio::test]
async fn every_operation_and_refusal_is_audited() {
    let (gateway, audit) = Gateway::start_audited(CONFIG).await;
    let alice = client(&gateway, "demo", "sk-alice").await;
    let bob = client(&gateway, "demo", "sk-bob").await;
    alice.call("tools/list", json!({})).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut params = call("add", &json!({ "a": 2, "b": 40 }));
    params["_meta"] = json!({ "traceparent": traceparent });
    alice.call("tools/call", params).await;
    error_of(&bob, "tools/call", call("add", &json!({ "a": 1, "b": 2 }))).await;
    // No key, and a session id presented by someone else.
    let anonymous = reqwest::Client::new()
        .post(gateway.url("demo"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut hijack = bob.clone_handle();
    hijack.session = alice.session.clone();
    let r = hijack
        .post(json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/list" }))
        .await;
    assert_eq!(r.status, 404);
    // Arguments kept as a hash on the other server.
    let hashed = client(&gateway, "hashed", "sk-alice").await;
    hashed
        .call("tools/call", call("add", &json!({ "a": 1, "b": 2 })))
        .await;
    // Nothing of a server whose audit is off.
    let quiet = client(&gateway, "quiet", "sk-alice").await;
    quiet
        .call("tools/call", call("add", &json!({ "a": 1, "b": 2 })))
        .await;

    let records = audit.records().await;
    let find = |action: &str, principal: Option<&str>, outcome: Outcome| {
        records
            .iter()
            .find(|r| {
                r.action == action && r.principal.as_deref() == principal && r.outcome == outcome
            })
            .unwrap_or_else(|| panic!("no {action} record of {principal:?}: {records:#?}"))
    };
    let opened = find("initialize", Some("alice"), Outcome::Ok);
    assert_eq!(opened.detail["session"].as_str(), alice.session.as_deref());
    let list = find("tools/list", Some("alice"), Outcome::Ok);
    assert_eq!(list.server.as_deref(), Some("demo"));
    let added = records
        .iter()
        .find(|r| r.action == "tools/call" && r.trace_id.is_some())
        .unwrap();
    assert_eq!(added.principal.as_deref(), Some("alice"));
    assert_eq!(added.target.as_deref(), Some("add"));
    assert_eq!(
        added.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(added.detail["roles"], json!(["adder"]));
    assert_eq!(added.detail["upstream"], "demo");
    assert_eq!(added.detail["arguments"], json!({ "a": 2, "b": 40 }));
    assert!(added.latency_ms.is_some());
    let denied = find("tools/call", Some("bob"), Outcome::Denied);
    assert_eq!(denied.target.as_deref(), Some("add"));
    assert_eq!(denied.error.as_deref(), Some("not permitted"));
    let refused = find("auth", None, Outcome::Denied);
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .starts_with("Unauthorized"),
        "{refused:?}"
    );
    let foreign = find("session.foreign", Some("bob"), Outcome::Denied);
    assert_eq!(foreign.server.as_deref(), Some("demo"));
    assert!(!records.iter().any(|r| r.server.as_deref() == Some("quiet")));
    let hashed = records
        .iter()
        .find(|r| r.server.as_deref() == Some("hashed") && r.action == "tools/call")
        .unwrap();
    assert_eq!(
        hashed.detail["arguments"]["sha256"].as_str().map(str::len),
        Some(64)
    );
}

#[tokio::test]
async fn a_token_without_the_servers_scopes_gets_403_insufficient_scope() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = strata_testkit::jwt::write_jwks(dir.path());
    let config = format!(
        "
auth:
  jwt: {{ issuer: 'https://idp.test', jwks_file: '{}', audiences: ['urn:strata:tools'] }}
mcp:
  public_url: https://tools.example.com
  upstreams:
    - {{ name: demo, builtin: demo }}
  servers:
    - {{ name: demo, upstreams: [demo], scopes: [tools.read, tools.call] }}
",
        jwks.display()
    );
    let (gateway, audit) = Gateway::start_audited(&config).await;
    let token = |scope: &str| {
        let now = strata_testkit::jwt::now();
        strata_testkit::jwt::sign(
            strata_testkit::jwt::SIGNING_KEY,
            &json!({ "iss": "https://idp.test", "sub": "dave", "aud": "urn:strata:tools",
                "exp": now + 300, "iat": now, "scope": scope }),
        )
    };
    let initialize = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "scope-test", "version": "1" } } });
    let post = |token: String| {
        reqwest::Client::new()
            .post(gateway.url("demo"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize)
            .send()
    };
    let r = post(token("tools.read")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer error=\"insufficient_scope\", scope=\"tools.read tools.call\", \
         resource_metadata=\"https://tools.example.com/.well-known/oauth-protected-resource/mcp/demo\""
    );
    let r = post(token("tools.call tools.read openid")).await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp/demo",
        gateway.addr
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["scopes_supported"], json!(["tools.read", "tools.call"]));
    let records = audit.records().await;
    assert!(
        records.iter().any(|r| r.action == "auth"
            && r.error
                .as_deref()
                .is_some_and(|e| e.contains("insufficient_scope"))),
        "{records:#?}"
    );
    assert!(records.iter().any(
        |r| r.action == "initialize" && r.principal.as_deref() == Some("https://idp.test#dave")
    ));
}

/// A minimal Streamable HTTP MCP server whose one tool, `whoami`, answers with the headers it
/// was sent: what an upstream learns of the caller.
async fn header_echo_upstream() -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    async fn handle(
        headers: HeaderMap,
        axum::Json(message): axum::Json<Value>,
    ) -> axum::response::Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string()
        };
        let result = match message["method"].as_str().unwrap_or_default() {
            "initialize" => json!({ "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": { "tools": {} }, "serverInfo": { "name": "headers", "version": "1" } }),
            "tools/list" => {
                json!({ "tools": [{ "name": "whoami", "inputSchema": { "type": "object" } }] })
            }
            "tools/call" => json!({ "content": [{ "type": "text", "text": format!(
                "principal={} roles={} authorization={}",
                header("x-caller"), header("x-caller-roles"), header("authorization")) }] }),
            _ => return StatusCode::ACCEPTED.into_response(),
        };
        axum::Json(json!({ "jsonrpc": "2.0", "id": message["id"], "result": result }))
            .into_response()
    }
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::post(handle)
            .get(|| async { StatusCode::METHOD_NOT_ALLOWED })
            .delete(|| async { StatusCode::OK }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

#[tokio::test]
async fn upstreams_learn_the_caller_only_through_the_configured_headers() {
    let upstream = header_echo_upstream().await;
    let config = format!(
        "
auth:
  keys:
    - {{ name: alice, key: sk-alice, roles: [adder, reader] }}
  roles:
    adder: {{ tools: [\"told/*\", \"untold/*\"] }}
    reader: {{ models: [\"*\"] }}
mcp:
  upstreams:
    - name: told
      url: {upstream}
      headers: {{ authorization: Bearer upstream-own-token }}
      forward_identity: {{ principal: x-caller, roles: x-caller-roles }}
    - {{ name: untold, url: {upstream} }}
  servers:
    - {{ name: told, upstreams: [told] }}
    - {{ name: untold, upstreams: [untold] }}
"
    );
    let gateway = Gateway::start_config(&config).await;
    let told = client(&gateway, "told", "sk-alice").await;
    let r = told.call("tools/call", call("whoami", &json!({}))).await;
    assert_eq!(
        r["content"][0]["text"],
        "principal=alice roles=adder,reader authorization=Bearer upstream-own-token"
    );
    // No identity headers unless configured, and never the caller's own key.
    let untold = client(&gateway, "untold", "sk-alice").await;
    let r = untold.call("tools/call", call("whoami", &json!({}))).await;
    assert_eq!(
        r["content"][0]["text"],
        "principal=none roles=none authorization=none"
    );
}

#[tokio::test]
async fn tool_limits_are_shared_by_gateways_on_one_redis() {
    use strata_testkit::services::{Service, service_url};
    let Some(url) = service_url(Service::Redis) else {
        strata_testkit::skip(
            "tool_limits_are_shared_by_gateways_on_one_redis",
            "set STRATA_TEST_REDIS_URL to run it",
        );
        return;
    };
    let redis = strata_store::Redis::connect(&url).await.unwrap();
    let prefix = format!("strata-test:{}:", uuid::Uuid::new_v4().simple());
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let limiter = strata_policy::limits::Limiter::redis(redis.conn(), &prefix);
        let deps = strata_mcp::Deps::new().with_limiter(limiter);
        replicas.push(Gateway::start_with_deps(CONFIG, deps).await);
    }
    let mut admitted = 0;
    for i in 0..6 {
        let gateway = &replicas[i % 2];
        let alice = client(gateway, "demo", "sk-alice").await;
        let r = alice
            .call("tools/call", call("echo", &json!({ "text": "x" })))
            .await;
        if r.get("error").is_none() {
            admitted += 1;
        } else {
            assert_eq!(r["error"]["code"], -32029, "{r}");
        }
    }
    assert_eq!(admitted, 3, "rpm 3 holds across both gateways");
}
