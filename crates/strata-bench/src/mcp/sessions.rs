//! Memory per idle session: reads a process's resident set (`VmRSS` in /proc/PID/status),
//! opens N sessions through the target URL (`initialize` and `notifications/initialized`
//! only) and keeps them, reads it again, then ends them. Prints one JSON line.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use super::client::Session;
use crate::procfs::rss_kib;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP endpoint, e.g. http://127.0.0.1:4001/mcp/bench.
    #[arg(long)]
    url: String,
    /// The process whose memory is measured (the gateway).
    #[arg(long)]
    pid: u32,
    /// Sessions to open.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Sessions being opened at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Wait this long after opening (and after ending) before reading the memory, in seconds.
    #[arg(long, default_value_t = 2)]
    settle_seconds: u64,
    /// The protocol revision asked for in `initialize`.
    #[arg(long, default_value = "2025-11-25")]
    protocol_version: String,
    /// A label printed with the results.
    #[arg(long, default_value = "")]
    label: String,
}

pub async fn run(args: Args) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let settle = Duration::from_secs(args.settle_seconds);
    let before = rss_kib(args.pid)?;
    let started = Instant::now();
    let opened: Vec<Result<Session, String>> = futures_util::stream::iter(0..args.count)
        .map(|_| Session::start(&client, &args.url, &args.protocol_version))
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let open_secs = started.elapsed().as_secs_f64();
    let errors = opened.iter().filter(|s| s.is_err()).count();
    let first_error = opened.iter().find_map(|s| s.as_ref().err().cloned());
    let sessions: Vec<Session> = opened.into_iter().filter_map(Result::ok).collect();
    tokio::time::sleep(settle).await;
    let after = rss_kib(args.pid)?;
    futures_util::stream::iter(&sessions)
        .for_each_concurrent(args.concurrency.max(1), |s| s.end(&client))
        .await;
    tokio::time::sleep(settle).await;
    let after_end = rss_kib(args.pid)?;
    let per_session = if sessions.is_empty() {
        0.0
    } else {
        after.saturating_sub(before) as f64 / sessions.len() as f64
    };
    let mut out = json!({
        "label": args.label,
        "sessions": sessions.len(),
        "errors": errors,
        "open_seconds": (open_secs * 1000.0).round() / 1000.0,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_after_end_kib": after_end,
        "kib_per_session": (per_session * 10.0).round() / 10.0,
    });
    if let Some(error) = first_error {
        out["first_error"] = json!(error);
    }
    #[allow(clippy::print_stdout)]
    {
        println!("{out}");
    }
    Ok(())
}
