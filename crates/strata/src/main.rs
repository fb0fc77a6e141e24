//! The `strata` binary: parses the command line and calls into `strata-app`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the gateway allocates small, short-lived buffers per request on every thread,
/// where glibc's allocator showed up at over 10% of the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::Cli::parse().run()
}
