//! The mcp layer's audit records: one per operation a client asks of a virtual server and
//! one per authentication refusal, written through the store's batch writer. A call's record
//! is committed before its answer leaves (group commit), so a crash loses at most the records
//! of calls still in flight.

use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use strata_config::ArgumentsAudit;
use strata_policy::guard::Guards;
use strata_store::{AuditRecord, BatchWriter, Outcome};

use crate::auth::Caller;
use crate::jsonrpc::RpcError;
use crate::virtual_server::VirtualServer;

/// Writes audit records; without a store (tests of the layer alone) it writes nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auditor {
    writer: Option<BatchWriter<AuditRecord>>,
    /// The built-in `pii_redaction` guardrail, for `arguments: redacted`.
    redact: Guards,
}

/// How an audited operation ended.
#[derive(Debug)]
pub(crate) enum Ending<'a> {
    Answered(&'a Result<Value, RpcError>),
    /// Refused by the gateway's policy (a role, a rate limit, a scope).
    Refused(&'a str),
}

/// One operation to record.
#[derive(Debug)]
pub(crate) struct Operation<'a> {
    pub server: &'a VirtualServer,
    pub caller: Option<&'a Caller>,
    pub session: Option<&'a str>,
    pub method: &'a str,
    pub params: Option<&'a Value>,
    /// The upstream that answered, when one did.
    pub upstream: Option<&'a str>,
    pub started: Instant,
}

impl Auditor {
    pub(crate) fn new(writer: Option<BatchWriter<AuditRecord>>) -> Self {
        let redact = strata_policy::guard::Library::default()
            .resolve(["pii_redaction"])
            .unwrap_or_default();
        Self { writer, redact }
    }

    /// Whether operations on `server` are recorded.
    pub(crate) fn records(&self, server: &VirtualServer) -> bool {
        self.writer.is_some() && server.audit.enabled
    }

    /// Records `op` and waits until the record is committed.
    pub(crate) async fn operation(&self, op: &Operation<'_>, ending: Ending<'_>) {
        let Some(writer) = self.writer.as_ref().filter(|_| op.server.audit.enabled) else {
            return;
        };
        let (outcome, error) = match ending {
            Ending::Answered(Ok(result)) if is_tool_error(result) => (
                Outcome::Error,
                Some("the tool reported an error".to_string()),
            ),
            Ending::Answered(Ok(_)) => (Outcome::Ok, None),
            Ending::Answered(Err(e)) => (Outcome::Error, Some(e.message.clone())),
            Ending::Refused(why) => (Outcome::Denied, Some(why.to_string())),
        };
        let mut record = AuditRecord::new("mcp", op.method, outcome);
        record.principal = op.caller.map(|c| c.name.clone());
        record.server = Some(op.server.name.clone());
        record.target = target(op.method, op.params);
        record.error = error;
        record.latency_ms = Some(i64::try_from(op.started.elapsed().as_millis()).unwrap_or(0));
        // The request's own `traceparent` (in `_meta`), else the trace of the HTTP request.
        record.trace_id = trace_id(op.params).or_else(strata_telemetry::trace_id_of_current);
        let arguments = op
            .params
            .and_then(|p| p.get("arguments"))
            .map(|a| self.arguments(op.server.audit.arguments, a));
        record.detail = json!({
            "roles": op.caller.map(|c| c.roles.clone()).unwrap_or_default(),
            "session": op.session,
            "upstream": op.upstream,
            "arguments": arguments,
        });
        if let Err(e) = writer.write_durable(record).await {
            tracing::error!(error = %e, "audit record not written");
        }
    }

    /// Records a refused authentication (no record when the layer has no store).
    pub(crate) async fn refusal(
        &self,
        server: &VirtualServer,
        action: &str,
        principal: Option<&str>,
        why: &str,
    ) {
        let Some(writer) = self.writer.as_ref().filter(|_| server.audit.enabled) else {
            return;
        };
        let mut record = AuditRecord::new("mcp", action, Outcome::Denied);
        record.server = Some(server.name.clone());
        record.principal = principal.map(str::to_string);
        record.error = Some(why.to_string());
        if let Err(e) = writer.write_durable(record).await {
            tracing::error!(error = %e, "audit record not written");
        }
    }

    /// A call's arguments as the server's `audit.arguments` says to keep them.
    fn arguments(&self, mode: ArgumentsAudit, arguments: &Value) -> Value {
        match mode {
            ArgumentsAudit::Full => arguments.clone(),
            ArgumentsAudit::None => Value::Null,
            ArgumentsAudit::Hash => {
                let digest = Sha256::digest(arguments.to_string().as_bytes());
                json!({ "sha256": hex::encode(digest) })
            }
            ArgumentsAudit::Redacted => {
                let mut copy = arguments.clone();
                self.redact_strings(&mut copy);
                copy
            }
        }
    }

    fn redact_strings(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                match self.redact.check(strata_config::GuardSide::Request, text) {
                    Ok(checked) => {
                        if let Some(redacted) = checked.text {
                            *text = redacted;
                        }
                    }
                    // A blocking action cannot be configured for the built-in; be safe anyway.
                    Err(_) => *text = "[REDACTED]".into(),
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_strings(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_strings(v)),
            _ => {}
        }
    }
}

/// A `tools/call` result with `isError: true`.
fn is_tool_error(result: &Value) -> bool {
    result.get("isError").and_then(Value::as_bool) == Some(true)
}

/// The tool, prompt or resource an operation names.
fn target(method: &str, params: Option<&Value>) -> Option<String> {
    let params = params?;
    let field = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => params.get("uri"),
        "completion/complete" => params
            .pointer("/ref/name")
            .or_else(|| params.pointer("/ref/uri")),
        _ => None,
    };
    field.and_then(Value::as_str).map(str::to_string)
}

/// The trace id of the W3C `traceparent` a request carries in its `_meta`.
fn trace_id(params: Option<&Value>) -> Option<String> {
    strata_core::trace_id_of(params?.pointer("/_meta/traceparent")?.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_kept_as_the_server_says() {
        let auditor = Auditor::new(None);
        let args = json!({ "to": "alice@example.com", "n": [1, { "ip": "10.1.2.3" }] });
        assert_eq!(auditor.arguments(ArgumentsAudit::Full, &args), args);
        assert_eq!(auditor.arguments(ArgumentsAudit::None, &args), Value::Null);
        let hashed = auditor.arguments(ArgumentsAudit::Hash, &args);
        assert_eq!(hashed["sha256"].as_str().map(str::len), Some(64));
        let redacted = auditor
            .arguments(ArgumentsAudit::Redacted, &args)
            .to_string();
        assert!(!redacted.contains("alice@example.com"), "{redacted}");
        assert!(!redacted.contains("10.1.2.3"), "{redacted}");
        assert!(redacted.contains("\"n\":[1,"), "{redacted}");
    }

    #[test]
    fn targets_and_trace_ids_come_from_the_params() {
        let call = json!({ "name": "add", "_meta": {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
        assert_eq!(target("tools/call", Some(&call)).as_deref(), Some("add"));
        assert_eq!(
            trace_id(Some(&call)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let read = json!({ "uri": "demo://readme" });
        assert_eq!(
            target("resources/read", Some(&read)).as_deref(),
            Some("demo://readme")
        );
        assert_eq!(target("tools/list", Some(&read)), None);
        assert_eq!(
            trace_id(Some(&json!({ "_meta": { "traceparent": "junk" } }))),
            None
        );
    }
}
