//! What upstreams send on their own: notifications, server→client requests (sampling,
//! elicitation, roots) and the death of a connection, routed onto the right downstream stream.

use std::sync::{Arc, Weak};

use serde_json::Value;
use tokio::sync::mpsc;

use super::streams::{Event, STANDALONE};
use super::{ServerRequest, Session, id_key, lock};
use crate::jsonrpc::{self, Message, RpcError, code};
use crate::upstream::Inbound;

/// Runs until the session is gone.
pub(super) async fn run(session: Weak<Session>, mut inbound: mpsc::UnboundedReceiver<Inbound>) {
    while let Some(message) = inbound.recv().await {
        let Some(session) = session.upgrade() else {
            return;
        };
        if session.is_ended() {
            return;
        }
        match message {
            Inbound::Message {
                upstream,
                message,
                related,
            } => session.relay(upstream, message, related).await,
            Inbound::Paused {
                upstream,
                related,
                retry,
            } => {
                let stream = lock(&session.routing)
                    .inflight
                    .get(&(upstream, related))
                    .copied();
                if let Some(stream) = stream {
                    session.streams.push(stream, Event::Pause { retry });
                }
            }
            Inbound::Answer { waiter, answer } => {
                let _ = waiter.send(answer);
            }
            Inbound::Closed { upstream, reason } => {
                tracing::warn!(session = %session.id, upstream = %session.upstream_name(upstream), %reason, "upstream connection lost");
                tokio::spawn(recover(session, upstream));
            }
        }
    }
}

/// Brings a dead upstream back, or ends the whole session: never a half-alive one.
async fn recover(session: Arc<Session>, upstream: usize) {
    if session.is_ended() {
        return;
    }
    if session.reconnect(upstream).await {
        return;
    }
    tracing::warn!(session = %session.id, upstream = %session.upstream_name(upstream), "ending the session: an upstream could not be re-initialised");
    session.end().await;
}

impl Session {
    async fn relay(&self, upstream: usize, message: Message, related: Option<i64>) {
        match message {
            Message::Request { id, method, params } => {
                if method == "ping" {
                    if let Some(connection) = self.connection(upstream) {
                        connection
                            .respond(id, Ok(Value::Object(Default::default())))
                            .await;
                    }
                    return;
                }
                if let Some(capability) = asks_for(&method)
                    && self.init_params["capabilities"].get(capability).is_none()
                {
                    // The client never said it could answer this: refuse it for the client.
                    if let Some(connection) = self.connection(upstream) {
                        let refusal = RpcError::new(
                            code::METHOD_NOT_FOUND,
                            format!("the client does not support {method}"),
                        );
                        connection.respond(id, Err(refusal)).await;
                    }
                    return;
                }
                let stream = self.stream_for(upstream, related, true);
                let gateway_id = self
                    .next_server_request
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                lock(&self.routing)
                    .server_requests
                    .insert(gateway_id, ServerRequest { upstream, id });
                let message = Message::Request {
                    id: gateway_id.into(),
                    method,
                    params,
                };
                self.send(stream, &message.into_value());
            }
            Message::Notification { method, mut params } => {
                let stream = match method.as_str() {
                    "notifications/progress" => {
                        let token = params
                            .as_ref()
                            .and_then(|p| p.get("progressToken"))
                            .map(id_key);
                        let by_token =
                            token.and_then(|t| lock(&self.routing).progress.get(&t).copied());
                        by_token.unwrap_or_else(|| self.stream_for(upstream, related, true))
                    }
                    "notifications/cancelled" => {
                        // The upstream withdrew one of its own requests: use the id the client knows.
                        let Some(gateway_id) = self.server_request_id(upstream, params.as_ref())
                        else {
                            return;
                        };
                        if let Some(params) = params.as_mut() {
                            params["requestId"] = gateway_id.into();
                        }
                        self.stream_for(upstream, related, true)
                    }
                    "notifications/message" => self.stream_for(upstream, related, true),
                    _ => self.stream_for(upstream, related, false),
                };
                self.send(stream, &jsonrpc::notification(&method, params));
            }
            Message::Response { id, .. } => {
                tracing::debug!(%id, "a response reached the relay");
            }
        }
    }

    /// The downstream stream for a message of `upstream`: the stream of the request it relates
    /// to when the transport said so; with `guess`, the stream of the only request in flight on
    /// that upstream (stdio says nothing); otherwise the standalone stream.
    fn stream_for(&self, upstream: usize, related: Option<i64>, guess: bool) -> u64 {
        let routing = lock(&self.routing);
        if let Some(related) = related {
            return routing
                .inflight
                .get(&(upstream, related))
                .copied()
                .unwrap_or(STANDALONE);
        }
        if guess {
            let mut on_upstream = routing.inflight.iter().filter(|((u, _), _)| *u == upstream);
            if let (Some((_, only)), None) = (on_upstream.next(), on_upstream.next()) {
                return *only;
            }
        }
        STANDALONE
    }

    fn server_request_id(&self, upstream: usize, params: Option<&Value>) -> Option<i64> {
        let request_id = params?.get("requestId")?;
        let mut routing = lock(&self.routing);
        let gateway_id = routing
            .server_requests
            .iter()
            .find(|(_, r)| r.upstream == upstream && &r.id == request_id)
            .map(|(g, _)| *g)?;
        routing.server_requests.remove(&gateway_id);
        Some(gateway_id)
    }
}

/// The client capability a server→client request needs.
fn asks_for(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}
