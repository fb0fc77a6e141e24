//! A small REST API with its OpenAPI document, for the `openapi` and `http` upstream tests.
//! It records every request it receives (method, raw path and query, authorization, body).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The API's OpenAPI document (3.0, YAML, with shared parameters and `$ref`s).
pub const DOCUMENT: &str = r##"openapi: 3.0.3
info: { title: Inventory, version: "1" }
paths:
  /items/{item_id}:
    parameters:
      - $ref: '#/components/parameters/ItemId'
    get:
      operationId: getItem
      summary: Read an item
      tags: [items]
      parameters:
        - { name: verbose, in: query, schema: { type: boolean }, description: Say more }
        - { name: X-Trace, in: header, schema: { type: string } }
      responses:
        '200': { description: ok, content: { application/json: { schema: { $ref: '#/components/schemas/Item' } } } }
        '404': { description: missing }
    delete:
      operationId: deleteItem
      tags: [admin]
      responses: { '204': { description: gone } }
  /items:
    post:
      operationId: createItem
      summary: Create an item
      tags: [items]
      requestBody:
        required: true
        content: { application/json: { schema: { $ref: '#/components/schemas/NewItem' } } }
      responses:
        '201': { description: created, content: { application/json: { schema: { $ref: '#/components/schemas/Item' } } } }
  /tags:
    get:
      summary: All tags
      responses:
        '200': { description: ok, content: { application/json: { schema: { type: array, items: { type: string } } } } }
  /slow:
    get: { operationId: slow, responses: { '200': { description: ok } } }
components:
  parameters:
    ItemId: { name: item_id, in: path, required: true, schema: { type: string } }
  schemas:
    NewItem:
      type: object
      required: [name, price]
      properties:
        name: { type: string }
        price: { type: number, minimum: 0 }
        note: { type: string, nullable: true }
    Item:
      type: object
      required: [id, name]
      properties:
        id: { type: string }
        name: { type: string }
        price: { type: number }
        verbose: { type: boolean }
"##;

/// One request as the API saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as sent (percent-encoding kept).
    pub target: String,
    pub authorization: Option<String>,
    pub trace: Option<String>,
    pub body: Option<Value>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// The running API.
pub struct RestApi {
    pub base: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl RestApi {
    pub async fn start() -> RestApi {
        let log: Log = Arc::default();
        let app = axum::Router::new()
            .route("/items/{item_id}", get(get_item).delete(delete_item))
            .route("/items", axum::routing::post(create_item))
            .route("/tags", get(tags))
            .route("/slow", get(slow))
            .route("/moved", get(moved))
            .with_state(log.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        RestApi { base, log, task }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }
}

impl Drop for RestApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(log: &Log, method: &Method, uri: &Uri, headers: &HeaderMap, body: Option<Value>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    log.lock().expect("log").push(Seen {
        method: method.to_string(),
        target: uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        authorization: header("authorization"),
        trace: header("x-trace"),
        body,
    });
}

async fn get_item(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    record(&log, &method, &uri, &headers, None);
    if id == "missing" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": "no item missing"})),
        )
            .into_response();
    }
    let verbose = query.get("verbose").map(|v| v == "true");
    let mut item = json!({"id": id, "name": "widget"});
    if let Some(verbose) = verbose {
        item["verbose"] = verbose.into();
    }
    Json(item).into_response()
}

async fn delete_item(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> StatusCode {
    record(&log, &method, &uri, &headers, None);
    StatusCode::NO_CONTENT
}

async fn create_item(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&log, &method, &uri, &headers, Some(body.clone()));
    let mut item = body;
    item["id"] = "new".into();
    (StatusCode::CREATED, Json(item)).into_response()
}

async fn tags(State(log): State<Log>, method: Method, uri: Uri, headers: HeaderMap) -> Json<Value> {
    record(&log, &method, &uri, &headers, None);
    Json(json!(["a", "b"]))
}

async fn slow(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> &'static str {
    record(&log, &method, &uri, &headers, None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    "late"
}

/// A redirect to another host, which the gateway must not follow.
async fn moved(State(log): State<Log>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&log, &method, &uri, &headers, None);
    (
        StatusCode::TEMPORARY_REDIRECT,
        [("location", "http://127.0.0.1:1/elsewhere")],
    )
        .into_response()
}
