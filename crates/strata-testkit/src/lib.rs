//! Test-only helpers: the external services tests may use, free ports, temp config files,
//! a harness that runs the real `strata` binary, and an MCP conformance fixture server.

pub mod conformance;
pub mod jwt;
pub mod mcp_fixture;
pub mod mock_llm;
pub mod npm;
pub mod postgres;
pub mod process;
pub mod python;
pub mod services;

pub use mcp_fixture::FixtureServer as McpFixture;
pub use mock_llm::{Behavior, MockLlm};
pub use postgres::FreshDatabase;
pub use process::{StrataProcess, free_port, free_ports};
pub use services::{Service, service_url, skip};
