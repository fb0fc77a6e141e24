//! JSON Web Key Sets: the public keys a token may be signed with, and the algorithms each
//! key admits.
//!
//! Keys that cannot verify signatures are left out of the set with a debug log rather than
//! failing it (identity providers publish encryption keys, or key types this gateway does not
//! verify, next to their signing keys): symmetric (`oct`) keys, keys whose `use` is not `sig`
//! or whose `key_ops` lack `verify`, curves other than P-256, P-384 and Ed25519, an `alg` that
//! does not fit the key type, and keys that do not parse. A set left with no key is an error.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// RSA keys admit PKCS#1 v1.5 and PSS signatures with every hash, unless their `alg` names one.
const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// RFC 7518 §3.3 asks for 2048 bits at least; the RSA implementation takes 4096 at most.
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 4096;

/// A base64url JWK member.
fn decode(value: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("`{name}` is not base64url"))
}

/// The bit length of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        None => 0,
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
    }
}

/// One verification key.
pub(super) struct VerifyKey {
    pub(super) kid: Option<String>,
    /// The algorithms a token signed by this key may name (never empty, never HMAC).
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// The key a JWK describes, or why it is left out.
    fn from_jwk(jwk: &Jwk) -> Result<Self, String> {
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(_) => return Err("not a signature key (`use`)".into()),
        }
        if let Some(ops) = &jwk.common.key_operations
            && !ops.contains(&KeyOperations::Verify)
        {
            return Err("`key_ops` lacks `verify`".into());
        }
        // Sizes are checked here: the crypto provider panics on a short Ed25519 key.
        let family: &[Algorithm] = match &jwk.algorithm {
            AlgorithmParameters::RSA(params) => {
                let bits = significant_bits(&decode(&params.n, "n")?);
                if bits < MIN_RSA_BITS {
                    return Err(format!("RSA modulus of {bits} bits (under {MIN_RSA_BITS})"));
                }
                if bits > MAX_RSA_BITS {
                    return Err(format!("RSA modulus of {bits} bits (over {MAX_RSA_BITS})"));
                }
                let e = significant_bits(&decode(&params.e, "e")?);
                if !(2..=64).contains(&e) {
                    return Err("bad RSA exponent".into());
                }
                RSA_ALGORITHMS
            }
            AlgorithmParameters::EllipticCurve(params) => {
                let (size, family): (usize, &[Algorithm]) = match params.curve {
                    EllipticCurve::P256 => (32, &[Algorithm::ES256]),
                    EllipticCurve::P384 => (48, &[Algorithm::ES384]),
                    _ => return Err("unsupported elliptic curve".into()),
                };
                if decode(&params.x, "x")?.len() != size || decode(&params.y, "y")?.len() != size {
                    return Err("coordinates of the wrong size for the curve".into());
                }
                family
            }
            AlgorithmParameters::OctetKeyPair(params) => match params.curve {
                EllipticCurve::Ed25519 => {
                    if decode(&params.x, "x")?.len() != 32 {
                        return Err("an Ed25519 key is 32 bytes".into());
                    }
                    &[Algorithm::EdDSA]
                }
                _ => return Err("unsupported OKP curve".into()),
            },
            AlgorithmParameters::OctetKey(_) => {
                return Err("symmetric keys are not accepted".into());
            }
            _ => return Err("unsupported key type".into()),
        };
        let algorithms = match jwk.common.key_algorithm {
            None => family.to_vec(),
            Some(named) => {
                let alg =
                    Algorithm::try_from(named).map_err(|_| format!("unsupported `alg` {named}"))?;
                if !family.contains(&alg) {
                    return Err(format!("`alg` {named} does not fit the key type"));
                }
                vec![alg]
            }
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("invalid key: {e}"))?;
        // Building a verifier parses the key (RSA modulus, curve point): a bad key is refused
        // now rather than at each token. An empty signature only fails to verify.
        jsonwebtoken::crypto::verify("", b"", &key, family[0])
            .map_err(|e| format!("invalid key: {e}"))?;
        Ok(Self {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key,
        })
    }

    fn admits(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// What [`KeySet::select`] found for a token.
#[derive(Debug)]
pub(super) enum Selection<'a> {
    Found(&'a VerifyKey),
    /// No key with the token's `kid` (or, for a token without one, no key of its algorithm):
    /// a newer set may have it.
    NotFound,
    /// The token has no `kid` and several keys admit its algorithm.
    Ambiguous,
    /// Keys with the token's `kid` exist, but none admits its algorithm.
    WrongAlgorithm,
}

/// The usable keys of a JWK set.
#[derive(Debug)]
pub(super) struct KeySet {
    keys: Vec<VerifyKey>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWK set (`{"keys": [...]}`), leaving out the keys that cannot verify tokens.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let raw: RawSet =
            serde_json::from_slice(bytes).map_err(|e| format!("not a JWK set: {e}"))?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        let mut left_out = Vec::new();
        for (index, value) in raw.keys.into_iter().enumerate() {
            let kid = value
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| format!("#{index}"), |kid| format!("{kid:.40}"));
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|_| "not a JWK".to_owned())
                .and_then(|jwk| VerifyKey::from_jwk(&jwk));
            match parsed {
                Ok(key) => keys.push(key),
                Err(reason) => {
                    tracing::debug!(%kid, %reason, "JWKS key left out");
                    left_out.push(format!("{kid}: {reason}"));
                }
            }
        }
        if keys.is_empty() {
            let mut message =
                "the JWK set holds no usable signature key (RSA, P-256, P-384 or Ed25519)"
                    .to_owned();
            if !left_out.is_empty() {
                left_out.truncate(5);
                message.push_str(&format!("; left out: {}", left_out.join("; ")));
            }
            return Err(message);
        }
        Ok(Self { keys })
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key that verifies a token naming `kid` (if any) and `alg`: the key with that `kid`
    /// admitting `alg`; without a `kid`, the only key admitting `alg`.
    pub(super) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Selection<'_> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return Selection::NotFound;
                }
                named
                    .find(|k| k.admits(alg))
                    .map_or(Selection::WrongAlgorithm, Selection::Found)
            }
            None => {
                let mut admitting = self.keys.iter().filter(|k| k.admits(alg));
                match (admitting.next(), admitting.next()) {
                    (Some(key), None) => Selection::Found(key),
                    (None, _) => Selection::NotFound,
                    (Some(_), Some(_)) => Selection::Ambiguous,
                }
            }
        }
    }
}
