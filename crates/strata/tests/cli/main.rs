//! End-to-end tests of the `strata` binary: check, schema, serve, reload, shutdown, telemetry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a2a;
mod check;
mod console;
mod doctor;
mod governance;
mod governance_more;
mod harness;
mod mcp_audit;
mod mcp_replicas;
mod mcp_sdk;
mod mcp_security;
mod mcp_stdio;
mod openapi_mcp;
mod reload;
mod scale_out;
mod sdk;
mod serve;
mod shutdown;
mod telemetry;
mod topologies;
mod workflows;
