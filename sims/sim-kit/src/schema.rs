//! API descriptions loaded once per directory and process: every simulator started by a test
//! binary shares one compiled copy.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

type Cache = HashMap<(TypeId, PathBuf), Arc<dyn Any + Send + Sync>>;

/// The `T` compiled from `dir` by `load`, loaded the first time it is asked for and kept for
/// the process (a failure is not kept: the next call tries again).
pub fn load_cached<T: Any + Send + Sync>(
    dir: &Path,
    load: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<Arc<T>, String> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (TypeId::of::<T>(), dir.to_path_buf());
    if let Some(found) = crate::serve::lock(cache).get(&key).cloned()
        && let Ok(found) = found.downcast::<T>()
    {
        return Ok(found);
    }
    let loaded = Arc::new(load(dir)?);
    crate::serve::lock(cache).insert(key, loaded.clone());
    Ok(loaded)
}

/// Reads the JSON API descriptions `files` of `dir` (`what` names them in errors, e.g.
/// "the GCP discovery documents"); every error says where they were expected and that
/// `--schema-dir` moves it.
pub fn read_documents(dir: &Path, what: &str, files: &[&str]) -> Result<Vec<Value>, String> {
    if !dir.is_dir() {
        return Err(format!(
            "schema directory {} does not exist (expected {what} {}; pass --schema-dir)",
            dir.display(),
            files.join(", ")
        ));
    }
    files
        .iter()
        .map(|file| {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read {} (expected {what} {} in {}; pass --schema-dir): {e}",
                    path.display(),
                    files.join(", "),
                    dir.display()
                )
            })?;
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_per_type_and_directory() {
        let dir = Path::new("/sim-kit/test/dir");
        let mut calls = 0;
        let a = load_cached(dir, |_| {
            calls += 1;
            Ok(7u32)
        })
        .unwrap();
        let b = load_cached(dir, |_| {
            calls += 1;
            Ok(8u32)
        })
        .unwrap();
        assert_eq!((*a, *b, calls), (7, 7, 1));
        let other = load_cached(dir, |_| Ok("text")).unwrap();
        assert_eq!(*other, "text");
        assert!(load_cached(Path::new("/sim-kit/none"), |_| Err::<u64, _>("no".into())).is_err());
    }

    #[test]
    fn documents_are_read_or_the_error_says_where() {
        let dir = std::env::temp_dir().join(format!("sim-kit-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), "{\"a\": 1}").unwrap();
        std::fs::write(dir.join("bad.json"), "{").unwrap();
        let docs = read_documents(&dir, "test files", &["a.json"]).unwrap();
        assert_eq!(docs, [serde_json::json!({"a": 1})]);
        let missing = read_documents(&dir, "test files", &["a.json", "b.json"]).unwrap_err();
        assert!(
            missing.contains("b.json") && missing.contains("--schema-dir"),
            "{missing}"
        );
        let bad = read_documents(&dir, "test files", &["bad.json"]).unwrap_err();
        assert!(bad.contains("is not JSON"), "{bad}");
        std::fs::remove_dir_all(&dir).unwrap();
        let none = read_documents(&dir, "test files", &["a.json"]).unwrap_err();
        assert!(
            none.contains("does not exist") && none.contains("test files"),
            "{none}"
        );
    }
}
