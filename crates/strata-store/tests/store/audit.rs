use libtest_mimic::Failed;
use serde_json::json;
use strata_store::{AuditQuery, AuditRecord, BatchWriter, Outcome, Store};

pub async fn round_trip(store: Store) -> Result<(), Failed> {
    let mut rec = AuditRecord::new("mcp", "tools/call", Outcome::Denied);
    rec.principal = Some("team-a".into());
    rec.target = Some("dev/fs_read".into());
    rec.error = Some("not permitted".into());
    rec.latency_ms = Some(12);
    rec.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    rec.detail = json!({"arguments": {"path": "/etc"}, "n": 1.5});
    let writer = BatchWriter::spawn(store.clone(), Default::default());
    writer.write(rec.clone()).await?;
    writer.flush().await?;
    let got = store.audit_records(&AuditQuery::default()).await?;
    assert_eq!(got, vec![rec]);
    Ok(())
}

pub async fn filters(store: Store) -> Result<(), Failed> {
    let writer = BatchWriter::spawn(store.clone(), Default::default());
    for (i, action) in ["a", "b", "a", "c", "a"].iter().enumerate() {
        let mut rec = AuditRecord::new("system", action, Outcome::Ok);
        rec.ts_ms = 1_000 + i as i64;
        rec.principal = Some(if i % 2 == 0 { "p0" } else { "p1" }.into());
        writer.write(rec).await?;
    }
    writer.flush().await?;
    let q = |action: Option<&str>, principal: Option<&str>, since: Option<i64>, limit| AuditQuery {
        action: action.map(Into::into),
        principal: principal.map(Into::into),
        since_ms: since,
        limit,
        ..AuditQuery::default()
    };
    let times = |recs: Vec<AuditRecord>| recs.iter().map(|r| r.ts_ms).collect::<Vec<_>>();
    assert_eq!(
        times(store.audit_records(&q(Some("a"), None, None, 0)).await?),
        [1004, 1002, 1000]
    );
    assert_eq!(
        times(store.audit_records(&q(None, Some("p1"), None, 0)).await?),
        [1003, 1001]
    );
    assert_eq!(
        times(store.audit_records(&q(None, None, Some(1003), 0)).await?),
        [1004, 1003]
    );
    assert_eq!(
        times(store.audit_records(&q(None, None, None, 2)).await?),
        [1004, 1003]
    );
    Ok(())
}

pub async fn mcp_filters_pages_and_retention(store: Store) -> Result<(), Failed> {
    let writer = BatchWriter::spawn(store.clone(), Default::default());
    let outcomes = [Outcome::Ok, Outcome::Denied, Outcome::Error];
    for i in 0..9_i64 {
        let mut rec = AuditRecord::new("mcp", "tools/call", outcomes[(i % 3) as usize]);
        rec.ts_ms = 2_000 + i;
        rec.server = Some(if i < 6 { "dev" } else { "ops" }.into());
        rec.target = Some(format!("tool{}", i % 2));
        // Each durable write is committed when it returns.
        writer.write_durable(rec).await?;
        assert_eq!(store.audit_count().await?, i + 1);
    }
    let ts = |q: AuditQuery| {
        let store = store.clone();
        async move {
            let recs = store.audit_records(&q).await.unwrap();
            recs.iter().map(|r| r.ts_ms - 2_000).collect::<Vec<_>>()
        }
    };
    let q = AuditQuery::default;
    let server = |s: &str| Some(s.to_string());
    assert_eq!(
        ts(AuditQuery {
            server: server("ops"),
            ..q()
        })
        .await,
        [8, 7, 6]
    );
    assert_eq!(
        ts(AuditQuery {
            server: server("dev"),
            target: server("tool1"),
            ..q()
        })
        .await,
        [5, 3, 1]
    );
    assert_eq!(
        ts(AuditQuery {
            outcome: Some(Outcome::Denied),
            ..q()
        })
        .await,
        [7, 4, 1]
    );
    assert_eq!(
        ts(AuditQuery {
            since_ms: Some(2_002),
            until_ms: Some(2_005),
            ..q()
        })
        .await,
        [4, 3, 2]
    );
    assert_eq!(
        ts(AuditQuery {
            layer: server("ai"),
            ..q()
        })
        .await,
        [] as [i64; 0]
    );
    // Pages: the id of a page's last record starts the next one.
    let first = store.audit_records(&AuditQuery { limit: 4, ..q() }).await?;
    let next = AuditQuery {
        limit: 4,
        before_id: Some(first[3].id.clone()),
        ..q()
    };
    assert_eq!(ts(next).await, [4, 3, 2, 1]);
    // Retention deletes only what is older.
    assert_eq!(store.delete_audit_before(2_003).await?, 3);
    assert_eq!(ts(q()).await, [8, 7, 6, 5, 4, 3]);
    Ok(())
}
