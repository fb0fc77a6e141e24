//! The Redis backend, shared by every replica: each operation is one Lua script (atomic, one
//! round trip, Redis's clock). Keys, under the configured prefix:
//! - `rate:requests:<scope>`, `rate:tokens:<scope>`: GCRA meter hashes, expiring when drained;
//! - `concurrent:<scope>`: sorted set of leases (score = expiry in ms), renewed while held;
//! - `budget:<period key>`: hash of `spent` and `r:<id>` reservations with their own expiry,
//!   pruned by the reserve script; the hash lives for the seed's TTL.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::oneshot;

use super::gcra::Verdict;
use super::lua::Lua;
use super::{FALLBACK_BUDGET_TTL, Leases, LimitError, LimitKind, scripts};

pub(super) struct Shared {
    conn: ConnectionManager,
    prefix: String,
    leases: Leases,
    meter: Lua,
    enter: Lua,
    renew: Lua,
    reserve: Lua,
    settle: Lua,
    seed: Lua,
    state: Lua,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .field("leases", &self.leases)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: &redis::RedisError) -> LimitError {
    LimitError::Redis(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Shared {
    pub(super) fn new(conn: ConnectionManager, prefix: &str, leases: Leases) -> Self {
        Shared {
            conn,
            prefix: prefix.to_owned(),
            leases,
            meter: Lua::new(scripts::METER),
            enter: Lua::new(scripts::ENTER),
            renew: Lua::new(scripts::RENEW),
            reserve: Lua::new(scripts::budget_reserve()),
            settle: Lua::new(scripts::BUDGET_SETTLE),
            seed: Lua::new(scripts::BUDGET_SEED),
            state: Lua::new(scripts::budget_state()),
        }
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}:{name}", self.prefix)
    }

    fn meter_key(&self, kind: LimitKind, scope: &str) -> String {
        self.key(&format!("rate:{}", kind.as_str()), scope)
    }

    /// Runs the GCRA script; `admit_only` refuses a cost that does not fit, otherwise the cost
    /// (possibly negative) is applied as is. The caller has checked the call is possible.
    pub(super) async fn meter(
        &self,
        kind: LimitKind,
        scope: &str,
        per_minute: u64,
        cost: i64,
        admit_only: bool,
    ) -> Result<Verdict, LimitError> {
        let (applied, wait_us): (i64, i64) = self
            .meter
            .key(self.meter_key(kind, scope))
            .arg(per_minute)
            .arg(cost)
            .arg(if admit_only { "1" } else { "0" })
            .invoke(&mut self.conn.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(if applied == 1 {
            Verdict::Admit
        } else {
            Verdict::Wait(Duration::from_micros(wait_us.unsigned_abs()))
        })
    }

    /// Takes a lease on one of `max` slots. The returned sender is the permit: a task renews
    /// the lease until the sender is dropped, then removes it.
    pub(super) async fn enter(
        self: &Arc<Self>,
        scope: &str,
        max: u64,
    ) -> Result<Option<oneshot::Sender<()>>, LimitError> {
        let key = self.key("concurrent", scope);
        let id = uuid::Uuid::new_v4().to_string();
        let taken: i64 = self
            .enter
            .key(&key)
            .arg(max)
            .arg(&id)
            .arg(millis(self.leases.permit))
            .invoke(&mut self.conn.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        if taken != 1 {
            return Ok(None);
        }
        let (release, released) = oneshot::channel();
        tokio::spawn(Arc::clone(self).hold(key, id, released));
        Ok(Some(release))
    }

    async fn hold(self: Arc<Self>, key: String, id: String, mut released: oneshot::Receiver<()>) {
        let mut conn = self.conn.clone();
        loop {
            tokio::select! {
                _ = &mut released => break,
                () = tokio::time::sleep(self.leases.renew_every) => {
                    let renewed: Result<i64, _> = self
                        .renew
                        .key(&key)
                        .arg(&id)
                        .arg(millis(self.leases.permit))
                        .invoke(&mut conn)
                        .await;
                    match renewed {
                        Ok(1) => {}
                        Ok(_) => tracing::warn!(%key, "concurrency lease expired before it was renewed"),
                        Err(e) => tracing::warn!(%key, error = %e, "could not renew a concurrency lease"),
                    }
                }
            }
        }
        let removed: Result<i64, _> = redis::cmd("ZREM")
            .arg(&key)
            .arg(&id)
            .query_async(&mut conn)
            .await;
        if let Err(e) = removed {
            tracing::warn!(%key, error = %e, "could not release a concurrency lease; it will expire");
        }
    }

    pub(super) async fn seed_budget(
        &self,
        period_key: &str,
        spent: i64,
        ttl: Duration,
    ) -> Result<bool, LimitError> {
        let set: i64 = self
            .seed
            .key(self.key("budget", period_key))
            .arg(spent)
            .arg(millis(ttl))
            .invoke(&mut self.conn.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(set == 1)
    }

    /// Returns whether it was admitted, with spent and reserved (including this one if admitted).
    pub(super) async fn reserve_budget(
        &self,
        period_key: &str,
        limit: i64,
        estimate: i64,
        id: &str,
    ) -> Result<(bool, i64, i64), LimitError> {
        let (admitted, spent, reserved): (i64, i64, i64) = self
            .reserve
            .key(self.key("budget", period_key))
            .arg(limit)
            .arg(estimate)
            .arg(id)
            .arg(millis(self.leases.reservation))
            .arg(millis(FALLBACK_BUDGET_TTL))
            .invoke(&mut self.conn.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok((admitted == 1, spent, reserved))
    }

    /// Removes the reservation and charges `actual`, or only removes it when `None`.
    pub(super) async fn settle_budget(
        &self,
        period_key: &str,
        id: &str,
        actual: Option<i64>,
    ) -> Result<(), LimitError> {
        let key = self.key("budget", period_key);
        let mut conn = self.conn.clone();
        let done = match actual {
            Some(actual) => self
                .settle
                .key(key)
                .arg(id)
                .arg(actual)
                .arg(millis(FALLBACK_BUDGET_TTL))
                .invoke::<i64>(&mut conn)
                .await
                .map(drop),
            None => redis::cmd("HDEL")
                .arg(key)
                .arg(format!("r:{id}"))
                .query_async::<i64>(&mut conn)
                .await
                .map(drop),
        };
        done.map_err(|e| unavailable(&e))
    }

    pub(super) async fn budget_state(&self, period_key: &str) -> Result<(i64, i64), LimitError> {
        self.state
            .key(self.key("budget", period_key))
            .invoke(&mut self.conn.clone())
            .await
            .map_err(|e| unavailable(&e))
    }
}
