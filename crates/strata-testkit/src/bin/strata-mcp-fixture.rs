//! `strata-mcp-fixture`: the MCP conformance fixture server.
//!
//! ```text
//! strata-mcp-fixture --listen 127.0.0.1:0 [--allow-host HOST[:PORT]]...
//! strata-mcp-fixture --stdio [--tag TEXT]
//! ```
//!
//! `--tag` is ignored; tests use it to find their own child processes.
//!
//! With `--listen` it serves Streamable HTTP at `/mcp` and prints
//! `listening http://ADDR/mcp` as the first line of stdout once the port is bound.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use strata_testkit::mcp_fixture::{FixtureServer, serve_stdio};

const USAGE: &str =
    "usage: strata-mcp-fixture (--listen ADDR [--allow-host HOST]... | --stdio) [--tag TEXT]";

enum Mode {
    Listen(SocketAddr, Vec<String>),
    Stdio,
}

fn parse(args: &[String]) -> Result<Mode, String> {
    let mut listen = None;
    let mut stdio = false;
    let mut hosts = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--listen" => {
                let value = iter.next().ok_or("--listen needs an address")?;
                let addr = value
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
                listen = Some(addr);
            }
            "--allow-host" => hosts.push(iter.next().ok_or("--allow-host needs a host")?.clone()),
            "--stdio" => stdio = true,
            // Ignored: lets a test find this process by its command line.
            "--tag" => {
                iter.next().ok_or("--tag needs a value")?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    match (listen, stdio) {
        (Some(addr), false) => Ok(Mode::Listen(addr, hosts)),
        (None, true) => Ok(Mode::Stdio),
        _ => Err(USAGE.to_owned()),
    }
}

async fn listen(addr: SocketAddr, hosts: &[String]) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let server = FixtureServer::serve(listener, hosts);
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {}", server.url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    server.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse(&args) {
        Ok(mode) => mode,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Listen(addr, hosts) => listen(addr, &hosts).await,
        Mode::Stdio => serve_stdio().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "strata-mcp-fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
