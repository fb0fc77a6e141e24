//! `subscriptions/listen` over several upstreams: one listen stream per upstream, merged into
//! one for the client. The client sees a single `notifications/subscriptions/acknowledged`
//! first (the notification types any upstream agreed to honor), then every upstream's
//! notifications as they come.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::Value;
use sse_stream::SseStream;

use super::upstream;
use crate::McpError;
use crate::http::{McpState, sse};
use crate::virtual_server::VirtualServer;

const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// How long an upstream may take to acknowledge before it is left out.
const ACK_WAIT: Duration = Duration::from_secs(10);

type Messages = BoxStream<'static, Value>;

/// An upstream's listen stream as JSON-RPC messages.
fn messages(response: reqwest::Response) -> Messages {
    SseStream::from_bytes_stream(response.bytes_stream())
        .filter_map(|event| async move {
            let data = event.ok()?.data?;
            serde_json::from_str::<Value>(&data).ok()
        })
        .boxed()
}

/// Opens the listen stream on every upstream and merges them.
pub(super) async fn merged(
    state: &McpState,
    server: &VirtualServer,
    targets: &[usize],
    headers: &HeaderMap,
    message: &Value,
) -> Result<Response, McpError> {
    let mut acknowledged: Option<Value> = None;
    let mut rest = Vec::new();
    for &index in targets {
        let upstream_config = &server.upstreams[index];
        let response = upstream::send(
            &state.connect.client,
            upstream_config,
            headers,
            message,
            None,
        )
        .await?;
        if !response.status().is_success() {
            tracing::warn!(upstream = %upstream_config.name, status = %response.status(), "subscriptions/listen refused");
            continue;
        }
        let mut stream = messages(response);
        let first = tokio::time::timeout(ACK_WAIT, stream.next())
            .await
            .ok()
            .flatten();
        match first {
            Some(ack) if ack.get("method").and_then(Value::as_str) == Some(ACKNOWLEDGED) => {
                acknowledged = Some(match acknowledged {
                    None => ack,
                    Some(mut merged) => {
                        merge_filter(
                            &mut merged["params"]["notifications"],
                            &ack["params"]["notifications"],
                        );
                        merged
                    }
                });
                rest.push(stream);
            }
            _ => {
                tracing::warn!(upstream = %upstream_config.name, "subscriptions/listen was not acknowledged")
            }
        }
    }
    let Some(acknowledged) = acknowledged else {
        return Err(McpError::Upstream(
            "no upstream accepted subscriptions/listen".into(),
        ));
    };
    let events = stream::once(async move { acknowledged })
        .chain(stream::select_all(rest))
        .map(sse::data_event);
    Ok(sse::stream_response(events))
}

/// `into` honors what either filter honors: flags or-ed, resource URIs joined.
fn merge_filter(into: &mut Value, other: &Value) {
    let (Some(into), Some(other)) = (into.as_object_mut(), other.as_object()) else {
        return;
    };
    for (key, value) in other {
        match (into.get_mut(key), value) {
            (Some(Value::Bool(current)), Value::Bool(new)) => *current |= *new,
            (Some(Value::Array(current)), Value::Array(new)) => {
                for item in new {
                    if !current.contains(item) {
                        current.push(item.clone());
                    }
                }
            }
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn filters_merge_to_what_any_upstream_honors() {
        let mut a = json!({"toolsListChanged": true, "resourceSubscriptions": ["a://1"]});
        let b = json!({"toolsListChanged": false, "promptsListChanged": true, "resourceSubscriptions": ["b://2", "a://1"]});
        merge_filter(&mut a, &b);
        assert_eq!(
            a,
            json!({"toolsListChanged": true, "promptsListChanged": true, "resourceSubscriptions": ["a://1", "b://2"]})
        );
    }
}
