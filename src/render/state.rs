//! State records for `ss state list` and `ss state show`.

use std::fmt::Write as _;

use provider_api::Value;
use serde_json::json;
use state::ResourceRecord;

/// One address per line, in state order.
pub fn state_list_text(records: &[ResourceRecord]) -> String {
    records.iter().fold(String::new(), |mut out, r| {
        let _ = writeln!(out, "{}", r.address);
        out
    })
}

/// An array of `{"address", "type", "id", "block_type", "provider"}`, one per native resource.
/// No attribute values: the list is safe to publish.
pub fn state_list_json(records: &[ResourceRecord]) -> serde_json::Value {
    records
        .iter()
        .map(|r| {
            json!({
                "address": r.address,
                "type": r.type_name,
                "id": r.id,
                "block_type": r.block_type,
                "provider": r.provider,
            })
        })
        .collect()
}

/// One resource with its attributes, in HCL-like form; sensitive attributes show as
/// `(sensitive value)`.
pub fn state_show_text(record: &ResourceRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}:", record.address);
    let _ = writeln!(
        out,
        "resource {:?} {:?} {{",
        record.type_name, record.address
    );
    let mut lines: Vec<(String, String)> = Vec::new();
    let attrs = record.attrs();
    if !attrs.contains_key("id") {
        lines.push(("id".into(), Value::from(record.id.as_str()).to_string()));
    }
    lines.extend(attrs.iter().map(|(k, v)| (k.clone(), v.to_string())));
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        let _ = writeln!(out, "    {k:<width$} = {v}");
    }
    let _ = writeln!(out, "}}");
    let _ = writeln!(
        out,
        "# block type: {}, provider: {}",
        record.block_type, record.provider
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ResourceRecord {
        let mut attributes = serde_json::Map::new();
        attributes.insert("endpoint".into(), json!("pg-1.sbx:5432"));
        attributes.insert("password".into(), json!("hunter2-s3cr3t"));
        attributes.insert("replicas".into(), json!(2));
        ResourceRecord {
            address: "postgres.meta.sandbox_pg_instance.primary".into(),
            block_type: "postgres".into(),
            type_name: "sandbox_pg_instance".into(),
            provider: "sandbox".into(),
            id: "pg-1".into(),
            attributes,
            sensitive_attributes: vec!["password".into()],
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    #[test]
    fn list() {
        let records = vec![record()];
        assert_eq!(
            state_list_text(&records),
            "postgres.meta.sandbox_pg_instance.primary\n"
        );
        assert_eq!(
            state_list_json(&records),
            json!([{
                "address": "postgres.meta.sandbox_pg_instance.primary",
                "type": "sandbox_pg_instance",
                "id": "pg-1",
                "block_type": "postgres",
                "provider": "sandbox",
            }])
        );
    }

    #[test]
    fn show_hides_sensitive_attributes() {
        let text = state_show_text(&record());
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(
            text,
            "# postgres.meta.sandbox_pg_instance.primary:\n\
             resource \"sandbox_pg_instance\" \"postgres.meta.sandbox_pg_instance.primary\" {\n    \
                 id       = \"pg-1\"\n    \
                 endpoint = \"pg-1.sbx:5432\"\n    \
                 password = (sensitive value)\n    \
                 replicas = 2\n\
             }\n\
             # block type: postgres, provider: sandbox\n"
        );
    }
}
