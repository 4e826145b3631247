//! Reading configuration: the provider block's common settings and a resource's attributes.

use std::time::Duration;

use crate::diag::Diagnostic;
use crate::provider::{Attrs, seconds_setting};
use crate::value::Value;

use super::wait::DEFAULT_READY_TIMEOUT;

/// A string setting, trimmed; `None` when absent, null or blank.
pub fn text(config: &Attrs, key: &str) -> Option<String> {
    config
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A required string setting: a diagnostic at it when absent or blank.
pub fn required_text(config: &Attrs, key: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let found = text(config, key);
    if found.is_none() {
        diags.push(Diagnostic::error(format!("`{key}` must not be empty")).at([key]));
    }
    found
}

/// The provider block's `zones`: the listed ones (at least one), else `default()`.
pub fn zones(
    config: &Attrs,
    default: impl FnOnce() -> Vec<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    match config.get("zones").and_then(Value::as_list) {
        Some(list) => {
            let zones = strings(list);
            if zones.is_empty() {
                diags.push(Diagnostic::error("`zones` must name at least one zone").at(["zones"]));
            }
            zones
        }
        None => default(),
    }
}

/// The provider block's `ready_timeout` in seconds, [`DEFAULT_READY_TIMEOUT`] when absent.
pub fn ready_timeout(config: &Attrs, diags: &mut Vec<Diagnostic>) -> Duration {
    seconds_setting(config, "ready_timeout", DEFAULT_READY_TIMEOUT, diags)
}

/// An endpoint URL setting, trimmed of a final `/`: a diagnostic at `path` when it is not an
/// http(s) URL.
pub fn endpoint_url(value: &Value, path: &[&str], diags: &mut Vec<Diagnostic>) -> Option<String> {
    let url = value.as_str()?.trim().trim_end_matches('/').to_string();
    if url.starts_with("http://") || url.starts_with("https://") {
        Some(url)
    } else {
        diags.push(
            Diagnostic::error(format!(
                "`{}` must be an http(s) URL, got {url:?}",
                path.last().copied().unwrap_or("endpoint")
            ))
            .at(path.iter().copied()),
        );
        None
    }
}

/// The strings of a list value, in order (other items skipped).
pub fn strings(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A string attribute.
pub fn attr_str<'a>(config: &'a Attrs, key: &str) -> Option<&'a str> {
    config.get(key).and_then(Value::as_str)
}

/// A boolean attribute, `default` when absent or null.
pub fn attr_bool(config: &Attrs, key: &str, default: bool) -> bool {
    config.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// A whole-number attribute, `default` when absent or null.
pub fn attr_i64(config: &Attrs, key: &str, default: i64) -> i64 {
    config.get(key).and_then(Value::as_i64).unwrap_or(default)
}

/// A list-of-strings attribute, in its order (empty when absent).
pub fn attr_list(config: &Attrs, key: &str) -> Vec<String> {
    config
        .get(key)
        .and_then(Value::as_list)
        .map(strings)
        .unwrap_or_default()
}

/// A list-of-strings attribute as a set: sorted, without repeats.
pub fn attr_set(config: &Attrs, key: &str) -> Vec<String> {
    let mut out = attr_list(config, key);
    out.sort();
    out.dedup();
    out
}

/// Reads a component's configuration while expanding it.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    pub attrs: &'a Attrs,
}

impl<'a> Reader<'a> {
    pub fn new(attrs: &'a Attrs) -> Reader<'a> {
        Reader { attrs }
    }

    /// The attribute, or `default` when absent or null.
    pub fn value(&self, key: &str, default: impl Into<Value>) -> Value {
        match self.attrs.get(key) {
            Some(v) if !v.is_null() => v.clone(),
            _ => default.into(),
        }
    }

    /// An attribute that decides how many resources are created: it must be known at plan
    /// time, and `f` must accept its type.
    pub fn known<T>(
        &self,
        key: &str,
        default: impl Into<Value>,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, Diagnostic> {
        let v = self.value(key, default);
        if v.is_unknown() {
            return Err(Diagnostic::error(format!(
                "`{key}` decides how many resources are created, so it must be known at plan time"
            ))
            .at([key]));
        }
        f(&v).ok_or_else(|| Diagnostic::error(format!("`{key}` has the wrong type")).at([key]))
    }
}

/// A field of an object attribute (such as `health_check.interval`): unknown when the whole
/// object is, `default` when the field is absent or null.
pub fn field(object: &Value, key: &str, default: Value) -> Value {
    match object.get(key) {
        Some(v) if !v.is_null() => v.clone(),
        _ if object.is_unknown() => Value::Unknown,
        _ => default,
    }
}

/// The local names given to a component's labelled blocks (node pools), each claimed once:
/// two labels that map to the same local name ("web-1" and "Web_1") are refused, since their
/// native resources would collide.
#[derive(Debug, Default)]
pub struct LocalNames(std::collections::BTreeMap<String, String>);

impl LocalNames {
    /// Claims `local` for the node pool `label`.
    pub fn claim(&mut self, local: &str, label: &str) -> Result<(), Diagnostic> {
        match self.0.insert(local.to_string(), label.to_string()) {
            Some(other) => Err(Diagnostic::error(format!(
                "node pools {other:?} and {label:?} are too alike: rename one"
            ))
            .at(["node_pool", label])),
            None => Ok(()),
        }
    }
}

/// A label (a node pool's, a rule's) as a local-name suffix: lowercase letters, digits and `_`.
pub fn local_suffix(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_with_their_defaults_and_refusals() {
        let config = Attrs::from([
            ("region".into(), Value::from("  eu-west-1 ")),
            ("blank".into(), Value::from(" ")),
            ("zones".into(), Value::List(vec![])),
        ]);
        let mut diags = Vec::new();
        assert_eq!(text(&config, "region").as_deref(), Some("eu-west-1"));
        assert_eq!(required_text(&config, "blank", &mut diags), None);
        assert!(zones(&config, || vec!["a".into()], &mut diags).is_empty());
        assert_eq!(diags.len(), 2);
        assert_eq!(
            zones(&Attrs::new(), || vec!["a".into()], &mut diags),
            vec!["a".to_string()]
        );
        assert_eq!(
            ready_timeout(&Attrs::new(), &mut diags),
            DEFAULT_READY_TIMEOUT
        );
        assert_eq!(
            endpoint_url(&Value::from("http://x/"), &["e", "k"], &mut diags).as_deref(),
            Some("http://x")
        );
        assert_eq!(
            endpoint_url(&Value::from("ftp://x"), &["e", "k"], &mut diags),
            None
        );
        assert!(
            diags[2].to_string().contains("`k` must be an http(s) URL"),
            "{}",
            diags[2]
        );
    }

    #[test]
    fn a_count_decider_must_be_known() {
        let attrs = Attrs::from([("zones".into(), Value::Unknown)]);
        let r = Reader::new(&attrs);
        let err = r
            .known("zones", 3, Value::as_i64)
            .expect_err("unknown refused");
        assert!(
            err.to_string().contains("must be known at plan time"),
            "{err}"
        );
        assert_eq!(r.known("absent", 3, Value::as_i64).ok(), Some(3));
        assert_eq!(field(&Value::Unknown, "x", Value::from(1)), Value::Unknown);
        assert_eq!(local_suffix("Web-Pool"), "web_pool");
    }
}
