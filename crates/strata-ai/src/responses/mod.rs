//! The OpenAI Responses API (served through `ingress::route`), stateless: the request (with the whole
//! conversation in `input`) is translated to chat completions, routed like any call, and the
//! answer (streams included) translated back into Responses output items and events.

mod request;
mod response;
mod stream;

pub use request::to_chat;
pub use response::from_chat;
pub use stream::ChatToResponses;

#[cfg(test)]
mod tests;
