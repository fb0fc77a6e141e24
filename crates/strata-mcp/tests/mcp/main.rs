//! The mcp layer end to end: a real gateway on a port in front of real MCP servers.

mod aggregate;
mod auth;
mod builtin;
mod conformance;
mod harness;
mod legacy;
mod mrtr;
mod openapi;
mod rbac;
mod rest_api;
mod stateless;
mod stdio;
mod transport;
