//! Who holds a state lock: enough for a user to find the holder (user, host, pid), know what it
//! is doing and since when, and release it by id.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    /// A fresh unique id per acquisition (a force-unlock names it).
    pub id: String,
    /// The command holding the lock (`apply`, `plan`, …).
    pub operation: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// When the lock was requested, RFC 3339 UTC.
    pub created: String,
    /// What is locked; the backend fills it in when the lock is taken.
    pub path: String,
}

impl LockInfo {
    /// Holder information for this process, about to run `operation`.
    pub fn new(operation: &str) -> LockInfo {
        let user = ["USER", "USERNAME"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".to_string());
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            user,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            path: String::new(),
        }
    }

    /// Placeholder for a lock that is held by someone whose record could not be read (a holder
    /// that has taken the lock but not yet recorded itself, or a damaged record). Every field
    /// says so rather than guessing.
    pub fn unknown(path: &str) -> LockInfo {
        LockInfo {
            id: "unknown".to_string(),
            operation: "unknown".to_string(),
            user: "unknown".to_string(),
            host: "unknown".to_string(),
            pid: 0,
            created: "unknown".to_string(),
            path: path.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_describes_this_process() {
        let info = LockInfo::new("apply");
        assert_eq!(info.operation, "apply");
        assert_eq!(info.pid, std::process::id());
        assert!(!info.host.is_empty());
        assert!(!info.user.is_empty());
        assert!(info.created.ends_with('Z'), "{}", info.created);
        assert_ne!(info.id, LockInfo::new("apply").id);
    }

    #[test]
    fn locked_error_names_the_holder() {
        let holder = LockInfo {
            id: "abc".into(),
            operation: "apply".into(),
            user: "alice".into(),
            host: "box".into(),
            pid: 42,
            created: "2026-01-02T03:04:05Z".into(),
            path: "ss.state.json".into(),
        };
        let text = crate::StateError::Locked {
            holder: Box::new(holder),
        }
        .to_string();
        assert_eq!(
            text,
            "state is locked by alice@box (pid 42) running `apply` since 2026-01-02T03:04:05Z; lock id abc"
        );
    }
}
