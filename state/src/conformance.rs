//! The conformance suite every state backend must pass (local file, PostgreSQL, S3). Each backend's
//! tests call [`run_all`] with a constructor that returns a backend over fresh, empty storage.
//!
//! This is test support: a failed check panics with a message naming the broken rule.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::error::StateError;
use crate::lock::LockInfo;
use crate::model::{OutputRecord, ResourceRecord, State};

/// Runs every check, each against a backend from `make` (which must start empty).
pub async fn run_all<B: Backend>(make: impl Fn() -> B) {
    empty_read_is_none(&make()).await;
    write_then_read_round_trips(&make()).await;
    write_must_follow_the_stored_state(&make()).await;
    second_lock_is_refused_naming_the_holder(&make()).await;
    dropped_lock_can_be_taken_again(&make()).await;
}

/// A state with one resource (with a sensitive attribute) and one output.
pub fn sample_state(serial: u64) -> State {
    let mut state = State::new();
    state.serial = serial;
    let mut attributes = serde_json::Map::new();
    attributes.insert("name".into(), "meta".into());
    attributes.insert("password".into(), "hunter2".into());
    attributes.insert("zones".into(), serde_json::json!(["a", "b", "c"]));
    state.upsert(ResourceRecord {
        address: "postgres.meta.sandbox_pg_instance.primary".into(),
        block_type: "postgres".into(),
        type_name: "sandbox_pg_instance".into(),
        provider: "sandbox".into(),
        id: "pg-0001".into(),
        attributes,
        sensitive_attributes: vec!["password".into()],
        dependencies: vec!["network.main.sandbox_network.main".into()],
        create_before_destroy: true,
    });
    state.outputs = BTreeMap::from([(
        "db".to_string(),
        OutputRecord {
            value: "pg.example:5432".into(),
            sensitive: false,
        },
    )]);
    state
}

pub async fn empty_read_is_none<B: Backend>(backend: &B) {
    let read = backend.read().await.expect("read of an empty backend");
    assert_eq!(
        read,
        None,
        "{}: an empty backend reads as None",
        backend.describe()
    );
}

pub async fn write_then_read_round_trips<B: Backend>(backend: &B) {
    let first = sample_state(1);
    backend.write(&first).await.expect("first write");
    let read = backend.read().await.expect("read after write");
    assert_eq!(
        read.as_ref(),
        Some(&first),
        "{}: read returns what was written",
        backend.describe()
    );

    let mut second = first.clone();
    second.serial = 2;
    second.remove("postgres.meta.sandbox_pg_instance.primary");
    backend.write(&second).await.expect("second write");
    let read = backend.read().await.expect("read after second write");
    assert_eq!(
        read,
        Some(second),
        "{}: the newest write wins",
        backend.describe()
    );
}

pub async fn write_must_follow_the_stored_state<B: Backend>(backend: &B) {
    let stored = sample_state(5);
    backend.write(&stored).await.expect("first write");

    let same_serial = stored.clone();
    let older_serial = State {
        serial: 4,
        ..stored.clone()
    };
    let other_lineage = State {
        lineage: "another-lineage".into(),
        serial: 6,
        ..stored.clone()
    };
    for (what, bad) in [
        ("the same serial", same_serial),
        ("an older serial", older_serial),
        ("another lineage", other_lineage),
    ] {
        let result = backend.write(&bad).await;
        assert!(
            matches!(result, Err(StateError::Conflict { .. })),
            "{}: a write with {what} must be a Conflict, got {result:?}",
            backend.describe()
        );
    }
    let read = backend.read().await.expect("read after refused writes");
    assert_eq!(
        read.as_ref(),
        Some(&stored),
        "{}: refused writes change nothing",
        backend.describe()
    );

    let next = State {
        serial: 9,
        ..stored
    };
    backend
        .write(&next)
        .await
        .expect("a write with a higher serial succeeds, gaps allowed");
}

pub async fn second_lock_is_refused_naming_the_holder<B: Backend>(backend: &B) {
    let first = LockInfo::new("apply");
    let guard = backend.lock(first.clone()).await.expect("first lock");
    assert_eq!(
        guard.info().id,
        first.id,
        "the guard carries the holder's info"
    );
    assert_eq!(guard.info().operation, "apply");

    let started = Instant::now();
    let second = backend.lock(LockInfo::new("plan")).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{}: a refused lock must be reported within a second",
        backend.describe()
    );
    let result = second.map(|g| g.info().clone());
    assert!(
        matches!(&result, Err(StateError::Locked { .. })),
        "{}: second lock must be Locked, got {result:?}",
        backend.describe()
    );
    if let Err(StateError::Locked { holder }) = result {
        assert_eq!(
            holder.id, first.id,
            "the refusal names the holder's lock id"
        );
        assert_eq!(holder.operation, "apply");
        assert_eq!(holder.user, first.user);
        assert_eq!(holder.host, first.host);
        assert_eq!(holder.pid, first.pid);
        assert_eq!(holder.created, first.created);
    }
    drop(guard);
}

pub async fn dropped_lock_can_be_taken_again<B: Backend>(backend: &B) {
    let guard = backend
        .lock(LockInfo::new("apply"))
        .await
        .expect("first lock");
    drop(guard);
    let again = backend
        .lock(LockInfo::new("destroy"))
        .await
        .expect("lock after release");
    assert_eq!(again.info().operation, "destroy");
    drop(again);
    let third = backend
        .lock(LockInfo::new("plan"))
        .await
        .expect("lock after second release");
    assert_eq!(third.info().operation, "plan");
}
