//! Stdio upstreams: a child process speaking newline-delimited JSON-RPC.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::Value;
use strata_config::StdioUpstream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

use super::{Shared, lock};

/// The longest line a child may write: one JSON-RPC message.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// How many children each stdio upstream may run at once, shared by every session (and kept
/// across config reloads).
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessLimits {
    semaphores: Arc<Mutex<HashMap<String, Limit>>>,
}

impl ProcessLimits {
    fn acquire(&self, name: &str, max: u32) -> Result<OwnedSemaphorePermit, String> {
        let semaphore = {
            let mut map = lock(&self.semaphores);
            let entry = map
                .entry(name.to_string())
                .or_insert_with(|| (max, Arc::new(Semaphore::new(max as usize))));
            if entry.0 != max {
                // The limit changed on reload: children already running keep their permits
                // on the old semaphore; new ones count against the new limit.
                *entry = (max, Arc::new(Semaphore::new(max as usize)));
            }
            entry.1.clone()
        };
        semaphore
            .try_acquire_owned()
            .map_err(|_| format!("upstream `{name}` already runs its maximum of {max} processes"))
    }
}

/// One upstream's limit and the semaphore counting its children.
type Limit = (u32, Arc<Semaphore>);

/// The writing half of a child; the reading half lives in a task.
#[derive(Debug)]
pub(crate) struct StdioWire {
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

impl StdioWire {
    pub(crate) fn spawn(
        name: &str,
        config: &StdioUpstream,
        limits: &ProcessLimits,
        shared: Arc<Shared>,
        cancel: &CancellationToken,
    ) -> Result<Self, String> {
        let permit = limits.acquire(name, config.max_processes)?;
        let mut command = Command::new(&config.command);
        command
            .args(&config.args)
            .envs(config.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &config.cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", config.command))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the child's pipes are missing".into());
        };
        let wire = Self::over(stdout, stdin, shared.clone(), cancel);
        let upstream = name.to_string();
        tokio::spawn(log_stderr(upstream.clone(), stderr));
        tokio::spawn(supervise(upstream, child, permit, shared, cancel.clone()));
        Ok(wire)
    }

    /// Newline-delimited JSON-RPC over any pair of byte streams (a child's pipes, or an
    /// in-process server's end of a duplex pipe).
    pub(crate) fn over<R, W>(
        reader: R,
        mut writer: W,
        shared: Arc<Shared>,
        cancel: &CancellationToken,
    ) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer_cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    () = writer_cancel.cancelled() => break,
                    line = rx.recv() => line,
                };
                let Some(line) = line else { break };
                if writer.write_all(&line).await.is_err() || writer.flush().await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(read_lines(reader, shared, cancel.clone()));
        Self { tx }
    }

    pub(crate) fn send(&self, message: &Value) -> Result<(), String> {
        let mut line = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.tx
            .send(line)
            .map_err(|_| "the child process has exited".to_string())
    }
}

async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(MAX_LINE));
    loop {
        let line = tokio::select! {
            () = cancel.cancelled() => return,
            line = lines.next() => line,
        };
        match line {
            Some(Ok(line)) if line.trim().is_empty() => {}
            Some(Ok(line)) => match serde_json::from_str::<Value>(&line) {
                Ok(value) => shared.deliver(value, None, false),
                Err(error) => {
                    tracing::warn!(%error, "stdio upstream wrote a line that is not JSON")
                }
            },
            Some(Err(error)) => {
                shared.close(&format!("cannot read its output: {error}"));
                return;
            }
            None => {
                shared.close("the process closed its output");
                return;
            }
        }
    }
}

async fn log_stderr(upstream: String, stderr: tokio::process::ChildStderr) {
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(64 * 1024));
    while let Some(Ok(line)) = lines.next().await {
        tracing::debug!(upstream = %upstream, "stderr: {line}");
    }
}

/// Waits for the child to exit (reaping it) or kills it when the session ends.
async fn supervise(
    upstream: String,
    mut child: Child,
    permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    tokio::select! {
        status = child.wait() => {
            let reason = match status {
                Ok(status) => format!("the process exited ({status})"),
                Err(error) => format!("the process could not be waited for: {error}"),
            };
            tracing::info!(upstream = %upstream, "{reason}");
            shared.close(&reason);
        }
        () = cancel.cancelled() => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            tracing::debug!(upstream = %upstream, "child stopped with its session");
        }
    }
    drop(permit);
}
