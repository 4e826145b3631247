use sha2::{Digest, Sha256};

/// The deterministic cloud-side name of a native resource: derived from the stack name and the
/// resource address only, so a retried or resumed create finds (and adopts) what an interrupted
/// one made instead of duplicating it.
///
/// The result is lowercase ASCII letters, digits and `-`, starts with a letter, and is at most
/// `max_len` characters (at least 16 are needed for the hash suffix to be meaningful).
pub fn deterministic_name(stack: &str, address: &str, max_len: usize) -> String {
    let digest = Sha256::digest(format!("{stack}\u{0}{address}").as_bytes());
    let hash = &hex::encode(digest)[..10];
    let mut readable = String::new();
    for c in format!("ss-{stack}-{address}").chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    let room = max_len.saturating_sub(hash.len() + 1);
    let mut prefix: String = readable.chars().take(room).collect();
    while prefix.ends_with('-') {
        prefix.pop();
    }
    if prefix.is_empty() {
        format!("s{hash}")
    } else {
        format!("{prefix}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_bounded_and_distinct() {
        let a = deterministic_name("demo", "postgres.meta.sandbox_pg_instance.primary", 40);
        assert_eq!(
            a,
            deterministic_name("demo", "postgres.meta.sandbox_pg_instance.primary", 40)
        );
        assert!(a.len() <= 40, "{a}");
        assert!(a.starts_with("ss-demo-postgres"));
        assert_ne!(
            a,
            deterministic_name("demo2", "postgres.meta.sandbox_pg_instance.primary", 40)
        );
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
