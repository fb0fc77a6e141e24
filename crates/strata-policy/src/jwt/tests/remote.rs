//! Key sets from a URL: caching, refresh, rotation and refetch limits.

use super::server::*;
use super::*;

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
