//! The Strata config: one YAML file, validated strictly. Every mistake is reported at once
//! with its file, YAML path, line and column; `${VAR}` and `${VAR:-default}` come from the
//! environment; secrets are [`strata_core::Secret`]s that never print.

mod error;
mod governance;
mod interpolate;
mod load;
mod model;
mod rest;
mod schema;
mod validate;
mod value;
mod watch;
mod workflows;
mod yaml;

pub use error::{ConfigError, ConfigErrors};
pub use load::{load_file, load_file_settings, load_file_with_source, load_in, load_str};
pub use model::*;
pub use schema::json_schema;
pub use watch::{ConfigWatch, watch};
pub use workflows::{expression_error, load_one as load_workflow, template_error, workflow_schema};
