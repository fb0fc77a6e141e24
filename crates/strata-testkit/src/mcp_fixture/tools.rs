//! The fixture's tools: their definitions and the ones that answer without talking back
//! to the client. Tools that send notifications or requests live in `interactive`, the
//! 2026-07-28 multi round-trip tools in `mrtr`.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ResourceContents, Tool,
};
use serde_json::json;

use super::content::{PNG_BASE64, WAV_BASE64, empty_schema, object};

/// Tools that take no arguments, with their descriptions.
const NO_ARG_TOOLS: &[(&str, &str)] = &[
    ("test_simple_text", "Returns simple text content"),
    ("test_image_content", "Returns image content"),
    ("test_audio_content", "Returns audio content"),
    (
        "test_embedded_resource",
        "Returns embedded resource content",
    ),
    (
        "test_multiple_content_types",
        "Returns text, image and resource content together",
    ),
    (
        "test_tool_with_logging",
        "Sends three log notifications while running",
    ),
    (
        "test_tool_with_progress",
        "Reports progress 0, 50 and 100 of 100 while running",
    ),
    ("test_error_handling", "Always returns a tool error"),
    (
        "test_reconnection",
        "Closes its SSE stream mid-call and answers after the client resumes it (SEP-1699)",
    ),
    (
        "test_elicitation_sep1034_defaults",
        "Requests elicitation with default values for every primitive type (SEP-1034)",
    ),
    (
        "test_elicitation_sep1330_enums",
        "Requests elicitation with the five enum schema variants (SEP-1330)",
    ),
];

/// Every tool the fixture serves.
#[must_use]
pub fn list() -> Vec<Tool> {
    let mut tools: Vec<Tool> = NO_ARG_TOOLS
        .iter()
        .map(|(name, description)| Tool::new(*name, *description, empty_schema()))
        .collect();
    tools.push(Tool::new(
        "test_sampling",
        "Asks the client to sample an LLM completion",
        object(json!({
            "type": "object",
            "properties": { "prompt": { "type": "string", "description": "The prompt to send to the LLM" } },
            "required": ["prompt"]
        })),
    ));
    tools.push(Tool::new(
        "test_slow",
        "Sleeps `ms` milliseconds unless cancelled (records `marker` when it is)",
        object(json!({
            "type": "object",
            "properties": { "ms": { "type": "integer" }, "marker": { "type": "string" } }
        })),
    ));
    tools.push(Tool::new(
        "test_elicitation",
        "Asks the client for user input",
        object(json!({
            "type": "object",
            "properties": { "message": { "type": "string", "description": "The message to show the user" } },
            "required": ["message"]
        })),
    ));
    tools.push(Tool::new(
        "json_schema_2020_12_tool",
        "Tool whose input schema uses JSON Schema 2020-12 keywords (SEP-1613, SEP-2106)",
        object(json_schema_2020_12()),
    ));
    tools.extend(super::mrtr::tools());
    tools
}

/// The input schema the `json-schema-2020-12` scenario expects to see unchanged.
fn json_schema_2020_12() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" }
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": {
            "properties": { "contactMethod": { "const": "phone" } },
            "required": ["contactMethod"]
        },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false
    })
}

/// Answers the tools that need nothing from the client; `None` for other names.
#[must_use]
pub fn call_plain(request: &CallToolRequestParams) -> Option<Result<CallToolResponse, ErrorData>> {
    let result = match request.name.as_ref() {
        "test_simple_text" => CallToolResult::success(vec![ContentBlock::text(
            "This is a simple text response for testing.",
        )]),
        "test_image_content" => {
            CallToolResult::success(vec![ContentBlock::image(PNG_BASE64, "image/png")])
        }
        "test_audio_content" => {
            CallToolResult::success(vec![ContentBlock::audio(WAV_BASE64, "audio/wav")])
        }
        "test_embedded_resource" => {
            CallToolResult::success(vec![ContentBlock::resource(ResourceContents::text(
                "This is an embedded resource content.",
                "test://embedded-resource",
            ))])
        }
        "test_multiple_content_types" => CallToolResult::success(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(PNG_BASE64, "image/png"),
            ContentBlock::resource(
                ResourceContents::text(
                    r#"{"test":"data","value":123}"#,
                    "test://mixed-content-resource",
                )
                .with_mime_type("application/json"),
            ),
        ]),
        "test_error_handling" => CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )]),
        "json_schema_2020_12_tool" => {
            let args = serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
            CallToolResult::success(vec![ContentBlock::text(format!(
                "JSON Schema 2020-12 tool called with: {args}"
            ))])
        }
        _ => return None,
    };
    Some(Ok(result.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_unique() {
        let tools = list();
        let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), tools.len());
    }

    #[test]
    fn json_schema_tool_keeps_2020_12_keywords() {
        let tools = list();
        let tool = tools
            .iter()
            .find(|t| t.name == "json_schema_2020_12_tool")
            .expect("tool listed");
        for key in ["$schema", "$defs", "additionalProperties", "allOf", "if"] {
            assert!(tool.input_schema.contains_key(key), "{key} kept");
        }
    }
}
