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
