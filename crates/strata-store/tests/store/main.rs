//! Store tests. Every test runs against SQLite, and against Postgres when
//! `STRATA_TEST_POSTGRES_URL` is set (otherwise it is listed as ignored). Redis tests run when
//! `STRATA_TEST_REDIS_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod backends;
mod batch;
mod governance;
mod migrations;
mod redis;
mod runs;
mod sessions;

use std::future::Future;
use std::pin::Pin;

use libtest_mimic::{Arguments, Failed, Trial};
use strata_store::Store;

pub type TestFn = fn(Store) -> Pin<Box<dyn Future<Output = Result<(), Failed>>>>;

/// Every store test, by name.
const TESTS: &[(&str, TestFn)] = &[
    ("migrations_apply_once", |s| {
        Box::pin(migrations::apply_once(s))
    }),
    ("audit_round_trip", |s| Box::pin(audit::round_trip(s))),
    ("audit_filters", |s| Box::pin(audit::filters(s))),
    ("audit_mcp_filters_pages_and_retention", |s| {
        Box::pin(audit::mcp_filters_pages_and_retention(s))
    }),
    ("batch_writer_loses_nothing", |s| {
        Box::pin(batch::loses_nothing(s))
    }),
    ("batch_writer_flush_is_durable", |s| {
        Box::pin(batch::flush_is_durable(s))
    }),
    ("batch_writer_skips_records_already_stored", |s| {
        Box::pin(batch::skips_records_already_stored(s))
    }),
    ("runs_leases_fence_writers", |s| {
        Box::pin(runs::leases_fence_writers(s))
    }),
    ("runs_claims_are_exclusive", |s| {
        Box::pin(runs::claims_are_exclusive(s))
    }),
    ("runs_park_and_wake", |s| Box::pin(runs::park_and_wake(s))),
    ("sessions_runs_take_turns", |s| {
        Box::pin(sessions::runs_take_turns(s))
    }),
    ("console_usage_series_and_run_counts", |s| {
        Box::pin(sessions::usage_series_and_run_counts(s))
    }),
    ("runs_pages_split_ties_by_id", |s| {
        Box::pin(sessions::pages_split_ties_by_id(s))
    }),
    ("sessions_messages_and_expiry", |s| {
        Box::pin(sessions::messages_and_expiry(s))
    }),
    ("keys_round_trip", |s| {
        Box::pin(governance::keys_round_trip(s))
    }),
    ("usage_spend_reports", |s| {
        Box::pin(governance::spend_reports(s))
    }),
    ("ping", |s| {
        Box::pin(async move { s.ping().await.map_err(|e| e.to_string().into()) })
    }),
];

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for backend in backends::all() {
        for &(name, test) in TESTS {
            let trial_name = format!("{}::{name}", backend.name());
            let trial = match backend.clone().url_or_skip() {
                Some(_) => {
                    let backend = backend.clone();
                    Trial::test(trial_name, move || backends::run(&backend, test))
                }
                None => Trial::test(trial_name, || Ok(())).with_ignored_flag(true),
            };
            trials.push(trial);
        }
    }
    trials.extend(backends::sqlite_only_trials());
    trials.extend(redis::trials());
    libtest_mimic::run(&args, trials).exit();
}
