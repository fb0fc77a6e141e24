use std::time::Duration;

use libtest_mimic::Failed;
use strata_store::{AuditRecord, BatchWriter, BatchWriterOptions, Outcome, Store};

/// Many concurrent writers through a small queue: every record lands exactly once.
pub async fn loses_nothing(store: Store) -> Result<(), Failed> {
    let options = BatchWriterOptions {
        capacity: 16,
        max_batch: 50,
        linger: Duration::from_millis(5),
    };
    let writer = BatchWriter::spawn(store.clone(), options);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..250 {
                let mut rec = AuditRecord::new("system", "load", Outcome::Ok);
                rec.target = Some(format!("{t}-{i}"));
                writer.write(rec).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    writer.flush().await?;
    assert_eq!(store.audit_count().await?, 2000);
    let (distinct,): (i64,) = sqlx::query_as("SELECT COUNT(DISTINCT target) FROM audit_log")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(distinct, 2000);
    Ok(())
}

/// A flush waits for records queued before it, even when the batch is not full.
pub async fn flush_is_durable(store: Store) -> Result<(), Failed> {
    let options = BatchWriterOptions {
        linger: Duration::from_secs(3600),
        ..BatchWriterOptions::default()
    };
    let writer = BatchWriter::spawn(store.clone(), options);
    writer
        .write(AuditRecord::new("system", "one", Outcome::Ok))
        .await?;
    writer
        .write(AuditRecord::new("system", "two", Outcome::Ok))
        .await?;
    tokio::time::timeout(Duration::from_secs(10), writer.flush()).await??;
    assert_eq!(store.audit_count().await?, 2);
    Ok(())
}

/// A record whose id is already stored is skipped, whether it comes again in a later batch
/// (a spool replayed after a crash) or twice in one batch, and the stored copy is kept.
pub async fn skips_records_already_stored(store: Store) -> Result<(), Failed> {
    let writer = BatchWriter::spawn(store.clone(), BatchWriterOptions::default());
    let first = AuditRecord::new("system", "first", Outcome::Ok);
    writer.write(first.clone()).await?;
    // A rejected batch is retried for ever: a flush that never returns is the failure.
    tokio::time::timeout(Duration::from_secs(10), writer.flush()).await??;
    let mut again = first.clone();
    again.action = "replayed".into();
    let other = AuditRecord::new("system", "other", Outcome::Ok);
    for record in [again, other.clone(), other] {
        writer.write(record).await?;
    }
    tokio::time::timeout(Duration::from_secs(10), writer.flush()).await??;
    assert_eq!(store.audit_count().await?, 2);
    let (action,): (String,) = sqlx::query_as("SELECT action FROM audit_log WHERE id = $1")
        .bind(&first.id)
        .fetch_one(store.pool())
        .await?;
    assert_eq!(action, "first");
    Ok(())
}
