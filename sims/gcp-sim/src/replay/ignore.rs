//! The fields the replay leaves out of its shape comparison, each with why.
//!
//! The replay compares field *paths and JSON types*, never values, so volatile values (ids,
//! etags, fingerprints, timestamps, self links' hosts) need no entry here: their presence and
//! type are the contract. An entry is needed only where the *presence* of a field truly varies
//! from run to run against the real API, so that no simulator could reproduce a recording.

/// One ignored field path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    /// A path as the shape comparison spells it (`a.b`, `a[].b`); it also covers everything
    /// below it. A leading `*.` matches the rest of the path at any depth (`*.b` covers `b`,
    /// `a.b` and `a[].b.c`).
    pub path: &'static str,
    /// Why the field's presence varies run to run.
    pub why: &'static str,
}

/// The ignore list (one place, see the module documentation). Empty so far: no field of the
/// vendored logs has been shown to come and go between runs of the same recording.
pub const IGNORED: &[Ignored] = &[];

/// Whether `path` is one of `list` or lies below one.
pub fn is_ignored(list: &[Ignored], path: &str) -> bool {
    list.iter().any(|i| covers(i.path, path))
}

/// Whether the pattern `pattern` covers `path` (itself or a descendant).
pub fn covers(pattern: &str, path: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(tail) => {
            // Any start that is a segment boundary: the whole path or after `.` / `[].`.
            std::iter::once(0)
                .chain(path.match_indices('.').map(|(i, _)| i + 1))
                .any(|start| {
                    path.get(start..)
                        .is_some_and(|rest| is_at_or_below(tail, rest))
                })
        }
        None => is_at_or_below(pattern, path),
    }
}

/// `path` equals `ancestor` or lies below it (`ancestor.x`, `ancestor[]…`).
pub fn is_at_or_below(ancestor: &str, path: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}
