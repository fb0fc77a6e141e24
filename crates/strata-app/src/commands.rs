//! `strata check` and `strata schema`.

use std::path::Path;

/// Validates a config file. Prints every error (stderr) or a summary (stdout); returns the
/// process exit code: 0 when valid, 1 otherwise.
#[allow(clippy::print_stdout, clippy::print_stderr)]
#[must_use]
pub fn check(path: &Path) -> i32 {
    match strata_config::load_file(path) {
        Ok(config) => {
            println!(
                "{}: ok ({} provider(s), {} key(s), {} upstream(s), {} virtual server(s), {} workflow glob(s))",
                path.display(),
                config.ai.providers.len(),
                config.auth.keys.len(),
                config.mcp.upstreams.len(),
                config.mcp.servers.len(),
                config.agent.workflows.len(),
            );
            0
        }
        Err(errors) => {
            eprint!("{errors}");
            1
        }
    }
}

/// The config's JSON Schema, pretty-printed with a trailing newline.
#[must_use]
pub fn schema() -> String {
    let mut text = serde_json::to_string_pretty(&strata_config::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}
