//! Boots the mcp layer from config text on an ephemeral port.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running gateway; stops when dropped.
pub struct Gateway {
    pub addr: SocketAddr,
    pub deps: strata_mcp::Deps,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Serves the `mcp` section given as YAML (the text under `mcp:`).
    pub async fn start(mcp_yaml: &str) -> Gateway {
        Self::start_config(&format!("mcp:\n{}", indent(mcp_yaml))).await
    }

    /// Serves a whole config (for sections besides `mcp`, such as `auth`).
    pub async fn start_config(text: &str) -> Gateway {
        Self::serve(text, strata_mcp::Deps::new()).await
    }

    /// Serves a whole config with an audit log in a fresh SQLite store.
    pub async fn start_audited(text: &str) -> (Gateway, Audit) {
        let (deps, audit) = Audit::deps().await;
        let gateway = Self::serve(text, deps).await;
        (gateway, audit)
    }

    /// Serves a whole config with the given dependencies.
    pub async fn start_with_deps(text: &str, deps: strata_mcp::Deps) -> Gateway {
        Self::serve(text, deps).await
    }

    /// Serves a whole config file's text as if it were in `dir` (relative paths in it, such
    /// as OpenAPI documents, are found there), with `${VAR}` from `env`; with an audit log.
    pub async fn start_in(
        text: &str,
        dir: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Gateway, Audit) {
        let (deps, audit) = Audit::deps().await;
        let config = strata_config::load_in(text, "test.yaml", env, Some(dir))
            .unwrap_or_else(|e| panic!("{e}"));
        (Self::serve_config(config, deps).await, audit)
    }

    async fn serve(text: &str, deps: strata_mcp::Deps) -> Gateway {
        let config = strata_config::load_str(text, "test.yaml", &|_| None).expect("valid config");
        Self::serve_config(config, deps).await
    }

    async fn serve_config(config: strata_config::Config, deps: strata_mcp::Deps) -> Gateway {
        let router = strata_mcp::build(&config, &deps).expect("router");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Gateway { addr, deps, task }
    }

    pub fn url(&self, server: &str) -> String {
        format!("http://{}/mcp/{server}", self.addr)
    }
}

/// The audit log of a gateway started with [`Gateway::start_audited`].
pub struct Audit {
    pub store: strata_store::Store,
    _dir: tempfile::TempDir,
}

impl Audit {
    /// Layer dependencies writing to a fresh audit log.
    async fn deps() -> (strata_mcp::Deps, Audit) {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = strata_config::Storage {
            url: strata_core::Secret::new(format!(
                "sqlite://{}",
                dir.path().join("audit.db").display()
            )),
            ..Default::default()
        };
        let store = strata_store::Store::connect(&storage).await.expect("store");
        let writer = strata_store::BatchWriter::spawn(store.clone(), Default::default());
        let deps = strata_mcp::Deps::new().with_audit(writer);
        (deps, Audit { store, _dir: dir })
    }

    /// The mcp layer's records, oldest first.
    pub async fn records(&self) -> Vec<strata_store::AuditRecord> {
        let query = strata_store::AuditQuery {
            layer: Some("mcp".into()),
            limit: 10_000,
            ..Default::default()
        };
        let mut records = self.store.audit_records(&query).await.expect("audit");
        records.reverse();
        records
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// A bare-bones Streamable HTTP client: enough to test the transport's edges.
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
}

/// A POST's outcome: status, headers, and the JSON-RPC messages of the body (JSON or SSE).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub messages: Vec<Value>,
}

impl Reply {
    pub fn last(&self) -> &Value {
        self.messages.last().expect("a message")
    }
}

impl Client {
    pub fn new(url: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            url,
            session: None,
        }
    }

    pub async fn initialize(&mut self, version: &str) -> Reply {
        let reply = self
            .post(json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": { "sampling": {}, "elicitation": {}, "roots": { "listChanged": true } },
                    "clientInfo": { "name": "strata-test", "version": "1" }
                }
            }))
            .await;
        self.session = reply
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        assert!(
            self.session.is_some(),
            "no session id: {:?}",
            reply.messages
        );
        self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        reply
    }

    /// Another handle on the same session and credentials.
    pub fn clone_handle(&self) -> Client {
        Client {
            http: self.http.clone(),
            url: self.url.clone(),
            session: self.session.clone(),
        }
    }

    pub fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        self.bare(method)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
    }

    /// A request with only the session header.
    pub fn bare(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, &self.url);
        match &self.session {
            Some(session) => builder.header("mcp-session-id", session),
            None => builder,
        }
    }

    pub async fn post(&self, body: Value) -> Reply {
        let response = self
            .request(reqwest::Method::POST)
            .json(&body)
            .send()
            .await
            .expect("POST");
        read(response).await
    }

    /// POSTs `body` with one extra header.
    pub async fn post_with(&self, header: (&str, &str), body: &Value) -> Reply {
        let response = self
            .request(reqwest::Method::POST)
            .header(header.0, header.1)
            .json(body)
            .send()
            .await
            .expect("POST");
        read(response).await
    }

    /// Calls `tools/call test_sampling` as request `id`, answers the sampling request it causes
    /// with `text`, and returns the tool's result message.
    pub async fn sample_through(&self, id: i64, text: &str) -> Value {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "test_sampling", "arguments": {"prompt": "Say hi"}}});
        let response = self
            .request(reqwest::Method::POST)
            .json(&call)
            .send()
            .await
            .expect("POST");
        let mut events = Events::new(response);
        let request = events.next_message().await.expect("a server request");
        assert_eq!(request["method"], "sampling/createMessage", "{request}");
        let answer = json!({"jsonrpc": "2.0", "id": request["id"], "result": {
            "role": "assistant", "content": {"type": "text", "text": text},
            "model": "test-model", "stopReason": "endTurn"}});
        assert_eq!(self.post(answer).await.status, 202);
        let result = events.next_message().await.expect("the tool result");
        assert_eq!(result["id"], id);
        result
    }

    /// A request with a fresh id; returns its result (or the error object).
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let reply = self
            .post(json!({"jsonrpc": "2.0", "id": 42, "method": method, "params": params}))
            .await;
        assert_eq!(reply.status, 200, "{method}: {:?}", reply.messages);
        let last = reply.last().clone();
        last.get("result")
            .cloned()
            .unwrap_or_else(|| json!({ "error": last["error"] }))
    }
}

/// The `name`s of a list result's items (`tools`, `prompts`).
pub fn names(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a response body: one JSON message, or every message of an SSE stream.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response.text().await.unwrap_or_default();
    let messages = if sse {
        text.split("\n\n")
            .filter_map(|event| {
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                    .collect();
                serde_json::from_str(&data.join("\n")).ok()
            })
            .collect()
    } else if text.is_empty() {
        Vec::new()
    } else {
        vec![serde_json::from_str(&text).unwrap_or(Value::String(text))]
    };
    Reply {
        status,
        headers,
        messages,
    }
}

/// Reads an SSE response event by event, as it arrives.
pub struct Events {
    inner: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Send>,
    >,
}

/// One SSE event: its id, data (parsed when JSON) and retry.
#[derive(Debug)]
pub struct Event {
    pub id: Option<String>,
    pub data: Option<Value>,
    pub raw: Option<String>,
    pub retry: Option<u64>,
}

impl Events {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            inner: Box::pin(sse_stream::SseStream::from_bytes_stream(
                response.bytes_stream(),
            )),
        }
    }

    /// The next event, or `None` when the stream ends; panics after 10 s of silence.
    pub async fn next(&mut self) -> Option<Event> {
        use futures_util::StreamExt;
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), self.inner.next())
            .await
            .expect("an SSE event within 10 s")?
            .expect("a well-formed SSE event");
        Some(Event {
            id: event.id,
            data: event
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
            raw: event.data,
            retry: event.retry,
        })
    }

    /// The next event that carries a JSON-RPC message.
    pub async fn next_message(&mut self) -> Option<Value> {
        while let Some(event) = self.next().await {
            if let Some(data) = event.data {
                return Some(data);
            }
        }
        None
    }
}
