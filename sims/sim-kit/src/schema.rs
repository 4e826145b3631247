//! API descriptions loaded once per directory and process: every simulator started by a test
//! binary shares one compiled copy.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

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
}
