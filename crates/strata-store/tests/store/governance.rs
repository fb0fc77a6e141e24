use libtest_mimic::Failed;
use serde_json::json;
use strata_store::{
    BatchWriter, BatchWriterOptions, KeyRow, SpendGroup, SpendQuery, Store, StoreError, UsageRecord,
};

fn key(name: &str, digest: &str) -> KeyRow {
    KeyRow {
        id: strata_core::new_id(),
        name: name.into(),
        digest: digest.into(),
        prefix: "sk-strata-ab".into(),
        roles: vec!["analyst".into()],
        models: vec!["gpt-4o*".into()],
        team: Some("ops".into()),
        budget: Some(json!({ "usd": 5.0, "period": "daily" })),
        limits: Some(json!({ "rpm": 10 })),
        guardrails: vec!["pii_redaction".into()],
        metadata: json!({ "env": "test" }),
        created_ms: 1_000,
        revoked_ms: None,
    }
}

/// Keys round-trip with every field; names and digests are unique; revoking is once.
pub async fn keys_round_trip(store: Store) -> Result<(), Failed> {
    let a = key("a", "00aa");
    store.create_key(&a).await?;
    store.create_key(&key("b", "00bb")).await?;
    assert_eq!(store.key("a").await?.as_ref(), Some(&a));
    let dup = store.create_key(&key("a", "00cc")).await;
    assert!(
        matches!(&dup, Err(StoreError::Conflict(m)) if m.contains("`a`")),
        "{dup:?}"
    );
    assert!(
        store.create_key(&key("c", "00aa")).await.is_err(),
        "same digest"
    );
    assert!(store.revoke_key("a", 2_000).await?);
    assert!(!store.revoke_key("a", 3_000).await?, "revoked already");
    assert!(!store.revoke_key("nobody", 3_000).await?);
    let keys = store.keys().await?;
    assert_eq!(
        keys.iter()
            .map(|k| (k.name.as_str(), k.revoked_ms))
            .collect::<Vec<_>>(),
        [("a", Some(2_000)), ("b", None)]
    );
    Ok(())
}

fn usage(key: &str, team: &str, model: &str, provider: &str, ts_ms: i64, cost: i64) -> UsageRecord {
    UsageRecord {
        id: strata_core::new_id(),
        ts_ms,
        key_name: Some(key.into()),
        team: Some(team.into()),
        operation: "chat".into(),
        model: model.into(),
        provider: Some(provider.into()),
        served_model: Some(model.into()),
        status: 200,
        input_tokens: 10,
        output_tokens: 5,
        cached_tokens: 0,
        cost_micros: cost,
        latency_ms: 3,
        cache: None,
        guardrails: json!([]),
        metadata: json!({}),
        trace_id: None,
    }
}

/// Usage goes through the batch writer; spend groups and filters by time, key and team.
pub async fn spend_reports(store: Store) -> Result<(), Failed> {
    let writer = BatchWriter::spawn(store.clone(), BatchWriterOptions::default());
    for r in [
        usage("a", "ops", "gpt-4o", "openai", 100, 1_000),
        usage("a", "ops", "claude", "anthropic", 200, 2_000),
        usage("b", "ops", "gpt-4o", "openai", 300, 4_000),
        usage("c", "web", "gpt-4o", "openai", 400, 8_000),
        usage("a", "ops", "gpt-4o", "openai", 5_000, 16_000),
    ] {
        writer.write(r).await?;
    }
    writer.flush().await?;
    assert_eq!(store.usage_count().await?, 5);
    let q = |group, key: Option<&str>, team: Option<&str>| SpendQuery {
        group,
        since_ms: 0,
        until_ms: 1_000,
        key: key.map(String::from),
        team: team.map(String::from),
    };
    let by_key = store.spend(&q(SpendGroup::Key, None, None)).await?;
    let shown: Vec<_> = by_key
        .iter()
        .map(|r| {
            (
                r.group.as_deref(),
                r.requests,
                r.cost_micros,
                r.input_tokens,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (Some("c"), 1, 8_000, 10),
            (Some("b"), 1, 4_000, 10),
            (Some("a"), 2, 3_000, 20)
        ]
    );
    let by_provider = store
        .spend(&q(SpendGroup::Provider, None, Some("ops")))
        .await?;
    let shown: Vec<_> = by_provider
        .iter()
        .map(|r| (r.group.as_deref(), r.cost_micros))
        .collect();
    assert_eq!(shown, [(Some("openai"), 5_000), (Some("anthropic"), 2_000)]);
    let by_model = store.spend(&q(SpendGroup::Model, Some("a"), None)).await?;
    assert_eq!(by_model.len(), 2);
    let by_team = store.spend(&q(SpendGroup::Team, None, None)).await?;
    assert_eq!(by_team[0].group.as_deref(), Some("web"));
    assert_eq!(store.spent_micros("a", false, 150).await?, 18_000);
    assert_eq!(store.spent_micros("ops", true, 0).await?, 23_000);
    assert_eq!(store.spent_micros("nobody", false, 0).await?, 0);
    Ok(())
}
