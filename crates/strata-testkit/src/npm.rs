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
/// printed), so callers can skip.
#[must_use]
pub fn install(package: &str, version: &str) -> Option<PathBuf> {
    let prefix = tools_dir()
        .join("npm")
        .join(format!("{}@{version}", package.replace('/', "+")));
    let folder = prefix.join("node_modules").join(package);
    if folder.join("package.json").exists() {
        return Some(folder);
    }
    std::fs::create_dir_all(&prefix).ok()?;
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
        Ok(out) if out.status.success() && folder.exists() => Some(folder),
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
