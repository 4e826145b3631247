//! The PostgreSQL backend against a real server: the conformance suites, plus leases,
//! heartbeats, fencing, schema isolation, concurrent first use and encryption at rest.
//!
//! The server is named by `SS_TEST_PG_CONN` (start a throw-away one with
//! `export SS_TEST_PG_CONN="$(scripts/pg-start)"`). Without it the tests are skipped with a
//! note, except under CI (`CI` set), where they fail. Every backend gets a fresh random schema,
//! dropped at the end of the test that made it.
#![cfg(feature = "postgres")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use state::conformance::{sample_create, sample_state};
use state::crypto::Cipher;
use state::postgres::{PgBackend, PgConfig, PgStore};
use state::{Backend, Codec, LockInfo, State, StateError, Store};

/// The test server, and the schemas made on it (dropped by [`Pg::cleanup`]).
struct Pg {
    conn: String,
    schemas: Mutex<Vec<String>>,
}

/// The server to test against, or `None` (after a note) when none is configured outside CI.
fn server() -> Option<Pg> {
    match std::env::var("SS_TEST_PG_CONN") {
        Ok(conn) if !conn.is_empty() => Some(Pg {
            conn,
            schemas: Mutex::new(Vec::new()),
        }),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SS_TEST_PG_CONN is not set: under CI the PostgreSQL backend tests must run; \
                 start a server with `export SS_TEST_PG_CONN=\"$(scripts/pg-start)\"`"
            );
            eprintln!(
                "note: skipping the PostgreSQL backend tests: SS_TEST_PG_CONN is not set (start \
                 a throw-away server with `export SS_TEST_PG_CONN=\"$(scripts/pg-start)\"`)"
            );
            None
        }
    }
}

impl Pg {
    /// A fresh schema name, recorded for cleanup.
    fn schema(&self) -> String {
        let name = format!("ss_test_{}", uuid::Uuid::new_v4().simple());
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name.clone());
        name
    }

    fn config(&self, schema: &str, lease: Duration) -> PgConfig {
        PgConfig {
            conn: self.conn.clone(),
            schema: schema.to_string(),
            lease,
            ca_file: None,
        }
    }

    async fn store(&self, schema: &str, codec: Codec) -> PgStore {
        PgStore::connect(self.config(schema, Duration::from_secs(30)), codec)
            .await
            .expect("connect")
    }

    /// The `default` workspace of a store on a fresh schema.
    async fn fresh(&self, codec: Codec) -> PgBackend {
        let schema = self.schema();
        self.store(&schema, codec)
            .await
            .workspace_backend("default")
            .expect("backend")
    }

    /// A plain connection for looking at the tables directly.
    async fn raw(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.conn, tokio_postgres::NoTls)
            .await
            .expect("raw connection");
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("raw connection: {e}");
            }
        });
        client
    }

    /// Drops the schemas made so far (best effort: the server is throw-away).
    async fn cleanup(&self) {
        let schemas: Vec<String> = self
            .schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        let client = self.raw().await;
        for schema in schemas {
            if let Err(e) = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
            {
                eprintln!("cannot drop schema {schema}: {e}");
            }
        }
    }
}

fn encrypting() -> Codec {
    Codec::encrypted(Arc::new(Cipher::from_passphrase("k").expect("cipher")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let Some(pg) = server() else { return };
    state::conformance::run_all(async || pg.fresh(Codec::plain()).await).await;
    pg.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_encrypted() {
    let Some(pg) = server() else { return };
    // One cipher for every case: the key is derived once per salt.
    let codec = encrypting();
    state::conformance::run_all(async || pg.fresh(codec.clone()).await).await;
    pg.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_store_suite() {
    let Some(pg) = server() else { return };
    state::conformance::run_store(async || {
        let schema = pg.schema();
        pg.store(&schema, Codec::plain()).await
    })
    .await;
    pg.cleanup().await;
}

/// A holder that dies without releasing (its runtime, heartbeat and connections gone at once,
/// as with SIGKILL) keeps the lock until its lease runs out, and not longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lock_is_free_after_its_lease_and_not_before() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let lease = Duration::from_secs(2);
    // Create the schema first, so the child's lock is not slowed by the migration.
    let survivor = PgStore::connect(pg.config(&schema, lease), Codec::plain())
        .await
        .expect("connect");
    let survivor = survivor.workspace_backend("default").expect("backend");

    let config = pg.config(&schema, lease);
    let (holder, locked_at) = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (info, locked_at) = runtime.block_on(async move {
            let store = PgStore::connect(config, Codec::plain())
                .await
                .expect("child connect");
            let backend = store.backend("default").await.expect("child backend");
            let guard = backend
                .lock(LockInfo::new("apply"))
                .await
                .expect("child lock");
            let locked_at = Instant::now();
            let info = guard.info().clone();
            // No release, no drop: the process "dies" with the lock held.
            std::mem::forget(guard);
            (info, locked_at)
        });
        // Dropping the runtime kills the heartbeat and closes the connections.
        drop(runtime);
        (info, locked_at)
    })
    .join()
    .expect("child thread");

    let refused = survivor
        .lock(LockInfo::new("plan"))
        .await
        .map(|g| g.info().clone());
    match refused {
        Err(StateError::Locked { holder: named }) => assert_eq!(named.id, holder.id),
        other => unreachable!("the dead holder's lock is still leased: {other:?}"),
    }
    assert_eq!(
        survivor.lock_holder().await.expect("holder").map(|h| h.id),
        Some(holder.id.clone())
    );
    let early = locked_at + Duration::from_millis(1500);
    tokio::time::sleep_until(early.into()).await;
    assert!(
        matches!(
            survivor
                .lock(LockInfo::new("plan"))
                .await
                .map(|g| g.info().clone()),
            Err(StateError::Locked { .. })
        ),
        "the lock must not be free before its lease runs out"
    );
    let guard = loop {
        match survivor.lock(LockInfo::new("plan")).await {
            Ok(guard) => break guard,
            Err(StateError::Locked { .. }) => {
                assert!(
                    locked_at.elapsed() < Duration::from_secs(6),
                    "the lock is still held {:?} after a 2 s lease",
                    locked_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => unreachable!("lock: {e}"),
        }
    };
    let waited = locked_at.elapsed();
    assert!(
        waited >= Duration::from_millis(1800),
        "taken after {waited:?}, before the 2 s lease ran out"
    );
    guard.release().await.expect("release");
    pg.cleanup().await;
}

/// The heartbeat keeps a live holder's lock for longer than its lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_live_lock() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let lease = Duration::from_secs(1);
    let a = PgStore::connect(pg.config(&schema, lease), Codec::plain())
        .await
        .expect("connect a")
        .workspace_backend("default")
        .expect("a");
    let b = PgStore::connect(pg.config(&schema, lease), Codec::plain())
        .await
        .expect("connect b")
        .workspace_backend("default")
        .expect("b");
    let guard = a.lock(LockInfo::new("apply")).await.expect("lock a");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        let attempt = Instant::now();
        let result = b
            .lock(LockInfo::new("plan"))
            .await
            .map(|g| g.info().clone());
        assert!(
            attempt.elapsed() < Duration::from_secs(1),
            "a refusal is prompt"
        );
        match result {
            Err(StateError::Locked { holder }) => assert_eq!(holder.id, guard.info().id),
            other => unreachable!(
                "after {:?} the renewed lock must still be held: {other:?}",
                started.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Writes under the renewed lock pass the fence.
    a.write(&sample_state(1))
        .await
        .expect("write under the lock");
    guard.release().await.expect("release");
    let taken = b
        .lock(LockInfo::new("plan"))
        .await
        .expect("lock after release");
    taken.release().await.expect("release b");
    pg.cleanup().await;
}

/// Once the lock a backend holds is broken (force-unlock, or a lapsed lease), its writes are
/// refused and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_fenced_by_the_held_lock() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let a = pg
        .store(&schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("a");
    let b = pg
        .store(&schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("b");
    let guard = a.lock(LockInfo::new("apply")).await.expect("lock");
    let first = sample_state(1);
    a.write(&first).await.expect("write under the lock");
    let base = a.load().await.expect("load").expect("state").base;
    a.append(&base, &sample_create(1, "x"))
        .await
        .expect("append under the lock");
    let held = a.load().await.expect("load").expect("state");

    b.force_unlock(&guard.info().id)
        .await
        .expect("force-unlock");
    let mut next = held.state.clone();
    next.serial += 1;
    let lost = |result: Result<(), StateError>, op: &str| {
        let err = result.expect_err(op);
        let text = err.to_string();
        assert!(
            matches!(err, StateError::Backend { .. }) && text.contains("no longer holds"),
            "{op} after a force-unlock: {text}"
        );
        text
    };
    let text = lost(a.write(&next).await, "write");
    assert!(text.contains("nobody holds it now"), "{text}");
    lost(a.append(&base, &sample_create(2, "y")).await, "append");
    lost(a.compact(&next).await, "compact");

    let other = b
        .lock(LockInfo::new("destroy"))
        .await
        .expect("b takes the lock");
    let text = lost(a.write(&next).await, "write after another took the lock");
    assert!(
        text.contains(&other.info().id) && text.contains("destroy"),
        "names the new holder: {text}"
    );
    // b, holding the lock, writes.
    b.compact(&next).await.expect("b compacts");
    assert_eq!(
        b.load().await.expect("load").expect("state").state,
        next,
        "a's refused writes changed nothing"
    );
    // The old guard's release leaves b's lock alone.
    guard.release().await.expect("release of a broken lock");
    assert_eq!(
        a.lock_holder().await.expect("holder").map(|h| h.id),
        Some(other.info().id.clone())
    );
    other.release().await.expect("release b");

    // A lapsed lease is a lost lock too, even before anyone else takes it.
    let guard = a.lock(LockInfo::new("apply")).await.expect("lock again");
    let raw = pg.raw().await;
    raw.execute(
        &format!("UPDATE \"{schema}\".locks SET expires_at = now() - interval '1 second'"),
        &[],
    )
    .await
    .expect("expire the lease");
    let mut later = next.clone();
    later.serial += 1;
    let text = lost(a.write(&later).await, "write after the lease lapsed");
    assert!(text.contains("lease expired"), "{text}");
    drop(guard);
    state::release::settle(Duration::from_secs(5)).await;
    // Unlocked writes are allowed (and still serial-checked).
    a.write(&later).await.expect("write without a lock");
    pg.cleanup().await;
}

/// A refusal stays prompt while the holder is in the middle of a fenced write (which locks the
/// lock row for the length of its transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_prompt_while_the_holder_writes() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let a = pg
        .store(&schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("a");
    let b = pg
        .store(&schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("b");
    let guard = a.lock(LockInfo::new("apply")).await.expect("lock");
    let raw = pg.raw().await;
    // What a fenced write does first, held open.
    raw.batch_execute(&format!(
        "BEGIN; SELECT * FROM \"{schema}\".locks WHERE workspace = 'default' FOR UPDATE"
    ))
    .await
    .expect("lock the row");
    let started = Instant::now();
    let result = b
        .lock(LockInfo::new("plan"))
        .await
        .map(|g| g.info().clone());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}",
        started.elapsed()
    );
    match result {
        Err(StateError::Locked { holder }) => assert_eq!(holder.id, guard.info().id),
        other => unreachable!("must be Locked: {other:?}"),
    }
    raw.batch_execute("ROLLBACK").await.expect("rollback");
    guard.release().await.expect("release");
    pg.cleanup().await;
}

/// Two schemas in one database are independent stores: their locks (rows, not advisory locks
/// with a fixed key, as in hashicorp/terraform#33217) and states never meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schemas_do_not_interfere() {
    let Some(pg) = server() else { return };
    let (s1, s2) = (pg.schema(), pg.schema());
    let one = pg.store(&s1, Codec::plain()).await;
    let two = pg.store(&s2, Codec::plain()).await;
    let a = one.backend("default").await.expect("a");
    let b = two.backend("default").await.expect("b");
    let lock_a = a.lock(LockInfo::new("apply")).await.expect("lock in one");
    let lock_b = b
        .lock(LockInfo::new("apply"))
        .await
        .expect("lock in the other schema while the first is held");
    let four = sample_state(4);
    a.write(&four).await.expect("write one");
    assert_eq!(b.read().await.expect("read two"), None);
    let mut other = State::new();
    other.serial = 1;
    b.write(&other).await.expect("write two");
    assert_eq!(a.read().await.expect("read one"), Some(four));
    one.backend("tenant")
        .await
        .expect("tenant")
        .write(&other)
        .await
        .expect("write tenant");
    assert_eq!(
        one.workspaces().await.expect("list one"),
        vec!["default", "tenant"]
    );
    assert_eq!(two.workspaces().await.expect("list two"), vec!["default"]);
    lock_a.release().await.expect("release a");
    lock_b.release().await.expect("release b");
    assert!(one.describe().contains(&format!("schema {s1} at ")));
    pg.cleanup().await;
}

/// Eight processes using a fresh schema at once all succeed: the migration is serialized.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_use_migrates_once() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let config = pg.config(&schema, Duration::from_secs(30));
            tokio::spawn(async move { PgStore::connect(config, Codec::plain()).await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(
            task.await
                .expect("task")
                .expect("every concurrent first connect succeeds"),
        );
    }
    let raw = pg.raw().await;
    let versions: Vec<i32> = raw
        .query(&format!("SELECT version FROM \"{schema}\".migrations"), &[])
        .await
        .expect("migrations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1], "each migration applied once");
    // All of them work.
    let first = stores[0].backend("default").await.expect("backend");
    let state = sample_state(1);
    first.write(&state).await.expect("write");
    assert_eq!(
        stores[7]
            .backend("default")
            .await
            .expect("backend")
            .read()
            .await
            .expect("read"),
        Some(state)
    );

    // A schema migrated by a newer ss is refused, not downgraded.
    raw.execute(
        &format!("INSERT INTO \"{schema}\".migrations (version) VALUES (99)"),
        &[],
    )
    .await
    .expect("pretend a newer ss migrated");
    let err = PgStore::connect(pg.config(&schema, Duration::from_secs(30)), Codec::plain())
        .await
        .expect_err("newer layout");
    assert!(err.to_string().contains("newer than this ss"), "{err}");
    pg.cleanup().await;
}

/// With a key, the rows hold sealed bytes only: no secret, no resource name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_rows_hold_no_plaintext() {
    let Some(pg) = server() else { return };
    let schema = pg.schema();
    let backend = pg
        .store(&schema, encrypting())
        .await
        .workspace_backend("default")
        .expect("backend");
    let state = sample_state(1);
    backend.write(&state).await.expect("write");
    let base = backend.load().await.expect("load").expect("state").base;
    backend
        .append(&base, &sample_create(1, "topsecretbucket"))
        .await
        .expect("append");
    let loaded = backend.load().await.expect("load").expect("state");
    assert!(
        loaded
            .state
            .resource("sandbox_object.topsecretbucket")
            .is_some()
    );

    let raw = pg.raw().await;
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    for table in ["states", "journal"] {
        for row in raw
            .query(&format!("SELECT data FROM \"{schema}\".{table}"), &[])
            .await
            .expect("raw rows")
        {
            blobs.push(row.get(0));
        }
    }
    assert_eq!(blobs.len(), 2, "one snapshot and one journal batch");
    for blob in &blobs {
        let text = String::from_utf8_lossy(blob);
        for secret in [
            "hunter2",
            "sandbox_pg_instance",
            "postgres.meta",
            "topsecretbucket",
            "sandbox_object",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} is stored in clear: {text}"
            );
        }
    }
    // The same through a store without the key: refused, not misread.
    let keyless = pg
        .store(&schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("keyless");
    let err = keyless.load().await.expect_err("no key");
    assert!(matches!(err, StateError::Decrypt { .. }), "{err}");
    // And the check above means something: a plain store does store the secret in clear.
    let plain_schema = pg.schema();
    pg.store(&plain_schema, Codec::plain())
        .await
        .workspace_backend("default")
        .expect("plain")
        .write(&state)
        .await
        .expect("plain write");
    let row = raw
        .query_one(&format!("SELECT data FROM \"{plain_schema}\".states"), &[])
        .await
        .expect("plain row");
    let data: Vec<u8> = row.get(0);
    assert!(String::from_utf8_lossy(&data).contains("hunter2"));
    pg.cleanup().await;
}

/// The password in the connection string appears in no description and no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_never_shown() {
    let Some(pg) = server() else { return };
    // The test server trusts loopback, so any password is accepted (and never checked).
    let Some(with_password) = insert_password(&pg.conn, "pw-0f9a7c") else {
        eprintln!("note: SS_TEST_PG_CONN is not a URL with a user; skipping");
        return;
    };
    let schema = pg.schema();
    let config = PgConfig {
        conn: with_password.clone(),
        schema: schema.clone(),
        lease: Duration::from_secs(30),
        ca_file: None,
    };
    let store = PgStore::connect(config.clone(), Codec::plain())
        .await
        .expect("connect with a password");
    let backend = store.backend("default").await.expect("backend");
    let mut texts = vec![
        store.describe(),
        backend.describe(),
        format!("{config:?}"),
        format!("{store:?}"),
    ];
    backend.write(&sample_state(3)).await.expect("write");
    texts.push(
        backend
            .write(&sample_state(2))
            .await
            .expect_err("conflict")
            .to_string(),
    );
    let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
    texts.push(guard.info().path.clone());
    let raw = pg.raw().await;
    // A server-side failure: the tables vanish under the store.
    raw.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .expect("drop");
    texts.push(
        backend
            .read()
            .await
            .expect_err("the tables are gone")
            .to_string(),
    );
    drop(guard);
    // A connection failure: nothing listens on port 1.
    let refused = with_password.replacen(
        &format!(":{}", port_of(&pg.conn).unwrap_or_default()),
        ":1",
        1,
    );
    if refused != with_password {
        texts.push(
            PgStore::connect(
                PgConfig {
                    conn: refused,
                    ..config.clone()
                },
                Codec::plain(),
            )
            .await
            .expect_err("refused")
            .to_string(),
        );
    }
    for text in &texts {
        assert!(!text.contains("pw-0f9a7c"), "the password shows in: {text}");
    }
    assert!(
        texts[0].starts_with(&format!("PostgreSQL schema {schema} at ")),
        "{}",
        texts[0]
    );
    assert!(texts[1].ends_with(", workspace default"), "{}", texts[1]);
    assert!(
        texts.iter().any(|t| t.contains("does not exist")),
        "the server's message is passed on: {texts:?}"
    );
    pg.cleanup().await;
}

/// `postgres://user@…` with `:password` inserted after the user.
fn insert_password(conn: &str, password: &str) -> Option<String> {
    let rest = conn
        .strip_prefix("postgres://")
        .or_else(|| conn.strip_prefix("postgresql://"))?;
    let at = rest.find('@')?;
    let user = &rest[..at];
    if user.is_empty() || user.contains(':') {
        return None;
    }
    let scheme = &conn[..conn.len() - rest.len()];
    Some(format!("{scheme}{user}:{password}{}", &rest[at..]))
}

/// The port of a `postgres://…@host:port/…` URL.
fn port_of(conn: &str) -> Option<u16> {
    let after_at = &conn[conn.find('@')? + 1..];
    let host_port = after_at.split(['/', '?']).next()?;
    host_port.rsplit_once(':')?.1.parse().ok()
}

/// `sslmode=prefer` and `require` go through rustls: against a server without TLS, `prefer`
/// connects in clear and `require` is refused; against one with TLS, the certificate must
/// verify against the public roots (a test server's self-signed one is refused, saying why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_use_rustls() {
    let Some(pg) = server() else { return };
    if !pg.conn.contains("sslmode=disable") {
        eprintln!("note: SS_TEST_PG_CONN does not say sslmode=disable; skipping");
        return;
    }
    let schema = pg.schema();
    for mode in ["prefer", "require"] {
        let config = PgConfig {
            conn: pg
                .conn
                .replace("sslmode=disable", &format!("sslmode={mode}")),
            ..pg.config(&schema, Duration::from_secs(30))
        };
        match PgStore::connect(config, Codec::plain()).await {
            Ok(store) => {
                let backend = store.backend("default").await.expect("backend");
                assert_eq!(backend.read().await.expect("read over {mode}"), None);
            }
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("TLS") && matches!(e, StateError::Backend { .. }),
                    "sslmode={mode}: {text}"
                );
                eprintln!("sslmode={mode}: {text}");
            }
        }
    }
    pg.cleanup().await;
}
