//! strata-testkit
