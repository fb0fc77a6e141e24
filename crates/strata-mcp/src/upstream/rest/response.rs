//! An HTTP answer as a tool result: a success carries the body (and, where the API declares
//! a JSON response, the parsed JSON as `structuredContent`); any other status is a tool
//! error with the status and the body.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};
use strata_config::RestTool;

/// The most of a body that is read.
const MAX_BODY: usize = 8 << 20;

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    #[error("the API's answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("{0}")]
    Transport(reqwest::Error),
}

/// Reads the body, at most [`MAX_BODY`] bytes.
pub(super) async fn read(
    mut response: reqwest::Response,
) -> Result<(u16, String, Vec<u8>), ReadError> {
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or_default().to_string();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status.as_u16(), reason, body))
}

/// The tool result for an answer.
pub(super) fn result(tool: &RestTool, status: u16, reason: &str, body: &[u8]) -> CallToolResult {
    let text = String::from_utf8_lossy(body).into_owned();
    if !(200..300).contains(&status) {
        let text = format!("HTTP {status} {reason}: {text}");
        return CallToolResult::error(vec![ContentBlock::text(text)]);
    }
    if tool.output_schema.is_none() {
        let text = if text.is_empty() {
            format!("HTTP {status} {reason}")
        } else {
            text
        };
        return CallToolResult::success(vec![ContentBlock::text(text)]);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            let structured = if tool.wrap_output {
                json!({ "result": value })
            } else {
                value
            };
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(structured);
            result
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "HTTP {status} {reason}, but the body is not the JSON the API declares ({e}): {text}"
        ))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_config::{HttpMethod, RestBody};

    fn tool(output: Option<Value>, wrap: bool) -> RestTool {
        RestTool {
            name: "t".into(),
            description: String::new(),
            method: HttpMethod::Get,
            base: "http://h".into(),
            path: String::new(),
            params: Vec::new(),
            body: RestBody::None,
            input_schema: serde_json::Map::new(),
            output_schema: output.and_then(|o| o.as_object().cloned()),
            wrap_output: wrap,
        }
    }

    fn as_json(result: &CallToolResult) -> Value {
        serde_json::to_value(result).unwrap()
    }

    #[test]
    fn errors_carry_status_and_body() {
        let r = as_json(&result(
            &tool(None, false),
            404,
            "Not Found",
            b"{\"detail\":\"no item\"}",
        ));
        assert_eq!(r["isError"], true);
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("HTTP 404 Not Found: ") && text.contains("no item"),
            "{text}"
        );
    }

    #[test]
    fn declared_json_is_structured_and_wrapped_when_not_an_object() {
        let r = as_json(&result(
            &tool(Some(json!({"type": "object"})), false),
            200,
            "OK",
            b"{\"a\":1}",
        ));
        assert_eq!(r["structuredContent"], json!({"a": 1}));
        assert_eq!(r["content"][0]["text"], "{\"a\":1}");
        let r = as_json(&result(
            &tool(Some(json!({"type": "object"})), true),
            200,
            "OK",
            b"[1,2]",
        ));
        assert_eq!(r["structuredContent"], json!({"result": [1, 2]}));
        let r = as_json(&result(
            &tool(Some(json!({"type": "object"})), false),
            200,
            "OK",
            b"<html>",
        ));
        assert_eq!(r["isError"], true);
        let r = as_json(&result(&tool(None, false), 204, "No Content", b""));
        assert_eq!(r["content"][0]["text"], "HTTP 204 No Content");
        assert!(r.get("structuredContent").is_none());
    }
}
