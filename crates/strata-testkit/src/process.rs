//! Runs the real `strata` binary for end-to-end tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `N` distinct ports that were free a moment ago on 127.0.0.1.
///
/// The listeners are held until all `N` are bound, so the kernel cannot hand out one port twice
/// (separate [`free_port`] calls can: a port is free again once its listener is dropped).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    listeners.map(|l| l.local_addr().expect("bound address").port())
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
