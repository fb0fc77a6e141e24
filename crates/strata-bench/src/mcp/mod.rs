//! The MCP benchmark: a fast Streamable HTTP upstream, a `tools/call` load generator over N
//! sessions, and the memory an idle session costs. `bench/mcp.sh` drives them against the
//! upstream directly and through Strata's mcp layer.

mod client;
pub mod load;
#[cfg(feature = "rmcp")]
mod rmcp_upstream;
pub mod sessions;
pub mod upstream;
