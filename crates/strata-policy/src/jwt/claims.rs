//! The checks on a verified token's claims, and what [`Claims`] takes from them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::{Claims, JwtError};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub(super) const LEEWAY_SECS: i64 = 60;

/// What the claims must match.
#[derive(Debug)]
pub(super) struct Expected<'a> {
    pub(super) issuer: &'a str,
    pub(super) audiences: &'a [String],
    pub(super) resource: Option<&'a str>,
    pub(super) roles_claim: &'a str,
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Checks the claims of a token whose signature verified, at time `now`.
pub(super) fn check(
    claims: Map<String, Value>,
    expected: &Expected<'_>,
    now: i64,
) -> Result<Claims, JwtError> {
    let expires_at = numeric_date(&claims, "exp")?
        .ok_or_else(|| JwtError::Malformed("the token has no `exp`".into()))?;
    if now >= expires_at.saturating_add(LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    let horizon = now.saturating_add(LEEWAY_SECS);
    for name in ["nbf", "iat"] {
        if numeric_date(&claims, name)?.is_some_and(|t| t > horizon) {
            return Err(JwtError::NotYetValid);
        }
    }
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(JwtError::WrongIssuer);
    }
    check_audience(claims.get("aud"), expected)?;
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => {
            return Err(JwtError::Malformed(
                "`sub` is not a non-empty string".into(),
            ));
        }
        None => return Err(JwtError::Malformed("the token has no `sub`".into())),
    };
    let roles = claim_at(&claims, expected.roles_claim)
        .map(|v| list(v, |c| c.is_whitespace() || c == ','))
        .unwrap_or_default();
    let scopes = claims
        .get("scope")
        .or_else(|| claims.get("scp"))
        .map(|v| list(v, char::is_whitespace))
        .unwrap_or_default();
    Ok(Claims {
        subject,
        roles,
        scopes,
        expires_at,
        raw: Value::Object(claims),
    })
}

/// A NumericDate claim (seconds, possibly fractional), if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, JwtError> {
    let malformed = || JwtError::Malformed(format!("`{name}` is not a NumericDate"));
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) => Ok(Some(t)),
            None => n
                .as_f64()
                .filter(|t| t.is_finite())
                // Saturating conversion; whole seconds are what the checks compare.
                .map(|t| Some(t.floor() as i64))
                .ok_or_else(malformed),
        },
        Some(_) => Err(malformed()),
    }
}

/// `aud` must name one of the accepted audiences (the configured ones and `resource`); with
/// none accepted, a token must not carry `aud` (RFC 7519 §4.1.3).
fn check_audience(aud: Option<&Value>, expected: &Expected<'_>) -> Result<(), JwtError> {
    let accepted = |candidate: &str| {
        expected.audiences.iter().any(|a| a == candidate) || expected.resource == Some(candidate)
    };
    let nothing_accepted = expected.audiences.is_empty() && expected.resource.is_none();
    let ok = match aud {
        None => nothing_accepted,
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(JwtError::WrongAudience)
    }
}

/// The claim named `path`: a top-level claim of that exact name (names such as
/// `https://example.com/roles` contain dots), else the path's dot-separated segments followed
/// through nested objects.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let mut value = claims.get(segments.next()?)?;
    for segment in segments {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}

/// The strings of an array claim, or of a string claim split at `separator`s; without
/// duplicates or empty entries, in order. Anything else gives nothing.
fn list(value: &Value, separator: fn(char) -> bool) -> Vec<String> {
    let items: Vec<&str> = match value {
        Value::String(s) => s.split(separator).collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items.into_iter().map(str::trim) {
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}
