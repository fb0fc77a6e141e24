//! Legacy HTTP+SSE upstreams (protocol 2024-11-05): one GET event stream whose first event
//! names the endpoint to POST messages to; every answer arrives on the stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap};
use serde_json::Value;
use sse_stream::SseStream;
use strata_core::Secret;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::http::header_map;

#[derive(Debug)]
pub(crate) struct SseWire {
    client: reqwest::Client,
    endpoint: String,
    headers: HeaderMap,
}

impl SseWire {
    pub(crate) async fn connect(
        client: reqwest::Client,
        url: &str,
        configured: &BTreeMap<String, Secret>,
        shared: Arc<Shared>,
        cancel: CancellationToken,
    ) -> Result<Self, String> {
        let headers = header_map(configured);
        let response = client
            .get(url)
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered HTTP {}", response.status()));
        }
        let mut events = SseStream::from_bytes_stream(response.bytes_stream());
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    break event.data.unwrap_or_default();
                }
                Some(Ok(_)) => {}
                _ => return Err("the SSE stream ended before naming its endpoint".into()),
            }
        };
        let endpoint = url::Url::parse(url)
            .and_then(|base| base.join(endpoint.trim()))
            .map_err(|e| format!("the endpoint `{endpoint}` is not a URL: {e}"))?
            .to_string();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => return,
                    e = events.next() => e,
                };
                match event {
                    Some(Ok(event)) => {
                        let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                            continue;
                        };
                        match serde_json::from_str::<Value>(&data) {
                            Ok(value) => shared.deliver(value, None, false),
                            Err(error) => tracing::warn!(%error, "upstream SSE event is not JSON"),
                        }
                    }
                    Some(Err(error)) => {
                        shared.close(&format!("the event stream broke: {error}"));
                        return;
                    }
                    None => {
                        shared.close("the event stream ended");
                        return;
                    }
                }
            }
        });
        Ok(Self {
            client,
            endpoint,
            headers,
        })
    }

    pub(crate) async fn send(&self, message: &Value) -> Result<(), String> {
        let response = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .json(message)
            .send()
            .await
            .map_err(|e| format!("POST failed: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("POST answered HTTP {}", response.status()))
        }
    }
}
