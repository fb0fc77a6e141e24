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
pub use interactive::was_cancelled;
pub use sessions::FixtureSessions;

/// The `strata-mcp-fixture` binary, brought up to date by `cargo build` on first use (a no-op
/// after `cargo test --workspace`, which builds it; needed when only another package's tests
/// were built).
///
/// # Panics
/// When it cannot be built.
#[must_use]
pub fn fixture_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/strata-mcp-fixture
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir");
    let binary = dir.join("strata-mcp-fixture");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "strata-testkit",
                "--bin",
                "strata-mcp-fixture",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building strata-mcp-fixture failed");
    });
    assert!(binary.exists(), "{} is missing", binary.display());
    binary
}
