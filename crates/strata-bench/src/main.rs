//! Benchmark tools (not tests): a zero-latency OpenAI-compatible upstream, and a load
//! generator that prints latency percentiles and throughput as JSON. `bench/ai.sh` drives
//! them against the upstream directly, through Strata, and through LiteLLM. The `mcp-*`
//! commands do the same for the mcp layer (`bench/mcp.sh`); `ledger` measures the usage
//! ledger's writes alone.

mod ledger;
mod load;
mod mcp;
mod procfs;
mod proxy;
mod upstream;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "strata-bench", about = "Benchmark tools for Strata")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a fixed chat completion (and stream) as fast as possible.
    Upstream(upstream::Args),
    /// A feature-less pass-through proxy: the floor of any proxy's cost on this machine.
    Proxy(proxy::Args),
    /// Send chat completions over N keep-alive connections and report latency.
    Load(load::Args),
    /// Serve a minimal MCP server (Streamable HTTP, plain JSON answers) as fast as possible.
    McpUpstream(mcp::upstream::Args),
    /// Loop `tools/call` over N MCP sessions and report latency.
    McpLoad(mcp::load::Args),
    /// Open N idle MCP sessions and report the memory they cost a process.
    McpSessions(mcp::sessions::Args),
    /// Write N usage records through the batch writer and report their cost per record.
    Ledger(ledger::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Upstream(args) => upstream::run(args).await,
            Command::Load(args) => load::run(args).await,
            Command::Proxy(args) => proxy::run(args).await,
            Command::McpUpstream(args) => mcp::upstream::run(args).await,
            Command::McpLoad(args) => mcp::load::run(args).await,
            Command::McpSessions(args) => mcp::sessions::run(args).await,
            Command::Ledger(args) => ledger::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
