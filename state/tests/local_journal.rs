//! The local backend's journal file on a real file system: torn and corrupt lines, permissions,
//! the cost of appending, handles kept across compactions by another backend object, and a
//! process killed in mid-append.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use state::conformance::{sample_create, sample_record, sample_state};
use state::{Backend, JournalEntry, Loaded, LocalBackend, Stamp, State, StateError};

fn fresh() -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path().join("ss.state.json"));
    (dir, backend)
}

async fn load(backend: &LocalBackend) -> Loaded {
    backend.load().await.expect("load").expect("a stored state")
}

/// Writes a snapshot with serial 1 and returns its stamp.
async fn snapshot(backend: &LocalBackend) -> Stamp {
    let state = sample_state(1);
    backend.write(&state).await.expect("write snapshot");
    Stamp::of(&state)
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open journal");
    file.write_all(bytes).expect("raw append");
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .expect("journal")
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

fn upserts(from: u64, count: u64) -> Vec<JournalEntry> {
    (from..from + count)
        .map(|n| JournalEntry::Upsert {
            record: sample_record(&format!("o{n:06}"), &format!("obj-{n}")),
        })
        .collect()
}

#[tokio::test]
async fn torn_last_line_is_ignored_then_cut_off() {
    let (_dir, backend) = fresh();
    let base = snapshot(&backend).await;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    let whole = std::fs::read(backend.journal_path()).expect("journal");
    append_raw(
        &backend.journal_path(),
        b"{\"kind\":\"upsert\",\"record\":{\"address\":\"sandbox_object.b\",",
    );

    let loaded = load(&backend).await;
    assert_eq!(loaded.state.serial, 2, "the torn upsert is not replayed");
    assert!(loaded.state.resource("sandbox_object.b").is_none());
    assert!(loaded.pending.is_empty());

    // A new process appends after cutting the torn line off.
    let next = LocalBackend::new(backend.path());
    next.append(&base, &sample_create(2, "b"))
        .await
        .expect("append after a torn line");
    let bytes = std::fs::read(backend.journal_path()).expect("journal");
    assert!(bytes.starts_with(&whole), "the whole lines are kept");
    for line in bytes[..bytes.len() - 1].split(|b| *b == b'\n') {
        serde_json::from_slice::<serde_json::Value>(line).expect("every line is whole JSON");
    }
    let loaded = load(&next).await;
    assert_eq!(loaded.state.serial, 3);
    assert!(loaded.state.resource("sandbox_object.b").is_some());
}

#[tokio::test]
async fn corrupt_middle_line_is_reported_and_left_untouched() {
    let (_dir, backend) = fresh();
    let base = snapshot(&backend).await;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    let journal = backend.journal_path();
    append_raw(
        &journal,
        b"not json\n{\"kind\":\"resolved\",\"intent\":1}\n",
    );
    let before = std::fs::read(&journal).expect("journal");
    let expect_corrupt = |result: Result<(), StateError>, what: &str| match result {
        Err(StateError::Corrupt { path, reason }) => {
            assert_eq!(path, journal.display().to_string(), "{what}");
            assert!(reason.contains("line 5"), "{what}: {reason}");
        }
        other => unreachable!("{what}: expected Corrupt, got {other:?}"),
    };
    expect_corrupt(backend.load().await.map(|_| ()), "load");
    expect_corrupt(backend.read().await.map(|_| ()), "read");
    let next = LocalBackend::new(backend.path());
    expect_corrupt(
        next.append(&base, &sample_create(2, "b")).await,
        "append from a new process",
    );
    let mut newer = sample_state(1);
    newer.serial = 100;
    expect_corrupt(backend.compact(&newer).await, "compact");
    assert_eq!(std::fs::read(&journal).expect("journal"), before);
}

#[cfg(unix)]
#[tokio::test]
async fn journal_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, backend) = fresh();
    let base = snapshot(&backend).await;
    let mode = |path: &Path| std::fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("new journal");
    assert_eq!(mode(&backend.journal_path()), 0o600);
    // Resumed by another process, then restarted for a new base.
    let next = LocalBackend::new(backend.path());
    next.append(&base, &sample_create(2, "b"))
        .await
        .expect("resumed journal");
    assert_eq!(mode(&backend.journal_path()), 0o600);
    let mut state = load(&next).await.state;
    state.serial += 1;
    next.write(&state).await.expect("write");
    next.append(&Stamp::of(&state), &sample_create(3, "c"))
        .await
        .expect("journal for the new base");
    assert_eq!(mode(&backend.journal_path()), 0o600);
}

#[tokio::test]
async fn appends_never_rewrite_the_snapshot() {
    let (_dir, backend) = fresh();
    let mut start = State::new();
    start.serial = 1;
    for entry in upserts(0, 1000) {
        if let JournalEntry::Upsert { record } = entry {
            start.upsert(record);
        }
    }
    backend.write(&start).await.expect("write");
    let base = Stamp::of(&start);
    let meta = |path: &Path| std::fs::metadata(path).expect("stat");
    let bytes = std::fs::read(backend.path()).expect("snapshot");
    let modified = meta(backend.path()).modified().expect("mtime");
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta(backend.path()));

    for batch in 0..100 {
        backend
            .append(&base, &upserts(1000 + batch * 100, 100))
            .await
            .expect("append");
    }

    assert_eq!(std::fs::read(backend.path()).expect("snapshot"), bytes);
    assert_eq!(meta(backend.path()).modified().expect("mtime"), modified);
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&meta(backend.path())),
        inode,
        "the snapshot file was never replaced"
    );
    assert!(
        !backend.backup_path().exists(),
        "no snapshot write happened"
    );
    assert_eq!(
        line_count(&backend.journal_path()),
        1 + 10_000,
        "header and one line per entry"
    );
    let loaded = load(&backend).await;
    assert_eq!(loaded.state.serial, 1 + 10_000);
    assert_eq!(loaded.state.resources.len(), 11_000);
}

#[tokio::test]
async fn kept_handle_notices_another_backend_compacting() {
    let (_dir, first) = fresh();
    let base = snapshot(&first).await;
    first
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append keeps the handle open");

    let second = LocalBackend::new(first.path());
    let compacted = load(&second).await.state;
    second.compact(&compacted).await.expect("compact");
    assert!(
        !first.journal_path().exists(),
        "compaction removed the journal"
    );

    let result = first.append(&base, &sample_create(2, "b")).await;
    assert!(
        matches!(result, Err(StateError::Conflict { .. })),
        "the old base is no longer the snapshot: {result:?}"
    );
    let new_base = Stamp::of(&compacted);
    first
        .append(&new_base, &sample_create(3, "c"))
        .await
        .expect("append against the new snapshot");
    second
        .append(&new_base, &sample_create(4, "d"))
        .await
        .expect("the other backend object resumes the same journal");
    let loaded = load(&first).await;
    assert_eq!(loaded.state.serial, compacted.serial + 2);
    assert!(loaded.state.resource("sandbox_object.b").is_none());
    assert!(loaded.state.resource("sandbox_object.c").is_some());
    assert!(loaded.state.resource("sandbox_object.d").is_some());
}

#[tokio::test]
async fn journal_without_snapshot() {
    let (_dir, backend) = fresh();
    let base = snapshot(&backend).await;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("append");
    std::fs::remove_file(backend.path()).expect("remove the snapshot by hand");
    match backend.load().await {
        Err(StateError::Corrupt { path, reason }) => {
            assert_eq!(path, backend.journal_path().display().to_string());
            assert!(reason.contains("no state snapshot"), "{reason}");
        }
        other => unreachable!("expected Corrupt, got {other:?}"),
    }
    // A journal holding only its header records nothing: there is no state.
    std::fs::write(
        backend.journal_path(),
        format!("{}\n", serde_json::to_string(&base).expect("header")),
    )
    .expect("header-only journal");
    assert_eq!(backend.load().await.expect("load"), None);
}

/// Environment variable that turns [`append_until_killed_helper`] into an appender for the
/// crash test; its value is the state path.
const HELPER_ENV: &str = "SS_STATE_TEST_APPEND";
const BATCH: u64 = 40;

/// Not a test on its own: run by `killed_in_mid_append_leaves_a_loadable_journal` as a child
/// process, it appends batches of large records, saying so after each, until killed.
#[tokio::test]
#[ignore = "helper process for the crash test"]
async fn append_until_killed_helper() {
    let Ok(path) = std::env::var(HELPER_ENV) else {
        return;
    };
    let backend = LocalBackend::new(PathBuf::from(path));
    let base = load(&backend).await.base;
    let padding = "x".repeat(4096);
    for batch in 0.. {
        let entries: Vec<JournalEntry> = upserts(batch * BATCH, BATCH)
            .into_iter()
            .map(|mut entry| {
                if let JournalEntry::Upsert { record } = &mut entry {
                    record
                        .attributes
                        .insert("padding".into(), padding.clone().into());
                }
                entry
            })
            .collect();
        backend.append(&base, &entries).await.expect("append");
        println!("APPENDED {batch}");
    }
}

#[tokio::test]
async fn killed_in_mid_append_leaves_a_loadable_journal() {
    for (trial, delay) in [1u64, 3, 7, 13, 29].into_iter().enumerate() {
        let (_dir, backend) = fresh();
        let base = snapshot(&backend).await;
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "append_until_killed_helper",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER_ENV, backend.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn helper");
        let mut lines = BufReader::new(child.stdout.take().expect("helper stdout"))
            .lines()
            .map_while(Result::ok);
        let mut acknowledged = None;
        for line in lines.by_ref() {
            if let Some(n) = line.strip_prefix("APPENDED ") {
                acknowledged = n.parse::<u64>().ok();
                if acknowledged >= Some(2) {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(delay));
        let killed = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -9 the helper");
        child.wait().expect("reap helper");
        // Batches the helper reported before it died are durable.
        for line in lines {
            if let Some(n) = line.strip_prefix("APPENDED ") {
                acknowledged = n.parse::<u64>().ok();
            }
        }
        let acknowledged = acknowledged.expect("the helper appended") + 1;

        let survivor = LocalBackend::new(backend.path());
        let loaded = load(&survivor).await;
        assert_eq!(loaded.base, base, "trial {trial}");
        let kept = loaded.state.serial - base.serial;
        assert!(
            kept >= acknowledged * BATCH,
            "trial {trial}: {kept} entries kept, {acknowledged} batches were acknowledged"
        );
        // Whatever survived is a prefix of what was appended, in order.
        let mut expected: Vec<String> = (0..kept)
            .map(|n| format!("sandbox_object.o{n:06}"))
            .collect();
        expected.insert(0, "postgres.meta.sandbox_pg_instance.primary".into());
        let found: Vec<&str> = loaded
            .state
            .resources
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(found, expected, "trial {trial}");

        // The journal takes further appends, and compacts.
        survivor
            .append(&base, &sample_create(1, "after"))
            .await
            .expect("append after the crash");
        let loaded = load(&survivor).await;
        assert_eq!(loaded.state.serial, base.serial + kept + 1, "trial {trial}");
        survivor
            .compact(&loaded.state)
            .await
            .expect("compact after the crash");
        assert_eq!(load(&survivor).await.state, loaded.state, "trial {trial}");
    }
}

/// A kill lands in mid-write only by luck; this covers every length a torn append can leave:
/// the journal cut inside or at the edge of each entry loads as a prefix of whole entries, and
/// takes further appends.
#[tokio::test]
async fn journal_cut_at_any_byte_loads() {
    let (dir, backend) = fresh();
    let base = snapshot(&backend).await;
    backend
        .append(&base, &sample_create(1, "a"))
        .await
        .expect("first batch");
    backend
        .append(&base, &sample_create(2, "b"))
        .await
        .expect("second batch");
    let whole = std::fs::read(backend.journal_path()).expect("journal");
    let snapshot_bytes = std::fs::read(backend.path()).expect("snapshot");
    let header_end = whole.iter().position(|b| *b == b'\n').expect("header") + 1;

    let trial_path = dir.path().join("trial.state.json");
    // Every byte around each line end, and every seventh byte elsewhere (each cut costs an
    // fsync).
    let near_line_end =
        |cut: usize| whole[cut.saturating_sub(2)..(cut + 2).min(whole.len())].contains(&b'\n');
    let cuts = (header_end..=whole.len()).filter(|cut| cut % 7 == 0 || near_line_end(*cut));
    for cut in cuts {
        std::fs::write(&trial_path, &snapshot_bytes).expect("snapshot copy");
        let trial = LocalBackend::new(&trial_path);
        std::fs::write(trial.journal_path(), &whole[..cut]).expect("cut journal");
        let whole_lines = whole[header_end..cut]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        let loaded = load(&trial).await;
        // Each create is an intent, an upsert (the mutation) and a resolution.
        let mutations = (whole_lines + 1) / 3;
        assert_eq!(
            loaded.state.serial,
            base.serial + mutations as u64,
            "cut at byte {cut} of {}",
            whole.len()
        );
        trial
            .append(&base, &[JournalEntry::Resolved { intent: 99 }])
            .await
            .unwrap_or_else(|e| unreachable!("append after a cut at byte {cut}: {e}"));
        let again = load(&trial).await;
        assert_eq!(again.state, loaded.state, "cut at byte {cut}");
    }
}
