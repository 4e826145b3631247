//! The local file backend on a real file system: format fixtures, permissions, backups, corrupt
//! files, and locking across processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use state::{Backend, FORMAT_VERSION, LocalBackend, LockInfo, State, StateError};

/// Copies a fixture into a fresh directory as the state file.
fn backend_with(content: &[u8]) -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ss.state.json");
    std::fs::write(&path, content).expect("seed state");
    (dir, LocalBackend::new(path))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).expect("fixture")
}

#[tokio::test]
async fn version_1_fixture_reads() {
    let (_dir, backend) = backend_with(&fixture("v1.json"));
    let state = backend.read().await.expect("read").expect("a state");
    assert_eq!(state.format_version, FORMAT_VERSION);
    assert_eq!(state.lineage, "4f0c2a5e-8d1b-4c8e-9a51-2b7f0e6d3c11");
    assert_eq!(state.serial, 12);
    assert_eq!(state.resources.len(), 2);
    let pg = state
        .resource("postgres.meta.sandbox_pg_instance.primary")
        .expect("postgres record");
    assert_eq!(pg.id, "pg-0001");
    assert_eq!(pg.sensitive_attributes, vec!["password".to_string()]);
    assert!(pg.create_before_destroy);
    let net = state
        .resource("network.main.sandbox_network.main")
        .expect("network record");
    assert!(net.dependencies.is_empty() && !net.create_before_destroy);
    assert!(state.outputs["password"].sensitive);
}

#[tokio::test]
async fn newer_format_is_refused_and_kept() {
    let newer = format!(
        "{{\"format_version\": {}, \"lineage\": \"x\", \"serial\": 1}}",
        FORMAT_VERSION + 1
    );
    let (_dir, backend) = backend_with(newer.as_bytes());
    let err = backend.read().await.expect_err("a newer format");
    assert!(
        matches!(err, StateError::UnsupportedVersion { found, supported: FORMAT_VERSION } if found == FORMAT_VERSION + 1),
        "{err:?}"
    );
    let mut state = State::new();
    state.serial = 100;
    assert!(
        backend.write(&state).await.is_err(),
        "a newer state is never overwritten"
    );
    assert_eq!(
        std::fs::read(backend.path()).expect("read back"),
        newer.as_bytes()
    );
}

#[tokio::test]
async fn corrupt_file_is_reported_and_never_overwritten() {
    let garbage = b"{\"format_version\": 1, \"lineage\": \"trunc";
    let (_dir, backend) = backend_with(garbage);
    let path = backend.path().display().to_string();
    match backend.read().await {
        Err(StateError::Corrupt { path: p, .. }) => assert_eq!(p, path),
        other => unreachable!("expected Corrupt, got {other:?}"),
    }
    let err = backend
        .write(&State::new())
        .await
        .expect_err("write over a corrupt file");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(&path), "{err}");
    assert_eq!(std::fs::read(backend.path()).expect("read back"), garbage);
    assert!(!backend.backup_path().exists());
}

#[tokio::test]
async fn previous_copy_is_kept_as_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path().join("ss.state.json"));
    let mut state = State::new();
    state.serial = 1;
    backend.write(&state).await.expect("first write");
    assert!(
        !backend.backup_path().exists(),
        "no backup before a second write"
    );
    let first_bytes = std::fs::read(backend.path()).expect("state bytes");

    state.serial = 2;
    backend.write(&state).await.expect("second write");
    assert_eq!(
        std::fs::read(backend.backup_path()).expect("backup"),
        first_bytes
    );
    let text = std::fs::read_to_string(backend.path()).expect("state text");
    assert!(text.contains("\n  \"serial\": 2,\n"), "pretty JSON: {text}");
    assert!(text.ends_with("}\n"));
}

#[tokio::test]
async fn creates_missing_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path().join("a/b/ss.state.json"));
    let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
    backend.write(&State::new()).await.expect("write");
    drop(guard);
    assert!(backend.read().await.expect("read").is_some());
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path().join("ss.state.json"));
    let guard = backend.lock(LockInfo::new("apply")).await.expect("lock");
    let mut state = state::conformance::sample_state(1);
    backend.write(&state).await.expect("first write");
    state.serial = 2;
    backend.write(&state).await.expect("second write");
    drop(guard);
    for path in [
        backend.path().to_path_buf(),
        backend.backup_path(),
        backend.lock_path(),
    ] {
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn lock_record_names_the_holder_and_is_cleared_on_release() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path().join("ss.state.json"));
    let info = LockInfo::new("apply");
    let guard = backend.lock(info.clone()).await.expect("lock");
    let record: LockInfo =
        serde_json::from_slice(&std::fs::read(backend.lock_path()).expect("lock file"))
            .expect("a LockInfo record");
    assert_eq!(record.id, info.id);
    assert_eq!(record.path, backend.path().display().to_string());
    assert_eq!(guard.info(), &record);
    drop(guard);
    assert_eq!(std::fs::read(backend.lock_path()).expect("lock file"), b"");
}

/// Environment variable that turns [`hold_lock_helper`] into a lock holder for the
/// cross-process test; its value is the state path.
const HELPER_ENV: &str = "SS_STATE_TEST_HOLD_LOCK";

/// Not a test on its own: run by `second_process_is_refused_and_lock_dies_with_holder` as a
/// child process, it takes the lock, says so on stdout, and holds it until killed.
#[tokio::test]
#[ignore = "helper process for the cross-process lock test"]
async fn hold_lock_helper() {
    let Ok(path) = std::env::var(HELPER_ENV) else {
        return;
    };
    let backend = LocalBackend::new(PathBuf::from(path));
    let _guard = backend
        .lock(LockInfo::new("helper-apply"))
        .await
        .expect("helper lock");
    println!("LOCKED");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn second_process_is_refused_and_lock_dies_with_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ss.state.json");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "hold_lock_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn helper");
    let stdout = child.stdout.take().expect("helper stdout");
    let locked = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("LOCKED"));
    assert!(locked, "the helper took the lock");

    let backend = LocalBackend::new(&path);
    let started = Instant::now();
    let refused = backend.lock(LockInfo::new("apply")).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused within a second"
    );
    match refused {
        Err(StateError::Locked { holder }) => {
            assert_eq!(holder.pid, child.id(), "names the holding process");
            assert_eq!(holder.operation, "helper-apply");
            let message = StateError::Locked { holder }.to_string();
            assert!(
                message.contains(&format!("pid {}", child.id())),
                "{message}"
            );
        }
        other => unreachable!("expected Locked, got {:?}", other.map(|g| g.info().clone())),
    }

    // The OS releases the lock when its holder dies, even without any cleanup.
    child.kill().expect("kill helper");
    child.wait().expect("reap helper");
    let guard = backend
        .lock(LockInfo::new("apply"))
        .await
        .expect("lock after the holder died");
    assert_eq!(guard.info().operation, "apply");
}
