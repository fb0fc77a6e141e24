//! Writes off the hot path: records are queued, written in batches inside one transaction,
//! retried while the database is unavailable, and flushed on close. Nothing is dropped: a
//! full queue makes the writer wait (backpressure) instead.

use std::marker::PhantomData;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError};

/// A record type the batch writer can store.
pub trait BatchRecord: Send + Sync + 'static {
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
    Record(R),
    /// A record whose writer waits for its commit: written at once with whatever is queued.
    Durable(R, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of a batch writer. Cheap to clone.
#[derive(Debug)]
pub struct BatchWriter<R> {
    tx: mpsc::Sender<Msg<R>>,
    _record: PhantomData<fn(R)>,
}

impl<R> Clone for BatchWriter<R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            _record: PhantomData,
        }
    }
}

impl<R: BatchRecord> BatchWriter<R> {
    /// Starts the writer task.
    #[must_use]
    pub fn spawn(store: Store, options: BatchWriterOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        tokio::spawn(run(store, rx, options));
        Self {
            tx,
            _record: PhantomData,
        }
    }

    /// Queues a record. Waits while the queue is full; never drops.
    pub async fn write(&self, record: R) -> Result<(), StoreError> {
        self.tx
            .send(Msg::Record(record))
            .await
            .map_err(|_| StoreError::WriterClosed)
    }

    /// Queues a record and resolves once it is committed (group commit: it is written at
    /// once, together with whatever else is queued, without lingering).
    pub async fn write_durable(&self, record: R) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Durable(record, done))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        wait.await.map_err(|_| StoreError::WriterClosed)
    }

    /// Resolves once every record queued before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        wait.await.map_err(|_| StoreError::WriterClosed)
    }
}

async fn run<R: BatchRecord>(
    store: Store,
    mut rx: mpsc::Receiver<Msg<R>>,
    options: BatchWriterOptions,
) {
    let mut batch: Vec<R> = Vec::with_capacity(options.max_batch);
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
                    Msg::Record(r) => batch.push(r),
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
            let room = options.max_batch - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut inbox, room)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        write_with_retry(&store, &batch).await;
        batch.clear();
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
