//! strata-app
