//! What a call will use, estimated before it is sent: the tokens limits and budgets reserve.
//! Input: counted with tiktoken for OpenAI models (`o200k_base` for the GPT-4o, GPT-4.1,
//! GPT-5 and o-series families, `cl100k_base` for older GPT-4 and GPT-3.5), otherwise one
//! token per four characters; texts over 32 KiB are estimated by length (tiktoken's cost grows
//! with the text, and an estimate only needs to be close). Output: the request's own
//! `max_tokens` (`max_completion_tokens`, `max_output_tokens`), or 256 when it sets none.
//! The real usage replaces the estimate when the call ends.

use serde_json::Value;

use crate::convert::Format;
use crate::tokens;

/// Output tokens assumed when a request sets no maximum.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 256;

/// Longest text counted exactly with tiktoken.
const TIKTOKEN_MAX_BYTES: usize = 32 * 1024;

/// Estimated input and output tokens of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    pub input: u64,
    pub output: u64,
}

impl Estimate {
    #[must_use]
    pub fn total(self) -> u64 {
        self.input + self.output
    }
}

/// The tokenizer of an OpenAI model, if it is one.
fn tokenizer(model: &str) -> Option<&'static tiktoken_rs::CoreBPE> {
    let name = model.rsplit('/').next().unwrap_or(model);
    if name.starts_with("gpt-4o")
        || name.starts_with("gpt-4.1")
        || name.starts_with("gpt-5")
        || name.starts_with("o1")
        || name.starts_with("o3")
        || name.starts_with("o4")
    {
        Some(tiktoken_rs::o200k_base_singleton())
    } else if name.starts_with("gpt-4")
        || name.starts_with("gpt-3.5")
        || name.starts_with("text-embedding")
    {
        Some(tiktoken_rs::cl100k_base_singleton())
    } else {
        None
    }
}

/// Loads the tokenizers ahead of the first request that needs them.
pub fn warm_up() {
    std::thread::spawn(|| {
        let _ = tiktoken_rs::o200k_base_singleton();
        let _ = tiktoken_rs::cl100k_base_singleton();
    });
}

/// Tokens of `text` for `model`.
#[must_use]
pub fn count(model: &str, text: &str) -> u64 {
    match tokenizer(model) {
        Some(bpe) if text.len() <= TIKTOKEN_MAX_BYTES => bpe.encode_ordinary(text).len() as u64,
        _ => tokens::estimate(text),
    }
}

/// The text of a request in any client format: message contents, system prompt, input,
/// tool definitions.
fn text_of(format: Format, body: &Value) -> String {
    let mut text = String::new();
    let mut push = |v: &Value| match v {
        Value::String(s) => text.push_str(s),
        Value::Array(parts) => {
            for part in parts {
                match part.get("text").and_then(Value::as_str) {
                    Some(t) => text.push_str(t),
                    None => {
                        if let Some(s) = part.as_str() {
                            text.push_str(s);
                        }
                    }
                }
            }
        }
        Value::Null => {}
        other => text.push_str(&other.to_string()),
    };
    for message in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(content) = message.get("content") {
            push(content);
        }
        if let Some(calls) = message.get("tool_calls") {
            push(&Value::String(calls.to_string()));
        }
    }
    for field in ["system", "instructions", "input", "prompt"] {
        if let Some(v) = body.get(field) {
            push(v);
        }
    }
    if let Some(tools) = body.get("tools") {
        push(&Value::String(tools.to_string()));
    }
    let _ = format;
    text
}

/// The estimate for a request to `model`.
#[must_use]
pub fn request(format: Format, model: &str, body: &Value) -> Estimate {
    let input = count(model, &text_of(format, body));
    let output = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(DEFAULT_OUTPUT_TOKENS);
    Estimate { input, output }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn openai_models_are_counted_with_tiktoken() {
        let body = json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "Hello, world!" }] });
        let e = request(Format::OpenAi, "gpt-4o", &body);
        assert_eq!(
            e,
            Estimate {
                input: 4,
                output: DEFAULT_OUTPUT_TOKENS
            }
        );
        let body = json!({ "model": "x", "max_tokens": 10, "system": "abcdefgh",
            "messages": [{ "role": "user", "content": [{ "type": "text", "text": "abcd" }] }] });
        let e = request(Format::Anthropic, "claude-3-5-sonnet", &body);
        assert_eq!(
            e,
            Estimate {
                input: 3,
                output: 10
            }
        );
        let body = json!({ "input": "abcdefgh", "max_output_tokens": 7 });
        assert_eq!(
            request(Format::Responses, "mock-1", &body),
            Estimate {
                input: 2,
                output: 7
            }
        );
    }
}
