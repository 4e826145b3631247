//! Crash-safe file replacement, for state files, their backups and saved plans.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` so that a crash at any instant leaves either the old or the new
/// content, never a mix: the bytes go to a temporary file in the same directory (created with
/// mode 0600, so it is never readable by others, even briefly), which is flushed to disk, renamed
/// over `path`, and the directory is flushed so the rename itself survives a power loss.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_with(path, |temp| write_new(temp, bytes))
}

/// Like [`write_atomic`], with the content of the file `from` (copied without holding it in
/// memory).
pub fn copy_atomic(from: &Path, path: &Path) -> std::io::Result<()> {
    replace_with(path, |temp| {
        let mut source = File::open(from)?;
        let mut file = private_options().create_new(true).open(temp)?;
        std::io::copy(&mut source, &mut file)?;
        file.sync_all()
    })
}

/// Fills a fresh temporary file beside `path` with `fill`, then renames it over `path`.
fn replace_with(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let temp = dir.join(temp_name);

    let result = fill(&temp).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        // The temporary file is useless once the replacement failed; a failure to remove it is
        // secondary to the error being reported.
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    sync_dir(&dir)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `path` (which must not exist) with owner-only permissions and writes `bytes` durably.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = private_options().create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Write options for files that may hold secrets: owner read/write only, from creation on.
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for flushing on this platform; the rename is as durable as the
/// file system makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("f.json")],
            "no temp file left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private_even_when_replacing_a_public_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plan.bin");
        std::fs::write(&path, b"old").expect("seed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&path, b"new").expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope").join("f.json");
        assert!(write_atomic(&path, b"x").is_err());
    }
}
