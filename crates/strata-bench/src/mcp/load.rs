//! MCP load: N sessions, each initialized through the target URL, then looping `tools/call`
//! one at a time (closed loop, or at a fixed total rate) for a duration. Prints one JSON line:
//! calls, errors, calls per second, and latency percentiles in milliseconds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Session;
use crate::procfs::cpu_ns;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP endpoint, e.g. http://127.0.0.1:4001/mcp/bench.
    #[arg(long)]
    url: String,
    /// Concurrent sessions (each sends one call at a time).
    #[arg(long, default_value_t = 32)]
    sessions: usize,
    /// How long to measure, in seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Total calls per second across sessions; 0 = as fast as answers come back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The tool to call.
    #[arg(long, default_value = "echo")]
    tool: String,
    /// The protocol revision asked for in `initialize`.
    #[arg(long, default_value = "2025-11-25")]
    protocol_version: String,
    /// Report the CPU time this process spends per call (repeat for several processes).
    #[arg(long)]
    cpu_pid: Vec<u32>,
    /// A label printed with the results.
    #[arg(long, default_value = "")]
    label: String,
    /// Sent as `Authorization: Bearer` on every request.
    #[arg(long)]
    key: Option<String>,
}

#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    errors: u64,
    sse: u64,
    first_error: Option<String>,
}

pub async fn run(args: Args) -> Result<(), String> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &args.key {
        let value = format!("Bearer {key}")
            .parse()
            .map_err(|_| "invalid --key")?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.sessions)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let starts =
        (0..args.sessions).map(|_| Session::start(&client, &args.url, &args.protocol_version));
    let sessions = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // What a client does first; it also lets a gateway learn the tool's upstream.
    for session in &sessions {
        let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_string();
        let reply = session.request(&client, 1, list).await?;
        if reply.message.get("result").is_none() {
            return Err(format!("tools/list failed: {}", reply.message));
        }
    }
    let (head, tail) = {
        let params = json!({ "name": args.tool, "arguments": { "text": "hello" } });
        (
            r#"{"jsonrpc":"2.0","id":"#.to_string(),
            format!(r#","method":"tools/call","params":{params}}}"#),
        )
    };
    let warmup = Duration::from_secs(1);
    let measure_from = Instant::now() + warmup;
    let end = measure_from + Duration::from_secs(args.seconds);
    let pace =
        (args.rate > 0).then(|| Duration::from_secs_f64(args.sessions as f64 / args.rate as f64));
    let mut tasks = Vec::new();
    for (n, session) in sessions.iter().cloned().enumerate() {
        let (client, head, tail) = (client.clone(), head.clone(), tail.clone());
        // Fixed rate: sessions take turns, evenly spread, instead of firing together.
        let offset = pace.map(|p| p.mul_f64(n as f64 / args.sessions as f64));
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let mut ticker = pace
                .zip(offset)
                .map(|(p, o)| tokio::time::interval_at(tokio::time::Instant::now() + o, p));
            let mut id = 1u64;
            while Instant::now() < end {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                id += 1;
                let sent = Instant::now();
                let outcome = session
                    .request(&client, id, format!("{head}{id}{tail}"))
                    .await;
                let elapsed = sent.elapsed();
                let outcome = outcome.and_then(|reply| {
                    let ok = reply
                        .message
                        .get("result")
                        .is_some_and(|r| r.get("isError") != Some(&Value::Bool(true)));
                    if ok {
                        Ok(reply.sse)
                    } else {
                        Err(reply.message.to_string())
                    }
                });
                if sent < measure_from || Instant::now() > end + Duration::from_secs(5) {
                    continue;
                }
                match outcome {
                    Ok(sse) => {
                        sample.latencies.push(elapsed);
                        sample.sse += u64::from(sse);
                    }
                    Err(error) => {
                        sample.errors += 1;
                        sample.first_error.get_or_insert(error);
                    }
                }
            }
            sample
        }));
    }
    // CPU time of the given processes over the measured window.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_from = args
        .cpu_pid
        .iter()
        .map(|p| cpu_ns(*p))
        .collect::<Result<Vec<_>, _>>()?;
    tokio::time::sleep_until(end.into()).await;
    let cpu_to = args
        .cpu_pid
        .iter()
        .map(|p| cpu_ns(*p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all = Sample::default();
    for task in tasks {
        let s = task.await.map_err(|e| e.to_string())?;
        all.latencies.extend(s.latencies);
        all.errors += s.errors;
        all.sse += s.sse;
        if all.first_error.is_none() {
            all.first_error = s.first_error;
        }
    }
    for session in &sessions {
        session.end(&client).await;
    }
    all.latencies.sort_unstable();
    let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let pct = |v: &[Duration], p: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        ms(v[i])
    };
    let n = all.latencies.len();
    let mut out = json!({
        "label": args.label,
        "sessions": args.sessions,
        "rate": args.rate,
        "calls": n,
        "errors": all.errors,
        "sse_answers": all.sse,
        "calls_per_s": (n as f64 / args.seconds as f64).round(),
        "p50_ms": pct(&all.latencies, 0.50),
        "p90_ms": pct(&all.latencies, 0.90),
        "p99_ms": pct(&all.latencies, 0.99),
        "max_ms": all.latencies.last().map_or(0.0, |d| ms(*d)),
    });
    if !args.cpu_pid.is_empty() && n > 0 {
        let per_call: Vec<f64> = cpu_from
            .iter()
            .zip(&cpu_to)
            .map(|(a, b)| (b.saturating_sub(*a) as f64 / 1000.0 / n as f64 * 10.0).round() / 10.0)
            .collect();
        out["cpu_us_per_call"] = json!(per_call);
    }
    if let Some(error) = all.first_error {
        out["first_error"] = json!(error);
    }
    #[allow(clippy::print_stdout)]
    {
        println!("{out}");
    }
    Ok(())
}
