//! The optional shared Redis: counters shared by replicas, the MCP session directory, caches.

use redis::aio::ConnectionManager;

use crate::StoreError;

/// A reconnecting Redis connection. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redis")
    }
}

impl Redis {
    /// Connects; fails when Redis does not answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        Ok(Self { conn })
    }

    /// A connection handle for commands.
    #[must_use]
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}
