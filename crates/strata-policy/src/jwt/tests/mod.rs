//! The validator through its public surface: tokens signed at test time with throwaway keys
//! (fixtures below, generated with openssl for these tests only), key sets from files and
//! from a minimal HTTP server on a local port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use strata_config::Jwt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::jwks::KeySet;
use super::remote::{Timings, cache_max_age};
use super::*;

mod arbitrary;
mod files;
mod refused;
mod remote;
mod server;
mod valid;

const ISSUER: &str = "https://idp.example.com/realms/strata";
const AUDIENCE: &str = "strata-gateway";
const RESOURCE: &str = "https://gateway.example.com/mcp/tools";

// Throwaway keys, for these tests only.
const ED_A_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPehDrPasMvn5M1Rypi/0EUCGt+PZzTNCzIUOdpu7ZTh
-----END PRIVATE KEY-----";
const ED_A_X: &str = "4vKvGgBujBymSGRriK0hM7PpB5mthF3RIS1TkPNPfjo";
const ED_B_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEICDIWvDO+J0Y0Rz6IdeGjxrCkT70Hr2LJxsgKocg3WVC
-----END PRIVATE KEY-----";
const ED_B_X: &str = "eIoNkVYEAQBaVQpG8Cwpn2l46lGMsIOJrHTXJAv2Zcg";
const EC_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJ3jm0ok1ox0x7FWd
UAnWQ7ic4AhUF/04c1sXp6IzQguhRANCAASDEaQdh4TcXNlRs3n2i/+dPkbIdOrJ
V9ySiBcGzuY8y2S8W21X7CZ5M5CgLOgHIsgAvgaXTZA7N3DSMwjkQb6o
-----END PRIVATE KEY-----";
const EC_X: &str = "gxGkHYeE3FzZUbN59ov_nT5GyHTqyVfckogXBs7mPMs";
const EC_Y: &str = "ZLxbbVfsJnkzkKAs6AciyAC-BpdNkDs3cNIzCORBvqg";
const RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAyIm+CVCVrsvLax9dSFuoZ6O+RGn+k+EmoxynQWwWE8WAdyw0
+bP/PICgmtn/0oCAsXkcAlUMX/u1FtZULokVox98kMGqPAO+tnZOhfTcjC5MB38N
UJHF9PYePmjmWnoUDphb4qMVUIUfPaG0AZ29TgcGzIdOCvf0hBiVKNcD12ImADwa
oGqs7KhSyXN7Di+ahVh3cgVlAj/L7FEyX5CKhNS0u3swhihoP4t47lHpJTUcFQ4K
mE8cu5f4VWeIj27PnZkpFxJqo0RNiHFC2G1Ct+3lQLQW1oNpLYPBzVdHOIZ9ikMj
j+W3E2QSBf+yr5NH+kh3jpJZ0/6m6OipwW0ayQIDAQABAoIBAC+ohJBEJX6IEkzg
BFRI7CnNQU+S/Rx52qvTCHDE1i5WtqQbzm81dsgTLZf/jQui3HLQ/HYVbj51XGEU
CKeSjqDYv8rLK8Ddhvpn/VtaiPuLmSgC6tAmBKylvSRJ28zOzGt3jAa9iTg8muMT
xerIaQ/dHaGH2mVC7kpiaThueQw7bDtcx4VW9vEsDShwoxAoDK03ip1MAaN+q0MD
pNwMyhBlE0J/0cjmPPVfu0lWuOaqMfMDYeF0aTEslF2F33EOqU76yVoQ35i9mQX1
zya1AQbdXKOpGRjvh+2Pjmo3eJ+Vp3Fag4PmDSIAHYSwnd5JB1M0M9XMe0WlSv4J
qBh+U80CgYEA7+4Sk75hdEWY7rcGG1RpkQ6YtSJnV+QANzwZV1zZ7C9YcrV/T5jC
rP62ZplEFw0GWxWIpea027rfJGImIbuTlxN1KMrsoX9o1ubtLTAJbfVruMLFNwZN
FPhixCjk9AZi5it/e5TRLhnYOnXSShjOPt7u9LdwMLXeRoKfDSxItE8CgYEA1fg9
0/f4jMoNwh02iH3o3m2wXFdMrLnIZy49N0Y1MeHaBJciWh5100HOolDQLfPGJCxS
YDnGZFkrywYBdsF6gH0ON5vpI+SSvD9G9H8l4sx+3JwVBxA48dEJ2TTHOP64hdlA
Ifdn0Zt1h3AfsPX9EwfdFd2e5ZPedI/UHuOzwWcCgYEAgFQY8Zb5bwQuqTeRd5qt
oB1rhi5xkevsRZ7KexS5pn8oUqpK/trY/Uh7bOL7LU0VIjChVwLPp1sLMN2iQZaf
eUW5+2iWKkcIXzFCmFHCKWMEC915OFYRcm7r/LlWxEKKMUwAsqvFOmAubA5KvMEJ
x0zcCF35DsSnr5T710LhXDcCgYEAhmHKMv5iE8oyqd8/CKpLPqcVRGlvtmtX+bWI
rNZjQljeXFOvN3o59dw2sqqelL2ti7pqYhTnDM8UOgYjlToefeQMsdAxtGEx5xi2
r4fLe42Df3pnmnAN05G95bTICnuv2CCBrtN7WKGSRuWcgb98mh8uMzVlPjqIVByg
1GWd17ECgYBIOD5JHzbUosTr57eTYNJANcLM0Srpfayx7+VUSo31cJEsMUYahOuZ
rHV0uUlnkx4h/uOlkFQvGfQgaiaRGPqHB68PBsP3PDkEGgs3VgvB48OClaSTiF3y
522JvbSkGun5WgcQRZUrSnqPUVW2628OAGtWPjznnlnHMZXKnNxzkQ==
-----END RSA PRIVATE KEY-----";
const RSA_N: &str = "yIm-CVCVrsvLax9dSFuoZ6O-RGn-k-EmoxynQWwWE8WAdyw0-bP_PICgmtn_0oCAsXkcAlUMX_u1FtZULokVox98kMGqPAO-tnZOhfTcjC5MB38NUJHF9PYePmjmWnoUDphb4qMVUIUfPaG0AZ29TgcGzIdOCvf0hBiVKNcD12ImADwaoGqs7KhSyXN7Di-ahVh3cgVlAj_L7FEyX5CKhNS0u3swhihoP4t47lHpJTUcFQ4KmE8cu5f4VWeIj27PnZkpFxJqo0RNiHFC2G1Ct-3lQLQW1oNpLYPBzVdHOIZ9ikMjj-W3E2QSBf-yr5NH-kh3jpJZ0_6m6OipwW0ayQ";

// ---- keys, sets and tokens ----

fn ed_a() -> EncodingKey {
    EncodingKey::from_ed_pem(ED_A_PEM.as_bytes()).unwrap()
}

fn ed_b() -> EncodingKey {
    EncodingKey::from_ed_pem(ED_B_PEM.as_bytes()).unwrap()
}

fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap()
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap()
}

fn ed_jwk(kid: &str, x: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"})
}

/// Without `alg`: the curve decides (ES256).
fn ec_jwk(kid: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": kid})
}

fn rsa_jwk(kid: &str, alg: Option<&str>) -> Value {
    let mut jwk = json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": kid, "use": "sig"});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn set(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// The standard set: Ed25519 `a`, P-256 `ec`, RSA `rsa` (RS256 only).
fn standard_keys() -> Vec<Value> {
    vec![
        ed_jwk("a", ED_A_X),
        ec_jwk("ec"),
        rsa_jwk("rsa", Some("RS256")),
    ]
}

fn now() -> i64 {
    claims::now()
}

fn base_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "exp": now() + 600,
        "iat": now(),
        "roles": ["admin", "dev"],
        "scope": "models:read tools:call",
    })
}

/// `base_claims` with `changes` applied (a `null` removes the claim).
fn claims_with(changes: Value) -> Value {
    let Value::Object(mut claims) = base_claims() else {
        unreachable!()
    };
    let Value::Object(changes) = changes else {
        panic!("changes must be an object")
    };
    for (name, value) in changes {
        if value.is_null() {
            claims.remove(&name);
        } else {
            claims.insert(name, value);
        }
    }
    Value::Object(claims)
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn ed_token(claims: &Value) -> String {
    sign(Algorithm::EdDSA, &ed_a(), Some("a"), claims)
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn config() -> Jwt {
    Jwt {
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into()],
        jwks_url: None,
        jwks_file: None,
        roles_claim: "roles".into(),
    }
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "strata-jwt-test-{}-{}.json",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }

    fn path(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn file_validator_with(config: Jwt, keys: &[Value]) -> JwtValidator {
    let file = TempFile::new(&set(keys));
    let config = Jwt {
        jwks_file: Some(file.path()),
        ..config
    };
    JwtValidator::new(&config, http()).unwrap()
}

fn file_validator() -> JwtValidator {
    file_validator_with(config(), &standard_keys())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}
