//! Google Gemini (`generateContent`, `streamGenerateContent`): translations between OpenAI chat
//! completions and Gemini, so every client API can use Gemini providers.

mod request;
mod response;
mod stream;

pub use request::from_openai as request_from_openai;
pub use response::{error_to_openai, to_openai as response_to_openai};
pub use stream::StreamToOpenAi;

#[cfg(test)]
mod tests;
