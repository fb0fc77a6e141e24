//! Policy shared by every layer: authentication (API keys stored hashed, JWT/JWKS, OAuth
//! resource-server metadata), roles and permissions, rate limits and budgets, guardrails.
//!
//! The crate exists so the dependency direction is fixed from the start
//! (core ← config ← policy ← layers); its contents arrive with the governance and MCP
//! security issues.
