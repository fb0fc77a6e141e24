//! Sessions: their runs take turns, their messages keep their order, they expire.

use libtest_mimic::Failed;
use strata_store::{Commit, NewRun, SessionRow, Store};

fn session(id: &str, principal: Option<&str>, expires_ms: Option<i64>) -> SessionRow {
    SessionRow {
        id: id.into(),
        principal: principal.map(str::to_string),
        workflow: None,
        metadata: "{}".into(),
        created_ms: 1_000,
        updated_ms: 1_000,
        expires_ms,
    }
}

fn run(id: &str, session: &str) -> NewRun {
    NewRun {
        id: id.into(),
        workflow: "wf".into(),
        definition: "{}".into(),
        input: "{}".into(),
        state: "{}".into(),
        session_id: Some(session.into()),
        ..NewRun::default()
    }
}

/// A second run of a session is not claimable until the first has finished; a signal does not
/// jump the queue, a cancel does.
pub async fn runs_take_turns(store: Store) -> Result<(), Failed> {
    assert!(store.create_session(&session("s", None, None)).await?);
    assert!(!store.create_session(&session("s", None, None)).await?);
    store.create_run(&run("r1", "s"), 1_000).await?;
    store.create_run(&run("r2", "s"), 1_001).await?;
    store.create_run(&run("r3", "s"), 1_002).await?;
    assert_eq!(store.claim_runs("a", 2_000, 9_000, 10).await?, ["r1"]);
    assert!(store.push_inbox("r2", "signal", "{}", 2_001).await?);
    assert!(store.claim_runs("a", 2_002, 9_000, 10).await?.is_empty());
    let finish = Commit {
        status: Some("succeeded".into()),
        finished: true,
        ..Commit::default()
    };
    store.commit_run("r1", "a", &finish, 2_003).await?;
    assert_eq!(store.claim_runs("a", 2_004, 9_000, 10).await?, ["r2"]);
    // r3 waits for r2, but a cancel reaches it at once.
    assert!(store.claim_runs("b", 2_005, 9_000, 10).await?.is_empty());
    assert!(store.push_inbox("r3", "cancel", "{}", 2_006).await?);
    assert_eq!(store.claim_runs("b", 2_007, 9_000, 10).await?, ["r3"]);
    Ok(())
}

/// Messages are numbered in order per session; sessions list per principal and expire.
pub async fn messages_and_expiry(store: Store) -> Result<(), Failed> {
    store
        .create_session(&session("m", Some("alice"), Some(5_000)))
        .await?;
    store
        .create_session(&session("n", Some("bob"), None))
        .await?;
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let seq = store
            .append_message("m", Some("r"), "user", text, 1_000 + i as i64)
            .await?;
        assert_eq!(seq, i as i64 + 1);
    }
    let texts: Vec<String> = store
        .messages("m", None)
        .await?
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert!(store.messages("m", Some("other")).await?.is_empty());
    let mine = store.sessions(Some("alice"), None, 10, 2_000).await?;
    store
        .create_session(&session("m2", Some("alice"), None))
        .await?;
    let first = store.sessions(Some("alice"), None, 1, 2_000).await?;
    let second = store
        .sessions(
            Some("alice"),
            Some((first[0].updated_ms, first[0].id.as_str())),
            1,
            2_000,
        )
        .await?;
    assert_eq!(
        (first[0].id.as_str(), second[0].id.as_str()),
        ("m2", "m"),
        "ties page by id"
    );
    store.delete_session("m2").await?;
    assert_eq!(
        mine.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["m"]
    );
    store.touch_session("m", 3_000, Some(10_000)).await?;
    assert_eq!(
        store.session("m", 4_000).await?.unwrap().expires_ms,
        Some(13_000)
    );
    assert_eq!(store.expire_sessions(12_000).await?, 0);
    assert_eq!(store.expire_sessions(13_000).await?, 1);
    assert!(store.session("m", 13_000).await?.is_none());
    assert!(store.messages("m", None).await?.is_empty());
    assert!(store.session("n", 99_000).await?.is_some());
    assert!(store.delete_session("n").await?);
    assert!(!store.delete_session("n").await?);
    Ok(())
}

/// Model traffic per time bucket and group; runs per status.
pub async fn usage_series_and_run_counts(store: Store) -> Result<(), Failed> {
    use strata_store::{BatchWriter, BatchWriterOptions, SpendGroup, UsageRecord};
    let writer = BatchWriter::spawn(store.clone(), BatchWriterOptions::default());
    let rows = [
        (1_000, "a", 200, 10),
        (1_500, "a", 500, 0),
        (1_200, "b", 200, 5),
        (3_100, "a", 200, 7),
    ];
    for (ts_ms, model, status, cost_micros) in rows {
        writer
            .write(UsageRecord {
                id: strata_core::new_id(),
                ts_ms,
                key_name: None,
                team: None,
                operation: "chat".into(),
                model: model.into(),
                provider: None,
                served_model: None,
                status,
                input_tokens: 3,
                output_tokens: 4,
                cached_tokens: 0,
                cost_micros,
                latency_ms: 1,
                cache: None,
                guardrails: serde_json::json!([]),
                metadata: serde_json::json!({}),
                trace_id: None,
            })
            .await?;
    }
    writer.flush().await?;
    let series = store.usage_series(0, 2_000, SpendGroup::Model).await?;
    let got: Vec<(i64, Option<&str>, i64, i64, i64)> = series
        .iter()
        .map(|r| (r.t, r.group.as_deref(), r.requests, r.errors, r.cost_micros))
        .collect();
    assert_eq!(
        got,
        [
            (0, Some("a"), 2, 1, 10),
            (0, Some("b"), 1, 0, 5),
            (2_000, Some("a"), 1, 0, 7)
        ]
    );
    store.create_run(&run("c1", "none"), 1).await?;
    assert_eq!(store.run_counts().await?, [("pending".to_string(), 1)]);
    Ok(())
}

/// Paging runs created in one millisecond: the cursor is the time and the id.
pub async fn pages_split_ties_by_id(store: Store) -> Result<(), Failed> {
    use strata_store::RunQuery;
    for id in ["t1", "t2", "t3", "t4", "t5"] {
        let mut r = run(id, "none");
        r.session_id = None;
        store.create_run(&r, 7_000).await?;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<(i64, String)> = None;
    loop {
        let page = store
            .runs(&RunQuery {
                before_ms: cursor.as_ref().map(|c| c.0),
                before_id: cursor.as_ref().map(|c| c.1.clone()),
                limit: 2,
                ..RunQuery::default()
            })
            .await?;
        seen.extend(page.iter().map(|r| r.id.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => cursor = Some((last.created_ms, last.id.clone())),
            _ => break,
        }
    }
    assert_eq!(seen, ["t5", "t4", "t3", "t2", "t1"]);
    Ok(())
}
