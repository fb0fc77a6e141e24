//! Integration tests of strata-testkit (one test binary; one module per area).

mod conformance;
mod mcp_fixture;
