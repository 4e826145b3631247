//! The conformance suite every state backend must pass (local file, PostgreSQL, S3). Each backend's
//! tests call [`run_all`] with a constructor that returns a backend over fresh, empty storage.
//!
//! This is test support: a failed check panics with a message naming the broken rule.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, Store};
use crate::error::StateError;
use crate::journal::{Intent, IntentAction, JournalEntry, Loaded, Stamp};
use crate::lock::LockInfo;
use crate::model::{OutputRecord, ResourceRecord, State};

/// Runs every check, each against a backend from `make` (which must start empty).
pub async fn run_all<B: Backend + 'static>(make: impl AsyncFn() -> B) {
    empty_read_is_none(&make().await).await;
    write_then_read_round_trips(&make().await).await;
    write_must_follow_the_stored_state(&make().await).await;
    second_lock_is_refused_naming_the_holder(&make().await).await;
    dropped_lock_can_be_taken_again(&make().await).await;
    released_lock_has_no_holder(&make().await).await;
    force_unlock_names_the_lock(&make().await).await;
    append_then_load_replays(&make().await).await;
    intents_are_pending_until_resolved(&make().await).await;
    compact_folds_and_empties_the_journal(&make().await).await;
    write_makes_the_journal_stale(&make().await).await;
    append_needs_the_stored_snapshot_as_base(&make().await).await;
    writes_check_the_serial_with_the_journal(&make().await).await;
    compacting_an_unchanged_state_only_empties_the_journal(&make().await).await;
    thousand_entries_in_ten_appends(&make().await).await;
    concurrent_appends_all_land(Arc::new(make().await)).await;
}

/// Runs the workspace checks against a store from `make` (which must start empty).
pub async fn run_store<S: Store>(make: impl AsyncFn() -> S) {
    empty_store_has_only_default(&make().await).await;
    workspaces_are_independent(&make().await).await;
    deleted_workspace_is_gone(&make().await).await;
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

/// A dropped guard releases the lock (a remote backend in the background: the binary settles
/// those releases before it exits, as this check does); an explicit release at once.
pub async fn dropped_lock_can_be_taken_again<B: Backend>(backend: &B) {
    let guard = backend
        .lock(LockInfo::new("apply"))
        .await
        .expect("first lock");
    drop(guard);
    crate::release::settle(Duration::from_secs(10)).await;
    let again = backend
        .lock(LockInfo::new("destroy"))
        .await
        .expect("lock after a dropped guard");
    assert_eq!(again.info().operation, "destroy");
    again.release().await.expect("explicit release");
    let third = backend
        .lock(LockInfo::new("plan"))
        .await
        .expect("lock after second release");
    assert_eq!(third.info().operation, "plan");
}

pub async fn released_lock_has_no_holder<B: Backend>(backend: &B) {
    let what = backend.describe();
    assert_eq!(
        backend
            .lock_holder()
            .await
            .expect("holder of a fresh backend"),
        None,
        "{what}: nobody holds a fresh lock"
    );
    let info = LockInfo::new("apply");
    let guard = backend.lock(info.clone()).await.expect("lock");
    let holder = backend
        .lock_holder()
        .await
        .expect("holder while locked")
        .unwrap_or_else(|| unreachable!("{what}: lock_holder names the holder"));
    assert_eq!(holder.id, info.id, "{what}");
    assert_eq!(holder.operation, "apply", "{what}");
    guard.release().await.expect("release");
    assert_eq!(
        backend.lock_holder().await.expect("holder after release"),
        None,
        "{what}: a released lock has no holder"
    );
}

/// `force_unlock` breaks only the lock it names. A backend whose locks cannot outlive their
/// holder says so with `Unsupported`, and then nothing else is checked.
pub async fn force_unlock_names_the_lock<B: Backend>(backend: &B) {
    let what = backend.describe();
    let info = LockInfo::new("apply");
    let guard = backend.lock(info.clone()).await.expect("lock");
    match backend.force_unlock("not-the-id").await {
        Err(StateError::Unsupported(_)) => return,
        Err(StateError::LockMismatch { holder, .. }) => {
            assert_eq!(holder.id, info.id, "{what}: the mismatch names the holder")
        }
        other => unreachable!("{what}: a wrong id must be LockMismatch, got {other:?}"),
    }
    backend
        .force_unlock(&info.id)
        .await
        .expect("force-unlock by the holder's id");
    assert_eq!(
        backend
            .lock_holder()
            .await
            .expect("holder after force-unlock"),
        None,
        "{what}"
    );
    let next = backend
        .lock(LockInfo::new("plan"))
        .await
        .expect("lock after a force-unlock");
    // The old guard's release must not break the lock taken since.
    drop(guard);
    crate::release::settle(Duration::from_secs(10)).await;
    assert_eq!(
        backend.lock_holder().await.expect("holder").map(|h| h.id),
        Some(next.info().id.clone()),
        "{what}: releasing a broken lock leaves the new holder alone"
    );
    next.release().await.expect("release");
    let result = backend.force_unlock(&info.id).await;
    assert!(
        matches!(result, Err(StateError::NotLocked { .. })),
        "{what}: force-unlock of a free lock is NotLocked, got {result:?}"
    );
}

pub async fn empty_store_has_only_default<S: Store>(store: &S) {
    assert_eq!(
        store.workspaces().await.expect("workspaces"),
        vec!["default"],
        "{}: an empty store lists only default",
        store.describe()
    );
    let result = store.backend("../escape").await.map(|b| b.describe());
    assert!(
        matches!(result, Err(StateError::InvalidWorkspace { .. })),
        "{}: a bad workspace name is refused, got {result:?}",
        store.describe()
    );
}

pub async fn workspaces_are_independent<S: Store>(store: &S) {
    let what = store.describe();
    let a = store.backend("tenant-a").await.expect("backend a");
    let b = store.backend("tenant_b").await.expect("backend b");
    let default = store.backend("default").await.expect("backend default");
    let state_a = sample_state(3);
    let mut state_b = State::new();
    state_b.serial = 1;
    a.write(&state_a).await.expect("write a");
    b.write(&state_b).await.expect("write b");
    assert_eq!(
        store.workspaces().await.expect("workspaces"),
        vec!["default", "tenant-a", "tenant_b"],
        "{what}"
    );
    assert_eq!(a.read().await.expect("read a"), Some(state_a), "{what}");
    assert_eq!(b.read().await.expect("read b"), Some(state_b), "{what}");
    assert_eq!(default.read().await.expect("read default"), None, "{what}");
    // Each workspace has its own lock.
    let lock_a = a.lock(LockInfo::new("apply")).await.expect("lock a");
    let lock_b = b.lock(LockInfo::new("apply")).await.expect("lock b");
    let again = a
        .lock(LockInfo::new("plan"))
        .await
        .map(|g| g.info().clone());
    assert!(
        matches!(again, Err(StateError::Locked { .. })),
        "{what}: {again:?}"
    );
    lock_a.release().await.expect("release a");
    lock_b.release().await.expect("release b");
    // A second handle on the same workspace sees the same state.
    let a2 = store.backend("tenant-a").await.expect("backend a again");
    assert_eq!(
        a2.read().await.expect("read a again").map(|s| s.serial),
        Some(3),
        "{what}"
    );
}

pub async fn deleted_workspace_is_gone<S: Store>(store: &S) {
    let what = store.describe();
    let gone = store.backend("gone").await.expect("backend");
    let loaded = snapshot(gone.as_ref(), &sample_state(1)).await;
    gone.append(&loaded.base, &sample_create(1, "x"))
        .await
        .expect("append");
    let kept = store.backend("kept").await.expect("backend");
    kept.write(&sample_state(1)).await.expect("write kept");
    let guard = gone
        .lock(LockInfo::new("workspace delete"))
        .await
        .expect("lock");
    store.delete_workspace("gone").await.expect("delete");
    drop(guard);
    crate::release::settle(Duration::from_secs(10)).await;
    assert_eq!(
        store.workspaces().await.expect("workspaces"),
        vec!["default", "kept"],
        "{what}"
    );
    let fresh = store.backend("gone").await.expect("backend");
    assert_eq!(
        fresh.read().await.expect("read"),
        None,
        "{what}: nothing left"
    );
    let relock = fresh
        .lock(LockInfo::new("apply"))
        .await
        .expect("lock again");
    relock.release().await.expect("release");
    let result = store.delete_workspace("default").await;
    assert!(result.is_err(), "{what}: default cannot be deleted");
}

/// A record for `sandbox_object.<name>` with cloud id `id`.
pub fn sample_record(name: &str, id: &str) -> ResourceRecord {
    let mut attributes = serde_json::Map::new();
    attributes.insert("name".into(), name.into());
    ResourceRecord {
        address: format!("sandbox_object.{name}"),
        block_type: "sandbox_object".into(),
        type_name: "sandbox_object".into(),
        provider: "sandbox".into(),
        id: id.into(),
        attributes,
        sensitive_attributes: Vec::new(),
        dependencies: Vec::new(),
        create_before_destroy: false,
    }
}

/// An intent to create `sandbox_object.<name>`.
pub fn sample_intent(id: u64, name: &str) -> Intent {
    Intent {
        id,
        action: IntentAction::Create,
        address: format!("sandbox_object.{name}"),
        block_type: "sandbox_object".into(),
        type_name: "sandbox_object".into(),
        provider: "sandbox".into(),
        stack: "conformance".into(),
        identity: format!("sandbox_object.{name}"),
        object_id: None,
        dependencies: Vec::new(),
        create_before_destroy: false,
    }
}

/// The complete record of creating `sandbox_object.<name>`: intent, effect, resolution.
pub fn sample_create(id: u64, name: &str) -> Vec<JournalEntry> {
    vec![
        JournalEntry::Intent(sample_intent(id, name)),
        JournalEntry::Upsert {
            record: sample_record(name, &format!("obj-{id}")),
        },
        JournalEntry::Resolved { intent: id },
    ]
}

/// Writes `state` as the snapshot and loads it back, checking the load.
async fn snapshot<B: Backend + ?Sized>(backend: &B, state: &State) -> Loaded {
    backend.write(state).await.expect("write the snapshot");
    let loaded = load(backend).await;
    assert_eq!(
        (&loaded.state, &loaded.base),
        (state, &Stamp::of(state)),
        "{}: a snapshot without a journal loads as written",
        backend.describe()
    );
    assert!(loaded.pending.is_empty());
    loaded
}

async fn load<B: Backend + ?Sized>(backend: &B) -> Loaded {
    backend.load().await.expect("load").expect("a stored state")
}

fn addresses(state: &State) -> Vec<&str> {
    state.resources.iter().map(|r| r.address.as_str()).collect()
}

pub async fn append_then_load_replays<B: Backend>(backend: &B) {
    assert_eq!(
        backend.load().await.expect("load of an empty backend"),
        None,
        "{}: an empty backend loads as None",
        backend.describe()
    );
    let start = sample_state(3);
    let base = snapshot(backend, &start).await.base;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("first append");
    let outputs = BTreeMap::from([(
        "n".to_string(),
        OutputRecord {
            value: 1.into(),
            sensitive: false,
        },
    )]);
    backend
        .append(
            &base,
            &[
                JournalEntry::Remove {
                    address: "postgres.meta.sandbox_pg_instance.primary".into(),
                },
                JournalEntry::Outputs {
                    outputs: outputs.clone(),
                },
            ],
        )
        .await
        .expect("second append");
    let loaded = load(backend).await;
    let what = backend.describe();
    assert_eq!(loaded.base, base, "{what}: the base stays the snapshot's");
    assert_eq!(
        loaded.state.serial, 6,
        "{what}: one serial per mutation (upsert, remove, outputs)"
    );
    assert_eq!(addresses(&loaded.state), vec!["sandbox_object.a"], "{what}");
    assert_eq!(loaded.state.outputs, outputs, "{what}");
    assert!(loaded.pending.is_empty(), "{what}: the intent was resolved");
    assert_eq!(
        backend.read().await.expect("read"),
        Some(loaded.state),
        "{what}: read sees the journal's effects"
    );
}

pub async fn intents_are_pending_until_resolved<B: Backend>(backend: &B) {
    let base = snapshot(backend, &sample_state(1)).await.base;
    let what = backend.describe();
    backend
        .append(
            &base,
            &[
                JournalEntry::Intent(sample_intent(1, "a")),
                JournalEntry::Intent(sample_intent(2, "b")),
            ],
        )
        .await
        .expect("append intents");
    let loaded = load(backend).await;
    assert_eq!(
        loaded.pending,
        vec![sample_intent(1, "a"), sample_intent(2, "b")],
        "{what}: unresolved intents are pending, in order"
    );
    assert_eq!(loaded.state.serial, 1, "{what}: intents are not mutations");
    backend
        .append(&base, &[JournalEntry::Resolved { intent: 1 }])
        .await
        .expect("resolve one");
    assert_eq!(
        load(backend).await.pending,
        vec![sample_intent(2, "b")],
        "{what}"
    );
    backend
        .append(
            &base,
            &[
                JournalEntry::Upsert {
                    record: sample_record("b", "obj-2"),
                },
                JournalEntry::Resolved { intent: 2 },
            ],
        )
        .await
        .expect("resolve the other");
    let loaded = load(backend).await;
    assert!(loaded.pending.is_empty(), "{what}: {:?}", loaded.pending);
    assert!(loaded.state.resource("sandbox_object.b").is_some());
}

pub async fn compact_folds_and_empties_the_journal<B: Backend>(backend: &B) {
    let old_base = snapshot(backend, &sample_state(1)).await.base;
    let what = backend.describe();
    backend
        .append(
            &old_base,
            &[sample_create(1, "a"), sample_create(2, "b")].concat(),
        )
        .await
        .expect("append");
    let before = load(backend).await.state;
    assert_eq!(before.serial, 3);
    backend.compact(&before).await.expect("compact");
    let after = load(backend).await;
    assert_eq!(
        after.state, before,
        "{what}: the old journal is not replayed again over the compacted snapshot"
    );
    assert_eq!(
        after.base,
        Stamp::of(&before),
        "{what}: the new snapshot is the base"
    );
    assert!(after.pending.is_empty());

    // The emptied journal takes new entries against the new base; only those are replayed.
    backend
        .append(&after.base, &sample_create(3, "c"))
        .await
        .expect("append after compact");
    let loaded = load(backend).await;
    assert_eq!(loaded.state.serial, 4, "{what}");
    assert_eq!(
        addresses(&loaded.state),
        vec![
            "postgres.meta.sandbox_pg_instance.primary",
            "sandbox_object.a",
            "sandbox_object.b",
            "sandbox_object.c"
        ],
        "{what}"
    );
}

pub async fn write_makes_the_journal_stale<B: Backend>(backend: &B) {
    let base = snapshot(backend, &sample_state(1)).await.base;
    let what = backend.describe();
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    // A snapshot that already holds the journal's effects, written as a compaction that
    // crashed before emptying the journal would leave it.
    let mut folded = load(backend).await.state;
    folded.serial += 1;
    backend.write(&folded).await.expect("write");
    let loaded = load(backend).await;
    assert_eq!(
        loaded.state, folded,
        "{what}: a journal for an older snapshot is ignored"
    );
    assert_eq!(loaded.base, Stamp::of(&folded));
}

pub async fn append_needs_the_stored_snapshot_as_base<B: Backend>(backend: &B) {
    let what = backend.describe();
    let unstored = Stamp::of(&sample_state(1));
    let result = backend.append(&unstored, &sample_create(1, "a")).await;
    assert!(
        matches!(result, Err(StateError::Conflict { .. })),
        "{what}: an append before any snapshot is a Conflict, got {result:?}"
    );
    let base = snapshot(backend, &sample_state(1)).await.base;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    let mut next = load(backend).await.state;
    next.serial += 1;
    backend.compact(&next).await.expect("compact");
    let result = backend.append(&base, &sample_create(2, "b")).await;
    assert!(
        matches!(result, Err(StateError::Conflict { .. })),
        "{what}: an append against a replaced snapshot is a Conflict, got {result:?}"
    );
    assert_eq!(
        load(backend).await.state,
        next,
        "{what}: nothing was appended"
    );
}

pub async fn writes_check_the_serial_with_the_journal<B: Backend>(backend: &B) {
    let stale = sample_state(5);
    let base = snapshot(backend, &stale).await.base;
    let what = backend.describe();
    backend
        .append(
            &base,
            &[
                sample_create(1, "a"),
                sample_create(2, "b"),
                sample_create(3, "c"),
            ]
            .concat(),
        )
        .await
        .expect("append");
    let loaded = load(backend).await.state;
    assert_eq!(loaded.serial, 8);
    // A copy from before the journal, even with a serial above the snapshot's, is refused.
    for serial in [5, 6, 7] {
        let old = State {
            serial,
            ..stale.clone()
        };
        for (op, result) in [
            ("write", backend.write(&old).await),
            ("compact", backend.compact(&old).await),
        ] {
            assert!(
                matches!(result, Err(StateError::Conflict { .. })),
                "{what}: {op} of a copy with serial {serial} from before the journal must be a \
                 Conflict, got {result:?}"
            );
        }
    }
    assert_eq!(
        load(backend).await.state,
        loaded,
        "{what}: refusals change nothing"
    );
    // The loaded state itself is a valid successor, as it is.
    backend
        .write(&loaded)
        .await
        .expect("write of the loaded state as it is");
    assert_eq!(load(backend).await.state, loaded, "{what}");
}

pub async fn compacting_an_unchanged_state_only_empties_the_journal<B: Backend>(backend: &B) {
    let start = sample_state(2);
    let base = snapshot(backend, &start).await.base;
    let what = backend.describe();
    backend
        .append(
            &base,
            &[
                JournalEntry::Intent(sample_intent(1, "a")),
                JournalEntry::Resolved { intent: 1 },
            ],
        )
        .await
        .expect("append");
    backend
        .compact(&start)
        .await
        .expect("compact of a state no entry changed");
    assert_eq!(load(backend).await.state, start, "{what}");
    // The snapshot is unchanged, so the base is still valid, and the journal starts over.
    backend
        .append(&base, &[JournalEntry::Intent(sample_intent(2, "b"))])
        .await
        .expect("append after the no-op compaction");
    assert_eq!(
        load(backend).await.pending,
        vec![sample_intent(2, "b")],
        "{what}: intent 1 was dropped with the journal, intent 2 is new"
    );
    // Once an entry changed the state, the unchanged copy is stale.
    backend
        .append(&base, &sample_create(3, "c")[1..])
        .await
        .expect("append a mutation");
    let result = backend.compact(&start).await;
    assert!(
        matches!(result, Err(StateError::Conflict { .. })),
        "{what}: compacting a copy older than the journal is a Conflict, got {result:?}"
    );
}

pub async fn thousand_entries_in_ten_appends<B: Backend>(backend: &B) {
    let start = sample_state(1);
    let base = snapshot(backend, &start).await.base;
    let what = backend.describe();
    for call in 0..10u64 {
        let entries: Vec<JournalEntry> = (0..100u64)
            .map(|i| {
                let n = call * 100 + i;
                JournalEntry::Upsert {
                    record: sample_record(&format!("o{n:04}"), &format!("obj-{n}")),
                }
            })
            .collect();
        backend.append(&base, &entries).await.expect("append");
    }
    let loaded = load(backend).await;
    assert_eq!(loaded.state.serial, 1 + 1000, "{what}");
    assert_eq!(loaded.state.resources.len(), 1 + 1000, "{what}");
    for n in [0, 99, 100, 555, 999] {
        let record = loaded
            .state
            .resource(&format!("sandbox_object.o{n:04}"))
            .unwrap_or_else(|| unreachable!("{what}: record {n} is missing"));
        assert_eq!(record.id, format!("obj-{n}"), "{what}");
    }
}

/// Appends from several tasks at once: each batch lands whole and none is lost.
pub async fn concurrent_appends_all_land<B: Backend + 'static>(backend: Arc<B>) {
    let base = snapshot(backend.as_ref(), &sample_state(1)).await.base;
    let what = backend.describe();
    const TASKS: u64 = 8;
    const CALLS: u64 = 20;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let backend = Arc::clone(&backend);
            let base = base.clone();
            tokio::spawn(async move {
                for call in 0..CALLS {
                    let id = task * CALLS + call + 1;
                    backend
                        .append(&base, &sample_create(id, &format!("t{task}c{call}")))
                        .await
                        .expect("concurrent append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("append task");
    }
    let loaded = load(backend.as_ref()).await;
    assert_eq!(
        loaded.state.resources.len() as u64,
        1 + TASKS * CALLS,
        "{what}: every concurrent append landed"
    );
    assert_eq!(loaded.state.serial, 1 + TASKS * CALLS, "{what}");
    assert!(
        loaded.pending.is_empty(),
        "{what}: batches landed whole: {:?}",
        loaded.pending
    );
}
