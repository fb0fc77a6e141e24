//! Policy shared by every layer: authentication (API keys stored hashed, later JWT/JWKS and
//! OAuth resource-server metadata), roles and permissions, rate limits and budgets
//! (`limits`, in process or shared through Redis), and guardrails (`guard`).

pub mod access;
pub mod guard;
pub mod jwt;
mod keys;
pub mod limits;

pub use keys::{ApiKeys, Delegation, KeyIdentity, ModelAccess, StoredKeys, presented_key};
