//! Test-only helpers: the external services tests may use, free ports, temp config files,
//! and a harness that runs the real `strata` binary.

pub mod mock_llm;
pub mod process;
pub mod python;
pub mod services;

pub use mock_llm::{Behavior, MockLlm};
pub use process::{StrataProcess, free_port};
pub use services::{Service, service_url, skip};
