//! Integration tests of config loading: every mistake reported at once, with its place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod examples;
mod openapi;
mod schema_file;
mod workflows;

use strata_config::{Config, ConfigErrors};

/// Loads `text` as `strata.yaml` with a fixed environment.
pub fn load(text: &str) -> Result<Config, ConfigErrors> {
    strata_config::load_str(text, "strata.yaml", &|name| match name {
        "TEAM_A_KEY" => Some("sk-team-a".into()),
        "RPM" => Some("600".into()),
        _ => None,
    })
}

/// The errors of a config that must be invalid, as `file:line:col: path: message` lines.
pub fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}
