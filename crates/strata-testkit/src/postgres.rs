//! A fresh Postgres database per test, dropped afterwards.

use sqlx::{Connection, Executor};

/// A database created for one test on the server at the base URL.
#[derive(Debug)]
pub struct FreshDatabase {
    base: String,
    name: String,
    /// The new database's URL.
    pub url: String,
}

impl FreshDatabase {
    /// Creates `strata_t_<random>` on the server `base` points at.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses.
    pub async fn create(base: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        sqlx::any::install_default_drivers();
        let name = format!("strata_t_{:016x}", fastrand::u64(..));
        let mut admin = sqlx::AnyConnection::connect(base).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let mut url = url::Url::parse(base)?;
        url.set_path(&name);
        Ok(Self {
            base: base.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database (connections still open are cut).
    ///
    /// # Errors
    /// When the server cannot be reached or refuses.
    pub async fn drop_database(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut admin = sqlx::AnyConnection::connect(&self.base).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {} WITH (FORCE)",
                self.name
            )))
            .await?;
        Ok(())
    }
}
