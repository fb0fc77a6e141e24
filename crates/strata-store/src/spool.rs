//! A local append-only file in front of a batch writer. A record is written to the spool (one
//! JSON line, one `write(2)`) before it is queued: once that returns, the kernel holds it, and
//! a crash of the process (`kill -9`) cannot lose it, long before its batch is committed. On
//! start, spools that no live process holds are read back into the database (inserts ignore
//! records already there) and removed.
//!
//! A spool is a series of segment files `{kind}-{pid}-{random}-{n}.spool`. The process holds an
//! exclusive lock on each segment it writes; a segment is removed once every record in it
//! was committed and it is no longer the one being written (the active segment is replaced
//! when it grows past [`SEGMENT_BYTES`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// Past this size the active segment is replaced by a new one.
const SEGMENT_BYTES: u64 = 8 << 20;

/// The segment a queued record was written to.
pub(crate) type SegmentId = u64;

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Held open (and locked) while the segment exists; shared with the writers of records
    /// into it, which write outside the spool's lock.
    file: Arc<File>,
    /// Records written and not yet committed.
    outstanding: u64,
}

#[derive(Debug)]
struct State {
    active: SegmentId,
    bytes: u64,
    next: SegmentId,
    segments: HashMap<SegmentId, Segment>,
}

/// An opened spool, the records left behind by gone processes, and their files.
pub(crate) type Opened<R> = (Spool, Vec<R>, Vec<(PathBuf, File)>);

/// The spool of one record kind in one process. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    dir: PathBuf,
    kind: &'static str,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Spool(format!("{what} {}: {e}", path.display()))
}

impl Spool {
    /// Opens a spool of `kind` records in `dir` (created if needed). Returns it with the
    /// records of spools left behind by processes that are gone, and the files they were in
    /// (to remove once those records are committed).
    pub(crate) fn open<R: DeserializeOwned>(
        dir: &Path,
        kind: &'static str,
    ) -> Result<Opened<R>, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, &e))?;
        let mut left = Vec::new();
        let mut records = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| io_error("cannot read", dir, &e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(&format!("{kind}-")) && name.ends_with(".spool")) {
                continue;
            }
            let Ok(file) = File::options().read(true).write(true).open(&path) else {
                continue;
            };
            // A live process holds its segments locked.
            if file.try_lock().is_err() {
                continue;
            }
            for line in std::io::BufReader::new(&file).lines() {
                let line = line.map_err(|e| io_error("cannot read", &path, &e))?;
                if line.trim().is_empty() {
                    continue;
                }
                // A line cut short by the crash ends the segment; everything before it counts.
                match serde_json::from_str::<R>(&line) {
                    Ok(record) => records.push(record),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "partial spool line skipped");
                        break;
                    }
                }
            }
            left.push((path, file));
        }
        let spool = Self {
            dir: dir.to_path_buf(),
            kind,
            state: Arc::new(Mutex::new(State {
                active: 0,
                bytes: 0,
                next: 0,
                segments: HashMap::new(),
            })),
        };
        {
            let mut state = lock(&spool.state);
            spool.rotate(&mut state)?;
        }
        Ok((spool, records, left))
    }

    /// Starts a new active segment; the old one is removed once its records are committed.
    fn rotate(&self, state: &mut State) -> Result<(), StoreError> {
        let id = state.next;
        state.next += 1;
        let path = self.dir.join(format!(
            "{}-{}-{}-{id}.spool",
            self.kind,
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error("cannot create", &path, &e))?;
        file.try_lock()
            .map_err(|e| StoreError::Spool(format!("cannot lock {}: {e}", path.display())))?;
        let previous = state.active;
        state.segments.insert(
            id,
            Segment {
                path,
                file: Arc::new(file),
                outstanding: 0,
            },
        );
        state.active = id;
        state.bytes = 0;
        if id != previous {
            Self::remove_if_done(state, previous);
        }
        Ok(())
    }

    /// Writes `record` to the active segment; returns the segment.
    pub(crate) fn append<R: Serialize>(&self, record: &R) -> Result<SegmentId, StoreError> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| StoreError::Spool(format!("cannot encode a {}: {e}", self.kind)))?;
        line.push(b'\n');
        let (id, file) = {
            let mut state = lock(&self.state);
            if state.bytes >= SEGMENT_BYTES {
                self.rotate(&mut state)?;
            }
            let id = state.active;
            let segment = state
                .segments
                .get_mut(&id)
                .ok_or_else(|| StoreError::Spool("no active segment".into()))?;
            segment.outstanding += 1;
            let file = segment.file.clone();
            state.bytes += line.len() as u64;
            (id, file)
        };
        // Written outside the lock (a writer on the other core need not wait for this one's
        // system call): appends to an `O_APPEND` file do not interleave, and a segment is
        // neither emptied nor removed while it has a record outstanding.
        if let Err(e) = (&*file).write_all(&line) {
            let path = lock(&self.state)
                .segments
                .get(&id)
                .map(|s| s.path.clone())
                .unwrap_or_default();
            // Not written, so not outstanding (named before this may remove the segment).
            self.committed(id, 1);
            return Err(io_error("cannot write", &path, &e));
        }
        Ok(id)
    }

    /// `count` records of segment `id` were committed.
    pub(crate) fn committed(&self, id: SegmentId, count: u64) {
        let mut state = lock(&self.state);
        if let Some(segment) = state.segments.get_mut(&id) {
            segment.outstanding = segment.outstanding.saturating_sub(count);
        }
        if id == state.active {
            // Everything written so far is in the database: start the file over.
            let written = state.bytes > 0;
            let emptied = state
                .segments
                .get_mut(&id)
                .is_some_and(|s| written && s.outstanding == 0 && s.file.set_len(0).is_ok());
            if emptied {
                state.bytes = 0;
            }
        } else {
            Self::remove_if_done(&mut state, id);
        }
    }

    fn remove_if_done(state: &mut State, id: SegmentId) {
        if state.segments.get(&id).is_some_and(|s| s.outstanding == 0)
            && let Some(segment) = state.segments.remove(&id)
        {
            let _ = std::fs::remove_file(&segment.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Rec {
        n: u32,
    }

    fn spool_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect()
    }

    #[test]
    fn records_left_behind_are_read_back_and_live_spools_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let (first, none, _) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        assert!(none.is_empty());
        for n in 0..3 {
            first.append(&Rec { n }).unwrap();
        }
        // While `first` lives its segment is locked: another opener leaves it alone.
        let (_second, seen, _) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        assert!(seen.is_empty());
        drop(first);
        // Gone (as after kill -9): its records come back, a cut line is skipped.
        let left = spool_files(dir.path())
            .into_iter()
            .find(|p| std::fs::metadata(p).unwrap().len() > 0)
            .unwrap();
        let mut file = File::options().append(true).open(&left).unwrap();
        file.write_all(b"{\"n\":").unwrap();
        let (_third, back, files) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        assert_eq!(back, vec![Rec { n: 0 }, Rec { n: 1 }, Rec { n: 2 }]);
        assert!(files.iter().any(|(p, _)| *p == left));
    }

    #[test]
    fn concurrent_writers_leave_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _, _) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        // Records committed meanwhile empty the file only when nothing is outstanding.
        let first = spool.append(&Rec { n: 1_000_000 }).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let spool = &spool;
                scope.spawn(move || {
                    for n in 0..500 {
                        spool.append(&Rec { n: t * 1000 + n }).unwrap();
                    }
                });
            }
            spool.committed(first, 1);
        });
        drop(spool);
        let (_reader, mut back, _) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        back.sort_by_key(|r| r.n);
        let mut expected: Vec<Rec> = (0..4)
            .flat_map(|t| (0..500).map(move |n| Rec { n: t * 1000 + n }))
            .collect();
        expected.sort_by_key(|r| r.n);
        // The first record may have been emptied away with its commit, never the others.
        back.retain(|r| r.n != 1_000_000);
        assert_eq!(back, expected);
    }

    #[test]
    fn committed_segments_are_emptied_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _, _) = Spool::open::<Rec>(dir.path(), "t").unwrap();
        let id = spool.append(&Rec { n: 1 }).unwrap();
        spool.append(&Rec { n: 2 }).unwrap();
        spool.committed(id, 1);
        let active = spool_files(dir.path());
        assert_eq!(active.len(), 1);
        assert!(std::fs::metadata(&active[0]).unwrap().len() > 0);
        spool.committed(id, 1);
        assert_eq!(std::fs::metadata(&active[0]).unwrap().len(), 0);
        // A full segment is replaced; the old one goes once its records are in.
        let old = spool.append(&Rec { n: 3 }).unwrap();
        {
            let mut state = lock(&spool.state);
            state.bytes = SEGMENT_BYTES;
        }
        let new = spool.append(&Rec { n: 4 }).unwrap();
        assert_ne!(old, new);
        assert_eq!(spool_files(dir.path()).len(), 2);
        spool.committed(old, 1);
        assert_eq!(spool_files(dir.path()).len(), 1);
    }
}
