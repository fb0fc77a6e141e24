//! Model calls through the ai layer's OpenAI-compatible chat completions.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use futures_util::future::BoxFuture;
use http::{Request, header};
use serde_json::{Value, json};

use super::{CallContext, CallError, Called, ModelClient, Transport, read_body};

/// The ai layer, over a transport.
#[derive(Debug, Clone)]
pub struct LayerModels {
    transport: Arc<dyn Transport>,
}

impl LayerModels {
    #[must_use]
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }

    async fn call(&self, mut body: Value, ctx: &CallContext) -> Called {
        let started = Instant::now();
        let schema = body.as_object_mut().and_then(|b| b.remove("output_schema"));
        if let Some(schema) = &schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": "output", "schema": schema }
            });
        }
        let mut record = json!({ "layer": "ai", "request": body });
        let result = self
            .exchange(&body, ctx, &mut record)
            .await
            .and_then(|answer| {
                let text = answer
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                match &schema {
                    Some(schema) => structured(&text, schema),
                    None => Ok(Value::String(text)),
                }
            });
        Called::finish(result, record, started)
    }

    async fn exchange(
        &self,
        body: &Value,
        ctx: &CallContext,
        record: &mut Value,
    ) -> Result<Value, CallError> {
        let mut request = Request::post("/v1/chat/completions")
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", &ctx.idempotency_key)
            .header("x-strata-run-id", &ctx.run_id)
            .header("traceparent", ctx.traceparent())
            .body(Body::from(body.to_string()))
            .map_err(|e| CallError::new("internal", e.to_string()))?;
        request.extensions_mut().insert(strata_core::Principal {
            name: ctx.principal.clone(),
        });
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|e| CallError::new("unavailable", e))?;
        let status = response.status().as_u16();
        let cost = response
            .headers()
            .get("x-strata-cost-usd")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let bytes = read_body(response.into_body()).await?;
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        record["response"] = answer.clone();
        record["status"] = json!(status);
        if let Some(usage) = answer.get("usage") {
            record["tokens"] = json!({
                "input": usage.get("prompt_tokens"),
                "output": usage.get("completion_tokens"),
            });
        }
        if let Some(cost) = cost {
            record["cost_usd"] = json!(cost);
        }
        if status != 200 {
            let message = answer
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map_or_else(|| format!("the ai layer answered {status}"), str::to_string);
            return Err(CallError {
                class: CallError::class_of(status),
                message,
                response: Some(answer),
            });
        }
        Ok(answer)
    }
}

/// The JSON object an answer holds (fences stripped), checked against the schema.
fn structured(text: &str, schema: &Value) -> Result<Value, CallError> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .unwrap_or(trimmed);
    let value: Value = serde_json::from_str(inner.trim())
        .map_err(|e| CallError::new("invalid_output", format!("the answer is not JSON: {e}")))?;
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| CallError::new("bad_request", format!("output_schema: {e}")))?;
    if let Some(error) = validator.iter_errors(&value).next() {
        return Err(CallError::new(
            "invalid_output",
            format!(
                "the answer does not match output_schema: {error} at {}",
                error.instance_path()
            ),
        ));
    }
    Ok(value)
}

impl ModelClient for LayerModels {
    fn chat<'a>(&'a self, body: Value, ctx: &'a CallContext) -> BoxFuture<'a, Called> {
        Box::pin(self.call(body, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_output_is_parsed_and_checked() {
        let schema = json!({ "type": "object", "required": ["severity"] });
        assert_eq!(
            structured("```json\n{\"severity\": \"high\"}\n```", &schema).unwrap(),
            json!({ "severity": "high" })
        );
        let e = structured("{\"other\": 1}", &schema).unwrap_err();
        assert_eq!(e.class, "invalid_output");
        assert!(e.message.contains("severity"), "{}", e.message);
        assert_eq!(
            structured("not json", &schema).unwrap_err().class,
            "invalid_output"
        );
    }
}
