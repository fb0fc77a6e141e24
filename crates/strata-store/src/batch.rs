//! Writes off the hot path: records are queued, written in batches inside one transaction,
//! retried while the database is unavailable, and flushed on close. Nothing is dropped: a
//! full queue makes the writer wait (backpressure) instead. A spooled writer also writes each
//! record to a local file before queueing it, so that a crash of the process loses nothing
//! (see `spool.rs`).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::spool::{SegmentId, Spool};
use crate::{Store, StoreError};

/// A record type the batch writer can store. Inserts must ignore a record whose id is
/// already stored: records read back from a spool may have been committed before a crash.
pub trait BatchRecord: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Table name, for logs.
    const KIND: &'static str;

    /// Writes `batch` inside the transaction `tx`.
    fn write_batch<'a>(
        tx: &'a mut sqlx::AnyConnection,
        batch: &'a [Self],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a
    where
        Self: Sized;
}

/// Tuning of a batch writer.
#[derive(Debug, Clone, Copy)]
pub struct BatchWriterOptions {
    /// Records queued before writers wait.
    pub capacity: usize,
    /// Most records per transaction.
    pub max_batch: usize,
    /// How long a lone record may wait for company before it is written.
    pub linger: Duration,
}

impl Default for BatchWriterOptions {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_batch: 500,
            linger: Duration::from_millis(20),
        }
    }
}

enum Msg<R> {
    /// A record, with the spool segment it was written to.
    Record(R, Option<SegmentId>),
    /// A record whose writer waits for its commit: written at once with whatever is queued.
    Durable(R, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of a batch writer. Cheap to clone.
#[derive(Debug)]
pub struct BatchWriter<R> {
    tx: mpsc::Sender<Msg<R>>,
    spool: Option<Spool>,
    /// Wakes the writer from its linger: someone waits for a commit.
    urgent: Arc<Notify>,
    _record: PhantomData<fn(R)>,
}

impl<R> Clone for BatchWriter<R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            spool: self.spool.clone(),
            urgent: self.urgent.clone(),
            _record: PhantomData,
        }
    }
}

impl<R: BatchRecord> BatchWriter<R> {
    /// Starts the writer task.
    #[must_use]
    pub fn spawn(store: Store, options: BatchWriterOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let urgent = Arc::new(Notify::new());
        tokio::spawn(run(store, rx, options, None, urgent.clone()));
        Self {
            tx,
            spool: None,
            urgent,
            _record: PhantomData,
        }
    }

    /// Starts the writer task with a spool in `dir`: first the records that spools of
    /// processes now gone left there are committed (and those spools removed), then every
    /// record is written to this process's spool before it is queued.
    pub async fn spawn_spooled(
        store: Store,
        options: BatchWriterOptions,
        dir: &Path,
    ) -> Result<Self, StoreError> {
        let (spool, left, files) = Spool::open::<R>(dir, R::KIND)?;
        if !left.is_empty() {
            tracing::info!(
                kind = R::KIND,
                records = left.len(),
                "recovering spooled records"
            );
            for chunk in left.chunks(options.max_batch.max(1)) {
                write_with_retry(&store, chunk).await;
            }
        }
        for (path, file) in files {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let urgent = Arc::new(Notify::new());
        tokio::spawn(run(store, rx, options, Some(spool.clone()), urgent.clone()));
        Ok(Self {
            tx,
            spool: Some(spool),
            urgent,
            _record: PhantomData,
        })
    }

    /// Queues a record (after writing it to the spool, if the writer has one). Waits while
    /// the queue is full; never drops.
    pub async fn write(&self, record: R) -> Result<(), StoreError> {
        let segment = match &self.spool {
            Some(spool) => Some(spool.append(&record)?),
            None => None,
        };
        self.tx
            .send(Msg::Record(record, segment))
            .await
            .map_err(|_| StoreError::WriterClosed)
    }

    /// Queues a record and resolves once it survives a crash of the process: once it is in
    /// the spool, for a spooled writer; otherwise once it is committed (group commit: it is
    /// written at once, together with whatever else is queued, without lingering).
    pub async fn write_durable(&self, record: R) -> Result<(), StoreError> {
        if self.spool.is_some() {
            return self.write(record).await;
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Durable(record, done))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        self.urgent.notify_one();
        wait.await.map_err(|_| StoreError::WriterClosed)
    }

    /// Resolves once every record queued before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        self.urgent.notify_one();
        wait.await.map_err(|_| StoreError::WriterClosed)
    }
}

async fn run<R: BatchRecord>(
    store: Store,
    mut rx: mpsc::Receiver<Msg<R>>,
    options: BatchWriterOptions,
    spool: Option<Spool>,
    urgent: Arc<Notify>,
) {
    let mut batch: Vec<R> = Vec::with_capacity(options.max_batch);
    let mut segments: HashMap<SegmentId, u64> = HashMap::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let mut inbox = Vec::with_capacity(options.max_batch);
    loop {
        if rx.recv_many(&mut inbox, options.max_batch).await == 0 {
            break; // every sender is gone and the queue is empty
        }
        let deadline = tokio::time::Instant::now() + options.linger;
        loop {
            for msg in inbox.drain(..) {
                match msg {
                    Msg::Record(r, segment) => {
                        batch.push(r);
                        if let Some(segment) = segment {
                            *segments.entry(segment).or_default() += 1;
                        }
                    }
                    Msg::Durable(r, done) => {
                        batch.push(r);
                        waiting.push(done);
                    }
                    Msg::Flush(done) => waiting.push(done),
                }
            }
            if batch.len() >= options.max_batch || !waiting.is_empty() {
                break;
            }
            // Linger for company without being woken by every record that comes (a wake-up
            // per record costs more than the record): sleep, unless someone waits for a
            // commit, then take what came meanwhile.
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = urgent.notified() => {}
            }
            let room = options.max_batch - batch.len();
            while inbox.len() < room {
                match rx.try_recv() {
                    Ok(msg) => inbox.push(msg),
                    Err(_) => break,
                }
            }
            if inbox.is_empty() {
                break;
            }
        }
        write_with_retry(&store, &batch).await;
        batch.clear();
        if let Some(spool) = &spool {
            for (segment, count) in segments.drain() {
                spool.committed(segment, count);
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes one batch, retrying with backoff until the database takes it.
async fn write_with_retry<R: BatchRecord>(store: &Store, batch: &[R]) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    loop {
        match write_once(store, batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    kind = R::KIND,
                    records = batch.len(),
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "batch write failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn write_once<R: BatchRecord>(store: &Store, batch: &[R]) -> Result<(), sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    R::write_batch(&mut tx, batch).await?;
    tx.commit().await
}

/// A JSON column's text. The empty array and object (most records' verdicts, tags and
/// details) are not formatted.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(a) if a.is_empty() => "[]".to_owned(),
        serde_json::Value::Object(o) if o.is_empty() => "{}".to_owned(),
        other => other.to_string(),
    }
}

/// Rows per multi-row `INSERT` of `columns` parameters each, within SQLite's oldest limit of
/// 999 parameters.
fn rows_per_insert(columns: usize) -> usize {
    (999 / columns).max(1)
}

/// Splits `batch` into the chunks of one multi-row `INSERT` each: as many full chunks as fit,
/// then the rest in pieces of 32, 16, 8, 4, 2 and 1 rows. Each chunk size is its own
/// statement (its SQL has one `(…)` per row), prepared once per connection and then taken
/// from the connection's statement cache: with a chunk of whatever size was left over, every
/// batch prepared a statement anew (about 6 000 instructions per record at 400 calls/s).
pub(crate) fn insert_chunks<T>(batch: &[T], columns: usize) -> impl Iterator<Item = &[T]> {
    let full = rows_per_insert(columns);
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let take = if rest.len() >= full {
            full
        } else {
            // The largest power of two not above what is left.
            1 << rest.len().ilog2()
        };
        let (chunk, after) = rest.split_at(take);
        rest = after;
        Some(chunk)
    })
}

/// `INSERT … {into}(…), (…)` for `rows` records of `columns` values, skipping records whose
/// id is already stored: one statement per chunk costs far less than one per record (with
/// SQLite, every statement is a round trip to its worker thread).
///
/// Postgres gets `ON CONFLICT (id) DO NOTHING` and numbered parameters (`$1`). SQLite gets
/// `INSERT OR IGNORE` and anonymous parameters (`?`): looking up numbered ones costs it time
/// that grows with the square of their count, and an `ON CONFLICT` clause leaves the other
/// constraints (`NOT NULL`) able to abort the statement, so SQLite keeps a statement journal
/// (a copy of every page the statement changes, spilled to a temporary file) for each
/// multi-row insert. `OR IGNORE` cannot abort, so it needs none; the records' `NOT NULL`
/// columns are always filled, and the tables have no other constraints.
pub(crate) fn insert_sql(into: &str, columns: usize, rows: usize, numbered: bool) -> String {
    let mut sql = String::from(if numbered {
        "INSERT INTO "
    } else {
        "INSERT OR IGNORE INTO "
    });
    sql.push_str(into);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push_str(&format!("${}", row * columns + col + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    if numbered {
        sql.push_str(" ON CONFLICT (id) DO NOTHING");
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(len: usize, columns: usize) -> Vec<usize> {
        let batch: Vec<usize> = (0..len).collect();
        let chunks: Vec<&[usize]> = insert_chunks(&batch, columns).collect();
        // Every record once, in order.
        assert_eq!(chunks.concat(), batch);
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn chunks_come_in_few_sizes() {
        assert!(sizes(0, 18).is_empty());
        assert_eq!(sizes(1, 18), [1]);
        assert_eq!(sizes(55, 18), [55]);
        assert_eq!(sizes(200, 18), [55, 55, 55, 32, 2, 1]);
        assert_eq!(sizes(47, 18), [32, 8, 4, 2, 1]);
        // Whatever the batch, at most seven statement shapes per table: 55 and powers of two.
        let mut seen: Vec<usize> = (0..=600).flat_map(|n| sizes(n, 18)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 55]);
        // A record wider than the limit still goes one per statement.
        assert_eq!(sizes(3, 2000), [1, 1, 1]);
    }

    #[test]
    fn json_columns_are_the_values_text() {
        assert_eq!(json_text(&serde_json::json!([])), "[]");
        assert_eq!(json_text(&serde_json::json!({})), "{}");
        assert_eq!(
            json_text(&serde_json::json!({"team": "a"})),
            r#"{"team":"a"}"#
        );
        assert_eq!(json_text(&serde_json::json!([{"x": 1}])), r#"[{"x":1}]"#);
    }
}
