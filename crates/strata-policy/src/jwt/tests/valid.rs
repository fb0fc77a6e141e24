//! Valid tokens, keys, time, issuer and audience.

use super::*;

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
