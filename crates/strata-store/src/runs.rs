//! Workflow runs, their journal and their inbox. A run is executed by the process that holds
//! its lease; every write of the executor is fenced by that lease, so a process that lost its
//! run (it stalled past the lease and another took over) can no longer write to it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Store, StoreError};

/// The stored statuses of runs that have not ended.
macro_rules! active {
    () => {
        "('pending', 'running', 'waiting')"
    };
}

/// Every column of `workflow_runs`.
macro_rules! run_columns {
    () => {
        "id, workflow, definition, status, input, state, output, error, principal, parent_id, \
         parent_task, forked_from, seq, owner, lease_until, wake_at, deadline, created_ms, \
         updated_ms, finished_ms, session_id, trace_id"
    };
}

/// Claims due runs; `$lock` is Postgres's row-skipping clause.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE workflow_runs SET owner = $1, lease_until = $2, status = 'running', \
             wake_at = $3 WHERE id IN (SELECT id FROM workflow_runs WHERE status IN ",
            active!(),
            " AND wake_at IS NOT NULL AND wake_at <= $3 AND (owner IS NULL OR lease_until < $3) \
             ORDER BY wake_at LIMIT $4",
            $lock,
            ") RETURNING id"
        )
    };
}

/// A new run with its first journal events.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub id: String,
    pub workflow: String,
    pub definition: String,
    pub input: String,
    pub state: String,
    pub principal: Option<String>,
    pub parent_id: Option<String>,
    pub parent_task: Option<String>,
    pub forked_from: Option<String>,
    /// The session (A2A `contextId`) it belongs to: runs of one session run one at a time.
    pub session_id: Option<String>,
    /// The trace it is part of (a child run: its parent's); its own when absent.
    pub trace_id: Option<String>,
    /// The process that starts executing it at once (it holds the lease), if any.
    pub owner: Option<String>,
    pub lease_until: Option<i64>,
    pub deadline: Option<i64>,
    pub events: Vec<NewEvent>,
}

/// One journal event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: String,
    pub task: Option<String>,
    pub data: String,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub workflow: String,
    pub definition: String,
    pub status: String,
    pub input: String,
    pub state: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub principal: Option<String>,
    pub parent_id: Option<String>,
    pub parent_task: Option<String>,
    pub forked_from: Option<String>,
    pub seq: i64,
    pub owner: Option<String>,
    pub lease_until: Option<i64>,
    pub wake_at: Option<i64>,
    pub deadline: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
}

/// A journal event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub ts_ms: i64,
    pub kind: String,
    pub task: Option<String>,
    pub data: String,
}

/// An inbox item.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    pub id: String,
    pub kind: String,
    pub data: String,
}

/// What the executor writes in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub events: Vec<NewEvent>,
    pub state: Option<String>,
    pub status: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    /// The run is done (terminal status): stamp `finished_ms` and release it.
    pub finished: bool,
    /// Release the run to wait: claimable again at this time (`None`: on a signal only).
    pub park: Option<Option<i64>>,
    /// Inbox items journaled by this commit.
    pub consumed: Vec<String>,
    /// Tell another run (the parent) something, in the same transaction.
    pub notify: Option<(String, String, String)>,
}

/// Filters for listing runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub workflow: Option<String>,
    pub status: Option<String>,
    pub principal: Option<String>,
    pub parent_id: Option<String>,
    pub session_id: Option<String>,
    /// Only runs created before this (ms), for paging; with `before_id`, also those created
    /// in that millisecond whose id sorts before it (the last run of the previous page).
    pub before_ms: Option<i64>,
    pub before_id: Option<String>,
    pub since_ms: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Inserts a run and its first events; `false` when a run with that id exists already
    /// (child runs have ids derived from their parent step, so a repeated step finds its child).
    pub async fn create_run(&self, run: &NewRun, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let status = if run.owner.is_some() {
            "running"
        } else {
            "pending"
        };
        // A run of a session waits (no wake time) while another run of the session is active;
        // touching the session row first serializes concurrent starts on Postgres too.
        let mut wake_at = Some(now);
        if let Some(session) = &run.session_id {
            sqlx::query("UPDATE agent_sessions SET updated_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(session)
                .execute(&mut *tx)
                .await?;
            let busy = sqlx::query(concat!(
                "SELECT 1 FROM workflow_runs WHERE session_id = $1 AND id <> $2 AND status IN ",
                active!(),
                " LIMIT 1"
            ))
            .bind(session)
            .bind(&run.id)
            .fetch_optional(&mut *tx)
            .await?;
            if busy.is_some() {
                wake_at = None;
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO workflow_runs (id, workflow, definition, status, input, state, \
             principal, parent_id, parent_task, forked_from, seq, owner, lease_until, wake_at, \
             deadline, created_ms, updated_ms, session_id, trace_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&run.id)
        .bind(&run.workflow)
        .bind(&run.definition)
        .bind(status)
        .bind(&run.input)
        .bind(&run.state)
        .bind(run.principal.as_deref())
        .bind(run.parent_id.as_deref())
        .bind(run.parent_task.as_deref())
        .bind(run.forked_from.as_deref())
        .bind(i64::try_from(run.events.len()).unwrap_or(i64::MAX))
        .bind(run.owner.as_deref())
        .bind(run.lease_until)
        .bind(wake_at)
        .bind(run.deadline)
        .bind(now)
        .bind(run.session_id.as_deref())
        .bind(run.trace_id.as_deref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for (i, event) in run.events.iter().enumerate() {
            insert_event(&mut tx, &run.id, i as i64 + 1, now, event).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Writes what the executor holding the lease decided, atomically. Fails with
    /// [`StoreError::LeaseLost`] when `owner` no longer holds the run.
    pub async fn commit_run(
        &self,
        run_id: &str,
        owner: &str,
        commit: &Commit,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let n = commit.events.len() as i64;
        let row = sqlx::query(
            "UPDATE workflow_runs SET seq = seq + $1, updated_ms = $2, \
             state = COALESCE($3, state), status = COALESCE($4, status), \
             output = COALESCE($5, output), error = COALESCE($6, error) \
             WHERE id = $7 AND owner = $8 RETURNING seq",
        )
        .bind(n)
        .bind(now)
        .bind(commit.state.as_deref())
        .bind(commit.status.as_deref())
        .bind(commit.output.as_deref())
        .bind(commit.error.as_deref())
        .bind(run_id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::LeaseLost(run_id.to_string()));
        };
        let seq: i64 = row.try_get(0)?;
        for id in &commit.consumed {
            sqlx::query("DELETE FROM workflow_inbox WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (i, event) in commit.events.iter().enumerate() {
            insert_event(&mut tx, run_id, seq - n + i as i64 + 1, now, event).await?;
        }
        if commit.finished {
            sqlx::query(
                "UPDATE workflow_runs SET owner = NULL, lease_until = NULL, wake_at = NULL, \
                 finished_ms = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            // The next run waiting in the same session may go.
            sqlx::query(
                "UPDATE workflow_runs SET wake_at = $1 WHERE id = (SELECT q.id FROM workflow_runs q \
                 JOIN workflow_runs r ON r.session_id = q.session_id WHERE r.id = $2 \
                 AND q.status = 'pending' AND q.wake_at IS NULL AND q.owner IS NULL \
                 ORDER BY q.created_ms, q.id LIMIT 1)",
            )
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        } else if let Some(wake_at) = commit.park {
            // A signal that arrived since the executor last read the inbox wakes it at once.
            sqlx::query(
                "UPDATE workflow_runs SET owner = NULL, lease_until = NULL, status = 'waiting', \
                 wake_at = CASE WHEN EXISTS (SELECT 1 FROM workflow_inbox WHERE run_id = $1) \
                 THEN $2 ELSE $3 END WHERE id = $1",
            )
            .bind(run_id)
            .bind(now)
            .bind(wake_at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((target, kind, data)) = &commit.notify {
            push_inbox(&mut tx, target, kind, data, now).await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    /// Leaves a message in a run's inbox and makes the run claimable now. `false` when the
    /// run does not exist or has ended.
    pub async fn push_inbox(
        &self,
        run_id: &str,
        kind: &str,
        data: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let pushed = push_inbox(&mut tx, run_id, kind, data, now).await?;
        tx.commit().await?;
        Ok(pushed)
    }

    /// A run's unread inbox, oldest first.
    pub async fn inbox(&self, run_id: &str) -> Result<Vec<InboxItem>, StoreError> {
        let rows =
            sqlx::query("SELECT id, kind, data FROM workflow_inbox WHERE run_id = $1 ORDER BY id")
                .bind(run_id)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxItem {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    data: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Takes up to `limit` runs that are due (timer reached, signalled, or abandoned by a
    /// process whose lease ran out) for `owner`. On Postgres, concurrent claimers skip each
    /// other's rows (`FOR UPDATE SKIP LOCKED`); SQLite serializes writers anyway.
    pub async fn claim_runs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => claim!(" FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => claim!(""),
        };
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Extends the lease of every run `owner` executes.
    pub async fn renew_leases(&self, owner: &str, lease_until: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE workflow_runs SET lease_until = $1 WHERE owner = $2")
                .bind(lease_until)
                .bind(owner)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Gives up a run without changing it (shutdown): another process may claim it at once.
    pub async fn release_run(&self, run_id: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runs SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2",
        )
        .bind(run_id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            run_columns!(),
            " FROM workflow_runs WHERE id = $1"
        );
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(run_row).transpose()
    }

    /// Runs matching `q`, newest first.
    pub async fn runs(&self, q: &RunQuery) -> Result<Vec<RunRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            run_columns!(),
            " FROM workflow_runs WHERE ($1 IS NULL OR workflow = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR principal = $3) AND ($4 IS NULL OR parent_id = $4) \
             AND (created_ms < $5 OR (created_ms = $5 AND id < $9)) AND created_ms >= $6 \
             AND ($8 IS NULL OR session_id = $8) ORDER BY created_ms DESC, id DESC LIMIT $7"
        );
        let rows = sqlx::query(sql)
            .bind(q.workflow.as_deref())
            .bind(q.status.as_deref())
            .bind(q.principal.as_deref())
            .bind(q.parent_id.as_deref())
            .bind(q.before_ms.unwrap_or(i64::MAX))
            .bind(q.since_ms.unwrap_or(0))
            .bind(if q.limit > 0 { q.limit } else { 100 })
            .bind(q.session_id.as_deref())
            // Without an id, nothing created in `before_ms` itself is taken.
            .bind(q.before_id.as_deref().unwrap_or(""))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(run_row).collect()
    }

    /// A run's journal after `after` (exclusive), in order.
    pub async fn run_events(
        &self,
        run_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, ts_ms, kind, task, data FROM workflow_events \
             WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    seq: r.try_get(0)?,
                    ts_ms: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    task: r.try_get(3)?,
                    data: r.try_get(4)?,
                })
            })
            .collect()
    }
}

async fn insert_event(
    tx: &mut sqlx::AnyConnection,
    run_id: &str,
    seq: i64,
    now: i64,
    event: &NewEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO workflow_events (run_id, seq, ts_ms, kind, task, data) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(run_id)
    .bind(seq)
    .bind(now)
    .bind(&event.kind)
    .bind(event.task.as_deref())
    .bind(&event.data)
    .execute(tx)
    .await?;
    Ok(())
}

async fn push_inbox(
    tx: &mut sqlx::AnyConnection,
    run_id: &str,
    kind: &str,
    data: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    // A run queued behind another run of its session stays queued, unless it is cancelled.
    let woken = sqlx::query(concat!(
        "UPDATE workflow_runs SET wake_at = CASE WHEN status = 'pending' AND wake_at IS NULL \
         AND session_id IS NOT NULL AND $3 <> 'cancel' THEN NULL ELSE $1 END \
         WHERE id = $2 AND status IN ",
        active!()
    ))
    .bind(now)
    .bind(run_id)
    .bind(kind)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if woken == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO workflow_inbox (id, run_id, kind, data, created_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(strata_core::new_id())
    .bind(run_id)
    .bind(kind)
    .bind(data)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(true)
}

fn run_row(r: &AnyRow) -> Result<RunRow, StoreError> {
    Ok(RunRow {
        id: r.try_get("id")?,
        workflow: r.try_get("workflow")?,
        definition: r.try_get("definition")?,
        status: r.try_get("status")?,
        input: r.try_get("input")?,
        state: r.try_get("state")?,
        output: r.try_get("output")?,
        error: r.try_get("error")?,
        principal: r.try_get("principal")?,
        parent_id: r.try_get("parent_id")?,
        parent_task: r.try_get("parent_task")?,
        forked_from: r.try_get("forked_from")?,
        seq: r.try_get("seq")?,
        owner: r.try_get("owner")?,
        lease_until: r.try_get("lease_until")?,
        wake_at: r.try_get("wake_at")?,
        deadline: r.try_get("deadline")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        session_id: r.try_get("session_id")?,
        trace_id: r.try_get("trace_id")?,
    })
}
