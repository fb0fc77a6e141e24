//! strata-mcp
