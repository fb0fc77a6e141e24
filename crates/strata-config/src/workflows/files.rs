//! Expanding a workflow glob (`workflows/*.yaml`, `flows/**/*.yml`) relative to the config's
//! directory into the sorted list of files it matches.

use std::path::{Path, PathBuf};

/// The files `pattern` matches under `dir`, sorted. A pattern without glob characters names
/// one file.
pub(crate) fn expand(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    // `--config strata.yaml` has the directory "": the current one.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let is_glob = |s: &str| s.contains(['*', '?', '[', '{']);
    if !is_glob(pattern) {
        return Ok(if full.is_file() { vec![full] } else { vec![] });
    }
    // The longest leading part without glob characters is where the walk starts.
    let mut base = PathBuf::new();
    for part in full.components() {
        if is_glob(&part.as_os_str().to_string_lossy()) {
            break;
        }
        base.push(part);
    }
    let matcher = globset::GlobBuilder::new(&full.to_string_lossy())
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?
        .compile_matcher();
    let mut found = Vec::new();
    walk(&base, &mut |path| {
        if matcher.is_match(path) {
            found.push(path.to_path_buf());
        }
    });
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, visit),
            Ok(t) if t.is_file() => visit(&path),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_globs_relative_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("flows/sub")).unwrap();
        for f in [
            "flows/a.yaml",
            "flows/b.yaml",
            "flows/c.txt",
            "flows/sub/d.yaml",
        ] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let names = |p: &str| -> Vec<String> {
            expand(dir.path(), p)
                .unwrap()
                .iter()
                .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names("flows/*.yaml"), ["flows/a.yaml", "flows/b.yaml"]);
        assert_eq!(
            names("flows/**/*.yaml"),
            ["flows/a.yaml", "flows/b.yaml", "flows/sub/d.yaml"]
        );
        assert_eq!(names("flows/c.txt"), ["flows/c.txt"]);
        assert!(names("flows/none.yaml").is_empty());
        assert!(expand(dir.path(), "flows/[.yaml").is_err());
    }
}
