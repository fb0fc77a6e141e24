//! The databases the store tests run on, each test on a fresh database.

use libtest_mimic::{Failed, Trial};
use strata_config::Storage;
use strata_core::Secret;
use strata_store::{Backend, Store};
use strata_testkit::{Service, service_url};

use crate::TestFn;

#[derive(Clone)]
pub enum TestBackend {
    Sqlite,
    Postgres(Option<String>),
}

pub fn all() -> Vec<TestBackend> {
    let postgres = service_url(Service::Postgres);
    if postgres.is_none() {
        strata_testkit::skip("postgres::*", "STRATA_TEST_POSTGRES_URL is not set");
    }
    vec![TestBackend::Sqlite, TestBackend::Postgres(postgres)]
}

impl TestBackend {
    pub fn name(&self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres(_) => "postgres",
        }
    }

    /// `Some` when the backend can run here.
    pub fn url_or_skip(self) -> Option<()> {
        match self {
            TestBackend::Sqlite | TestBackend::Postgres(Some(_)) => Some(()),
            TestBackend::Postgres(None) => None,
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn storage(url: String) -> Storage {
    Storage {
        url: Secret::new(url),
        ..Storage::default()
    }
}

/// Runs `test` on a fresh database of `backend`, then removes the database.
pub fn run(backend: &TestBackend, test: TestFn) -> Result<(), Failed> {
    runtime().block_on(async {
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("t.db").display());
                let store = Store::connect(&storage(url)).await?;
                let result = test(store.clone()).await;
                store.close().await;
                result
            }
            TestBackend::Postgres(Some(base)) => {
                let db = strata_testkit::FreshDatabase::create(base).await?;
                let store = Store::connect(&storage(db.url.clone())).await?;
                assert_eq!(store.backend(), Backend::Postgres);
                let result = test(store.clone()).await;
                store.close().await;
                db.drop_database().await?;
                result
            }
            TestBackend::Postgres(None) => Err("postgres not configured".into()),
        }
    })
}

/// Tests of SQLite specifics.
pub fn sqlite_only_trials() -> Vec<Trial> {
    vec![
        Trial::test("sqlite::file_is_created_in_wal_mode", || {
            runtime().block_on(async {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("new.db");
                assert!(!path.exists());
                let store =
                    Store::connect(&storage(format!("sqlite://{}", path.display()))).await?;
                assert!(path.exists(), "database file created on first start");
                let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                    .fetch_one(store.pool())
                    .await?;
                assert_eq!(mode.to_lowercase(), "wal");
                store.close().await;
                Ok(())
            })
        }),
        Trial::test("sqlite::data_survives_reopen", || {
            runtime().block_on(async {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("r.db").display());
                let store = Store::connect(&storage(url.clone())).await?;
                let rec =
                    strata_store::AuditRecord::new("system", "test", strata_store::Outcome::Ok);
                let writer = strata_store::BatchWriter::spawn(store.clone(), Default::default());
                writer.write(rec.clone()).await?;
                writer.flush().await?;
                store.close().await;
                let reopened = Store::connect(&storage(url)).await?;
                assert_eq!(reopened.audit_count().await?, 1);
                assert_eq!(reopened.applied_migrations().await?.len(), 7);
                Ok(())
            })
        }),
        Trial::test(
            "store::rejects_unsupported_urls_without_echoing_them",
            || {
                runtime().block_on(async {
                    let err = Store::connect(&storage("mysql://root:hunter2@x/db".into()))
                        .await
                        .expect_err("mysql is not supported");
                    let text = err.to_string();
                    assert!(text.contains("unsupported storage URL"), "{text}");
                    assert!(!text.contains("hunter2"), "{text}");
                    Ok(())
                })
            },
        ),
    ]
}
