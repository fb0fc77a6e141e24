//! The composition root: builds the layers from one config, runs their listeners and the
//! admin endpoints, reloads the config on change, and shuts down by draining.

mod admin;
mod audit;
mod commands;
mod console;
mod dispatch;
pub mod doctor;
mod error;
mod keys;
mod keys_cli;
mod mcp_stdio;
mod reload;
mod runs;
mod runtime;
mod serve;
mod server;
mod wake;

pub use audit::{AuditOptions, audit};
pub use commands::{check, schema};
pub use doctor::{DoctorOptions, LiveOptions, checklist, doctor};
pub use error::AppError;
pub use keys::NewKey;
pub use keys_cli::{KeysCommand, SpendOptions, keys, spend};
pub use mcp_stdio::{McpStdioOptions, mcp_stdio};
pub use runs::{RunsCommand, runs};
pub use serve::{ServeOptions, serve};
pub use server::{DrainOutcome, serve_routers};
