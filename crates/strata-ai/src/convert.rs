//! Translation between the APIs Strata speaks. OpenAI chat completions is the pivot: every
//! other format converts to and from it, so a new format needs two converters, not one per
//! pair. Nothing is translated when the client and the provider speak the same format.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::AiError;
use crate::dispatch::Call;
use crate::{anthropic, gemini, responses};

/// Largest non-streamed upstream answer read for translation.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI chat completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses (an ingress only: no provider is called in it).
    Responses,
    /// Google Gemini `generateContent` (a provider format only).
    Gemini,
}

impl Format {
    /// The event that ends a stream that broke off, in this format.
    #[must_use]
    pub fn stream_error(self, message: &str) -> Bytes {
        match self {
            Format::OpenAi | Format::Gemini => {
                let body = json!({ "error": { "message": message, "type": "api_error", "param": null, "code": "upstream_stream_error" } });
                Bytes::from(format!("data: {body}\n\n"))
            }
            Format::Anthropic => {
                let body = json!({ "type": "error", "error": { "type": "api_error", "message": message } });
                Bytes::from(format!("event: error\ndata: {body}\n\n"))
            }
            Format::Responses => {
                let body = json!({ "type": "error", "code": "upstream_stream_error", "message": message, "param": null });
                Bytes::from(format!("event: error\ndata: {body}\n\n"))
            }
        }
    }

    /// A gateway error as a response in this format.
    #[must_use]
    pub fn error_response(self, e: &AiError) -> Response {
        let response = match self {
            Format::OpenAi | Format::Responses | Format::Gemini => {
                (e.status(), Json(e.body())).into_response()
            }
            Format::Anthropic => {
                let status = e.status();
                (status, Json(anthropic::error_body(status, &e.to_string()))).into_response()
            }
        };
        crate::error::with_retry_after(response, e)
    }
}

/// A request body in `from` as a request body in `to`.
pub fn request(from: Format, to: Format, body: &Value) -> Result<Value, AiError> {
    let openai = match from {
        Format::OpenAi => body.clone(),
        Format::Anthropic => anthropic::request_to_openai(body)?,
        Format::Responses => responses::to_chat(body)?,
        Format::Gemini => {
            return Err(AiError::BadRequest("Gemini is not a client API".into()));
        }
    };
    match to {
        Format::OpenAi => Ok(openai),
        Format::Anthropic => anthropic::request_from_openai(&openai),
        Format::Gemini => gemini::request_from_openai(&openai),
        Format::Responses => Err(AiError::BadRequest(
            "no provider is called in the Responses format".into(),
        )),
    }
}

fn to_openai(from: Format, answer: &Value) -> Value {
    match from {
        Format::OpenAi | Format::Responses => answer.clone(),
        Format::Anthropic => anthropic::response_to_openai(answer),
        Format::Gemini => gemini::response_to_openai(answer),
    }
}

fn from_openai(to: Format, answer: &Value) -> Value {
    match to {
        Format::OpenAi => answer.clone(),
        Format::Anthropic => anthropic::response_from_openai(answer),
        Format::Responses => responses::from_chat(answer),
        Format::Gemini => answer.clone(),
    }
}

fn error_to_openai(from: Format, status: StatusCode, body: &[u8]) -> Value {
    match from {
        Format::OpenAi | Format::Responses => serde_json::from_slice(body).unwrap_or_else(|_| {
            json!({ "error": { "message": String::from_utf8_lossy(body), "type": "api_error", "param": null, "code": null } })
        }),
        Format::Anthropic => anthropic::error_to_openai(status, body),
        Format::Gemini => gemini::error_to_openai(status, body),
    }
}

fn error_from_openai(to: Format, status: StatusCode, error: &Value) -> Value {
    match to {
        Format::OpenAi | Format::Responses | Format::Gemini => error.clone(),
        Format::Anthropic => anthropic::error_from_openai(status, error),
    }
}

/// A stream translator: bytes of one format in, bytes of another out.
pub trait StreamConvert: Send {
    /// Takes upstream bytes; returns the translated bytes they complete.
    fn push(&mut self, bytes: &[u8]) -> Vec<u8>;
    /// The upstream ended; returns what is left (an error event if it ended early).
    fn finish(&mut self) -> Vec<u8>;
}

/// Two translators in a row (through the pivot format).
struct Chain(Box<dyn StreamConvert>, Box<dyn StreamConvert>);

impl StreamConvert for Chain {
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let middle = self.0.push(bytes);
        self.1.push(&middle)
    }

    fn finish(&mut self) -> Vec<u8> {
        let middle = self.0.finish();
        let mut out = self.1.push(&middle);
        out.extend(self.1.finish());
        out
    }
}

/// The translator from a provider's stream (`from`) to the client's (`to`), through OpenAI's.
/// `include_usage`: whether an OpenAI client asked for the usage chunk.
fn stream_converter(
    from: Format,
    to: Format,
    model: &str,
    include_usage: bool,
) -> Option<Box<dyn StreamConvert>> {
    let into_openai: Option<Box<dyn StreamConvert>> = match from {
        Format::OpenAi | Format::Responses => None,
        Format::Anthropic => Some(Box::new(anthropic::StreamToOpenAi::new(
            model,
            include_usage || to != Format::OpenAi,
        ))),
        Format::Gemini => Some(Box::new(gemini::StreamToOpenAi::new(
            model,
            include_usage || to != Format::OpenAi,
        ))),
    };
    let out_of_openai: Option<Box<dyn StreamConvert>> = match to {
        Format::OpenAi | Format::Gemini => None,
        Format::Anthropic => Some(Box::new(anthropic::StreamTranslator::new(model))),
        Format::Responses => Some(Box::new(responses::ChatToResponses::new(model))),
    };
    match (into_openai, out_of_openai) {
        (Some(a), Some(b)) => Some(Box::new(Chain(a, b))),
        (a, b) => a.or(b),
    }
}

/// Maps a body through a stream translator as the chunks arrive.
pub(crate) fn convert_stream(body: Body, converter: Box<dyn StreamConvert>) -> Body {
    let upstream = body.into_data_stream();
    let stream = futures_util::stream::unfold(Some((upstream, converter)), |state| async move {
        let (mut upstream, mut converter) = state?;
        loop {
            match upstream.next().await {
                Some(Ok(chunk)) => {
                    let out = converter.push(&chunk);
                    if !out.is_empty() {
                        return Some((
                            Ok::<_, std::convert::Infallible>(Bytes::from(out)),
                            Some((upstream, converter)),
                        ));
                    }
                }
                Some(Err(_)) | None => {
                    let out = converter.finish();
                    return (!out.is_empty()).then(|| (Ok(Bytes::from(out)), None));
                }
            }
        }
    });
    Body::from_stream(stream)
}

/// A provider's response (in `from`) as the call's client expects it: passed on when the
/// formats match, translated otherwise (errors, streams and whole answers alike).
pub async fn response(response: Response, from: Format, call: &Call, model: &str) -> Response {
    let to = call.format;
    if from == to {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut headers = HeaderMap::new();
    if let Some(retry_after) = parts.headers.get(header::RETRY_AFTER) {
        headers.insert(header::RETRY_AFTER, retry_after.clone());
    }
    if !parts.status.is_success() {
        let bytes = axum::body::to_bytes(body, MAX_ANSWER)
            .await
            .unwrap_or_default();
        let error = error_from_openai(
            to,
            parts.status,
            &error_to_openai(from, parts.status, &bytes),
        );
        return (parts.status, headers, Json(error)).into_response();
    }
    if call.stream {
        // The usage chunk is always made, so every stream is accounted; the governance stage
        // takes it out again for an OpenAI client that did not ask for it.
        let Some(converter) = stream_converter(from, to, model, true) else {
            return (headers, body).into_response();
        };
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        return (headers, convert_stream(body, converter)).into_response();
    }
    let answer = match axum::body::to_bytes(body, MAX_ANSWER).await {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(answer) => (headers, Json(from_openai(to, &to_openai(from, &answer)))).into_response(),
        Err(e) => to.error_response(&AiError::Upstream {
            model: model.to_string(),
            attempts: 1,
            last: format!("the provider's answer could not be read: {e}"),
        }),
    }
}
