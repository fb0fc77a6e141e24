//! The sessions this replica serves, and the reaper that ends idle ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Session;

/// Every live session by id; kept across config reloads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    map: Arc<Mutex<HashMap<String, Arc<Session>>>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, session: Arc<Session>) {
        self.lock().insert(session.id.clone(), session);
    }

    /// A live session, marked as used.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.lock().get(id).cloned()?;
        if session.is_ended() {
            self.lock().remove(id);
            return None;
        }
        session.touch();
        Some(session)
    }

    /// Ends and forgets a session; `false` when there was none.
    pub(crate) async fn remove(&self, id: &str) -> bool {
        let session = self.lock().remove(id);
        match session {
            Some(session) => {
                session.end().await;
                true
            }
            None => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Ends the sessions idle for longer than their timeout, and forgets ended ones.
    pub(crate) async fn reap(&self) {
        let expired: Vec<Arc<Session>> = {
            let mut map = self.lock();
            let expired: Vec<String> = map
                .iter()
                .filter(|(_, s)| {
                    s.is_ended() || (s.idle_for() > s.idle_timeout && !s.streams.has_reader())
                })
                .map(|(id, _)| id.clone())
                .collect();
            expired.iter().filter_map(|id| map.remove(id)).collect()
        };
        for session in expired {
            tracing::debug!(session = %session.id, "session ended (idle or closed)");
            session.end().await;
        }
    }

    /// Ends the standalone stream of every session (the process is draining).
    pub(crate) fn end_standalone_streams(&self) {
        for session in self.lock().values() {
            session.streams.end(super::streams::STANDALONE);
        }
    }

    /// Ends every session (shutdown).
    pub(crate) async fn end_all(&self) {
        let all: Vec<Arc<Session>> = self.lock().drain().map(|(_, s)| s).collect();
        for session in all {
            session.end().await;
        }
    }

    /// Reaps idle sessions every `every` until the process ends.
    pub(crate) fn spawn_reaper(&self, every: Duration) {
        let sessions = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                sessions.reap().await;
            }
        });
    }
}
