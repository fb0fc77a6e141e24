//! A test identity provider: an Ed25519 signing key it publishes (kid `idp-1`), one it does
//! not, and tokens signed at test time. The keys are throwaway, for tests only.

use serde_json::{Value, json};

/// The key the provider signs with and publishes.
pub const SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEQVAtNJBYUorlmxpPulZjKdH3xi9uRpXpE0jiwXBQNU
-----END PRIVATE KEY-----";
/// The public half of [`SIGNING_KEY`] (JWK `x`).
const SIGNING_X: &str = "AlvC8tKVO1R_ZE_yn27H14Y97weA1d38osGWxFXWJ10";
/// A key the provider does not publish.
pub const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPrVfPGG0nD4ii29/XYriM8ZDa2XSKvLS7/wgVY0NN3s
-----END PRIVATE KEY-----";

/// The provider's key set, as a JWKS document.
#[must_use]
pub fn jwks() -> Value {
    json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": SIGNING_X, "kid": "idp-1",
        "use": "sig", "alg": "EdDSA" }] })
}

/// Writes [`jwks`] to `jwks.json` in `dir`; returns its path.
///
/// # Panics
/// When the file cannot be written.
#[must_use]
pub fn write_jwks(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("jwks.json");
    std::fs::write(&path, jwks().to_string()).expect("write jwks.json");
    path
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `claims` signed with `key_pem` (EdDSA, kid `idp-1`).
///
/// # Panics
/// When the key is not an Ed25519 PEM.
#[must_use]
pub fn sign(key_pem: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("idp-1".into());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(key_pem.as_bytes()).expect("an Ed25519 key");
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}
