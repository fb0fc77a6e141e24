//! The SSE streams of one session, kept as logs so that a client can resume any of them with
//! `Last-Event-ID`: a reader is only a cursor into its stream's log, so replay and live delivery
//! are the same code.
//!
//! Stream 0 is the standalone stream (the GET stream); every POSTed request that is answered
//! as SSE gets its own. Event ids are `{stream}_{seq}`, unique within the session.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The standalone (GET) stream.
pub(crate) const STANDALONE: u64 = 0;
/// Events a stream keeps for replay; older ones are dropped.
const MAX_EVENTS: usize = 1024;
/// Finished streams kept for clients that have not read them to the end.
const MAX_FINISHED: usize = 256;

/// One thing sent on a stream.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A JSON-RPC message.
    Message(Arc<str>),
    /// Close the connection now and ask the client to come back after `retry` ms: the upstream
    /// did the same (SSE polling), and the client resumes with `Last-Event-ID`.
    Pause { retry: Option<u64> },
}

#[derive(Debug)]
struct Log {
    events: VecDeque<(u64, Event)>,
    next_seq: u64,
    done: bool,
    attached: bool,
    /// The last event any reader was given.
    delivered: u64,
    /// Answer as SSE even when the stream holds only the response.
    prefer_sse: bool,
    /// Pauses up to this event were acted on already; a resumed reader skips them.
    paused_through: u64,
    changed: watch::Sender<u64>,
}

impl Log {
    fn new() -> Self {
        Self {
            events: VecDeque::new(),
            next_seq: 1,
            done: false,
            attached: false,
            delivered: 0,
            paused_through: 0,
            prefer_sse: false,
            changed: watch::Sender::new(0),
        }
    }
}

/// All streams of a session.
#[derive(Debug)]
pub(crate) struct Streams {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    next_stream: u64,
    logs: HashMap<u64, Log>,
    finished: VecDeque<u64>,
}

/// Why a reader could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Another connection is already reading this stream.
    Busy,
    /// No such stream (it was never opened, or was read to its end and dropped).
    Unknown,
}

impl Default for Streams {
    fn default() -> Self {
        let mut logs = HashMap::new();
        logs.insert(STANDALONE, Log::new());
        Self {
            inner: Mutex::new(Inner {
                next_stream: STANDALONE + 1,
                logs,
                finished: VecDeque::new(),
            }),
        }
    }
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new stream for one request.
    pub(crate) fn open(&self) -> u64 {
        let mut inner = self.lock();
        let id = inner.next_stream;
        inner.next_stream += 1;
        inner.logs.insert(id, Log::new());
        id
    }

    /// Appends an event; one for a finished or unknown stream goes to the standalone stream.
    pub(crate) fn push(&self, stream: u64, event: Event) {
        let mut inner = self.lock();
        let stream = match inner.logs.get(&stream) {
            Some(log) if !log.done => stream,
            _ => STANDALONE,
        };
        if let Some(log) = inner.logs.get_mut(&stream) {
            append(log, event);
        }
    }

    /// Appends the stream's last event (the response) and marks it done.
    pub(crate) fn finish(&self, stream: u64, message: Arc<str>) {
        let mut inner = self.lock();
        let Some(log) = inner.logs.get_mut(&stream) else {
            return;
        };
        append(log, Event::Message(message));
        log.done = true;
        log.changed.send_modify(|_| {});
        inner.finished.push_back(stream);
        while inner.finished.len() > MAX_FINISHED {
            if let Some(old) = inner.finished.pop_front() {
                inner.logs.remove(&old);
            }
        }
    }

    /// If the stream is done and holds exactly its response, takes it: the request can be
    /// answered as plain JSON.
    pub(crate) fn take_single(&self, stream: u64) -> Option<Arc<str>> {
        let mut inner = self.lock();
        let log = inner.logs.get(&stream)?;
        if !log.done || log.prefer_sse || log.events.len() != 1 || log.next_seq != 2 {
            return None;
        }
        let (_, Event::Message(message)) = log.events.front()?.clone() else {
            return None;
        };
        inner.logs.remove(&stream);
        inner.finished.retain(|s| *s != stream);
        Some(message)
    }

    /// Marks the stream to be sent as SSE whatever it holds.
    pub(crate) fn prefer_sse(&self, stream: u64) {
        if let Some(log) = self.lock().logs.get_mut(&stream) {
            log.prefer_sse = true;
        }
    }

    /// Waits until the stream has an event or is done.
    pub(crate) async fn wait_first(&self, stream: u64) {
        let mut changed = {
            let inner = self.lock();
            match inner.logs.get(&stream) {
                Some(log) if log.events.is_empty() && !log.done => log.changed.subscribe(),
                _ => return,
            }
        };
        let _ = changed.changed().await;
    }

    /// A reader of `stream` from after event `after` (0: from the start).
    pub(crate) fn reader(self: &Arc<Self>, stream: u64, after: u64) -> Result<Reader, OpenError> {
        let mut inner = self.lock();
        let log = inner.logs.get_mut(&stream).ok_or(OpenError::Unknown)?;
        if log.attached {
            return Err(OpenError::Busy);
        }
        log.attached = true;
        Ok(Reader {
            streams: self.clone(),
            stream,
            cursor: after,
            changed: log.changed.subscribe(),
        })
    }

    /// A reader of `stream` from after the last event any earlier reader was given: a new
    /// standalone connection gets what was queued while none was open, not old events again.
    pub(crate) fn fresh_reader(self: &Arc<Self>, stream: u64) -> Result<Reader, OpenError> {
        let after = self.lock().logs.get(&stream).map_or(0, |log| log.delivered);
        self.reader(stream, after)
    }

    /// Whether a client is connected to any stream of the session (a session whose client
    /// listens is not idle).
    pub(crate) fn has_reader(&self) -> bool {
        self.lock().logs.values().any(|log| log.attached)
    }

    /// Parses an event id of this session: `(stream, seq)`.
    pub(crate) fn parse_event_id(id: &str) -> Option<(u64, u64)> {
        let (stream, seq) = id.split_once('_')?;
        Some((stream.parse().ok()?, seq.parse().ok()?))
    }

    /// Ends one stream: its readers finish once they have read what it holds.
    pub(crate) fn end(&self, stream: u64) {
        if let Some(log) = self.lock().logs.get_mut(&stream) {
            log.done = true;
            log.changed.send_modify(|_| {});
        }
    }

    /// Ends every stream (the session is over): readers finish.
    pub(crate) fn close_all(&self) {
        let mut inner = self.lock();
        for log in inner.logs.values_mut() {
            log.done = true;
            log.changed.send_modify(|_| {});
        }
    }
}

fn append(log: &mut Log, event: Event) {
    log.events.push_back((log.next_seq, event));
    log.next_seq += 1;
    if log.events.len() > MAX_EVENTS {
        log.events.pop_front();
    }
    log.changed.send_modify(|_| {});
}

/// A cursor into one stream; dropping it lets another connection read the stream.
#[derive(Debug)]
pub(crate) struct Reader {
    streams: Arc<Streams>,
    stream: u64,
    cursor: u64,
    changed: watch::Receiver<u64>,
}

/// What a reader yields.
#[derive(Debug)]
pub(crate) enum Next {
    Message { id: String, data: Arc<str> },
    Pause { retry: Option<u64> },
    End,
}

impl Reader {
    /// The id of the event this reader would resume after (for a priming event).
    pub(crate) fn priming_id(&self) -> String {
        format!("{}_{}", self.stream, self.cursor)
    }

    pub(crate) async fn next(&mut self) -> Next {
        loop {
            {
                let mut inner = self.streams.lock();
                let Some(log) = inner.logs.get_mut(&self.stream) else {
                    return Next::End;
                };
                let pending = log
                    .events
                    .iter()
                    .find(|(seq, _)| *seq > self.cursor)
                    .cloned();
                match pending {
                    Some((seq, Event::Message(data))) => {
                        self.cursor = seq;
                        log.delivered = log.delivered.max(seq);
                        return Next::Message {
                            id: format!("{}_{seq}", self.stream),
                            data,
                        };
                    }
                    // A pause is acted on once: the connection it closed was the one that
                    // resumes now.
                    Some((seq, Event::Pause { retry })) => {
                        self.cursor = seq;
                        // A pause already followed by the answer has nothing left to wait for.
                        let answered =
                            log.done && log.events.back().is_some_and(|(last, _)| *last > seq);
                        if seq > log.paused_through && !answered {
                            log.paused_through = seq;
                            return Next::Pause { retry };
                        }
                        continue;
                    }
                    None if log.done => {
                        // Read to its end: a finished request stream is no longer needed.
                        if self.stream != STANDALONE {
                            inner.logs.remove(&self.stream);
                            let stream = self.stream;
                            inner.finished.retain(|s| *s != stream);
                        }
                        return Next::End;
                    }
                    None => {}
                }
            }
            if self.changed.changed().await.is_err() {
                return Next::End;
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(log) = self.streams.lock().logs.get_mut(&self.stream) {
            log.attached = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> String {
        match next {
            Next::Message { id, data } => format!("{id}:{data}"),
            Next::Pause { retry } => format!("pause {retry:?}"),
            Next::End => "end".into(),
        }
    }

    #[tokio::test]
    async fn a_reader_replays_then_follows_live_events() {
        let streams = Arc::new(Streams::default());
        let s = streams.open();
        streams.push(s, Event::Message("a".into()));
        let mut reader = streams.reader(s, 0).expect("reader");
        assert_eq!(text(reader.next().await), format!("{s}_1:a"));
        let live = {
            let streams = streams.clone();
            tokio::spawn(async move { streams.finish(s, "done".into()) })
        };
        assert_eq!(text(reader.next().await), format!("{s}_2:done"));
        live.await.expect("task");
        assert_eq!(text(reader.next().await), "end");
    }

    #[tokio::test]
    async fn a_stream_resumes_after_the_last_event_id_and_only_one_reader_at_a_time() {
        let streams = Arc::new(Streams::default());
        let s = streams.open();
        streams.push(s, Event::Message("a".into()));
        streams.push(s, Event::Pause { retry: Some(10) });
        let mut first = streams.reader(s, 0).expect("reader");
        assert_eq!(streams.reader(s, 0).err(), Some(OpenError::Busy));
        assert_eq!(text(first.next().await), format!("{s}_1:a"));
        assert_eq!(text(first.next().await), "pause Some(10)");
        drop(first);
        streams.finish(s, "b".into());
        let (stream, seq) = Streams::parse_event_id(&format!("{s}_1")).expect("id");
        let mut resumed = streams.reader(stream, seq).expect("reader");
        // The pause was for the first connection; the resumed one gets the rest.
        assert_eq!(text(resumed.next().await), format!("{s}_3:b"));
        assert_eq!(text(resumed.next().await), "end");
        drop(resumed);
        assert_eq!(streams.reader(s, 0).err(), Some(OpenError::Unknown));
    }

    #[test]
    fn a_lone_response_is_taken_for_a_json_answer() {
        let streams = Streams::default();
        let s = streams.open();
        streams.finish(s, "r".into());
        assert_eq!(streams.take_single(s).as_deref(), Some("r"));
        let t = streams.open();
        streams.push(t, Event::Message("progress".into()));
        streams.finish(t, "r".into());
        assert_eq!(streams.take_single(t), None);
    }

    #[test]
    fn events_for_finished_streams_go_to_the_standalone_stream() {
        let streams = Arc::new(Streams::default());
        let s = streams.open();
        streams.finish(s, "r".into());
        streams.push(s, Event::Message("late".into()));
        let mut standalone = streams.reader(STANDALONE, 0).expect("reader");
        let next = futures_util::FutureExt::now_or_never(standalone.next()).expect("ready");
        assert_eq!(text(next), "0_1:late");
    }
}
