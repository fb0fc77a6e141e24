//! A closed-loop (or fixed-rate) load generator over keep-alive connections. Prints one JSON
//! line: requests, errors, requests per second, and latency percentiles in milliseconds
//! (for streams also time to first chunk and the spread of gaps between chunks).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Full URL of the chat completions endpoint.
    #[arg(long)]
    url: String,
    /// Model to ask for.
    #[arg(long, default_value = "bench")]
    model: String,
    /// Concurrent connections (each sends one request at a time).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to measure, in seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Total requests per second across connections; 0 = as fast as answers come back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Ask for streamed answers.
    #[arg(long)]
    stream: bool,
    /// A bearer key to send.
    #[arg(long)]
    key: Option<String>,
    /// A JSON body to send instead of the chat completion (e.g. to start workflow runs).
    #[arg(long)]
    body: Option<String>,
    /// Count a 2xx answer as an error unless its body contains this text.
    #[arg(long)]
    expect: Option<String>,
    /// A label printed with the results.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    first_chunks: Vec<Duration>,
    gaps: Vec<Duration>,
    errors: u64,
}

pub async fn run(args: Args) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let body = match &args.body {
        Some(body) => body.clone(),
        None => json!({ "model": args.model, "stream": args.stream,
            "messages": [{ "role": "user", "content": "Say something short." }] })
        .to_string(),
    };
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + Duration::from_secs(args.seconds);
    let pace = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut tasks = Vec::new();
    for n in 0..args.connections {
        let (client, body, url, key, expect) = (
            client.clone(),
            body.clone(),
            args.url.clone(),
            args.key.clone(),
            args.expect.clone(),
        );
        // Fixed rate: connections take turns, evenly spread, instead of firing together.
        let offset = pace.map(|p| p.mul_f64(n as f64 / args.connections as f64));
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let mut ticker = pace
                .zip(offset)
                .map(|(p, o)| tokio::time::interval_at(tokio::time::Instant::now() + o, p));
            while Instant::now() < end {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let sent = Instant::now();
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(key) = &key {
                    request = request.bearer_auth(key);
                }
                let ok = match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        let mut stream = response.bytes_stream();
                        let mut last = None;
                        let mut ok = true;
                        let mut seen = Vec::new();
                        while let Some(chunk) = stream.next().await {
                            let Ok(chunk) = chunk else {
                                ok = false;
                                break;
                            };
                            if expect.is_some() {
                                seen.extend_from_slice(&chunk);
                            }
                            let now = Instant::now();
                            match last {
                                None => {
                                    if sent >= measure_from {
                                        sample.first_chunks.push(now - sent);
                                    }
                                }
                                Some(previous) => {
                                    if sent >= measure_from {
                                        sample.gaps.push(now - previous);
                                    }
                                }
                            }
                            last = Some(now);
                        }
                        ok && expect.as_ref().is_none_or(|text| {
                            String::from_utf8_lossy(&seen).contains(text.as_str())
                        })
                    }
                    _ => false,
                };
                if sent >= measure_from && Instant::now() <= end + Duration::from_secs(5) {
                    if ok {
                        sample.latencies.push(sent.elapsed());
                    } else {
                        sample.errors += 1;
                    }
                }
            }
            sample
        }));
    }
    let mut all = Sample::default();
    for task in tasks {
        let s = task.await.map_err(|e| e.to_string())?;
        all.latencies.extend(s.latencies);
        all.first_chunks.extend(s.first_chunks);
        all.gaps.extend(s.gaps);
        all.errors += s.errors;
    }
    let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let pct = |v: &mut Vec<Duration>, p: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        ms(v[i])
    };
    let n = all.latencies.len();
    let mut out = json!({
        "label": args.label,
        "connections": args.connections,
        "rate": args.rate,
        "stream": args.stream,
        "requests": n,
        "errors": all.errors,
        "rps": (n as f64 / args.seconds as f64).round(),
        "p50_ms": pct(&mut all.latencies, 0.50),
        "p90_ms": pct(&mut all.latencies, 0.90),
        "p99_ms": pct(&mut all.latencies, 0.99),
    });
    if args.stream {
        out["first_chunk_p50_ms"] = json!(pct(&mut all.first_chunks, 0.50));
        out["first_chunk_p99_ms"] = json!(pct(&mut all.first_chunks, 0.99));
        out["chunk_gap_p50_ms"] = json!(pct(&mut all.gaps, 0.50));
        out["chunk_gap_p99_ms"] = json!(pct(&mut all.gaps, 0.99));
    }
    #[allow(clippy::print_stdout)]
    {
        println!("{out}");
    }
    Ok(())
}
