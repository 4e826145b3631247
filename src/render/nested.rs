//! Values inside a plan or drift block: short ones on their attribute's line, long maps and
//! lists as nested blocks, and a change of a map or list as the nested difference (only what
//! changed, the rest counted), as Terraform shows a Kubernetes manifest: a Deployment whose
//! replica count moved reads as `~ replicas = 3 -> 1` under `spec`, not as two 2,000-character
//! lines.

use std::collections::BTreeSet;

use provider_api::{Value, same};

use super::{Paint, paint};

/// The column where an attribute's name starts inside a resource block (after six spaces, the
/// symbol and a space): nested values are indented from it.
pub(super) const NAME_COLUMN: usize = 8;

/// A map or list whose one-line form is longer than this is shown as a block.
const INLINE_LIMIT: usize = 80;

/// `value` for an attribute whose name starts at column `col`, every nested entry marked
/// `symbol` (`+` created, `-` destroyed).
pub(super) fn block(value: &Value, col: usize, symbol: &str, color: bool) -> String {
    let inline = inline(value);
    if inline.len() <= INLINE_LIMIT {
        return inline;
    }
    let mark = paint_symbol(symbol, color);
    match value {
        Value::Map(map) => {
            let width = map.keys().map(|k| key(k).len()).max().unwrap_or(0);
            let mut out = String::from("{");
            for (k, v) in map {
                let inner = block(v, col + 4, symbol, color);
                out.push_str(&format!(
                    "\n{}{mark} {:<width$} = {inner}",
                    pad(col + 2),
                    key(k)
                ));
            }
            out.push_str(&format!("\n{}}}", pad(col)));
            out
        }
        Value::List(items) => {
            let mut out = String::from("[");
            for item in items {
                let inner = block(item, col + 4, symbol, color);
                out.push_str(&format!("\n{}{mark} {inner},", pad(col + 2)));
            }
            out.push_str(&format!("\n{}]", pad(col)));
            out
        }
        _ => inline,
    }
}

/// The change `before -> after` of an attribute whose name starts at column `col`: for two
/// maps, or two lists of one length, the entries that changed (nested), and how many did not.
pub(super) fn change(before: &Value, after: &Value, col: usize, color: bool) -> String {
    match (before, after) {
        (Value::Map(b), Value::Map(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            let width = keys.iter().map(|k| key(k).len()).max().unwrap_or(0);
            let mut out = String::from("{");
            let mut unchanged = 0;
            for k in keys {
                let line = match (b.get(k), a.get(k)) {
                    (Some(old), Some(new)) if same(old, new) => {
                        unchanged += 1;
                        continue;
                    }
                    (Some(old), Some(new)) => ("~", change(old, new, col + 4, color)),
                    (None, Some(new)) => ("+", block(new, col + 4, "+", color)),
                    (Some(old), None) => {
                        ("-", format!("{} -> null", block(old, col + 4, "-", color)))
                    }
                    (None, None) => continue,
                };
                out.push_str(&format!(
                    "\n{}{} {:<width$} = {}",
                    pad(col + 2),
                    paint_symbol(line.0, color),
                    key(k),
                    line.1
                ));
            }
            hidden(&mut out, unchanged, "attribute", col, color);
            out.push_str(&format!("\n{}}}", pad(col)));
            out
        }
        (Value::List(b), Value::List(a)) if b.len() == a.len() => {
            let mut out = String::from("[");
            let mut unchanged = 0;
            for (old, new) in b.iter().zip(a) {
                if same(old, new) {
                    unchanged += 1;
                    continue;
                }
                let inner = change(old, new, col + 4, color);
                out.push_str(&format!(
                    "\n{}{} {inner},",
                    pad(col + 2),
                    paint_symbol("~", color)
                ));
            }
            hidden(&mut out, unchanged, "element", col, color);
            out.push_str(&format!("\n{}]", pad(col)));
            out
        }
        _ => format!(
            "{} -> {}",
            block(before, col, "-", color),
            block(after, col, "+", color)
        ),
    }
}

/// `value` on one line, its map keys written as [`key`] writes them.
fn inline(value: &Value) -> String {
    match value {
        Value::Map(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// The `# (N unchanged …s hidden)` line of a nested block.
fn hidden(out: &mut String, unchanged: usize, noun: &str, col: usize, color: bool) {
    if unchanged > 0 {
        let plural = if unchanged == 1 { "" } else { "s" };
        let text = format!("# ({unchanged} unchanged {noun}{plural} hidden)");
        out.push_str(&format!(
            "\n{}{}",
            pad(col + 4),
            paint(&text, Paint::Dim, color)
        ));
    }
}

/// A map key as written: bare when it is an identifier, quoted otherwise
/// (`"app.kubernetes.io/name"`).
fn key(k: &str) -> String {
    let bare = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

fn paint_symbol(symbol: &str, color: bool) -> String {
    let how = match symbol {
        "+" => Paint::Add,
        "-" => Paint::Remove,
        _ => Paint::Change,
    };
    paint(symbol, how, color)
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: serde_json::Value) -> Value {
        Value::from_json(&json)
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        v(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "superset-beat", "namespace": "superset",
                "labels": {"app.kubernetes.io/name": "superset"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "beat", "image": image, "args": ["celery", "beat", "--pidfile", "/tmp/celerybeat.pid"]}
            ]}}}
        }))
    }

    #[test]
    fn short_values_stay_on_their_line() {
        let tags = v(serde_json::json!({"a": "1", "b": [1, 2]}));
        assert_eq!(block(&tags, 8, "+", false), r#"{a = "1", b = [1, 2]}"#);
        assert_eq!(change(&Value::from(1), &Value::from(2), 8, false), "1 -> 2");
    }

    #[test]
    fn a_long_map_is_a_block() {
        let text = block(&deployment(1, "apache/superset:5.0.0"), 8, "+", false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "{");
        assert_eq!(lines[1], r#"          + apiVersion = "apps/v1""#);
        assert!(
            text.contains(r#"              + labels    = {"app.kubernetes.io/name" = "superset"}"#),
            "{text}"
        );
        assert_eq!(*lines.last().unwrap_or(&""), "        }");
    }

    #[test]
    fn a_change_shows_only_what_changed() {
        let text = change(
            &deployment(3, "apache/superset:5.0.0"),
            &deployment(1, "apache/superset:5.0.1"),
            8,
            false,
        );
        let expected = [
            "{",
            "          ~ spec       = {",
            "              ~ replicas = 3 -> 1",
            "              ~ template = {",
            "                  ~ spec = {",
            "                      ~ containers = [",
            "                          ~ {",
            r#"                              ~ image = "apache/superset:5.0.0" -> "apache/superset:5.0.1""#,
            "                                # (2 unchanged attributes hidden)",
            "                            },",
            "                        ]",
            "                    }",
            "                }",
            "            }",
            "            # (3 unchanged attributes hidden)",
            "        }",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
    }

    #[test]
    fn secrets_stay_hidden_inside_blocks_and_changes() {
        let secret = |s: &str| {
            let mut m = std::collections::BTreeMap::new();
            m.insert("SECRET_KEY".to_string(), Value::from(s).sensitive());
            m.insert("padding".to_string(), Value::from("x".repeat(90)));
            Value::Map(m)
        };
        let text = change(&secret("old-hunter2"), &secret("new-hunter2"), 8, false);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("(sensitive value)"), "{text}");
        let text = block(&secret("hunter2"), 8, "+", false);
        assert!(!text.contains("hunter2"), "{text}");
    }
}
