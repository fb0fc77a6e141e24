//! Tokens refused on sight.

use super::*;

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
