//! Webhook guardrails: an external service decides.
//!
//! The gateway POSTs `{"guardrail": name, "side": "request"|"response", "text": …}` with the
//! configured headers and expects `{"action": "allow"|"block"|"replace", "text"?: …,
//! "reason"?: …}` within the timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use strata_config::{FailMode, GuardSide};
use strata_core::Secret;

/// A configured webhook.
#[derive(Debug)]
pub(crate) struct Webhook {
    url: String,
    headers: HeaderMap,
    timeout: Duration,
    pub on_error: FailMode,
    http: reqwest::Client,
}

/// The service's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    Block(Option<String>),
    Replace(String),
}

#[derive(Serialize)]
struct Ask<'a> {
    guardrail: &'a str,
    side: GuardSide,
    text: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    Allow,
    Block,
    Replace,
}

#[derive(Deserialize)]
struct Answer {
    action: Action,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Reasons from the service are passed on, shortened to this many characters.
const MAX_REASON: usize = 200;

impl Webhook {
    pub(crate) fn new(
        url: &str,
        headers: &BTreeMap<String, Secret>,
        timeout: Duration,
        on_error: FailMode,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        reqwest::Url::parse(url).map_err(|e| format!("url `{url}` is not valid: {e}"))?;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let key = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name `{name}` is not valid"))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the value of header `{name}` is not valid"))?;
            value.set_sensitive(true);
            map.insert(key, value);
        }
        Ok(Self {
            url: url.into(),
            headers: map,
            timeout,
            on_error,
            http,
        })
    }

    /// Asks the service; `Err` carries a description of what went wrong, for logs only.
    pub(crate) async fn ask(
        &self,
        guardrail: &str,
        side: GuardSide,
        text: &str,
    ) -> Result<Decision, String> {
        let call = async {
            let response = self
                .http
                .post(&self.url)
                .headers(self.headers.clone())
                .json(&Ask {
                    guardrail,
                    side,
                    text,
                })
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("status {status}"));
            }
            let answer: Answer = response
                .json()
                .await
                .map_err(|e| format!("answer is not valid: {e}"))?;
            Ok(answer)
        };
        let answer = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))??;
        let reason = answer.reason.map(|r| {
            let r = r.trim();
            match r.char_indices().nth(MAX_REASON) {
                Some((i, _)) => r[..i].to_string(),
                None => r.to_string(),
            }
        });
        Ok(match answer.action {
            Action::Allow => Decision::Allow,
            Action::Block => Decision::Block(reason.filter(|r| !r.is_empty())),
            Action::Replace => Decision::Replace(
                answer
                    .text
                    .ok_or_else(|| "`replace` without `text`".to_string())?,
            ),
        })
    }
}
