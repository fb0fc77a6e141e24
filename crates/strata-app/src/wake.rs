//! Polling a connection's task so that its wake-ups of itself do not go through the
//! scheduler.
//!
//! Everything one HTTP connection does runs in its task: hyper's server side, the handler,
//! and (for the ai layer) the client connection to the provider, driven from the handler.
//! These parts hand each other requests, answers and body chunks through channels, and each
//! hand-over wakes the receiving part, which is the same task. Tokio treats a task woken
//! while it runs as a yield: it goes to the back of the run queue and a parked worker thread
//! is woken (a futex call) to steal it, so every exchange paid a cross-thread wake-up and
//! often a move of the task to the other core. Here the task is polled with a waker of its
//! own: a wake-up that arrives during the poll is noted and the task is polled again at once;
//! one that arrives between polls (the socket, a timer, another task) wakes the task as usual.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

const IDLE: u8 = 0;
const POLLING: u8 = 1;
const WOKEN: u8 = 2;

/// Polls in a row after wake-ups of itself before the task yields to the scheduler like any
/// other (fairness: a part that keeps waking itself, such as one out of its cooperative
/// budget, must not hold the worker).
const MAX_POLLS: usize = 8;

struct Flag {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        while state == POLLING {
            match self.state.compare_exchange_weak(
                POLLING,
                WOKEN,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        if state == IDLE {
            self.task.wake();
        }
    }
}

/// Polls a future, absorbing its wake-ups of itself (see the module's documentation).
pub struct SelfWakes {
    flag: Arc<Flag>,
    waker: Waker,
}

impl SelfWakes {
    pub fn new() -> Self {
        let flag = Arc::new(Flag {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(flag.clone());
        Self { flag, waker }
    }

    /// Polls `future` with this waker, again at once while it woke itself during the poll.
    pub fn poll<F: Future + ?Sized>(
        &self,
        mut future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        self.flag.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_POLLS {
            self.flag.state.store(POLLING, Ordering::Release);
            let result = future.as_mut().poll(&mut inner);
            let state = self.flag.state.swap(IDLE, Ordering::AcqRel);
            if result.is_ready() || state != WOKEN {
                return result;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wake-ups that reach the task.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A task polled through [`SelfWakes`], counting the wake-ups that reach it.
    struct Task {
        count: Arc<Count>,
        waker: Waker,
        wakes: SelfWakes,
    }

    impl Task {
        fn new() -> Self {
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            Self {
                count,
                waker,
                wakes: SelfWakes::new(),
            }
        }

        fn poll<F: Future>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
            self.wakes
                .poll(future, &mut Context::from_waker(&self.waker))
        }

        fn woken(&self) -> usize {
            self.count.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_wake_during_the_poll_polls_again_without_waking_the_task() {
        let task = Task::new();
        let mut polls = 0;
        let mut future = std::pin::pin!(std::future::poll_fn(|cx| {
            polls += 1;
            if polls < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        }));
        assert_eq!(task.poll(future.as_mut()), Poll::Ready(3));
        assert_eq!(task.woken(), 0);
    }

    #[test]
    fn a_wake_between_polls_reaches_the_task() {
        let task = Task::new();
        let mut kept = None;
        let mut future = std::pin::pin!(std::future::poll_fn(|cx| {
            kept = Some(cx.waker().clone());
            Poll::<()>::Pending
        }));
        assert!(task.poll(future.as_mut()).is_pending());
        assert_eq!(task.woken(), 0);
        kept.take().expect("registered").wake();
        assert_eq!(task.woken(), 1);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_to_the_scheduler() {
        let task = Task::new();
        let mut polls = 0;
        let mut future = std::pin::pin!(std::future::poll_fn(|cx| {
            polls += 1;
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }));
        assert!(task.poll(future.as_mut()).is_pending());
        assert_eq!(polls, MAX_POLLS);
        assert_eq!(task.woken(), 1, "woken through the scheduler");
    }
}
