//! Workspace names: one spec, many independent states (one per tenant, stage or region).

use crate::error::StateError;

/// The workspace every store has, used when none is selected.
pub const DEFAULT: &str = "default";

/// Checks a workspace name: 1 to 64 characters from `A-Z a-z 0-9 _ -`, starting with a letter
/// or digit. Names become file names, S3 key parts and database values, so nothing else is
/// allowed.
pub fn check_name(name: &str) -> Result<(), StateError> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(StateError::InvalidWorkspace {
            name: name.to_string(),
        })
    }
}

/// Sorts workspace names with `default` first, adding it when missing, without duplicates.
pub fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.retain(|n| n != DEFAULT);
    names.sort();
    names.dedup();
    names.insert(0, DEFAULT.to_string());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["default", "acme", "tenant-042", "eu_west_1", "A1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "x".repeat(65);
        for bad in ["", "-x", "_x", "a/b", "..", "a b", "é", long.as_str()] {
            assert!(
                matches!(check_name(bad), Err(StateError::InvalidWorkspace { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_comes_first() {
        assert_eq!(
            sorted(vec!["b".into(), "default".into(), "a".into(), "b".into()]),
            vec!["default", "a", "b"]
        );
        assert_eq!(sorted(Vec::new()), vec!["default"]);
    }
}
