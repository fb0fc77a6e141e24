//! `strata-bench ledger`: what one usage record costs the process, written as the ai layer
//! writes it (the batch writer, optionally with its spool) into a fresh SQLite store. Prints
//! JSON: wall time and CPU time (all threads) per record.

use std::time::Instant;

use clap::Parser;
use strata_config::Storage;
use strata_core::Secret;
use strata_store::{BatchWriter, BatchWriterOptions, Store, UsageRecord};

use crate::procfs::cpu_ns;

#[derive(Debug, Parser)]
pub struct Args {
    /// Records to write.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Write each record to the spool first, as `strata serve` does.
    #[arg(long)]
    spool: bool,
    /// Where the database (and spool) go; it must not exist yet.
    #[arg(long)]
    dir: std::path::PathBuf,
}

pub async fn run(args: Args) -> Result<(), String> {
    if args.rows == 0 {
        return Err("--rows must be at least 1".into());
    }
    std::fs::create_dir(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let storage = Storage {
        url: Secret::new(format!("sqlite://{}", args.dir.join("strata.db").display())),
        ..Storage::default()
    };
    let store = Store::connect(&storage).await.map_err(|e| e.to_string())?;
    let options = BatchWriterOptions::default();
    let writer = if args.spool {
        BatchWriter::spawn_spooled(store, options, &args.dir)
            .await
            .map_err(|e| e.to_string())?
    } else {
        BatchWriter::spawn(store, options)
    };
    let me = std::process::id();
    let (wall, cpu) = (Instant::now(), cpu_ns(me)?);
    for _ in 0..args.rows {
        writer.write(record()).await.map_err(|e| e.to_string())?;
    }
    writer.flush().await.map_err(|e| e.to_string())?;
    // Microseconds, to two decimals.
    let per_row = |nanos: f64| (nanos / 10.0 / args.rows as f64).round() / 100.0;
    let report = serde_json::json!({
        "rows": args.rows,
        "spool": args.spool,
        "wall_us_per_row": per_row(wall.elapsed().as_nanos() as f64),
        "cpu_us_per_row": per_row((cpu_ns(me)? - cpu) as f64),
    });
    #[allow(clippy::print_stdout)] // the report is this command's output
    {
        println!("{report}");
    }
    Ok(())
}

/// A record shaped like a bench call's: an open gateway, one provider, a trace id.
fn record() -> UsageRecord {
    UsageRecord {
        id: strata_core::new_id(),
        ts_ms: strata_core::now_ms(),
        key_name: None,
        team: None,
        operation: "chat".into(),
        model: "bench".into(),
        provider: Some("bench".into()),
        served_model: Some("bench".into()),
        status: 200,
        input_tokens: 12,
        output_tokens: 34,
        cached_tokens: 0,
        cost_micros: 0,
        latency_ms: 1,
        cache: None,
        guardrails: serde_json::json!([]),
        metadata: serde_json::json!({}),
        trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
    }
}
