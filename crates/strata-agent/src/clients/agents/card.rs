//! Reading a remote agent's card and choosing its JSON-RPC endpoint (1.0 preferred).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_config::RemoteAgent;
use tokio::sync::Mutex;

use crate::clients::CallError;

/// How long a card is trusted before it is read again.
const FRESH: Duration = Duration::from_secs(300);

/// Where to send JSON-RPC requests to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// It speaks 1.0 (else 0.3).
    pub v10: bool,
    /// The card as read.
    pub card: Value,
}

#[derive(Debug, Default)]
pub(super) struct Cache {
    cards: Mutex<HashMap<String, (Instant, Endpoint)>>,
}

impl Cache {
    pub(super) async fn endpoint(
        &self,
        http: &reqwest::Client,
        agent: &RemoteAgent,
    ) -> Result<Endpoint, CallError> {
        if let Some((at, e)) = self.cards.lock().await.get(&agent.name)
            && at.elapsed() < FRESH
        {
            return Ok(e.clone());
        }
        let url = card_url(&agent.card);
        let mut request = http.get(&url).timeout(Duration::from_secs(30));
        for (k, v) in &agent.headers {
            request = request.header(k, v.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::new("unavailable", format!("reading the card {url}: {e}")))?;
        let status = response.status().as_u16();
        if status >= 400 {
            return Err(CallError::new(
                CallError::class_of(status),
                format!("reading the card {url}: HTTP {status}"),
            ));
        }
        let card: Value = response
            .json()
            .await
            .map_err(|e| CallError::new("unavailable", format!("the card {url}: {e}")))?;
        let endpoint = choose(card).ok_or_else(|| {
            CallError::new(
                "bad_request",
                format!("the card {url} offers no JSON-RPC interface"),
            )
        })?;
        self.cards
            .lock()
            .await
            .insert(agent.name.clone(), (Instant::now(), endpoint.clone()));
        Ok(endpoint)
    }
}

/// A card URL, or a base URL whose card is at the well-known path.
fn card_url(configured: &str) -> String {
    if configured.ends_with(".json") {
        configured.to_string()
    } else {
        format!(
            "{}/.well-known/agent-card.json",
            configured.trim_end_matches('/')
        )
    }
}

/// The JSON-RPC interface to use: 1.0 first, else 0.3 (a 1.0 card's `supportedInterfaces`, or a
/// 0.3 card's `url` with `preferredTransport`/`additionalInterfaces`).
pub(crate) fn choose(card: Value) -> Option<Endpoint> {
    let jsonrpc = |i: &&Value| i.get("protocolBinding").and_then(Value::as_str) == Some("JSONRPC");
    let version = |i: &Value| {
        i.get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if let Some(list) = card.get("supportedInterfaces").and_then(Value::as_array) {
        let rpc: Vec<&Value> = list.iter().filter(jsonrpc).collect();
        let pick = rpc
            .iter()
            .find(|i| version(i).starts_with("1."))
            .or_else(|| rpc.first());
        if let Some(i) = pick {
            let url = i.get("url").and_then(Value::as_str)?.to_string();
            let v10 = !version(i).starts_with("0.");
            return Some(Endpoint { url, v10, card });
        }
    }
    let preferred = card
        .get("preferredTransport")
        .and_then(Value::as_str)
        .unwrap_or("JSONRPC");
    let url = if preferred == "JSONRPC" {
        card.get("url").and_then(Value::as_str).map(str::to_string)
    } else {
        card.get("additionalInterfaces")
            .and_then(Value::as_array)?
            .iter()
            .find(|i| i.get("transport").and_then(Value::as_str) == Some("JSONRPC"))
            .and_then(|i| i.get("url").and_then(Value::as_str))
            .map(str::to_string)
    }?;
    Some(Endpoint {
        url,
        v10: false,
        card,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_1_0_json_rpc_interface_wins_and_0_3_cards_still_work() {
        let v10 = json!({ "supportedInterfaces": [
            { "url": "http://a/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" },
            { "url": "http://a/old", "protocolBinding": "JSONRPC", "protocolVersion": "0.3" },
            { "url": "http://a/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0" },
        ]});
        let e = choose(v10).unwrap();
        assert_eq!((e.url.as_str(), e.v10), ("http://a/rpc", true));
        let v03 = json!({ "url": "http://b/", "preferredTransport": "JSONRPC", "protocolVersion": "0.3.0" });
        let e = choose(v03).unwrap();
        assert_eq!((e.url.as_str(), e.v10), ("http://b/", false));
        assert!(
            choose(json!({ "supportedInterfaces": [{ "url": "x", "protocolBinding": "GRPC" }] }))
                .is_none()
        );
        assert_eq!(
            card_url("http://h/a2a/x"),
            "http://h/a2a/x/.well-known/agent-card.json"
        );
        assert_eq!(card_url("http://h/card.json"), "http://h/card.json");
    }
}
