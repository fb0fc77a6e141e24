//! Who may reach a virtual server: API keys as `Authorization: Bearer`, 401s that point at
//! the protected-resource metadata (RFC 9728), and sessions bound to the principal that
//! opened them.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use strata_testkit::jwt::{OTHER_KEY, SIGNING_KEY};

use crate::harness::Gateway;

const CONFIG: &str = "
auth:
  keys:
    - { name: alice, key: sk-alice }
    - { name: bob, key: sk-bob }
mcp:
  upstreams:
    - { name: demo, builtin: demo }
  servers:
    - { name: demo, upstreams: [demo] }
    - { name: open, upstreams: [demo], auth: off }
";

fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "auth-test", "version": "1" } } })
}

async fn post(
    url: &str,
    key: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn clients_without_credentials_are_sent_to_the_metadata() {
    let gateway = Gateway::start_config(CONFIG).await;
    let url = gateway.url("demo");
    for key in [None, Some("sk-nobody")] {
        let r = post(&url, key, None, &initialize()).await;
        assert_eq!(r.status(), 401);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        let metadata = format!(
            "http://{}/.well-known/oauth-protected-resource/mcp/demo",
            gateway.addr
        );
        assert_eq!(
            challenge,
            format!("Bearer resource_metadata=\"{metadata}\"")
        );
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unauthorized"),
            "{body}"
        );
        let doc: Value = reqwest::get(&metadata).await.unwrap().json().await.unwrap();
        assert_eq!(doc["resource"], format!("http://{}/mcp/demo", gateway.addr));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    // Keys only from the Authorization header.
    let r = reqwest::Client::new()
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("x-api-key", "sk-alice")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A server with `auth: off` is open.
    let r = post(&gateway.url("open"), None, None, &initialize()).await;
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp/nope",
        gateway.addr
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_session_belongs_to_the_principal_that_opened_it() {
    let gateway = Gateway::start_config(CONFIG).await;
    let url = gateway.url("demo");
    let r = post(&url, Some("sk-alice"), None, &initialize()).await;
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" });
    let r = post(&url, Some("sk-alice"), Some(&session), &list).await;
    assert_eq!(r.status(), 200);
    // Bob presenting Alice's session id finds nothing, and cannot end it.
    let r = post(&url, Some("sk-bob"), Some(&session), &list).await;
    assert_eq!(r.status(), 404);
    let r = reqwest::Client::new()
        .delete(&url)
        .bearer_auth("sk-bob")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth("sk-bob")
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Without credentials at all: 401 before the session is even looked up.
    assert_eq!(post(&url, None, Some(&session), &list).await.status(), 401);
    // Alice's session is intact.
    let r = post(&url, Some("sk-alice"), Some(&session), &list).await;
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .delete(&url)
        .bearer_auth("sk-alice")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn token(key: &str, aud: &str, exp_offset: i64) -> String {
    let now = strata_testkit::jwt::now();
    let claims = json!({ "iss": "https://idp.test", "sub": "carol", "aud": aud,
        "exp": now + exp_offset, "iat": now, "roles": ["analyst"] });
    strata_testkit::jwt::sign(key, &claims)
}

#[tokio::test]
async fn access_tokens_are_checked_for_signature_expiry_and_audience() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = strata_testkit::jwt::write_jwks(dir.path());
    let config = format!(
        "
auth:
  jwt: {{ issuer: 'https://idp.test', jwks_file: '{}', audiences: ['urn:strata:tools'] }}
mcp:
  public_url: https://tools.example.com/
  upstreams:
    - {{ name: demo, builtin: demo }}
  servers:
    - {{ name: demo, upstreams: [demo] }}
",
        jwks.display()
    );
    let gateway = Gateway::start_config(&config).await;
    let url = gateway.url("demo");
    // The server's resource URI (from mcp.public_url) and the configured audience pass.
    for aud in ["https://tools.example.com/mcp/demo", "urn:strata:tools"] {
        let r = post(
            &url,
            Some(&token(SIGNING_KEY, aud, 300)),
            None,
            &initialize(),
        )
        .await;
        assert_eq!(r.status(), 200, "audience {aud}");
    }
    // Signed by another key, expired, or for another service: 401 pointing at the metadata.
    for bad in [
        token(OTHER_KEY, "urn:strata:tools", 300),
        token(SIGNING_KEY, "urn:strata:tools", -600),
        token(SIGNING_KEY, "https://tools.example.com/mcp/other", 300),
        token(
            SIGNING_KEY,
            &format!("http://{}/mcp/demo", gateway.addr),
            300,
        ),
    ] {
        let r = post(&url, Some(&bad), None, &initialize()).await;
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer resource_metadata=\"https://tools.example.com/.well-known/oauth-protected-resource/mcp/demo\""
        );
    }
    let doc: Value = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp/demo",
        gateway.addr
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], "https://tools.example.com/mcp/demo");
    assert_eq!(doc["authorization_servers"], json!(["https://idp.test"]));
}
