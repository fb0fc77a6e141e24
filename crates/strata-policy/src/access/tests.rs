#![allow(clippy::unwrap_used)]

use serde_json::json;
use strata_config::Auth;

use super::*;

fn access(yaml: &str) -> Access {
    let config = strata_config::load_str(yaml, "test.yaml", &|_| None).unwrap();
    Access::new(&config.auth).unwrap()
}

const ROLES: &str = "
auth:
  roles:
    reader:
      tools: [\"dev/read_*\", \"dev/search\"]
      prompts: [\"dev/*\"]
      resources: [\"dev/file:///docs/*\"]
    no_secrets:
      deny: { tools: [\"dev/read_secret*\"], resources: [\"dev/file:///docs/secret*\"] }
    writer:
      rules:
        - { tools: [\"dev/write_file\"], when: \"args.path.startsWith('/tmp/')\" }
        - { tools: [\"dev/*\"], when: \"has(args.force) && args.force\", effect: deny }
    models_only: { models: [\"gpt-*\"] }
";

fn who<'a>(roles: &'a [String]) -> Subject<'a> {
    Subject {
        name: "alice",
        roles,
    }
}

fn roles(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn roles_grant_by_server_qualified_globs() {
    let a = access(ROLES);
    let r = roles(&["reader"]);
    assert!(a.permits(&who(&r), "dev", Item::Tool, "read_file", &json!({})));
    assert!(a.permits(&who(&r), "dev", Item::Tool, "search", &json!({})));
    assert!(!a.permits(&who(&r), "dev", Item::Tool, "write_file", &json!({})));
    assert!(!a.permits(&who(&r), "prod", Item::Tool, "read_file", &json!({})));
    assert!(a.permits(&who(&r), "dev", Item::Prompt, "greet", &json!({})));
    assert!(a.visible(&who(&r), "dev", Item::Resource, "file:///docs/a.md"));
    assert!(!a.visible(&who(&r), "dev", Item::Resource, "file:///etc/passwd"));
}

#[test]
fn deny_wins_over_any_grant() {
    let a = access(ROLES);
    let both = roles(&["reader", "no_secrets"]);
    assert!(!a.permits(&who(&both), "dev", Item::Tool, "read_secret", &json!({})));
    assert!(!a.visible(&who(&both), "dev", Item::Tool, "read_secrets"));
    assert!(a.visible(&who(&both), "dev", Item::Tool, "read_file"));
    assert!(!a.visible(&who(&both), "dev", Item::Resource, "file:///docs/secret.md"));
}

#[test]
fn conditions_see_the_arguments_and_errors_never_open_access() {
    let a = access(ROLES);
    let w = roles(&["writer"]);
    // Listed, since some arguments allow it; called only with those.
    assert!(a.visible(&who(&w), "dev", Item::Tool, "write_file"));
    assert!(a.permits(
        &who(&w),
        "dev",
        Item::Tool,
        "write_file",
        &json!({ "path": "/tmp/x" })
    ));
    assert!(!a.permits(
        &who(&w),
        "dev",
        Item::Tool,
        "write_file",
        &json!({ "path": "/etc/x" })
    ));
    // A missing argument: the allow rule does not hold.
    assert!(!a.permits(&who(&w), "dev", Item::Tool, "write_file", &json!({})));
    // A deny rule that holds wins; one that cannot be evaluated counts as holding.
    let rw = roles(&["reader", "writer"]);
    assert!(a.permits(
        &who(&rw),
        "dev",
        Item::Tool,
        "read_file",
        &json!({ "force": false })
    ));
    assert!(!a.permits(
        &who(&rw),
        "dev",
        Item::Tool,
        "read_file",
        &json!({ "force": true })
    ));
    assert!(!a.permits(
        &who(&rw),
        "dev",
        Item::Tool,
        "read_file",
        &json!({ "force": "yes" })
    ));
}

#[test]
fn the_principal_is_in_the_condition() {
    let a = access(
        "auth:\n  roles:\n    own:\n      rules:\n        - { tools: [\"dev/*\"], when: \"principal.name == 'alice' && 'own' in principal.roles && server == 'dev' && name == 'x'\" }\n",
    );
    let r = roles(&["own"]);
    assert!(a.permits(&who(&r), "dev", Item::Tool, "x", &json!({})));
    let bob = Subject {
        name: "bob",
        roles: &r,
    };
    assert!(!a.permits(&bob, "dev", Item::Tool, "x", &json!({})));
}

#[test]
fn without_mcp_grants_nothing_is_restricted_and_with_them_nothing_is_implied() {
    let none = Access::new(&Auth::default()).unwrap();
    assert!(!none.enabled());
    assert!(none.permits(&who(&[]), "dev", Item::Tool, "anything", &json!({})));
    let models = access("auth:\n  roles:\n    m: { models: [\"gpt-*\"] }\n");
    assert!(!models.enabled());
    let a = access(ROLES);
    assert!(a.enabled());
    for r in [roles(&[]), roles(&["models_only"]), roles(&["unknown"])] {
        assert!(!a.visible(&who(&r), "dev", Item::Tool, "read_file"));
        assert!(!a.permits(&who(&r), "dev", Item::Tool, "read_file", &json!({})));
    }
}
