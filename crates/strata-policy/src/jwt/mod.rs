//! JWT bearer tokens checked against a JWK set ([`JwtValidator`]).
//!
//! A token is a compact JWS (`header.payload.signature`, base64url). It is accepted when:
//!
//! - its `alg` is RS256/384/512, PS256/384/512, ES256/384 or EdDSA (`none` and HMAC are
//!   refused outright: the keys are public), and it has no `crit` header;
//! - a key of the set verifies the signature: the key with the token's `kid`, or, for a token
//!   without one, the only key that admits its `alg`. A key admits the algorithms of its type
//!   (RSA: RS* and PS*; P-256: ES256; P-384: ES384; Ed25519: EdDSA), or only its own `alg`
//!   when the JWK names one;
//! - `exp` is present and not past, `nbf` and `iat` (when present) are not in the future,
//!   all with 60 s of leeway;
//! - `iss` equals the configured issuer;
//! - `aud` (a string or an array) holds one of the configured audiences or the `resource`
//!   given to [`JwtValidator::validate`] (RFC 8707: the MCP layer passes its resource URI).
//!   With no audience configured and no resource, a token carrying `aud` is refused (RFC 7519
//!   §4.1.3) and one without is accepted;
//! - `sub` is a non-empty string.
//!
//! The set comes from `jwks_file` (read once, at construction) or `jwks_url` (fetched on first
//! use; see `remote` for caching and refresh). Errors never quote the token.

mod claims;
mod jwks;
mod remote;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;

use jwks::{KeySet, Selection};
use remote::{Remote, Timings};

/// Tokens longer than this are refused unread.
const MAX_TOKEN_BYTES: usize = 32 * 1024;

/// Why a token was refused, or the key set could not be had. Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a well-formed JWS, or one this validator refuses on sight (`alg` `none` or HMAC,
    /// `crit` headers, JWE), or a required claim (`exp`, `sub`) missing or mistyped.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// No key of the set matches the token's `kid` (or, without a `kid`, no single key its
    /// `alg`).
    #[error("the token's signing key is not in the key set")]
    UnknownKey,
    /// The signature does not verify with the key, or the key does not admit the `alg`.
    #[error("invalid token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` in the future.
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token audience not accepted")]
    WrongAudience,
    /// The key set cannot be read, fetched or parsed (or the JWT config is unusable).
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
}

/// What a valid token says about its holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `sub`.
    pub subject: String,
    /// From the configured roles claim: an array of strings, or a string of space- or
    /// comma-separated roles. The claim name is first looked up as is, then as a dotted path
    /// (`realm_access.roles`). Empty when the claim is absent.
    pub roles: Vec<String>,
    /// From `scope` (space-separated), else `scp` (an array, or a space-separated string).
    pub scopes: Vec<String>,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
    /// Every claim of the token.
    pub raw: serde_json::Value,
}

/// Validates bearer tokens against a JWK set. Cheap to clone (shared state).
#[derive(Clone)]
pub struct JwtValidator {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audiences: Vec<String>,
    roles_claim: String,
    source: Source,
}

enum Source {
    File { path: String, keys: KeySet },
    Url(Arc<Remote>),
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut out = f.debug_struct("JwtValidator");
        out.field("issuer", &inner.issuer)
            .field("audiences", &inner.audiences)
            .field("roles_claim", &inner.roles_claim);
        match &inner.source {
            Source::File { path, keys } => out.field("jwks_file", path).field("keys", &keys.len()),
            Source::Url(remote) => out.field("jwks_url", &remote.url()),
        };
        out.finish()
    }
}

impl JwtValidator {
    /// Loads a `jwks_file` at once (an error if it cannot be read or holds no usable key); a
    /// `jwks_url` is fetched on first use and cached. Exactly one of the two must be set.
    pub fn new(config: &strata_config::Jwt, http: reqwest::Client) -> Result<Self, JwtError> {
        Self::with_timings(config, http, Timings::default())
    }

    fn with_timings(
        config: &strata_config::Jwt,
        http: reqwest::Client,
        timings: Timings,
    ) -> Result<Self, JwtError> {
        let source = match (&config.jwks_url, &config.jwks_file) {
            (Some(_), Some(_)) => {
                return Err(JwtError::Jwks(
                    "set either jwks_url or jwks_file, not both".into(),
                ));
            }
            (None, None) => {
                return Err(JwtError::Jwks(
                    "neither jwks_url nor jwks_file is set".into(),
                ));
            }
            (None, Some(path)) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| JwtError::Jwks(format!("cannot read JWKS file {path}: {e}")))?;
                let keys = KeySet::parse(&bytes)
                    .map_err(|e| JwtError::Jwks(format!("JWKS file {path}: {e}")))?;
                Source::File {
                    path: path.clone(),
                    keys,
                }
            }
            (Some(url), None) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| JwtError::Jwks(format!("invalid jwks_url {url}: {e}")))?;
                if !matches!(parsed.scheme(), "https" | "http") {
                    return Err(JwtError::Jwks(format!(
                        "invalid jwks_url {url}: not an http(s) URL"
                    )));
                }
                Source::Url(Arc::new(Remote::new(parsed, http, timings)))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer.clone(),
                audiences: config.audiences.clone(),
                roles_claim: config.roles_claim.clone(),
                source,
            }),
        })
    }

    /// The required `iss` (for OAuth protected-resource metadata, RFC 9728).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The principal a token's claims name: `{iss}#{sub}`, the same in every layer.
    #[must_use]
    pub fn principal(&self, claims: &Claims) -> String {
        format!("{}#{}", self.inner.issuer, claims.subject)
    }

    /// Fetches a `jwks_url` now if it was not yet (to fail early at startup); nothing for a
    /// file.
    pub async fn prefetch(&self) -> Result<(), JwtError> {
        match &self.inner.source {
            Source::File { .. } => Ok(()),
            Source::Url(remote) => remote.current().await.map(drop),
        }
    }

    /// Validates a compact JWT (see the module documentation for the rules). `resource`, when
    /// given, is accepted as an audience besides the configured ones.
    pub async fn validate(&self, token: &str, resource: Option<&str>) -> Result<Claims, JwtError> {
        let token = Token::split(token)?;
        let header = token.header()?;
        token.check_signature_encoding()?;
        let verified = match &self.inner.source {
            Source::File { keys, .. } => check_signature(keys, &header, &token)?,
            Source::Url(remote) => {
                let cached = remote.current().await?;
                match check_signature(&cached.keys, &header, &token)? {
                    Verified::Yes => Verified::Yes,
                    Verified::KeyNotFound => {
                        match remote.refetch_for_unknown_key(cached.generation).await {
                            Some(newer) => check_signature(&newer.keys, &header, &token)?,
                            None => Verified::KeyNotFound,
                        }
                    }
                }
            }
        };
        if matches!(verified, Verified::KeyNotFound) {
            return Err(JwtError::UnknownKey);
        }
        let payload = token.payload()?;
        claims::check(
            payload,
            &claims::Expected {
                issuer: &self.inner.issuer,
                audiences: &self.inner.audiences,
                resource,
                roles_claim: &self.inner.roles_claim,
            },
            claims::now(),
        )
    }
}

/// The three parts of a compact JWS.
struct Token<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
}

/// The header fields that matter.
#[derive(Debug)]
struct Header {
    alg: Algorithm,
    kid: Option<String>,
}

impl<'a> Token<'a> {
    fn split(token: &'a str) -> Result<Self, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed("token too long".into()));
        }
        let parts = token.split('.').count();
        match parts {
            3 => {}
            5 => {
                return Err(JwtError::Malformed(
                    "encrypted tokens (JWE) are not accepted".into(),
                ));
            }
            _ => {
                return Err(JwtError::Malformed(
                    "not a compact JWS (three dot-separated parts)".into(),
                ));
            }
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| JwtError::Malformed("no signature part".into()))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or_else(|| JwtError::Malformed("no payload part".into()))?;
        Ok(Self {
            header,
            payload,
            signature,
            signing_input,
        })
    }

    fn header(&self) -> Result<Header, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.header)
            .map_err(|_| JwtError::Malformed("the header is not base64url".into()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| JwtError::Malformed("the header is not JSON".into()))?;
        let fields = value
            .as_object()
            .ok_or_else(|| JwtError::Malformed("the header is not a JSON object".into()))?;
        let alg = match fields.get("alg") {
            Some(serde_json::Value::String(name)) => accepted_algorithm(name)?,
            Some(_) => return Err(JwtError::Malformed("`alg` is not a string".into())),
            None => return Err(JwtError::Malformed("the header has no `alg`".into())),
        };
        let kid = match fields.get("kid") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(JwtError::Malformed("`kid` is not a string".into())),
        };
        if fields.contains_key("crit") {
            return Err(JwtError::Malformed(
                "critical header parameters (`crit`) are not supported".into(),
            ));
        }
        Ok(Header { alg, kid })
    }

    /// Refuses a signature that cannot be one before a key is looked for.
    fn check_signature_encoding(&self) -> Result<(), JwtError> {
        let signature = URL_SAFE_NO_PAD
            .decode(self.signature)
            .map_err(|_| JwtError::Malformed("the signature is not base64url".into()))?;
        if signature.is_empty() {
            return Err(JwtError::Malformed("the signature is empty".into()));
        }
        Ok(())
    }

    fn payload(&self) -> Result<serde_json::Map<String, serde_json::Value>, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.payload)
            .map_err(|_| JwtError::Malformed("the payload is not base64url".into()))?;
        match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Object(claims)) => Ok(claims),
            _ => Err(JwtError::Malformed(
                "the payload is not a JSON object".into(),
            )),
        }
    }
}

/// The algorithm a header names, if it is one this validator accepts.
fn accepted_algorithm(name: &str) -> Result<Algorithm, JwtError> {
    Ok(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => {
            // Quote the name only when it is short and plain (it comes from the token).
            let shown = if name.len() <= 16
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                name
            } else {
                "(unrecognised)"
            };
            return Err(JwtError::Malformed(format!(
                "signing algorithm {shown} is not accepted"
            )));
        }
    })
}

enum Verified {
    Yes,
    /// The set has no key for the token: a newer set may.
    KeyNotFound,
}

/// Checks the signature with the key of `keys` the header designates.
fn check_signature(
    keys: &KeySet,
    header: &Header,
    token: &Token<'_>,
) -> Result<Verified, JwtError> {
    let key = match keys.select(header.kid.as_deref(), header.alg) {
        Selection::Found(key) => key,
        Selection::NotFound => return Ok(Verified::KeyNotFound),
        Selection::Ambiguous => return Err(JwtError::UnknownKey),
        Selection::WrongAlgorithm => return Err(JwtError::BadSignature),
    };
    match jsonwebtoken::crypto::verify(
        token.signature,
        token.signing_input.as_bytes(),
        &key.key,
        header.alg,
    ) {
        Ok(true) => Ok(Verified::Yes),
        Ok(false) | Err(_) => Err(JwtError::BadSignature),
    }
}
