//! An MCP "everything" server for the official conformance suite
//! (`@modelcontextprotocol/conformance`, server mode) and for Rust tests that need a
//! real MCP server: the tools, resources and prompts the suite's scenarios call, served
//! over Streamable HTTP (stateful sessions, and the stateless 2026-07-28 revision) or
//! stdio. Start it in-process with [`FixtureServer::start`], or run the
//! `strata-mcp-fixture` binary.

mod content;
mod diagnostics;
mod handler;
mod http;
mod interactive;
mod mrtr;
mod prompts;
mod resources;
mod sessions;
mod tools;

pub use diagnostics::Registry;
pub use handler::Fixture;
pub use http::{FixtureServer, MCP_PATH, router, serve_stdio};
pub use sessions::FixtureSessions;
