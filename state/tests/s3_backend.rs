#![cfg(feature = "s3")]
//! The S3 backend against a moto server: the conformance suites, the object layout, lock leases
//! judged by the server's clock, fencing, encryption at rest and the compare-and-swap race.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the tests say
//! so and pass, except under CI (env `CI` set), where they fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use state::conformance::{sample_create, sample_state};
use state::journal::{JournalEntry, Loaded, Stamp};
use state::s3::{S3Config, S3Store};
use state::{Backend, Codec, LockGuard, LockInfo, State, StateError, Store};

const KEY: &str = "superset/ss.state.json";

/// The moto server's URL, or `None` (after saying so) when the tests cannot run here.
fn moto_url() -> Option<String> {
    match std::env::var("SS_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SS_TEST_MOTO_URL is not set: the S3 backend tests need a moto server; start one \
                 with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`"
            );
            eprintln!(
                "note: skipping the S3 backend tests: SS_TEST_MOTO_URL is not set (start moto \
                 with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`)"
            );
            None
        }
    }
}

/// A moto server, with dummy credentials given through the SDK configuration (not the
/// process environment), and a client to inspect the raw objects with.
struct Moto {
    url: String,
    sdk: SdkConfig,
    client: Client,
}

impl Moto {
    async fn connect() -> Option<Moto> {
        let url = moto_url()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "ss-tests"))
            .endpoint_url(&url)
            .load()
            .await;
        let client = Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        Some(Moto { url, sdk, client })
    }

    /// A fresh, empty bucket.
    async fn bucket(&self) -> String {
        let name = format!("ss-test-{}", uuid::Uuid::new_v4().simple());
        self.client
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create a bucket");
        name
    }

    fn config(&self, bucket: &str, lease: Duration) -> S3Config {
        S3Config {
            endpoint: Some(self.url.clone()),
            lease,
            ..S3Config::new(bucket, KEY)
        }
    }

    async fn store(&self, bucket: &str, lease: Duration, codec: Codec) -> S3Store {
        S3Store::with_sdk_config(self.config(bucket, lease), codec, &self.sdk)
            .await
            .expect("connect to moto")
    }

    /// The default workspace of a store over a fresh bucket.
    async fn fresh(&self) -> Shared {
        let bucket = self.bucket().await;
        let store = self
            .store(&bucket, Duration::from_secs(30), Codec::plain())
            .await;
        Shared(store.backend("default").await.expect("backend"))
    }

    /// Every key in `bucket`, sorted.
    async fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list");
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }

    /// The raw bytes and user metadata of an object.
    async fn raw(&self, bucket: &str, key: &str) -> (Vec<u8>, Vec<(String, String)>) {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get");
        let metadata = out
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        (bytes, metadata)
    }
}

/// The backend a store hands out, as a value the conformance suite can own.
struct Shared(Arc<dyn Backend>);

#[async_trait::async_trait]
impl Backend for Shared {
    fn describe(&self) -> String {
        self.0.describe()
    }
    async fn lock(&self, info: LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        self.0.lock(info).await
    }
    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.0.lock_holder().await
    }
    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.0.force_unlock(id).await
    }
    async fn read(&self) -> Result<Option<State>, StateError> {
        self.0.read().await
    }
    async fn write(&self, state: &State) -> Result<(), StateError> {
        self.0.write(state).await
    }
    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        self.0.load().await
    }
    async fn append(&self, base: &Stamp, entries: &[JournalEntry]) -> Result<(), StateError> {
        self.0.append(base, entries).await
    }
    async fn compact(&self, state: &State) -> Result<(), StateError> {
        self.0.compact(state).await
    }
}

async fn loaded(backend: &dyn Backend) -> Loaded {
    backend.load().await.expect("load").expect("a stored state")
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    state::conformance::run_all(async || moto.fresh().await).await;
}

#[tokio::test]
async fn passes_the_store_conformance_suite() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    state::conformance::run_store(async || {
        let bucket = moto.bucket().await;
        moto.store(&bucket, Duration::from_secs(30), Codec::plain())
            .await
    })
    .await;
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let config = moto.config("ss-test-no-such-bucket", Duration::from_secs(30));
    match S3Store::with_sdk_config(config, Codec::plain(), &moto.sdk).await {
        Err(StateError::Backend { backend, reason }) => {
            assert_eq!(backend, "s3");
            assert!(
                reason.contains("ss-test-no-such-bucket") && reason.contains("does not exist"),
                "{reason}"
            );
            assert!(!reason.contains("test:test"), "{reason}");
        }
        Err(other) => unreachable!("expected a Backend error, got {other}"),
        Ok(_) => unreachable!("connecting to a missing bucket must fail"),
    }
}

#[tokio::test]
async fn objects_follow_the_layout() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let store = moto
        .store(&bucket, Duration::from_secs(30), Codec::plain())
        .await;
    assert_eq!(store.describe(), format!("S3 s3://{bucket}/{KEY}"));
    let backend = store.backend("tenant-a").await.expect("backend");
    let state_key = format!("env:/tenant-a/{KEY}");
    assert_eq!(
        backend.describe(),
        format!("S3 s3://{bucket}/{state_key} (workspace tenant-a)")
    );
    assert_eq!(store.state_key("tenant-a").expect("key"), state_key);
    assert_eq!(store.state_key("default").expect("key"), KEY);

    let start = sample_state(7);
    backend.write(&start).await.expect("write");
    let base = loaded(backend.as_ref()).await.base;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    backend
        .append(
            &base,
            &[JournalEntry::Intent(state::conformance::sample_intent(
                2, "b",
            ))],
        )
        .await
        .expect("append");
    let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
    let journal = format!("{state_key}.journal/{}/{:020}", start.lineage, 7);
    assert_eq!(
        moto.keys(&bucket).await,
        vec![
            state_key.clone(),
            format!("{journal}/0000000000"),
            format!("{journal}/0000000001"),
            format!("{state_key}.lock"),
        ]
    );
    // The counts the serial check needs are in the metadata.
    let (_, metadata) = moto.raw(&bucket, &format!("{journal}/0000000000")).await;
    assert!(
        metadata.contains(&("ss-mutations".to_string(), "1".to_string())),
        "{metadata:?}"
    );
    let (_, metadata) = moto.raw(&bucket, &state_key).await;
    assert!(
        metadata.contains(&("ss-serial".to_string(), "7".to_string())),
        "{metadata:?}"
    );
    // The lock record is the holder's info plus the lease.
    let (lock, _) = moto.raw(&bucket, &format!("{state_key}.lock")).await;
    let record: serde_json::Value = serde_json::from_slice(&lock).expect("lock JSON");
    assert_eq!(record["id"], guard.info().id.as_str());
    assert_eq!(record["lease_ms"], 30_000);
    assert_eq!(
        record["path"],
        format!("s3://{bucket}/{state_key}").as_str()
    );
    assert_eq!(
        store.workspaces().await.expect("workspaces"),
        vec!["default", "tenant-a"]
    );

    // A write makes the journal stale; it stays until the next compaction, which removes it.
    let mut next = loaded(backend.as_ref()).await.state;
    next.serial += 1;
    backend.write(&next).await.expect("write");
    assert_eq!(
        loaded(backend.as_ref()).await.state,
        next,
        "stale batches are ignored"
    );
    assert_eq!(moto.keys(&bucket).await.len(), 4);
    let base = loaded(backend.as_ref()).await.base;
    backend
        .append(&base, &sample_create(3, "c"))
        .await
        .expect("append to the new base");
    let folded = loaded(backend.as_ref()).await.state;
    backend.compact(&folded).await.expect("compact");
    assert_eq!(
        moto.keys(&bucket).await,
        vec![state_key.clone(), format!("{state_key}.lock")],
        "compaction deletes every folded or stale batch"
    );
    assert_eq!(loaded(backend.as_ref()).await.state, folded);
    guard.release().await.expect("release");
    assert_eq!(moto.keys(&bucket).await, vec![state_key]);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_a_live_one_is_not() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let lease = Duration::from_secs(2);

    // A holder that dies while holding the lock: its guard is leaked (never released) and its
    // runtime, which runs the heartbeat, is shut down — as when the process is killed.
    let holder = {
        let config = moto.config(&bucket, lease);
        let sdk = moto.sdk.clone();
        tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let info = runtime.block_on(async move {
                let store = S3Store::with_sdk_config(config, Codec::plain(), &sdk)
                    .await
                    .expect("connect");
                let backend = store.backend("default").await.expect("backend");
                let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
                let info = guard.info().clone();
                std::mem::forget(guard);
                info
            });
            drop(runtime);
            info
        })
        .await
        .expect("the holder")
    };
    let died = Instant::now();

    let store = moto.store(&bucket, lease, Codec::plain()).await;
    let backend = store.backend("default").await.expect("backend");
    let started = Instant::now();
    match backend
        .lock(LockInfo::new("plan"))
        .await
        .map(|g| g.info().clone())
    {
        Err(StateError::Locked { holder: found }) => assert_eq!(*found, holder),
        other => unreachable!("a live lease must be refused, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused promptly"
    );
    assert_eq!(
        backend.lock_holder().await.expect("holder").map(|h| h.id),
        Some(holder.id.clone())
    );

    // Once the lease has expired (by the server's clock, at most a second late) the lock has
    // no holder and is taken over.
    let deadline = Instant::now() + Duration::from_secs(15);
    while backend.lock_holder().await.expect("holder").is_some() {
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        died.elapsed() >= lease,
        "expired after {:?}, before the lease of {lease:?}",
        died.elapsed()
    );
    let guard = backend
        .lock(LockInfo::new("apply"))
        .await
        .expect("take over an expired lock");
    assert_eq!(
        backend.lock_holder().await.expect("holder").map(|h| h.id),
        Some(guard.info().id.clone())
    );
    // The heartbeat keeps the new holder's lease alive well past the lease.
    tokio::time::sleep(lease * 2).await;
    let other = moto.store(&bucket, lease, Codec::plain()).await;
    let contender = other.backend("default").await.expect("backend");
    match contender
        .lock(LockInfo::new("plan"))
        .await
        .map(|g| g.info().clone())
    {
        Err(StateError::Locked { holder: found }) => assert_eq!(found.id, guard.info().id),
        other => unreachable!("a renewed lease must be refused, got {other:?}"),
    }
    guard.release().await.expect("release");
    assert_eq!(contender.lock_holder().await.expect("holder"), None);
}

#[tokio::test]
async fn a_lost_lock_fences_its_holder() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let lease = Duration::from_secs(2);
    let store = moto.store(&bucket, lease, Codec::plain()).await;
    let backend = store.backend("default").await.expect("backend");
    backend.write(&sample_state(1)).await.expect("write");
    let base = loaded(backend.as_ref()).await.base;
    let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append while holding the lock");

    // Another process breaks the lock and takes it.
    let other_store = moto.store(&bucket, lease, Codec::plain()).await;
    let other = other_store.backend("default").await.expect("backend");
    other
        .force_unlock(&guard.info().id)
        .await
        .expect("force-unlock");
    let taken = other.lock(LockInfo::new("apply")).await.expect("lock");

    // Within a heartbeat the old holder knows, and refuses to write.
    tokio::time::sleep(lease).await;
    let mut next = loaded(backend.as_ref()).await.state;
    next.serial += 1;
    let results = [
        ("write", backend.write(&next).await),
        (
            "append",
            backend.append(&base, &sample_create(2, "b")).await,
        ),
        ("compact", backend.compact(&next).await),
    ];
    for (op, result) in results {
        match result {
            Err(StateError::Backend { reason, .. }) => {
                assert!(reason.contains("was lost"), "{op}: {reason}");
                assert!(reason.contains(&guard.info().id), "{op}: {reason}");
            }
            other => unreachable!("{op} after the lock was lost must fail, got {other:?}"),
        }
    }
    assert_eq!(
        loaded(other.as_ref()).await.state.serial,
        2,
        "nothing was written by the fenced holder"
    );
    // Its release leaves the new holder's lock alone.
    guard.release().await.expect("release of a lost lock");
    assert_eq!(
        other.lock_holder().await.expect("holder").map(|h| h.id),
        Some(taken.info().id.clone())
    );
    // A new lock through the same backend lifts the fence.
    taken.release().await.expect("release");
    let again = backend
        .lock(LockInfo::new("apply"))
        .await
        .expect("lock again");
    backend.write(&next).await.expect("write under a new lock");
    again.release().await.expect("release");
}

#[tokio::test]
async fn encrypted_objects_hold_no_secret() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let cipher = state::crypto::Cipher::from_passphrase("k").expect("cipher");
    let codec = Codec::encrypted(Arc::new(cipher));
    let store = moto.store(&bucket, Duration::from_secs(30), codec).await;
    let backend = store.backend("default").await.expect("backend");
    let start = sample_state(1);
    backend.write(&start).await.expect("write");
    let base = loaded(backend.as_ref()).await.base;
    let secret_record = start.resources[0].clone();
    backend
        .append(
            &base,
            &[
                sample_create(1, "a"),
                vec![JournalEntry::Upsert {
                    record: secret_record,
                }],
            ]
            .concat(),
        )
        .await
        .expect("append");
    let before = loaded(backend.as_ref()).await;
    assert_eq!(before.state.serial, 3);
    assert!(before.state.resource("sandbox_object.a").is_some());

    let check = async |when: &str| {
        let keys = moto.keys(&bucket).await;
        assert!(!keys.is_empty(), "{when}: {keys:?}");
        for key in keys {
            let (bytes, metadata) = moto.raw(&bucket, &key).await;
            let text = String::from_utf8_lossy(&bytes);
            let metadata = format!("{metadata:?}");
            for secret in [
                "hunter2",
                "sandbox_pg_instance",
                "sandbox_object",
                "postgres.meta",
            ] {
                assert!(
                    !text.contains(secret),
                    "{when}: {key} holds {secret:?} in clear"
                );
                assert!(
                    !metadata.contains(secret),
                    "{when}: {key} metadata holds {secret:?}"
                );
            }
        }
    };
    check("after an append").await;
    backend.compact(&before.state).await.expect("compact");
    check("after a compaction").await;
    assert_eq!(loaded(backend.as_ref()).await.state, before.state);

    // Without the key, the state cannot be read.
    let plain = moto
        .store(&bucket, Duration::from_secs(30), Codec::plain())
        .await;
    let result = plain
        .backend("default")
        .await
        .expect("backend")
        .load()
        .await;
    assert!(
        matches!(result, Err(StateError::Decrypt { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn of_two_racing_writers_exactly_one_wins() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let mut lost_on_412 = 0;
    for round in 0..8 {
        let workspace = format!("race-{round}");
        // Two processes: two stores, so two backend objects on the same key.
        let a = moto
            .store(&bucket, Duration::from_secs(30), Codec::plain())
            .await;
        let b = moto
            .store(&bucket, Duration::from_secs(30), Codec::plain())
            .await;
        let a = a.backend(&workspace).await.expect("backend a");
        let b = b.backend(&workspace).await.expect("backend b");
        a.write(&sample_state(1)).await.expect("first write");
        // Each reads, then writes its own successor.
        let mut from_a = loaded(a.as_ref()).await.state;
        let mut from_b = loaded(b.as_ref()).await.state;
        from_a.serial += 1;
        from_a.outputs.clear();
        from_b.serial += 1;
        from_b.resources.clear();
        let (ra, rb) = tokio::join!(a.write(&from_a), b.write(&from_b));
        let (winner, reason) = match (&ra, &rb) {
            (Ok(()), Err(StateError::Conflict { reason })) => (&from_a, reason),
            (Err(StateError::Conflict { reason }), Ok(())) => (&from_b, reason),
            _ => unreachable!("round {round}: exactly one write must win: {ra:?}, {rb:?}"),
        };
        // Both usually pass the serial check against the same snapshot, and the conditional
        // PUT (If-Match on its ETag) is what refuses the second.
        if reason.contains("at the same time") {
            lost_on_412 += 1;
        }
        assert_eq!(
            loaded(a.as_ref()).await.state,
            *winner,
            "round {round}: the winner's state is stored"
        );
    }
    eprintln!("{lost_on_412} of 8 races were decided by the conditional PUT");
    assert!(
        lost_on_412 > 0,
        "no race reached the conditional PUT: the test does not exercise it"
    );
}

#[tokio::test]
async fn a_journal_without_its_snapshot_is_reported() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let bucket = moto.bucket().await;
    let store = moto
        .store(&bucket, Duration::from_secs(30), Codec::plain())
        .await;
    let backend = store.backend("default").await.expect("backend");
    let start = sample_state(1);
    backend.write(&start).await.expect("write");
    let base = loaded(backend.as_ref()).await.base;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    // The snapshot removed by hand: its journal may record cloud objects, so it is not read
    // as "no state", and nothing is written over it.
    moto.client
        .delete_object()
        .bucket(&bucket)
        .key(KEY)
        .send()
        .await
        .expect("delete the snapshot");
    for (op, result) in [
        ("load", backend.load().await.map(|_| ())),
        ("write", backend.write(&start).await),
    ] {
        assert!(
            matches!(&result, Err(StateError::Corrupt { path, .. }) if path.contains(".journal/")),
            "{op}: {result:?}"
        );
    }
}
