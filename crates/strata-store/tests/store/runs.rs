//! Workflow runs: leases fence writers, claims never hand one run to two processes, a signal
//! that races a park still wakes the run.

use libtest_mimic::Failed;
use strata_store::{Commit, NewEvent, NewRun, Store, StoreError};

fn event(kind: &str) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        task: None,
        data: format!("{{\"kind\":\"{kind}\"}}"),
    }
}

fn new_run(id: &str, owner: Option<&str>) -> NewRun {
    NewRun {
        id: id.into(),
        workflow: "wf".into(),
        definition: "{}".into(),
        input: "{}".into(),
        state: "{}".into(),
        owner: owner.map(str::to_string),
        lease_until: owner.map(|_| 10_000),
        events: vec![event("run_started")],
        ..NewRun::default()
    }
}

/// Only the lease holder appends; sequence numbers continue; a finished run is released.
pub async fn leases_fence_writers(store: Store) -> Result<(), Failed> {
    assert!(store.create_run(&new_run("r1", Some("a")), 1_000).await?);
    assert!(
        !store.create_run(&new_run("r1", Some("a")), 1_000).await?,
        "ids are unique"
    );
    let commit = Commit {
        events: vec![event("step_started"), event("step_succeeded")],
        state: Some("{\"x\":1}".into()),
        ..Commit::default()
    };
    assert_eq!(store.commit_run("r1", "a", &commit, 1_001).await?, 3);
    let stolen = store.commit_run("r1", "b", &commit, 1_002).await;
    assert!(
        matches!(stolen, Err(StoreError::LeaseLost(_))),
        "{stolen:?}"
    );
    let finish = Commit {
        events: vec![event("run_finished")],
        status: Some("succeeded".into()),
        output: Some("42".into()),
        finished: true,
        ..Commit::default()
    };
    store.commit_run("r1", "a", &finish, 1_003).await?;
    let row = store.run("r1").await?.unwrap();
    assert_eq!(
        (row.status.as_str(), row.seq, row.owner),
        ("succeeded", 4, None)
    );
    assert_eq!(
        (row.state.as_str(), row.output.as_deref()),
        ("{\"x\":1}", Some("42"))
    );
    assert_eq!(row.finished_ms, Some(1_003));
    let kinds: Vec<String> = store
        .run_events("r1", 1, 100)
        .await?
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["step_started", "step_succeeded", "run_finished"]);
    assert!(
        !store.push_inbox("r1", "signal", "{}", 1_004).await?,
        "an ended run takes nothing"
    );
    Ok(())
}

/// Concurrent claimers split the due runs between them; expired leases are claimable.
pub async fn claims_are_exclusive(store: Store) -> Result<(), Failed> {
    for i in 0..40 {
        store
            .create_run(&new_run(&format!("c{i:02}"), None), 1_000)
            .await?;
    }
    store.create_run(&new_run("held", Some("x")), 1_000).await?;
    let claim = |owner: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_runs(owner, 2_000, 15_000, 3).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        })
    };
    let (a, b) = (claim("a"), claim("b"));
    let (a, b) = (a.await?, b.await?);
    assert_eq!(a.len() + b.len(), 40, "every pending run claimed once");
    let mut all: Vec<&String> = a.iter().chain(&b).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "no run claimed twice");
    // `held`'s lease (10 000) runs out; then it can be taken over.
    assert!(store.claim_runs("a", 9_999, 20_000, 10).await?.is_empty());
    assert_eq!(store.claim_runs("a", 10_001, 20_000, 10).await?, ["held"]);
    assert_eq!(store.renew_leases("a", 30_000).await? as usize, a.len() + 1);
    Ok(())
}

/// Parking releases the run until its timer, unless a message already waits in the inbox.
pub async fn park_and_wake(store: Store) -> Result<(), Failed> {
    store.create_run(&new_run("p", Some("a")), 1_000).await?;
    let park = Commit {
        park: Some(Some(50_000)),
        status: Some("waiting".into()),
        ..Commit::default()
    };
    store.commit_run("p", "a", &park, 1_001).await?;
    let row = store.run("p").await?.unwrap();
    assert_eq!(
        (row.status.as_str(), row.owner, row.wake_at),
        ("waiting", None, Some(50_000))
    );
    assert!(store.claim_runs("b", 2_000, 9_000, 10).await?.is_empty());
    // A signal makes it due at once.
    assert!(
        store
            .push_inbox("p", "signal", "{\"data\":1}", 2_000)
            .await?
    );
    assert_eq!(store.claim_runs("b", 2_001, 9_000, 10).await?, ["p"]);
    let inbox = store.inbox("p").await?;
    assert_eq!(inbox.len(), 1);
    // Parking while the inbox is unread keeps it due (the signal raced the park).
    store.commit_run("p", "b", &park, 2_002).await?;
    assert_eq!(store.run("p").await?.unwrap().wake_at, Some(2_002));
    // Once consumed, parking waits for the timer again.
    assert_eq!(store.claim_runs("b", 2_003, 9_000, 10).await?, ["p"]);
    let consume = Commit {
        consumed: vec![inbox[0].id.clone()],
        ..park
    };
    store.commit_run("p", "b", &consume, 2_004).await?;
    assert!(store.inbox("p").await?.is_empty());
    assert_eq!(store.run("p").await?.unwrap().wake_at, Some(50_000));
    Ok(())
}
