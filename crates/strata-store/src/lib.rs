//! The durable store: one sqlx pool type ([`sqlx::AnyPool`]) over SQLite (the embedded
//! default) or Postgres (several replicas), with embedded migrations applied at start, and the
//! optional shared Redis connection.

mod audit;
mod batch;
mod error;
mod keys;
mod redis_conn;
mod runs;
mod series;
mod sessions;
mod spool;
mod usage;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use strata_config::Storage;

pub use audit::{AuditQuery, AuditRecord, Outcome};
pub use batch::{BatchRecord, BatchWriter, BatchWriterOptions};
pub use error::StoreError;
pub use keys::KeyRow;
pub use redis_conn::Redis;
pub use runs::{Commit, EventRow, InboxItem, NewEvent, NewRun, RunQuery, RunRow};
pub use series::SeriesRow;
pub use sessions::{MessageRow, SessionRow};
pub use usage::{SpendGroup, SpendQuery, SpendRow, UsageRecord};

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        match url.split(':').next() {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl),
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A connected, migrated store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    redis: Option<Redis>,
    spool_dir: std::path::PathBuf,
}

impl Store {
    /// Connects to the configured database (creating a SQLite file on first start), applies
    /// the embedded migrations, and connects to Redis when configured.
    pub async fn connect(config: &Storage) -> Result<Self, StoreError> {
        let url = config.url.expose();
        let backend = Backend::of(url)?;
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(&Self::effective_url(url, backend))
            .map_err(StoreError::Connect)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        let redis = match &config.redis {
            Some(url) => Some(Redis::connect(url.expose()).await?),
            None => None,
        };
        Ok(Self {
            pool,
            backend,
            redis,
            spool_dir: Self::spool_dir_of(config, backend),
        })
    }

    /// `storage.spool_dir`, or its default.
    fn spool_dir_of(config: &Storage, backend: Backend) -> std::path::PathBuf {
        if let Some(dir) = &config.spool_dir {
            return dir.into();
        }
        let url = config.url.expose();
        let file = url
            .strip_prefix("sqlite://")
            .map(|rest| rest.split('?').next().unwrap_or_default())
            .filter(|path| {
                backend == Backend::Sqlite && !path.is_empty() && !path.contains(":memory:")
            });
        match file {
            Some(path) => format!("{path}.spool").into(),
            None => "strata-spool".into(),
        }
    }

    /// Where the spools of batched writers live (`storage.spool_dir`).
    #[must_use]
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// SQLite files are created on first start.
    fn effective_url(url: &str, backend: Backend) -> String {
        if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_string()
        }
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the layer-specific queries of other crates.
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The shared Redis, when configured.
    #[must_use]
    pub fn redis(&self) -> Option<&Redis> {
        self.redis.as_ref()
    }

    /// Checks that the database (and Redis, when configured) answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        if let Some(redis) = &self.redis {
            redis.ping().await?;
        }
        Ok(())
    }

    /// Names of the migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT description FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    /// Closes every pooled connection (after the writers have flushed).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
