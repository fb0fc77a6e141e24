//! Multi round-trip requests (2026-07-28 MRTR) for stateless clients of upstreams that only
//! speak the stateful revisions (stdio children, built-in servers, legacy SSE).
//!
//! A stateful upstream asks its client mid-request (`elicitation/create`,
//! `sampling/createMessage`, `roots/list`) and waits for the answer; a stateless client can
//! only be asked by ending its request with an `InputRequiredResult` and answering its retry.
//! So a `tools/call`, `prompts/get` or `resources/read` from a client that declares any of
//! those capabilities runs on a bridge session of its own, started with exactly the
//! capabilities the client declared (never more). When the upstream asks something, the
//! request is parked (the upstream keeps waiting) and the client gets
//! `{resultType: "input_required", inputRequests, requestState}`. Its retry carries
//! `inputResponses` and the `requestState`; the answers go to the waiting upstream and the
//! same call goes on, until it completes or asks again.
//!
//! `requestState` is the parked call's id, the caller, the method with the tool, prompt or
//! resource it names, and an expiry, signed with HMAC-SHA256 under a key made when the
//! process starts: a changed, expired, replayed or another caller's state is refused. A
//! parked call that is not retried within [`TTL`] is answered upstream with an error, so
//! its session (and child) is freed. The parked call lives in this process: behind a load
//! balancer, a retry must reach the replica that parked it (client affinity), or it is
//! refused as unknown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use strata_core::now_ms;
use tokio::task::JoinHandle;

use crate::auth::Caller;
use crate::http::McpState;
use crate::jsonrpc::{RpcError, code};
use crate::session::Session;
use crate::session::streams::{Next, Reader};
use crate::virtual_server::{self, VirtualServer};

/// The requests that may end with an `InputRequiredResult`.
const METHODS: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];
/// The client capabilities an upstream may ask through.
const ASKING: [&str; 3] = ["elicitation", "sampling", "roots"];
/// How long a parked call waits for the client's retry.
pub(crate) const TTL: Duration = Duration::from_secs(300);
/// Calls parked at once; more are refused rather than holding more sessions.
const MAX_PARKED: usize = 256;
/// Idle interactive sessions kept per capability set for the next call.
const KEEP_IDLE: usize = 4;
/// How long an abandoned call may take to finish once its questions were refused.
const WIND_DOWN: Duration = Duration::from_secs(10);

type Outcome = Result<Value, RpcError>;

/// A call waiting for its client's answers.
#[derive(Debug)]
struct Parked {
    session: Arc<Session>,
    pool: String,
    call: JoinHandle<Outcome>,
    stream: u64,
    reader: Reader,
    /// What the upstream asked and the client has not answered: `(key, gateway id, request)`.
    asked: Vec<(String, i64, Value)>,
    principal: String,
    origin: String,
}

/// A request that may ask its client: what `interactive` let through.
#[derive(Debug)]
pub(super) struct Interactive<'a> {
    pub id: &'a Value,
    pub method: &'a str,
    pub params: Option<Value>,
    /// The asking capabilities the client declared.
    pub capabilities: Value,
}

/// What `requestState` says, signed.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    /// The parked call.
    id: String,
    /// Who may retry.
    principal: String,
    /// The method and the name or URI it was about.
    origin: String,
    /// Milliseconds since the epoch.
    expires: u64,
}

/// Parked calls and the idle interactive sessions.
#[derive(Debug)]
pub(crate) struct Rounds {
    key: [u8; 32],
    parked: Mutex<HashMap<String, Parked>>,
    idle: Mutex<HashMap<String, Vec<Arc<Session>>>>,
}

impl Default for Rounds {
    fn default() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            key,
            parked: Mutex::default(),
            idle: Mutex::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The asking capabilities the client declared, when `method` may ask at all; `None` sends
/// the request through the shared bridge session.
pub(super) fn interactive(method: &str, params: Option<&Value>) -> Option<Value> {
    if !METHODS.contains(&method) {
        return None;
    }
    let params = params?;
    let declared = params
        .pointer("/_meta/io.modelcontextprotocol~1clientCapabilities")
        .and_then(Value::as_object);
    let asking: Map<String, Value> = declared
        .into_iter()
        .flatten()
        .filter(|(name, _)| ASKING.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    (!asking.is_empty() || params.get("requestState").is_some()).then_some(Value::Object(asking))
}

/// The method and the tool, prompt or resource a request is about.
fn origin(method: &str, params: Option<&Value>) -> String {
    let named = params
        .and_then(|p| p.get("name").or_else(|| p.get("uri")))
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{method} {named}")
}

fn principal(caller: Option<&Caller>) -> String {
    caller.map(|c| c.name.clone()).unwrap_or_default()
}

fn refused(why: &str) -> RpcError {
    RpcError::invalid_params(format!("requestState refused: {why}"))
}

impl Rounds {
    fn sign(&self, claim: &Claim) -> String {
        let body = serde_json::to_vec(claim).unwrap_or_default();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    fn verify(&self, token: &str) -> Result<Claim, RpcError> {
        let (body, tag) = token.split_once('.').ok_or_else(|| refused("malformed"))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| refused("malformed"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| refused("malformed"))?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(&body);
        mac.verify_slice(&tag)
            .map_err(|_| refused("its signature does not match"))?;
        serde_json::from_slice(&body).map_err(|_| refused("malformed"))
    }

    /// Runs (or goes on with) an interactive request: its result, or an `InputRequiredResult`.
    pub(super) async fn handle(
        self: &Arc<Self>,
        state: &McpState,
        server: &Arc<VirtualServer>,
        caller: Option<&Caller>,
        request: Interactive<'_>,
    ) -> Outcome {
        let params = request.params.as_ref();
        let parked = match params.and_then(|p| p.get("requestState")) {
            Some(token) => {
                let parked = self.resume(token, caller, request.method, params)?;
                let answers = params
                    .as_ref()
                    .and_then(|p| p.get("inputResponses"))
                    .and_then(Value::as_object);
                let parked = answer(parked, answers).await;
                if !parked.asked.is_empty() {
                    // Not everything was answered: ask the rest again.
                    return Ok(self.park(parked));
                }
                parked
            }
            None => self.start(state, server, caller, request).await?,
        };
        self.drive(parked).await
    }

    /// The parked call a retry's `requestState` names, checked against the retry.
    fn resume(
        &self,
        token: &Value,
        caller: Option<&Caller>,
        method: &str,
        params: Option<&Value>,
    ) -> Result<Parked, RpcError> {
        let claim = self.verify(token.as_str().ok_or_else(|| refused("not a string"))?)?;
        if claim.principal != principal(caller) {
            return Err(refused("it was given to another caller"));
        }
        if claim.origin != origin(method, params) {
            return Err(refused("it belongs to another request"));
        }
        if claim.expires < now_ms().cast_unsigned() {
            return Err(refused("it expired"));
        }
        lock(&self.parked)
            .remove(&claim.id)
            .ok_or_else(|| refused("it was used already or its call has ended"))
    }

    /// Starts the call on an interactive session of its own.
    async fn start(
        &self,
        state: &McpState,
        server: &Arc<VirtualServer>,
        caller: Option<&Caller>,
        request: Interactive<'_>,
    ) -> Result<Parked, RpcError> {
        let Interactive {
            id,
            method,
            mut params,
            capabilities,
        } = request;
        if lock(&self.parked).len() >= MAX_PARKED {
            return Err(RpcError::new(
                code::RATE_LIMITED,
                "too many requests are waiting for their clients' input",
            ));
        }
        let pool = format!("{}\n{capabilities}", server.name);
        let session = self.checkout(state, server, &pool, &capabilities).await?;
        let origin = origin(method, params.as_ref());
        super::bridge::strip_protocol_meta(&mut params);
        let stream = session.streams.open();
        let reader = session
            .streams
            .reader(stream, 0)
            .map_err(|e| RpcError::internal(format!("request stream: {e:?}")))?;
        let call = tokio::spawn({
            let session = session.clone();
            let caller = caller.cloned();
            let (id, method) = (id.clone(), method.to_string());
            async move {
                virtual_server::handle(&session, caller.as_ref(), stream, &id, &method, params)
                    .await
            }
        });
        Ok(Parked {
            session,
            pool,
            call,
            stream,
            reader,
            asked: Vec::new(),
            principal: principal(caller),
            origin,
        })
    }

    /// Waits until the call ends (its outcome) or its upstream asks the client something
    /// (the call is parked: an `InputRequiredResult`).
    async fn drive(self: &Arc<Self>, mut parked: Parked) -> Outcome {
        loop {
            tokio::select! {
                ended = &mut parked.call => {
                    let outcome = ended.unwrap_or_else(|e| Err(RpcError::internal(e.to_string())));
                    self.release(parked);
                    return outcome;
                }
                next = parked.reader.next() => match next {
                    Next::Message { data, .. } => {
                        if let Some(asked) = question(&data) {
                            parked.asked.push(asked);
                            return Ok(self.park(parked));
                        }
                    }
                    Next::Pause { .. } => {}
                    Next::End => {
                        let ended = (&mut parked.call).await;
                        let outcome = ended.unwrap_or_else(|e| Err(RpcError::internal(e.to_string())));
                        self.release(parked);
                        return outcome;
                    }
                },
            }
        }
    }

    /// Parks the call until the client retries: the `InputRequiredResult` to answer with.
    fn park(self: &Arc<Self>, parked: Parked) -> Value {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let expires = now_ms().cast_unsigned() + u64::try_from(TTL.as_millis()).unwrap_or(0);
        let token = self.sign(&Claim {
            id: id.clone(),
            principal: parked.principal.clone(),
            origin: parked.origin.clone(),
            expires,
        });
        let requests: Map<String, Value> = parked
            .asked
            .iter()
            .map(|(key, _, request)| (key.clone(), request.clone()))
            .collect();
        lock(&self.parked).insert(id.clone(), parked);
        let rounds = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(TTL).await;
            let expired = lock(&rounds.parked).remove(&id);
            if let Some(parked) = expired {
                rounds.abandon(parked).await;
            }
        });
        json!({ "resultType": "input_required", "inputRequests": requests, "requestState": token })
    }

    /// The client never came back: refuse what the upstream asked, let the call finish and
    /// free its session (ended when the call does not wind down).
    async fn abandon(self: &Arc<Self>, mut parked: Parked) {
        for (_, gateway_id, _) in parked.asked.drain(..) {
            let refusal = RpcError::new(code::REQUEST_TIMEOUT, "the client did not answer in time");
            parked
                .session
                .answer_server_request(&gateway_id.into(), Err(refusal))
                .await;
        }
        if tokio::time::timeout(WIND_DOWN, &mut parked.call)
            .await
            .is_err()
        {
            parked.call.abort();
            parked.session.end().await;
        }
        self.release(parked);
    }

    /// An idle interactive session for the pool, or a new one.
    async fn checkout(
        &self,
        state: &McpState,
        server: &Arc<VirtualServer>,
        pool: &str,
        capabilities: &Value,
    ) -> Result<Arc<Session>, RpcError> {
        let reused = {
            let mut idle = lock(&self.idle);
            let sessions = idle.entry(pool.to_string()).or_default();
            sessions.retain(|s| !s.is_ended() && Arc::ptr_eq(&s.server, server));
            sessions.pop()
        };
        if let Some(session) = reused {
            return Ok(session);
        }
        Session::start(
            server.clone(),
            None,
            super::bridge::BRIDGE_VERSION.into(),
            super::bridge::bridge_params(capabilities),
            state.idle_timeout,
            &state.connect,
        )
        .await
        .map_err(|e| RpcError::internal(e.to_string()))
    }

    /// The call is over: its stream is closed and its session kept for the next call.
    fn release(&self, parked: Parked) {
        let Parked {
            session,
            pool,
            stream,
            reader,
            ..
        } = parked;
        drop(reader);
        session.streams.end(stream);
        let keep = {
            let mut idle = lock(&self.idle);
            let sessions = idle.entry(pool).or_default();
            let keep = !session.is_ended() && sessions.len() < KEEP_IDLE;
            if keep {
                sessions.push(session.clone());
            }
            keep
        };
        if !keep {
            tokio::spawn(async move { session.end().await });
        }
    }

    /// Ends every interactive session, idle or parked (shutdown).
    pub(crate) async fn end_all(&self) {
        let idle: Vec<_> = lock(&self.idle).drain().flat_map(|(_, s)| s).collect();
        let parked: Vec<_> = lock(&self.parked).drain().map(|(_, p)| p).collect();
        for parked in parked {
            parked.call.abort();
            parked.session.end().await;
        }
        for session in idle {
            session.end().await;
        }
    }
}

/// Passes the client's answers to the upstream that is waiting for them; what stays
/// unanswered is asked again.
async fn answer(mut parked: Parked, answers: Option<&Map<String, Value>>) -> Parked {
    let mut unanswered = Vec::new();
    for (key, gateway_id, request) in parked.asked.drain(..) {
        match answers.and_then(|a| a.get(&key)) {
            Some(result) => {
                parked
                    .session
                    .answer_server_request(&gateway_id.into(), Ok(result.clone()))
                    .await;
            }
            None => unanswered.push((key, gateway_id, request)),
        }
    }
    parked.asked = unanswered;
    parked
}

/// A request the upstream sent to the client on the call's stream: `(key, gateway id,
/// {method, params})`.
fn question(data: &str) -> Option<(String, i64, Value)> {
    let message: Value = serde_json::from_str(data).ok()?;
    let method = message.get("method")?.as_str()?;
    let gateway_id = message.get("id")?.as_i64()?;
    let mut request = json!({ "method": method });
    if let Some(params) = message.get("params") {
        request["params"] = params.clone();
    }
    Some((format!("input-{gateway_id}"), gateway_id, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_state_is_tamper_evident() {
        let rounds = Rounds::default();
        let claim = Claim {
            id: "abc".into(),
            principal: "alice".into(),
            origin: "tools/call t".into(),
            expires: 1,
        };
        let token = rounds.sign(&claim);
        assert_eq!(rounds.verify(&token).expect("valid").principal, "alice");
        let (body, tag) = token.split_once('.').expect("two parts");
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claim {
                principal: "mallory".into(),
                ..claim
            })
            .expect("json"),
        );
        for bad in [
            format!("{forged}.{tag}"),
            format!("{body}.AAAA"),
            "x".into(),
        ] {
            let e = rounds.verify(&bad).expect_err("refused");
            assert_eq!(e.code, code::INVALID_PARAMS, "{bad}");
        }
        // Another process's key does not verify this one's state.
        assert!(Rounds::default().verify(&token).is_err());
    }

    #[test]
    fn only_asking_capabilities_of_asking_methods_are_interactive() {
        let params = |caps: Value| json!({"name": "t", "_meta": {"io.modelcontextprotocol/clientCapabilities": caps}});
        let caps = params(json!({"elicitation": {"form": {}}, "experimental": {}}));
        assert_eq!(
            interactive("tools/call", Some(&caps)),
            Some(json!({"elicitation": {"form": {}}}))
        );
        assert_eq!(interactive("tools/list", Some(&caps)), None);
        assert_eq!(interactive("tools/call", Some(&params(json!({})))), None);
    }
}
