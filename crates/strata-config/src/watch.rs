//! Watching the config file for changes. The parent directory is watched, not the file, so
//! editors that save by rename and Kubernetes ConfigMap symlink swaps are both seen.

use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Keeps the watch alive; dropping it stops the events.
#[derive(Debug)]
pub struct ConfigWatch {
    _watcher: RecommendedWatcher,
}

/// Starts watching `path`. Each change to it (or to a ConfigMap's `..data` link beside it)
/// sends one `()` on the returned channel; bursts are not merged here.
pub fn watch(path: &Path) -> notify::Result<(ConfigWatch, mpsc::UnboundedReceiver<()>)> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = path.file_name().map(std::ffi::OsStr::to_os_string);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            let file = p.file_name();
            file == name.as_deref() || file == Some(std::ffi::OsStr::new("..data"))
        });
        if relevant {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok((ConfigWatch { _watcher: watcher }, rx))
}
