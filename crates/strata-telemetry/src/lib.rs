//! strata-telemetry
