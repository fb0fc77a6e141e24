//! strata-ai
