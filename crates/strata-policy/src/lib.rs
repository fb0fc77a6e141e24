//! Policy shared by every layer: authentication (API keys stored hashed, later JWT/JWKS and
//! OAuth resource-server metadata), roles and permissions, rate limits and budgets,
//! guardrails. For now: API keys from the config, checked in constant time per key digest.

mod keys;

pub use keys::{ApiKeys, KeyIdentity, presented_key};
