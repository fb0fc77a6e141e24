//! API keys on the ai layer: off when none are configured, otherwise every request needs one.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use strata_core::Secret;

use strata_testkit::jwt::{OTHER_KEY, SIGNING_KEY};

use crate::{gateway, json, send};

fn yaml() -> String {
    let hashed = Secret::new("sk-hashed").sha256_hex();
    format!(
        "auth:\n  keys:\n    - {{ name: team-a, key: sk-team-a }}\n    - {{ name: team-b, key: 'sha256:{hashed}' }}\nai:\n  providers:\n    - {{ name: mock, models: [m] }}\n"
    )
}

fn request(path: &str, header: Option<(&str, &str)>) -> Request<Body> {
    let body =
        json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "user", "content": "hi" }] });
    let mut builder = Request::post(path).header("content-type", "application/json");
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn requests_need_a_configured_key_when_keys_exist() {
    let app = gateway(&yaml());
    for (header, ok) in [
        (None, false),
        (Some(("authorization", "Bearer sk-wrong")), false),
        (Some(("authorization", "Bearer sk-team-a")), true),
        (Some(("x-api-key", "sk-team-a")), true),
        (Some(("authorization", "Bearer sk-hashed")), true),
        (
            Some((
                "authorization",
                &format!("Bearer {}", Secret::new("sk-hashed").sha256_hex()),
            )),
            false,
        ),
    ] {
        let (status, _, body) = send(&app, request("/v1/chat/completions", header)).await;
        if ok {
            assert_eq!(status, 200, "{header:?}");
        } else {
            assert_eq!(status, 401, "{header:?}");
            assert_eq!(json(&body)["error"]["code"], "invalid_api_key");
        }
    }
}

#[tokio::test]
async fn each_api_answers_401_in_its_own_shape() {
    let app = gateway(&yaml());
    let (status, _, body) = send(&app, request("/v1/messages", Some(("x-api-key", "nope")))).await;
    assert_eq!(status, 401);
    assert_eq!(json(&body)["error"]["type"], "authentication_error");
    let (status, _, _) = send(
        &app,
        request("/v1/messages", Some(("x-api-key", "sk-team-a"))),
    )
    .await;
    assert_eq!(status, 200);
    for path in [
        "/v1/responses",
        "/v1/embeddings",
        "/v1/messages/count_tokens",
    ] {
        let (status, _, _) = send(&app, request(path, None)).await;
        assert_eq!(status, 401, "{path}");
    }
    let models = Request::get("/v1/models").body(Body::empty()).unwrap();
    let (status, _, _) = send(&app, models).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn without_keys_the_layer_is_open() {
    let app = gateway("ai:\n  providers:\n    - { name: mock, models: [m] }\n");
    let (status, _, _) = send(&app, request("/v1/chat/completions", None)).await;
    assert_eq!(status, 200);
}

fn token(key: &str, aud: &str, roles: &[&str]) -> String {
    let now = strata_testkit::jwt::now();
    let claims = json!({ "iss": "https://idp.test", "sub": "dave", "aud": aud,
        "exp": now + 300, "iat": now, "roles": roles });
    strata_testkit::jwt::sign(key, &claims)
}

/// The ai layer shares the `auth` section: access tokens work as keys do, and their roles
/// decide the models.
#[tokio::test]
async fn access_tokens_are_accepted_with_their_roles() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = strata_testkit::jwt::write_jwks(dir.path());
    let app = gateway(&format!(
        "auth:\n  jwt: {{ issuer: 'https://idp.test', audiences: [strata], jwks_file: '{}' }}\n  roles:\n    analyst: {{ models: ['m'] }}\n    intern: {{ models: ['cheap'] }}\nai:\n  providers:\n    - {{ name: mock, models: [m, cheap] }}\n",
        jwks.display()
    ));
    let bearer = |t: &str| format!("Bearer {t}");
    let cases = [
        (token(SIGNING_KEY, "strata", &["analyst"]), 200),
        (token(SIGNING_KEY, "strata", &["intern"]), 403),
        (token(OTHER_KEY, "strata", &["analyst"]), 401),
        (token(SIGNING_KEY, "elsewhere", &["analyst"]), 401),
    ];
    for (token, expected) in cases {
        let value = bearer(&token);
        let (status, _, body) = send(
            &app,
            request("/v1/chat/completions", Some(("authorization", &value))),
        )
        .await;
        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = send(&app, request("/v1/chat/completions", None)).await;
    assert_eq!(status, 401);
}
