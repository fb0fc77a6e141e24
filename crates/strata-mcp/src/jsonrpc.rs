//! JSON-RPC 2.0 messages, kept as JSON so that fields this gateway does not know pass through.
//!
//! The gateway reads only what routing needs (the method, the id, a name or URI) and forwards
//! the rest untouched; a typed model would drop fields of protocol revisions it predates.

use serde_json::{Map, Value, json};

/// JSON-RPC error codes used by the gateway.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP: the request timed out (the SDKs' `RequestTimeout`).
    pub const REQUEST_TIMEOUT: i64 = -32001;
    /// MCP: the resource does not exist.
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
    /// The client cancelled the request (the code LSP and the MCP SDKs use).
    pub const REQUEST_CANCELLED: i64 = -32800;
    /// The session ended (the upstream went away and could not be restarted).
    pub const CONNECTION_CLOSED: i64 = -32000;
    /// The gateway: a per-principal tool rate limit was reached (`data.retryAfterMs`).
    pub const RATE_LIMITED: i64 = -32029;
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(code::INTERNAL_ERROR, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            code::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    /// Reads an upstream's error object, keeping its code, message and data.
    pub fn from_value(value: &Value) -> Self {
        Self {
            code: value
                .get("code")
                .and_then(Value::as_i64)
                .unwrap_or(code::INTERNAL_ERROR),
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error")
                .to_string(),
            data: value.get("data").cloned(),
        }
    }

    pub fn to_value(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// What one JSON-RPC message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Value,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A result or an error answering `id`.
    Response {
        id: Value,
        outcome: Result<Value, RpcError>,
    },
}

impl Message {
    /// Classifies a parsed JSON value. `Err` carries why it is not a JSON-RPC 2.0 message.
    pub fn parse(value: Value) -> Result<Self, String> {
        let Value::Object(mut object) = value else {
            return Err("a JSON-RPC message must be an object".into());
        };
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err("`jsonrpc` must be \"2.0\"".into());
        }
        let id = object.remove("id");
        if let Some(id) = &id
            && !(id.is_string() || id.is_i64() || id.is_u64())
        {
            return Err("`id` must be a string or an integer".into());
        }
        match (object.remove("method"), id) {
            (Some(Value::String(method)), id) => {
                let params = object.remove("params");
                if params
                    .as_ref()
                    .is_some_and(|p| !p.is_object() && !p.is_array())
                {
                    return Err("`params` must be an object".into());
                }
                Ok(match id {
                    Some(id) => Message::Request { id, method, params },
                    None => Message::Notification { method, params },
                })
            }
            (Some(_), _) => Err("`method` must be a string".into()),
            (None, Some(id)) => {
                let outcome = match (object.remove("result"), object.remove("error")) {
                    (Some(result), None) => Ok(result),
                    (None, Some(error)) if error.is_object() => Err(RpcError::from_value(&error)),
                    _ => return Err("a response needs exactly one of `result` or `error`".into()),
                };
                Ok(Message::Response { id, outcome })
            }
            (None, None) => Err("a message needs a `method` or an `id`".into()),
        }
    }

    /// The message as JSON; consumes it, so nothing is copied.
    pub fn into_value(self) -> Value {
        match self {
            Message::Request { id, method, params } => request(id, &method, params),
            Message::Notification { method, params } => notification(&method, params),
            Message::Response { id, outcome } => response(id, outcome),
        }
    }
}

/// A request message.
pub fn request(id: Value, method: &str, params: Option<Value>) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("id".into(), id);
    object.insert("method".into(), method.into());
    if let Some(params) = params {
        object.insert("params".into(), params);
    }
    Value::Object(object)
}

/// A notification message.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("method".into(), method.into());
    if let Some(params) = params {
        object.insert("params".into(), params);
    }
    Value::Object(object)
}

/// A response message.
pub fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("id".into(), id);
    match outcome {
        Ok(result) => object.insert("result".into(), result),
        Err(error) => object.insert("error".into(), error.to_value()),
    };
    Value::Object(object)
}

/// `params._meta.progressToken`, if any.
pub fn progress_token(params: Option<&Value>) -> Option<&Value> {
    params?.get("_meta")?.get("progressToken")
}

/// A string field of `params`.
pub fn param_str<'a>(params: Option<&'a Value>, key: &str) -> Option<&'a str> {
    params?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        let request = json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}});
        assert!(matches!(
            Message::parse(request),
            Ok(Message::Request { .. })
        ));
        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert!(matches!(
            Message::parse(note),
            Ok(Message::Notification { .. })
        ));
        let ok = json!({"jsonrpc":"2.0","id":"a","result":{}});
        assert!(matches!(
            Message::parse(ok),
            Ok(Message::Response { outcome: Ok(_), .. })
        ));
        let err = json!({"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"x","data":[1]}});
        let Ok(Message::Response {
            outcome: Err(e), ..
        }) = Message::parse(err)
        else {
            panic!("not an error response")
        };
        assert_eq!(
            (e.code, e.message.as_str(), e.data),
            (-1, "x", Some(json!([1])))
        );
    }

    #[test]
    fn rejects_what_is_not_json_rpc() {
        for bad in [
            json!([]),
            json!({"id":1,"method":"x"}),
            json!({"jsonrpc":"1.0","id":1,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1.5,"method":"x"}),
            json!({"jsonrpc":"2.0","id":{},"method":"x"}),
            json!({"jsonrpc":"2.0","method":7}),
            json!({"jsonrpc":"2.0","id":1,"method":"x","params":3}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":1,"result":1,"error":{}}),
            json!({"jsonrpc":"2.0"}),
        ] {
            assert!(Message::parse(bad.clone()).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn round_trips_unknown_fields_of_params_and_results() {
        let request = json!({"jsonrpc":"2.0","id":1,"method":"m","params":{"x":{"future":true}}});
        let parsed = Message::parse(request.clone()).expect("valid");
        assert_eq!(parsed.into_value(), request);
    }
}
