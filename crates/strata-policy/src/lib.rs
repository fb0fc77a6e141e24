//! strata-policy
