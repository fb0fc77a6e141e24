//! Following a run's journal: the events after a sequence number, then each new one as this
//! process (or, by polling, another) journals it, until the run has finished.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use strata_store::EventRow;
use tokio::sync::broadcast;

use super::Engine;

/// A reader of one run's journal that waits for more.
#[derive(Debug)]
pub struct Follower {
    engine: Arc<Engine>,
    run: String,
    after: i64,
    buffer: VecDeque<EventRow>,
    journal: broadcast::Receiver<String>,
    done: bool,
}

impl Follower {
    /// Events of `run` after sequence number `after`.
    #[must_use]
    pub fn new(engine: Arc<Engine>, run: String, after: i64) -> Self {
        Self {
            journal: engine.subscribe(),
            engine,
            run,
            after,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// The next event; `None` after `run_finished` or when the journal cannot be read.
    pub async fn next(&mut self) -> Option<EventRow> {
        loop {
            if let Some(row) = self.buffer.pop_front() {
                self.after = row.seq;
                if row.kind == "run_finished" {
                    self.done = true;
                }
                return Some(row);
            }
            if self.done {
                return None;
            }
            match self
                .engine
                .store
                .run_events(&self.run, self.after, 256)
                .await
            {
                Ok(rows) if !rows.is_empty() => {
                    self.buffer.extend(rows);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(run = %self.run, error = %e, "reading the run journal failed");
                    return None;
                }
            }
            // Wait for this process to journal more, or poll for other processes.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                loop {
                    match self.journal.recv().await {
                        Ok(run) if run == self.run => return,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => return,
                        Err(broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            })
            .await;
        }
    }
}

/// Waits until run `run`'s journal grows in this process, or a poll interval (250 ms) passes
/// (other processes); `false` once `deadline` has passed.
pub async fn changed(
    journal: &mut broadcast::Receiver<String>,
    run: &str,
    deadline: tokio::time::Instant,
) -> bool {
    tokio::time::timeout_at(deadline, async {
        loop {
            match tokio::time::timeout(Duration::from_millis(250), journal.recv()).await {
                Ok(Ok(id)) if id != run => continue,
                _ => return,
            }
        }
    })
    .await
    .is_ok()
}
