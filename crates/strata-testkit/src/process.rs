//! Runs the real `strata` binary for end-to-end tests.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Ports this process has handed out already: none is handed out twice, so two tests running
/// at once never get the same one (the kernel may offer a port again once its listener is
/// closed, and a test binds what it was given only later).
static HANDED_OUT: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(Mutex::default);

/// A port that was free a moment ago on 127.0.0.1, and not handed out before in this process.
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// `N` distinct ports that were free a moment ago on 127.0.0.1, none handed out before in this
/// process.
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_ports<const N: usize>() -> [u16; N] {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    // Every listener stays bound until all N are found, so the kernel offers N distinct ports.
    let mut held = Vec::with_capacity(N);
    let mut ports = [0; N];
    for slot in &mut ports {
        loop {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            let port = listener.local_addr().expect("bound address").port();
            held.push(listener);
            if handed_out.insert(port) {
                *slot = port;
                break;
            }
        }
    }
    ports
}

/// A running `strata serve`, killed when dropped. Its stderr (logs) goes to a file.
#[derive(Debug)]
pub struct StrataProcess {
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl StrataProcess {
    /// Starts `bin` with `args` in `dir`, logs going to `dir/strata.log`.
    ///
    /// # Panics
    /// When the binary cannot be started.
    #[must_use]
    pub fn start(bin: &Path, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let log_path = dir.join("strata.log");
        let log = std::fs::File::create(&log_path).expect("create log file");
        let child = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start strata");
        Self {
            child: Some(child),
            log_path,
        }
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The logs written so far.
    #[must_use]
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends a signal (`TERM`, `HUP`, `INT`, `KILL`) with the `kill` command.
    ///
    /// # Panics
    /// When `kill` cannot be run.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        while start.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Polls `url` until it answers 200 or `limit` passes.
    ///
    /// # Panics
    /// When it does not become ready; the panic message carries the logs.
    pub async fn wait_ready(&mut self, url: &str, limit: Duration) {
        if let Err(e) = self.try_wait_ready(url, limit).await {
            panic!("{e}");
        }
    }

    /// Like [`StrataProcess::wait_ready`], answering why it did not become ready (with the
    /// logs) instead of panicking.
    pub async fn try_wait_ready(&mut self, url: &str, limit: Duration) -> Result<(), String> {
        let client = reqwest::Client::new();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "strata exited with {status} before {url} was ready:\n{}",
                    self.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{url} not ready after {limit:?}:\n{}", self.logs()))
    }
}

impl Drop for StrataProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_port_is_handed_out_twice() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            assert!(seen.insert(free_port()));
        }
        for port in free_ports::<4>() {
            assert!(seen.insert(port));
        }
    }
}
