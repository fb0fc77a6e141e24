//! Hot reload: on a change of the config file, or on SIGHUP, the new config is validated and
//! swapped in whole. An invalid edit is logged with every error and the old config keeps
//! serving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_config::Config;
use strata_store::{AuditRecord, Outcome};
use tokio::signal::unix::{SignalKind, signal};

use crate::AppError;
use crate::runtime::Runtime;
use crate::serve::AppState;

/// Editors write a file in several steps; wait for them to finish.
const SETTLE: Duration = Duration::from_millis(200);

/// Starts watching the file and SIGHUP.
pub fn spawn(app: Arc<AppState>, path: &Path) -> Result<(), AppError> {
    let (watch, mut changes) = strata_config::watch(path)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(AppError::Signals)?;
    tokio::spawn(async move {
        let _watch = watch;
        loop {
            let trigger = tokio::select! {
                () = app.shutdown.triggered() => return,
                Some(()) = changes.recv() => "file change",
                Some(()) = hangup.recv() => "SIGHUP",
            };
            tokio::time::sleep(SETTLE).await;
            while changes.try_recv().is_ok() {}
            reload(&app, trigger).await;
        }
    });
    Ok(())
}

/// Validates the file and swaps it in, or logs why not.
pub async fn reload(app: &AppState, trigger: &'static str) {
    let Some(path) = &app.config_path else { return };
    let current = app.current.load_full();
    let (config, source) = match strata_config::load_file_with_source(path) {
        Ok(loaded) => loaded,
        Err(errors) => {
            let lines: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
            for line in &lines {
                tracing::error!(trigger, "config error: {line}");
            }
            tracing::error!(
                trigger,
                errors = lines.len(),
                generation = current.generation,
                "config reload rejected; the previous config keeps serving"
            );
            app.metrics.config_reload("invalid");
            let mut record = AuditRecord::new("admin", "config.reload", Outcome::Error);
            record.error = Some(format!("{} error(s)", lines.len()));
            record.detail = serde_json::json!({ "trigger": trigger, "errors": lines });
            app.audit(record).await;
            return;
        }
    };
    let layers: Vec<_> = app.layers.iter().map(|(l, _)| *l).collect();
    let next = match Runtime::build(config, &source, current.generation + 1, &layers, &app.deps) {
        Ok(next) => next,
        Err(e) => {
            tracing::error!(trigger, error = %e, "config reload rejected; the previous config keeps serving");
            app.metrics.config_reload("invalid");
            return;
        }
    };
    if next.digest == current.digest {
        tracing::debug!(trigger, "config unchanged");
        return;
    }
    warn_restart_needed(&current.config, &next.config);
    let generation = next.generation;
    let digest = next.digest.clone();
    app.current.store(Arc::new(next));
    app.metrics.config_reload("ok");
    app.metrics.set_config_generation(generation);
    tracing::info!(trigger, generation, sha256 = %digest, "config reloaded");
    let mut record = AuditRecord::new("admin", "config.reload", Outcome::Ok);
    record.detail =
        serde_json::json!({ "trigger": trigger, "generation": generation, "sha256": digest });
    app.audit(record).await;
}

/// Some settings are fixed at start; say so when a reload changes them.
fn warn_restart_needed(old: &Config, new: &Config) {
    let fixed = [
        ("listeners", old.listeners != new.listeners),
        ("storage", old.storage != new.storage),
        ("telemetry", old.telemetry != new.telemetry),
        ("server", old.server != new.server),
    ];
    for (section, changed) in fixed {
        if changed {
            tracing::warn!(
                section,
                "this section changed but takes effect only after a restart"
            );
        }
    }
}
