//! Multi round-trip requests for the 2026-07-28 revision (SEP-2322): tools and a prompt
//! that answer with an `InputRequiredResult` until the client retries with the
//! `inputResponses` (and the echoed, integrity-protected `requestState`) they asked for.

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, Prompt, PromptMessage, RequestStateCodec, Role, Tool,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use super::content::empty_schema;

/// The key sealing `requestState`. A fixture for tests: a fixed key is enough here;
/// a real server keeps its key secret.
const STATE_KEY: &[u8] = b"strata-testkit-mcp-fixture-request-state-key";

/// The MRTR tools, all without arguments.
const TOOLS: &[(&str, &str)] = &[
    (
        "test_input_required_result_elicitation",
        "Asks for the user's name through an InputRequiredResult",
    ),
    (
        "test_input_required_result_sampling",
        "Asks for a sampling result through an InputRequiredResult",
    ),
    (
        "test_input_required_result_list_roots",
        "Asks for the client's roots through an InputRequiredResult",
    ),
    (
        "test_input_required_result_request_state",
        "Round-trips an integrity-protected requestState",
    ),
    (
        "test_input_required_result_multiple_inputs",
        "Asks for elicitation, sampling and roots in one round",
    ),
    (
        "test_input_required_result_multi_round",
        "Asks for input over two rounds with an evolving requestState",
    ),
    (
        "test_input_required_result_tampered_state",
        "Rejects a tampered requestState with a JSON-RPC error",
    ),
    (
        "test_input_required_result_capabilities",
        "Asks only for inputs the client declared capabilities for",
    ),
    (
        "test_streaming_elicitation",
        "Returns an InputRequiredResult instead of sending an elicitation request",
    ),
];

/// The MRTR tools.
#[must_use]
pub fn tools() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|(name, description)| Tool::new(*name, *description, empty_schema()))
        .collect()
}

/// The MRTR prompt.
#[must_use]
pub fn prompt() -> Prompt {
    Prompt::new(
        "test_input_required_result_prompt",
        Some("A prompt that asks for context through an InputRequiredResult"),
        None,
    )
}

fn codec() -> RequestStateCodec {
    RequestStateCodec::new_unchecked(STATE_KEY)
}

fn seal(state: &Value) -> Result<String, ErrorData> {
    codec()
        .seal_json(state)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn open(sealed: &str) -> Result<Value, ErrorData> {
    codec()
        .open_json(sealed)
        .map_err(|_| ErrorData::invalid_params("requestState failed integrity verification", None))
}

/// An input request from its wire form.
fn request(value: Value) -> Result<InputRequest, ErrorData> {
    serde_json::from_value(value)
        .map_err(|e| ErrorData::internal_error(format!("fixture input request: {e}"), None))
}

fn elicit(message: &str, field: &str) -> Result<InputRequest, ErrorData> {
    request(json!({
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { field: { "type": "string" } },
                "required": [field]
            }
        }
    }))
}

fn sample(prompt: &str, max_tokens: u32) -> Result<InputRequest, ErrorData> {
    request(json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
            "maxTokens": max_tokens
        }
    }))
}

fn roots() -> Result<InputRequest, ErrorData> {
    request(json!({ "method": "roots/list", "params": {} }))
}

/// The response under `key`, when it is an object (anything else counts as missing).
fn response<'a>(responses: Option<&'a InputResponses>, key: &str) -> Option<&'a Value> {
    responses.and_then(|r| r.get(key)).filter(|v| v.is_object())
}

fn ask(
    inputs: Vec<(&str, InputRequest)>,
    state: Option<String>,
) -> Result<InputRequiredResult, ErrorData> {
    let requests: InputRequests = inputs
        .into_iter()
        .map(|(key, req)| (key.to_owned(), req))
        .collect();
    Ok(InputRequiredResult::new(Some(requests), state))
}

fn done(text: impl Into<String>) -> Result<CallToolResponse, ErrorData> {
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
}

/// Answers an MRTR tool; `None` for other names.
#[must_use]
pub fn call_tool(
    request: &CallToolRequestParams,
    cx: &RequestContext<RoleServer>,
) -> Option<Result<CallToolResponse, ErrorData>> {
    let responses = request.input_responses.as_ref();
    let state = request.request_state.as_deref();
    Some(match request.name.as_ref() {
        "test_input_required_result_elicitation" => match response(responses, "user_name") {
            Some(r) => done(format!(
                "Hello, {}!",
                r["content"]["name"].as_str().unwrap_or("friend")
            )),
            None => elicit("What is your name?", "name")
                .and_then(|e| ask(vec![("user_name", e)], None))
                .map(Into::into),
        },
        "test_input_required_result_sampling" => match response(responses, "capital_question") {
            Some(r) => done(format!(
                "Sampling response: {}",
                r["content"]["text"].as_str().unwrap_or("(no text)")
            )),
            None => sample("What is the capital of France?", 100)
                .and_then(|s| ask(vec![("capital_question", s)], None))
                .map(Into::into),
        },
        "test_input_required_result_list_roots" => match response(responses, "client_roots") {
            Some(r) => {
                let uris: Vec<&str> = r["roots"]
                    .as_array()
                    .map(|roots| roots.iter().filter_map(|x| x["uri"].as_str()).collect())
                    .unwrap_or_default();
                done(format!("Client roots: [{}]", uris.join(", ")))
            }
            None => roots()
                .and_then(|r| ask(vec![("client_roots", r)], None))
                .map(Into::into),
        },
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => request_state(state),
        "test_input_required_result_multiple_inputs" => multiple_inputs(responses, state),
        "test_input_required_result_multi_round" => multi_round(responses, state),
        "test_input_required_result_capabilities" => capabilities(responses, cx),
        "test_streaming_elicitation" => elicit("Provide a value", "value")
            .and_then(|e| ask(vec![("streaming_elicitation", e)], None))
            .map(Into::into),
        _ => return None,
    })
}

fn request_state(state: Option<&str>) -> Result<CallToolResponse, ErrorData> {
    match state {
        None => {
            let sealed = seal(&json!({ "stage": "confirm" }))?;
            let confirm = request(json!({
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": "Please confirm",
                    "requestedSchema": {
                        "type": "object",
                        "properties": { "ok": { "type": "boolean" } },
                        "required": ["ok"]
                    }
                }
            }))?;
            ask(vec![("confirm", confirm)], Some(sealed)).map(Into::into)
        }
        Some(sealed) => {
            open(sealed)?;
            done("Confirmed: state-ok")
        }
    }
}

fn multiple_inputs(
    responses: Option<&InputResponses>,
    state: Option<&str>,
) -> Result<CallToolResponse, ErrorData> {
    let state_ok = match state {
        Some(sealed) => {
            open(sealed)?;
            true
        }
        None => false,
    };
    let keys = ["user_name", "greeting", "client_roots"];
    if state_ok && keys.iter().all(|k| response(responses, k).is_some()) {
        return done("All inputs received");
    }
    let sealed = seal(&json!({ "stage": "gather" }))?;
    ask(
        vec![
            ("user_name", elicit("What is your name?", "name")?),
            ("greeting", sample("Generate a greeting", 50)?),
            ("client_roots", roots()?),
        ],
        Some(sealed),
    )
    .map(Into::into)
}

fn multi_round(
    responses: Option<&InputResponses>,
    state: Option<&str>,
) -> Result<CallToolResponse, ErrorData> {
    let round = match state {
        Some(sealed) => open(sealed)?["round"].as_i64().unwrap_or(0),
        None => 0,
    };
    let has = |key: &str| response(responses, key).is_some();
    // A missing response re-asks the same round (SEP-2322 recommends re-requesting).
    let next = match round {
        2 if has("step2") => return done("Multi-round flow complete"),
        1 if has("step1") => 2,
        2 => 2,
        _ => 1,
    };
    let input = if next == 1 {
        ("step1", elicit("Step 1: What is your name?", "name")?)
    } else {
        (
            "step2",
            elicit("Step 2: What is your favorite color?", "color")?,
        )
    };
    ask(vec![input], Some(seal(&json!({ "round": next }))?)).map(Into::into)
}

fn capabilities(
    responses: Option<&InputResponses>,
    cx: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    if responses.is_some_and(|r| !r.is_empty()) {
        return done("Capability-aware flow complete");
    }
    let caps = cx.client_capabilities().unwrap_or_default();
    let mut inputs = Vec::new();
    if caps.elicitation.is_some() {
        inputs.push(("user_name", elicit("What is your name?", "name")?));
    }
    if caps.sampling.is_some() {
        inputs.push(("greeting", sample("Generate a greeting", 50)?));
    }
    if caps.roots.is_some() {
        inputs.push(("client_roots", roots()?));
    }
    if inputs.is_empty() {
        return done("The client declared no capability an input request needs");
    }
    ask(inputs, None).map(Into::into)
}

/// Answers the MRTR prompt; `None` for other names.
#[must_use]
pub fn get_prompt(
    request: &GetPromptRequestParams,
) -> Option<Result<GetPromptResponse, ErrorData>> {
    if request.name != "test_input_required_result_prompt" {
        return None;
    }
    Some(
        match response(request.input_responses.as_ref(), "user_context") {
            Some(r) => {
                let context = r["content"]["context"].as_str().unwrap_or("(no context)");
                Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with elicited context: {context}"),
                )])
                .into())
            }
            None => elicit("What context should the prompt use?", "context")
                .and_then(|e| ask(vec![("user_context", e)], None))
                .map(Into::into),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_requests_parse_from_their_wire_form() {
        assert!(matches!(
            elicit("q", "name"),
            Ok(InputRequest::Elicitation(_))
        ));
        assert!(matches!(
            sample("q", 10),
            Ok(InputRequest::CreateMessage(_))
        ));
        assert!(matches!(roots(), Ok(InputRequest::ListRoots(_))));
    }

    #[test]
    fn tampered_state_is_rejected() {
        let sealed = seal(&json!({ "round": 1 })).expect("seals");
        assert_eq!(open(&sealed).expect("opens")["round"], 1);
        assert!(open(&format!("{sealed}-TAMPERED")).is_err());
    }
}
