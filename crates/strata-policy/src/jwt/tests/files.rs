//! Key sets from files.

use super::*;

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
