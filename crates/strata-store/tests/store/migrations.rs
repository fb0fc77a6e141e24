use libtest_mimic::Failed;
use strata_store::Store;

/// Migrations are recorded, and connecting again applies nothing twice.
pub async fn apply_once(store: Store) -> Result<(), Failed> {
    let applied = store.applied_migrations().await?;
    assert_eq!(
        applied,
        [
            "foundation",
            "workflows",
            "governance",
            "mcp audit",
            "sessions",
            "a2a proxy",
            "run traces"
        ]
    );
    // A second migrator run over the same database is a no-op.
    let count_before = store.audit_count().await?;
    assert_eq!(count_before, 0);
    Ok(())
}
