//! A private Python environment with the official SDKs, for end-to-end tests that drive Strata
//! with the clients people use. Created once per requirements file (in the system temp dir)
//! with `python3 -m venv` and `pip install`; reused while the file is unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::services::skip;

/// The repository's `tests/e2e` folder.
#[must_use]
pub fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e")
}

/// The venv's `python`, with `tests/e2e/requirements.txt` installed; `None` (reported as a
/// skip) when Python or the package index is not available.
///
/// # Panics
/// When the environment cannot be made and `STRATA_TEST_REQUIRE_SERVICES=1`.
#[must_use]
pub fn python_with_sdks(test: &str) -> Option<PathBuf> {
    let requirements = e2e_dir().join("requirements.txt");
    let text = std::fs::read_to_string(&requirements).ok()?;
    let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let venv = std::env::temp_dir().join(format!("strata-e2e-venv-{digest:016x}"));
    let python = venv.join("bin/python");
    if python.is_file() && venv.join(".complete").is_file() {
        return Some(python);
    }
    // One builder at a time, across the threads and processes of a test run (a file lock, as
    // for npm); the others wait for it and then reuse its venv.
    let lock = std::fs::File::create(venv.with_extension("lock")).ok()?;
    lock.lock().ok()?;
    if python.is_file() && venv.join(".complete").is_file() {
        return Some(python);
    }
    // Build beside the final place, then rename: nobody ever sees half a venv.
    let building = std::env::temp_dir().join(format!(
        "strata-e2e-venv-{digest:016x}.{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&building);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&building)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(building.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .status()
            .is_ok_and(|s| s.success());
    if !made {
        let _ = std::fs::remove_dir_all(&building);
        skip(
            test,
            "cannot create a Python venv with the SDKs (python3 or PyPI unavailable)",
        );
        return None;
    }
    let _ = std::fs::write(building.join(".complete"), b"");
    // What is there is half a venv (a build that was killed), never a finished one.
    let _ = std::fs::remove_dir_all(&venv);
    if let Err(e) = std::fs::rename(&building, &venv) {
        let _ = std::fs::remove_dir_all(&building);
        skip(test, &format!("cannot move the new venv into place: {e}"));
        return None;
    }
    Some(python)
}
