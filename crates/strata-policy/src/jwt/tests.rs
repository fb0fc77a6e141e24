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

// ---- a minimal JWKS server ----

#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    cache_control: Option<String>,
}

/// Answers every request with the current [`Reply`] and counts the requests.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    reply: Arc<Mutex<Reply>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(keys: &[Value]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(Mutex::new(Reply {
            status: 200,
            body: set(keys),
            cache_control: None,
        }));
        let task = tokio::spawn({
            let hits = Arc::clone(&hits);
            let reply = Arc::clone(&reply);
            async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let hits = Arc::clone(&hits);
                    let reply = reply.lock().unwrap().clone();
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        hits.fetch_add(1, Ordering::SeqCst);
                        let cache_control = reply
                            .cache_control
                            .map(|v| format!("Cache-Control: {v}\r\n"))
                            .unwrap_or_default();
                        let response = format!(
                            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n{cache_control}\r\n{}",
                            reply.status,
                            reply.body.len(),
                            reply.body
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    });
                }
            }
        });
        Self {
            url,
            hits,
            reply,
            task,
        }
    }

    fn serve(&self, keys: &[Value]) {
        let mut reply = self.reply.lock().unwrap();
        reply.status = 200;
        reply.body = set(keys);
    }

    fn fail(&self, status: u16) {
        let mut reply = self.reply.lock().unwrap();
        reply.status = status;
        reply.body = "{\"error\": \"down\"}".into();
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) for the request count to reach `n`.
    async fn wait_for_hits(&self, n: usize) {
        for _ in 0..500 {
            if self.hits() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} JWKS requests, saw {}", self.hits());
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn url_validator(server: &JwksServer, timings: Timings) -> JwtValidator {
    let config = Jwt {
        jwks_url: Some(server.url.clone()),
        ..config()
    };
    JwtValidator::with_timings(&config, http(), timings).unwrap()
}

/// Timings short enough for tests to wait out.
fn quick_timings() -> Timings {
    Timings {
        unknown_key_interval: Duration::from_millis(300),
        retry_without_keys: Duration::from_millis(200),
        retry_stale: Duration::from_millis(200),
        default_max_age: Duration::from_millis(200),
        min_max_age: Duration::from_millis(200),
        max_max_age: Duration::from_secs(3600),
        fetch_timeout: Duration::from_secs(5),
    }
}

// ---- valid tokens and what they yield ----

#[tokio::test]
async fn a_valid_eddsa_token_yields_subject_roles_scopes_and_expiry() {
    let validator = file_validator();
    let claims = base_claims();
    let got = validator.validate(&ed_token(&claims), None).await.unwrap();
    assert_eq!(got.subject, "alice");
    assert_eq!(got.roles, ["admin", "dev"]);
    assert_eq!(got.scopes, ["models:read", "tools:call"]);
    assert_eq!(got.expires_at, claims["exp"].as_i64().unwrap());
    assert_eq!(got.raw, claims);
}

#[tokio::test]
async fn roles_from_a_nested_claim_path_and_scopes_from_scp() {
    let config = Jwt {
        roles_claim: "realm_access.roles".into(),
        ..config()
    };
    let validator = file_validator_with(config, &standard_keys());
    let claims = claims_with(json!({
        "roles": null,
        "scope": null,
        "realm_access": {"roles": ["operator", 7, "viewer", "operator"]},
        "scp": ["mcp:tools", "mcp:resources"],
    }));
    let token = sign(Algorithm::ES256, &ec(), Some("ec"), &claims);
    let got = validator.validate(&token, None).await.unwrap();
    // Non-strings and repeats are dropped.
    assert_eq!(got.roles, ["operator", "viewer"]);
    assert_eq!(got.scopes, ["mcp:tools", "mcp:resources"]);
}

#[tokio::test]
async fn roles_from_a_space_or_comma_separated_string_and_scp_as_a_string() {
    let validator = file_validator();
    let claims = claims_with(json!({
        "roles": "admin, ops  dev,,",
        "scope": null,
        "scp": "read write",
    }));
    let got = validator.validate(&ed_token(&claims), None).await.unwrap();
    assert_eq!(got.roles, ["admin", "ops", "dev"]);
    assert_eq!(got.scopes, ["read", "write"]);
}

#[tokio::test]
async fn a_roles_claim_name_with_dots_is_first_taken_literally() {
    let config = Jwt {
        roles_claim: "https://strata.example/roles".into(),
        ..config()
    };
    let validator = file_validator_with(config, &standard_keys());
    let claims = claims_with(json!({"https://strata.example/roles": ["billing"]}));
    let got = validator.validate(&ed_token(&claims), None).await.unwrap();
    assert_eq!(got.roles, ["billing"]);
}

#[tokio::test]
async fn absent_roles_and_scopes_are_empty() {
    let validator = file_validator();
    let claims = claims_with(json!({"roles": null, "scope": null}));
    let got = validator.validate(&ed_token(&claims), None).await.unwrap();
    assert!(got.roles.is_empty());
    assert!(got.scopes.is_empty());
}

#[tokio::test]
async fn rsa_keys_verify_rs256_and_the_jwk_alg_restricts_them() {
    let validator = file_validator();
    let claims = base_claims();
    let rs256 = sign(Algorithm::RS256, &rsa(), Some("rsa"), &claims);
    assert_eq!(
        validator.validate(&rs256, None).await.unwrap().subject,
        "alice"
    );
    // The JWK says RS256: a PS256 token by the same key is refused.
    let ps256 = sign(Algorithm::PS256, &rsa(), Some("rsa"), &claims);
    assert_eq!(
        validator.validate(&ps256, None).await,
        Err(JwtError::BadSignature)
    );
    // Without `alg` in the JWK, every RSA algorithm is admitted.
    let validator = file_validator_with(config(), &[rsa_jwk("rsa", None)]);
    assert!(validator.validate(&ps256, None).await.is_ok());
    let rs512 = sign(Algorithm::RS512, &rsa(), Some("rsa"), &claims);
    assert!(validator.validate(&rs512, None).await.is_ok());
}

#[tokio::test]
async fn fractional_numeric_dates_are_accepted() {
    let validator = file_validator();
    let exp = now() + 600;
    let claims = claims_with(json!({"exp": exp as f64 + 0.5, "iat": now() as f64 - 0.25}));
    let got = validator.validate(&ed_token(&claims), None).await.unwrap();
    assert_eq!(got.expires_at, exp);
}

// ---- keys ----

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let validator = file_validator();
    let claims = base_claims();
    // Names key `a` but is signed by key b.
    let forged = sign(Algorithm::EdDSA, &ed_b(), Some("a"), &claims);
    assert_eq!(
        validator.validate(&forged, None).await,
        Err(JwtError::BadSignature)
    );
    // Names a key the set lacks.
    let unknown = sign(Algorithm::EdDSA, &ed_b(), Some("b"), &claims);
    assert_eq!(
        validator.validate(&unknown, None).await,
        Err(JwtError::UnknownKey)
    );
    // A payload changed after signing.
    let token = ed_token(&claims);
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let altered = b64(&claims_with(json!({"sub": "mallory"})).to_string());
    let tampered = format!("{header}.{altered}.{signature}");
    assert_eq!(
        validator.validate(&tampered, None).await,
        Err(JwtError::BadSignature)
    );
}

#[tokio::test]
async fn a_key_does_not_verify_algorithms_of_another_type() {
    let validator = file_validator();
    // ES256, naming the Ed25519 key.
    let token = sign(Algorithm::ES256, &ec(), Some("a"), &base_claims());
    assert_eq!(
        validator.validate(&token, None).await,
        Err(JwtError::BadSignature)
    );
}

#[tokio::test]
async fn without_kid_the_only_key_of_the_algorithm_is_used() {
    let validator = file_validator();
    let claims = base_claims();
    let token = sign(Algorithm::EdDSA, &ed_a(), None, &claims);
    assert!(validator.validate(&token, None).await.is_ok());
    let token = sign(Algorithm::ES256, &ec(), None, &claims);
    assert!(validator.validate(&token, None).await.is_ok());
    // Two Ed25519 keys: which one is not known.
    let validator = file_validator_with(config(), &[ed_jwk("a", ED_A_X), ed_jwk("b", ED_B_X)]);
    let token = sign(Algorithm::EdDSA, &ed_a(), None, &claims);
    assert_eq!(
        validator.validate(&token, None).await,
        Err(JwtError::UnknownKey)
    );
    // No key of the algorithm at all.
    let validator = file_validator_with(config(), &[ed_jwk("a", ED_A_X)]);
    let token = sign(Algorithm::ES256, &ec(), None, &claims);
    assert_eq!(
        validator.validate(&token, None).await,
        Err(JwtError::UnknownKey)
    );
}

// ---- time ----

#[tokio::test]
async fn expiry_is_checked_with_a_minute_of_leeway() {
    let validator = file_validator();
    let expired = claims_with(json!({"exp": now() - 120, "iat": now() - 900}));
    assert_eq!(
        validator.validate(&ed_token(&expired), None).await,
        Err(JwtError::Expired)
    );
    let just_expired = claims_with(json!({"exp": now() - 20, "iat": now() - 900}));
    assert!(
        validator
            .validate(&ed_token(&just_expired), None)
            .await
            .is_ok()
    );
    let no_exp = claims_with(json!({"exp": null}));
    assert!(matches!(
        validator.validate(&ed_token(&no_exp), None).await,
        Err(JwtError::Malformed(_))
    ));
    let text_exp = claims_with(json!({"exp": "tomorrow"}));
    assert!(matches!(
        validator.validate(&ed_token(&text_exp), None).await,
        Err(JwtError::Malformed(_))
    ));
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_refused() {
    let validator = file_validator();
    let nbf = claims_with(json!({"nbf": now() + 300}));
    assert_eq!(
        validator.validate(&ed_token(&nbf), None).await,
        Err(JwtError::NotYetValid)
    );
    let iat = claims_with(json!({"iat": now() + 300}));
    assert_eq!(
        validator.validate(&ed_token(&iat), None).await,
        Err(JwtError::NotYetValid)
    );
    let skewed = claims_with(json!({"nbf": now() + 20, "iat": now() + 20}));
    assert!(validator.validate(&ed_token(&skewed), None).await.is_ok());
}

// ---- issuer and audience ----

#[tokio::test]
async fn the_issuer_must_match_exactly() {
    let validator = file_validator();
    for iss in [
        json!("https://evil.example.com"),
        json!(format!("{ISSUER}/")),
        json!(null),
    ] {
        let claims = claims_with(json!({ "iss": iss }));
        assert_eq!(
            validator.validate(&ed_token(&claims), None).await,
            Err(JwtError::WrongIssuer),
            "iss {iss}"
        );
    }
}

#[tokio::test]
async fn the_audience_must_name_a_configured_audience() {
    let validator = file_validator();
    let listed = claims_with(json!({"aud": ["other", AUDIENCE]}));
    assert!(validator.validate(&ed_token(&listed), None).await.is_ok());
    for aud in [json!("other"), json!(["a", "b"]), json!(null), json!(42)] {
        let claims = claims_with(json!({ "aud": aud }));
        assert_eq!(
            validator.validate(&ed_token(&claims), None).await,
            Err(JwtError::WrongAudience),
            "aud {aud}"
        );
    }
}

#[tokio::test]
async fn the_resource_argument_is_accepted_as_an_audience() {
    let validator = file_validator();
    let claims = claims_with(json!({ "aud": RESOURCE }));
    let token = ed_token(&claims);
    assert!(validator.validate(&token, Some(RESOURCE)).await.is_ok());
    assert_eq!(
        validator.validate(&token, None).await,
        Err(JwtError::WrongAudience)
    );
    assert_eq!(
        validator
            .validate(&token, Some("https://gateway.example.com/other"))
            .await,
        Err(JwtError::WrongAudience)
    );
    // The configured audiences still count when a resource is given.
    let configured = ed_token(&base_claims());
    assert!(
        validator
            .validate(&configured, Some(RESOURCE))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn with_no_audience_accepted_a_token_must_not_carry_aud() {
    let config = Jwt {
        audiences: Vec::new(),
        ..config()
    };
    let validator = file_validator_with(config, &standard_keys());
    let without = claims_with(json!({"aud": null}));
    assert!(validator.validate(&ed_token(&without), None).await.is_ok());
    assert_eq!(
        validator.validate(&ed_token(&base_claims()), None).await,
        Err(JwtError::WrongAudience)
    );
}

#[tokio::test]
async fn sub_is_required() {
    let validator = file_validator();
    for sub in [json!(null), json!(""), json!(12)] {
        let claims = claims_with(json!({ "sub": sub }));
        assert!(
            matches!(
                validator.validate(&ed_token(&claims), None).await,
                Err(JwtError::Malformed(_))
            ),
            "sub {sub}"
        );
    }
}

// ---- refused on sight ----

#[tokio::test]
async fn alg_none_is_refused() {
    let validator = file_validator();
    let payload = b64(&base_claims().to_string());
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"none","kid":"a"}"#,
        r#"{"alg":"None"}"#,
    ] {
        let token = format!("{}.{payload}.", b64(header));
        let err = validator.validate(&token, None).await.unwrap_err();
        assert!(matches!(err, JwtError::Malformed(_)), "{header}: {err:?}");
        // Even with some signature attached.
        let token = format!("{}.{payload}.{}", b64(header), b64("sig"));
        assert!(matches!(
            validator.validate(&token, None).await,
            Err(JwtError::Malformed(_))
        ));
    }
}

#[tokio::test]
async fn hmac_tokens_are_refused_even_keyed_with_the_public_key() {
    let validator = file_validator();
    let claims = base_claims();
    // The classic confusion: HS256 keyed with the public key's bytes (or its JWK text).
    let public = URL_SAFE_NO_PAD.decode(ED_A_X).unwrap();
    let jwk_text = ed_jwk("a", ED_A_X).to_string();
    for (alg, secret) in [
        (Algorithm::HS256, public.as_slice()),
        (Algorithm::HS384, jwk_text.as_bytes()),
        (Algorithm::HS512, b"secret".as_slice()),
    ] {
        for kid in [Some("a"), None] {
            let token = sign(alg, &EncodingKey::from_secret(secret), kid, &claims);
            let err = validator.validate(&token, None).await.unwrap_err();
            assert!(matches!(err, JwtError::Malformed(_)), "{alg:?}: {err:?}");
        }
    }
}

#[tokio::test]
async fn symmetric_keys_in_the_set_are_ignored() {
    let secret = b"shared-secret-shared-secret-1234";
    let oct =
        json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret), "kid": "h", "alg": "HS256"});
    let validator = file_validator_with(config(), &[oct, ed_jwk("a", ED_A_X)]);
    let token = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(secret),
        Some("h"),
        &base_claims(),
    );
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(JwtError::Malformed(_))
    ));
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let validator = file_validator();
    let good = ed_token(&base_claims());
    let (header, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let cases = [
        String::new(),
        "not-a-token".into(),
        "a.b".into(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.{signature}.x"),
        format!("{header}.{payload}.{signature}.x.y"),
        format!("%%%.{payload}.{signature}"),
        format!("{}.{payload}.{signature}", b64("not json")),
        format!("{}.{payload}.{signature}", b64("[1,2]")),
        format!("{}.{payload}.{signature}", b64(r#"{"kid":"a"}"#)),
        format!("{}.{payload}.{signature}", b64(r#"{"alg":7}"#)),
        format!(
            "{}.{payload}.{signature}",
            b64(r#"{"alg":"EdDSA","kid":5}"#)
        ),
        format!(
            "{}.{payload}.{signature}",
            b64(r#"{"alg":"EdDSA","kid":"a","crit":["exp"]}"#)
        ),
        format!("{header}.{payload}.%%%"),
        format!("{header}.{payload}."),
        "x".repeat(40_000),
    ];
    for token in &cases {
        let err = validator.validate(token, None).await.unwrap_err();
        assert!(
            matches!(err, JwtError::Malformed(_)),
            "{token:.60}: {err:?}"
        );
    }
    // A payload that is not a JSON object, correctly signed.
    let array = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &json!([1, 2]), &ed_a());
    assert!(matches!(
        validator.validate(&array.unwrap(), None).await,
        Err(JwtError::Malformed(_))
    ));
}

#[tokio::test]
async fn error_messages_do_not_quote_the_token() {
    let validator = file_validator();
    let claims = claims_with(json!({"sub": "secret-subject-x", "exp": "secret-exp-x"}));
    let token = ed_token(&claims);
    let payload = token.split('.').nth(1).unwrap().to_owned();
    let long_alg = format!(
        "{}.{payload}.{}",
        b64(r#"{"alg":"secret-alg-value-that-is-long"}"#),
        b64("s")
    );
    for token in [token, long_alg, format!("{payload}.{payload}.{payload}")] {
        let message = validator
            .validate(&token, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(!message.contains("secret-"), "{message}");
        assert!(!message.contains(&payload), "{message}");
    }
}

// ---- key sets from files ----

#[test]
fn a_jwks_file_is_loaded_at_construction() {
    let file = TempFile::new(&set(&standard_keys()));
    let config = Jwt {
        jwks_file: Some(file.path()),
        ..config()
    };
    let validator = JwtValidator::new(&config, http()).unwrap();
    drop(file);
    // Read once: the file is gone, the keys stay.
    let token = ed_token(&base_claims());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(validator.validate(&token, None)).is_ok());
}

#[test]
fn bad_jwks_files_are_errors() {
    let missing = Jwt {
        jwks_file: Some("/nonexistent/strata/jwks.json".into()),
        ..config()
    };
    let err = JwtValidator::new(&missing, http()).unwrap_err();
    assert!(
        matches!(&err, JwtError::Jwks(m) if m.contains("/nonexistent/strata/jwks.json")),
        "{err:?}"
    );
    for contents in [
        "not json".to_owned(),
        "{}".into(),
        set(&[]),
        // Nothing usable: a symmetric key, an encryption key, an unsupported curve, a
        // malformed Ed25519 key.
        set(&[
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}),
            json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "use": "enc", "kid": "e"}),
            json!({"kty": "EC", "crv": "P-521", "x": EC_X, "y": EC_Y, "kid": "p521"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"}),
        ]),
    ] {
        let file = TempFile::new(&contents);
        let config = Jwt {
            jwks_file: Some(file.path()),
            ..config()
        };
        assert!(
            matches!(JwtValidator::new(&config, http()), Err(JwtError::Jwks(_))),
            "{contents}"
        );
    }
    // The error says why each key was left out.
    let err = KeySet::parse(
        set(&[json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"})]).as_bytes(),
    )
    .unwrap_err();
    assert!(err.contains("short: an Ed25519 key is 32 bytes"), "{err}");
}

#[test]
fn unusable_keys_are_left_out_of_a_set() {
    let keys = KeySet::parse(
        set(&[
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}),
            json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "use": "enc", "kid": "e"}),
            json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "alg": "RSA-OAEP", "kid": "o"}),
            json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "key_ops": ["encrypt"], "kid": "k"}),
            json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "alg": "ES384", "kid": "m"}),
            json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": ED_A_X, "kid": "off-curve"}),
            json!({"kty": "XYZ", "kid": "x"}),
            json!({"kty": "RSA", "n": &RSA_N[..170], "e": "AQAB", "kid": "rsa1016"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([7u8; 33]), "kid": "long"}),
            json!({"kty": "EC", "crv": "P-384", "x": EC_X, "y": EC_Y, "kid": "p384-short"}),
            ed_jwk("a", ED_A_X),
            ec_jwk("ec"),
        ])
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(keys.len(), 2);
}

#[test]
fn the_config_must_name_exactly_one_key_source() {
    let neither = config();
    assert!(matches!(
        JwtValidator::new(&neither, http()),
        Err(JwtError::Jwks(_))
    ));
    let both = Jwt {
        jwks_url: Some("https://idp.example.com/jwks".into()),
        jwks_file: Some("jwks.json".into()),
        ..config()
    };
    assert!(matches!(
        JwtValidator::new(&both, http()),
        Err(JwtError::Jwks(_))
    ));
    for url in ["not a url", "ftp://idp.example.com/jwks"] {
        let bad = Jwt {
            jwks_url: Some(url.into()),
            ..config()
        };
        assert!(matches!(
            JwtValidator::new(&bad, http()),
            Err(JwtError::Jwks(_))
        ));
    }
}

#[test]
fn debug_output_shows_no_key_material() {
    let validator = file_validator();
    let shown = format!("{validator:?}");
    assert!(shown.contains(ISSUER), "{shown}");
    for secret in [ED_A_X, EC_X, EC_Y, &RSA_N[..40]] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn validation_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let validator = file_validator();
    assert_send(validator.validate("a.b.c", None));
}

// ---- key sets from a URL ----

#[tokio::test]
async fn a_jwks_url_is_fetched_on_first_use_and_cached() {
    let server = JwksServer::start(&standard_keys()).await;
    let validator = url_validator(&server, Timings::default());
    assert_eq!(server.hits(), 0);
    let token = ed_token(&base_claims());
    for _ in 0..3 {
        assert!(validator.validate(&token, None).await.is_ok());
    }
    // A clone shares the cache.
    assert!(validator.clone().validate(&token, None).await.is_ok());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn concurrent_first_uses_fetch_once() {
    let server = JwksServer::start(&standard_keys()).await;
    let validator = url_validator(&server, Timings::default());
    let token = ed_token(&base_claims());
    let results =
        futures_util::future::join_all((0..16).map(|_| validator.validate(&token, None))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn prefetch_loads_the_set() {
    let server = JwksServer::start(&standard_keys()).await;
    let validator = url_validator(&server, Timings::default());
    validator.prefetch().await.unwrap();
    assert_eq!(server.hits(), 1);
    assert!(
        validator
            .validate(&ed_token(&base_claims()), None)
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1);
    assert!(file_validator().prefetch().await.is_ok());
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_is_rate_limited() {
    let server = JwksServer::start(&[ed_jwk("a", ED_A_X)]).await;
    let validator = url_validator(&server, Timings::default());
    let claims = base_claims();
    assert!(validator.validate(&ed_token(&claims), None).await.is_ok());
    assert_eq!(server.hits(), 1);

    // The provider rotates in key b; a token signed with it makes the validator refetch.
    server.serve(&[ed_jwk("a", ED_A_X), ed_jwk("b", ED_B_X)]);
    let rotated = sign(Algorithm::EdDSA, &ed_b(), Some("b"), &claims);
    assert!(validator.validate(&rotated, None).await.is_ok());
    assert_eq!(server.hits(), 2);
    assert!(validator.validate(&rotated, None).await.is_ok());
    assert_eq!(server.hits(), 2);

    // Forged kids within 30 s do not reach the provider.
    for kid in ["c", "d", "e"] {
        let forged = sign(Algorithm::EdDSA, &ed_b(), Some(kid), &claims);
        assert_eq!(
            validator.validate(&forged, None).await,
            Err(JwtError::UnknownKey)
        );
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_unknown_kid_rate_limit_lapses() {
    let server = JwksServer::start(&[ed_jwk("a", ED_A_X)]).await;
    let timings = Timings {
        unknown_key_interval: Duration::from_millis(500),
        ..Timings::default()
    };
    let validator = url_validator(&server, timings);
    let claims = base_claims();
    let forged = |kid| sign(Algorithm::EdDSA, &ed_b(), Some(kid), &claims);
    assert_eq!(
        validator.validate(&forged("c"), None).await,
        Err(JwtError::UnknownKey)
    );
    // The first fetch, then a refetch for `c`.
    assert_eq!(server.hits(), 2);
    assert_eq!(
        validator.validate(&forged("d"), None).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(server.hits(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.serve(&[ed_jwk("a", ED_A_X), ed_jwk("e", ED_B_X)]);
    assert!(validator.validate(&forged("e"), None).await.is_ok());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_stale_set_is_refreshed_in_the_background() {
    let server = JwksServer::start(&[ed_jwk("a", ED_A_X)]).await;
    let validator = url_validator(&server, quick_timings());
    let claims = base_claims();
    let token = ed_token(&claims);
    assert!(validator.validate(&token, None).await.is_ok());
    assert_eq!(server.hits(), 1);

    // The new set is to be cached for an hour.
    server.serve(&[ed_jwk("a", ED_A_X), ed_jwk("b", ED_B_X)]);
    server.reply.lock().unwrap().cache_control = Some("max-age=3600".into());
    tokio::time::sleep(Duration::from_millis(250)).await;
    // The stale set still answers; a refresh starts behind it.
    assert!(validator.validate(&token, None).await.is_ok());
    server.wait_for_hits(2).await;
    // The refreshed set knows b without another request (a token naming b while the
    // refresh is still under way waits for it rather than fetching again).
    let rotated = sign(Algorithm::EdDSA, &ed_b(), Some("b"), &claims);
    assert!(validator.validate(&rotated, None).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_last_good_set_stays_while_refreshes_fail() {
    let server = JwksServer::start(&[ed_jwk("a", ED_A_X)]).await;
    let validator = url_validator(&server, quick_timings());
    let claims = base_claims();
    let token = ed_token(&claims);
    assert!(validator.validate(&token, None).await.is_ok());

    server.fail(503);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(validator.validate(&token, None).await.is_ok());
    server.wait_for_hits(2).await;
    // A failed refresh does not clear the set; an unknown kid stays unknown.
    let unknown = sign(Algorithm::EdDSA, &ed_b(), Some("b"), &claims);
    assert_eq!(
        validator.validate(&unknown, None).await,
        Err(JwtError::UnknownKey)
    );
    assert!(validator.validate(&token, None).await.is_ok());

    // Once the provider is back, the next refresh takes.
    server.serve(&[ed_jwk("a", ED_A_X), ed_jwk("b", ED_B_X)]);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(validator.validate(&token, None).await.is_ok());
    let before = server.hits();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut ok = false;
    for _ in 0..50 {
        if validator.validate(&unknown, None).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "key b never appeared ({before} requests)");
}

#[tokio::test]
async fn an_unreachable_or_failing_jwks_url_is_a_jwks_error() {
    let server = JwksServer::start(&[]).await;
    server.fail(500);
    let validator = url_validator(&server, Timings::default());
    let token = ed_token(&base_claims());
    let err = validator.validate(&token, None).await.unwrap_err();
    assert!(
        matches!(&err, JwtError::Jwks(m) if m.contains("500")),
        "{err:?}"
    );
    // Retried no sooner than 5 s later: the same error meanwhile, without a request.
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(JwtError::Jwks(_))
    ));
    assert_eq!(server.hits(), 1);

    // A set with no usable key counts as a failure too.
    server.serve(&[json!({"kty": "oct", "k": "c2VjcmV0"})]);
    let validator = url_validator(&server, Timings::default());
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(JwtError::Jwks(_))
    ));

    // Nothing listening.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = Jwt {
        jwks_url: Some(format!("http://127.0.0.1:{port}/jwks")),
        ..config()
    };
    let validator = JwtValidator::new(&config, http()).unwrap();
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(JwtError::Jwks(_))
    ));
}

#[tokio::test]
async fn a_first_fetch_is_retried_after_a_failure() {
    let server = JwksServer::start(&[]).await;
    server.fail(502);
    let validator = url_validator(&server, quick_timings());
    let token = ed_token(&base_claims());
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(JwtError::Jwks(_))
    ));
    server.serve(&[ed_jwk("a", ED_A_X)]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(validator.validate(&token, None).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn cache_control_max_age_is_honoured() {
    let server = JwksServer::start(&[ed_jwk("a", ED_A_X)]).await;
    server.reply.lock().unwrap().cache_control = Some("public, max-age=3600".into());
    // A floor of 200 ms would make the set stale quickly without the header.
    let validator = url_validator(&server, quick_timings());
    let token = ed_token(&base_claims());
    assert!(validator.validate(&token, None).await.is_ok());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(validator.validate(&token, None).await.is_ok());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.hits(), 1);
}

#[test]
fn cache_max_age_parsing_and_bounds() {
    let timings = Timings::default();
    let max_age = |value: Option<&'static str>| {
        cache_max_age(value.map(HeaderValue::from_static).as_ref(), &timings).as_secs()
    };
    assert_eq!(max_age(None), 600);
    assert_eq!(max_age(Some("max-age=120")), 120);
    assert_eq!(
        max_age(Some("public, Max-Age=\"300\", must-revalidate")),
        300
    );
    assert_eq!(max_age(Some("max-age=5")), 60);
    assert_eq!(max_age(Some("max-age=9999999")), 86_400);
    assert_eq!(max_age(Some("no-store")), 60);
    assert_eq!(max_age(Some("no-cache, max-age=900")), 60);
    assert_eq!(max_age(Some("max-age=soon")), 600);
    assert_eq!(max_age(Some("private")), 600);
}

// ---- arbitrary input ----

static FUZZ_VALIDATOR: LazyLock<JwtValidator> = LazyLock::new(file_validator);

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_strings_are_refused(token in "\\PC{0,300}") {
        prop_assert!(block_on(FUZZ_VALIDATOR.validate(&token, None)).is_err());
    }

    #[test]
    fn arbitrary_three_part_tokens_are_refused(
        header in "[A-Za-z0-9_-]{0,60}",
        payload in "[A-Za-z0-9_-]{0,120}",
        signature in "[A-Za-z0-9_-]{0,90}",
        alg in prop::sample::select(vec!["EdDSA", "ES256", "RS256", "PS512", "HS256", "none"]),
    ) {
        let v = &*FUZZ_VALIDATOR;
        let raw = format!("{header}.{payload}.{signature}");
        prop_assert!(block_on(v.validate(&raw, None)).is_err());
        let header = b64(&format!(r#"{{"alg":"{alg}","kid":"a"}}"#));
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(block_on(v.validate(&token, None)).is_err());
    }
}
