//! Hot reload: a changed file is validated and swapped in; an invalid edit is logged with its
//! errors and the old config keeps serving; SIGHUP reloads too.

use std::time::Duration;

use crate::harness::{Stack, eventually};

fn providers(models: &str) -> String {
    format!(
        "admin:\n  key: ${{STRATA_TEST_ADMIN_KEY}}\nai:\n  providers:\n    - name: mock\n      models: [{models}]\n"
    )
}

async fn effective_config(stack: &Stack) -> serde_json::Value {
    reqwest::Client::new()
        .get(stack.ports.admin_url("/admin/api/config"))
        .bearer_auth("adm-secret-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metrics(stack: &Stack) -> String {
    reqwest::get(stack.ports.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn edits_are_applied_invalid_edits_are_rejected_and_sighup_reloads() {
    let env = [("STRATA_TEST_ADMIN_KEY", "adm-secret-1")];
    let stack = Stack::start(&providers("alpha"), &[], &env).await;

    // The admin API wants the key, and never shows secrets.
    let anonymous = reqwest::get(stack.ports.admin_url("/admin/api/config"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body = effective_config(&stack).await;
    assert_eq!(body["generation"], 1);
    assert_eq!(
        body["config"]["ai"]["providers"][0]["models"],
        serde_json::json!(["alpha"])
    );
    assert_eq!(body["config"]["admin"]["key"], "********");
    assert!(!body.to_string().contains("adm-secret-1"));

    // A valid edit is applied.
    stack.write_config(&providers("alpha, beta"));
    let body = eventually(Duration::from_secs(10), "generation 2", || async {
        let body = effective_config(&stack).await;
        (body["generation"] == 2).then_some(body)
    })
    .await;
    assert_eq!(
        body["config"]["ai"]["providers"][0]["models"],
        serde_json::json!(["alpha", "beta"])
    );

    // An invalid edit is rejected with its errors; the old config keeps serving.
    stack.write_config(&format!("{}      fallback: nowhere\n", providers("gamma")));
    eventually(
        Duration::from_secs(10),
        "the rejection in the metrics",
        || async {
            metrics(&stack)
                .await
                .contains(r#"strata_config_reloads_total{result="invalid"} 1"#)
                .then_some(())
        },
    )
    .await;
    let logs = stack.process.logs();
    assert!(logs.contains("config reload rejected"), "{logs}");
    assert!(
        logs.contains("ai.providers[0].fallback: unknown provider `nowhere`"),
        "{logs}"
    );
    let body = effective_config(&stack).await;
    assert_eq!(body["generation"], 2);
    assert_eq!(
        body["config"]["ai"]["providers"][0]["models"],
        serde_json::json!(["alpha", "beta"])
    );
    assert_eq!(stack.get_json("/readyz").await.0, 200);

    // SIGHUP reloads without a file change: the same invalid file is rejected once more.
    stack.process.signal("HUP");
    eventually(Duration::from_secs(10), "the SIGHUP reload", || async {
        metrics(&stack)
            .await
            .contains(r#"strata_config_reloads_total{result="invalid"} 2"#)
            .then_some(())
    })
    .await;

    // Fixing the file brings the new config in.
    stack.write_config(&providers("gamma"));
    let body = eventually(Duration::from_secs(10), "generation 3", || async {
        let body = effective_config(&stack).await;
        (body["generation"] == 3).then_some(body)
    })
    .await;
    assert_eq!(
        body["config"]["ai"]["providers"][0]["models"],
        serde_json::json!(["gamma"])
    );
    assert!(metrics(&stack).await.contains("strata_config_generation 3"));
}

#[tokio::test]
async fn a_reload_changes_what_the_ai_layer_serves() {
    let one = "ai:\n  providers:\n    - { name: mock, models: [model-one] }\n";
    let stack = Stack::start(one, &[], &[]).await;
    let chat = |model: &str| {
        let url = format!("http://127.0.0.1:{}/v1/chat/completions", stack.ports.ai);
        let body =
            serde_json::json!({ "model": model, "messages": [{ "role": "user", "content": "x" }] });
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(chat("model-one").await, 200);
    assert_eq!(chat("model-two").await, 404);

    stack.write_config("ai:\n  providers:\n    - { name: mock, models: [model-two] }\n");
    eventually(
        Duration::from_secs(10),
        "model-two to be served",
        || async { (chat("model-two").await == 200).then_some(()) },
    )
    .await;
    assert_eq!(chat("model-one").await, 404);
}

#[tokio::test]
async fn a_save_by_rename_is_seen_too() {
    // Editors (and Kubernetes ConfigMaps) replace the file instead of writing into it.
    let env = [("STRATA_TEST_ADMIN_KEY", "adm-secret-1")];
    let stack = Stack::start(&providers("alpha"), &[], &env).await;
    let replacement = stack.dir.path().join(".strata.yaml.swp");
    std::fs::write(
        &replacement,
        format!(
            "{}{}",
            stack.ports.base_yaml(stack.dir.path()),
            providers("renamed")
        ),
    )
    .unwrap();
    std::fs::rename(&replacement, &stack.config).unwrap();
    let body = eventually(Duration::from_secs(10), "the renamed-in config", || async {
        let body = effective_config(&stack).await;
        (body["generation"] == 2).then_some(body)
    })
    .await;
    assert_eq!(
        body["config"]["ai"]["providers"][0]["models"],
        serde_json::json!(["renamed"])
    );
}
