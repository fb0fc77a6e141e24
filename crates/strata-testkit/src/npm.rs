//! npm packages for tests (MCP servers, the conformance suite), installed once into the tools
//! cache (`$STRATA_TOOLS_DIR`, default `~/.cache/strata-tools`) and reused.

use std::path::PathBuf;
use std::process::Command;

/// The tools cache.
#[must_use]
pub fn tools_dir() -> PathBuf {
    std::env::var_os("STRATA_TOOLS_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/strata-tools"),
        PathBuf::from,
    )
}

/// Installs `package@version` (if it is not there yet) and returns the package's own folder
/// (`…/node_modules/<package>`). `None` when npm is missing or the install fails (the reason is
/// printed), so callers can skip. Installs take a lock on the tools cache (tests of several
/// threads and processes share it), and a package counts as installed only once its whole
/// install finished (a marker file written after it), never while npm is still writing.
#[must_use]
pub fn install(package: &str, version: &str) -> Option<PathBuf> {
    let prefix = tools_dir()
        .join("npm")
        .join(format!("{}@{version}", package.replace('/', "+")));
    let folder = prefix.join("node_modules").join(package);
    let marker = prefix.join(".installed");
    if marker.exists() {
        return Some(folder);
    }
    std::fs::create_dir_all(&prefix).ok()?;
    let lock = std::fs::File::create(tools_dir().join(".install.lock")).ok()?;
    lock.lock().ok()?;
    if marker.exists() {
        return Some(folder);
    }
    let output = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(format!("{package}@{version}"))
        .output();
    match output {
        Ok(out) if out.status.success() && folder.exists() => {
            std::fs::write(&marker, b"").ok()?;
            Some(folder)
        }
        Ok(out) => {
            eprintln!(
                "npm install {package}@{version} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("npm is not available: {e}");
            None
        }
    }
}
