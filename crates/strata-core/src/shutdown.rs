//! The process-wide shutdown signal. Every listener, stream and background writer holds a
//! clone; `trigger` starts the drain, `tracker` counts the tasks still running.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cloneable handle on the shutdown signal and the set of background tasks to wait for.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A fresh, untriggered signal.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the shutdown: listeners stop accepting, streams end, writers flush.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether the shutdown has started.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the shutdown has started.
    pub async fn triggered(&self) {
        self.token.cancelled().await;
    }

    /// The token, for code that selects on cancellation.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Spawns a background task that shutdown waits for (a writer that must flush).
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Waits until every task spawned with [`Shutdown::spawn`] has finished.
    pub async fn wait_tasks(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
