//! The store's one error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database. The URL is not echoed: it may hold a password.
    #[error("unsupported storage URL: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl,
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("redis error: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("the writer is closed; the record was not accepted")]
    WriterClosed,
    #[error("run {0} is executed by another process now")]
    LeaseLost(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    #[error("spool: {0}")]
    Spool(String),
}
