//! A downstream connection that carries every message both ways on one channel: the legacy
//! HTTP+SSE transport (2024-11-05) and the stdio bridge (`strata mcp-stdio`). Answers and
//! server messages of every request stream and of the standalone stream are forwarded in the
//! order they happen.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use crate::auth::Caller;
use crate::downstream;
use crate::http::McpState;
use crate::jsonrpc::{self, Message, RpcError, code};
use crate::session::Session;
use crate::session::streams::{Next, STANDALONE};
use crate::virtual_server::VirtualServer;

/// One client connection.
#[derive(Debug)]
pub(crate) struct Duplex {
    state: Arc<McpState>,
    server: Arc<VirtualServer>,
    /// Who opened the connection (none on an open server and for the stdio bridge).
    caller: Option<Arc<Caller>>,
    out: mpsc::UnboundedSender<Arc<str>>,
    session: Mutex<Option<Arc<Session>>>,
}

impl Duplex {
    /// A connection whose outgoing messages are sent to `out`.
    pub(crate) fn new(
        state: Arc<McpState>,
        server: Arc<VirtualServer>,
        caller: Option<Arc<Caller>>,
        out: mpsc::UnboundedSender<Arc<str>>,
    ) -> Self {
        Self {
            state,
            server,
            caller,
            out,
            session: Mutex::new(None),
        }
    }

    fn send(&self, message: &Value) {
        let _ = self.out.send(message.to_string().into());
    }

    /// Takes one message from the client.
    pub(crate) async fn receive(&self, message: Message) {
        match message {
            Message::Request { id, method, params } if method == "initialize" => {
                let started = downstream::initialize(
                    &self.state,
                    self.server.clone(),
                    self.caller.clone(),
                    params.unwrap_or_default(),
                )
                .await;
                match started {
                    Ok((session, result)) => {
                        self.send(&jsonrpc::response(id, Ok(result)));
                        tokio::spawn(forward(session.clone(), STANDALONE, self.out.clone()));
                        if let Some(old) = self.session.lock().await.replace(session) {
                            self.state.sessions.remove(&old.id).await;
                        }
                    }
                    Err(error) => self.send(&jsonrpc::response(
                        id,
                        Err(RpcError::internal(error.to_string())),
                    )),
                }
            }
            Message::Request { id, method, params } => {
                let session = self.session.lock().await.clone();
                match session {
                    Some(session) => {
                        let stream = downstream::start_request(&session, id, method, params);
                        tokio::spawn(forward(session, stream, self.out.clone()));
                    }
                    None if method == "ping" => {
                        self.send(&jsonrpc::response(id, Ok(serde_json::json!({}))))
                    }
                    None => self.send(&jsonrpc::response(
                        id,
                        Err(RpcError::new(
                            code::INVALID_REQUEST,
                            "the session is not initialized",
                        )),
                    )),
                }
            }
            other => {
                if let Some(session) = self.session.lock().await.clone() {
                    downstream::accept(&session, other).await;
                }
            }
        }
    }

    /// The connection is gone: so is its session.
    pub(crate) async fn close(&self) {
        if let Some(session) = self.session.lock().await.take() {
            self.state.sessions.remove(&session.id).await;
        }
    }
}

/// Copies one stream of the session to the connection until the stream ends. A pause (the
/// upstream closed its stream to be polled) means nothing here: the gateway resumes upstream
/// and the stream goes on.
async fn forward(session: Arc<Session>, stream: u64, out: mpsc::UnboundedSender<Arc<str>>) {
    let reader = if stream == STANDALONE {
        session.streams.fresh_reader(stream)
    } else {
        session.streams.reader(stream, 0)
    };
    let Ok(mut reader) = reader else { return };
    loop {
        match reader.next().await {
            Next::Message { data, .. } => {
                if out.send(data).is_err() {
                    return;
                }
            }
            Next::Pause { .. } => {}
            Next::End => return,
        }
    }
}
