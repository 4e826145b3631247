//! Where the state lives: the store named by `ss { backend "KIND" { … } }` (local files,
//! PostgreSQL, S3), the workspace selected, and the encryption key. Every command that touches
//! state goes through [`open`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use planner::spec::{self, BackendBlock, Config, Diagnostics, SpecDiagnostic};
use provider_api::Value;
use state::crypto::Cipher;
use state::{Backend, Codec, LocalStore, Store};

/// The default state file, beside the spec.
pub const DEFAULT_STATE_FILE: &str = "ss.state.json";

/// Where the selected workspace is remembered (`ss workspace select`), beside the spec.
const WORKSPACE_FILE: &str = ".ss/workspace";

/// The environment variable holding the encryption passphrase when the spec names none.
pub const KEY_ENV: &str = "SS_STATE_KEY";

/// The environment variable giving the PostgreSQL connection when the backend block has no
/// `conn` (so that a password need not be written in the spec).
pub const PG_CONN_ENV: &str = "SS_PG_CONN";

/// The state backends this build knows, with the attributes each takes.
const BACKENDS: &[(&str, &[&str])] = &[
    ("local", &["path"]),
    ("postgres", &["conn", "schema", "lease", "ca_file"]),
    (
        "s3",
        &[
            "bucket",
            "key",
            "region",
            "endpoint",
            "workspace_key_prefix",
            "lease",
        ],
    ),
];

/// The states of a configuration, the workspace in use, and how bytes are sealed.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub workspace: String,
    pub codec: Codec,
}

impl Opened {
    /// The backend of the selected workspace.
    pub async fn backend(&self) -> anyhow::Result<Arc<dyn Backend>> {
        Ok(self.store.backend(&self.workspace).await?)
    }
}

/// Opens the store of `config` (or the local file beside `dir`; `override_path` forces a
/// local file), with the workspace selected by `workspace_flag` (`--workspace` or
/// `SS_WORKSPACE`), else by `ss workspace select`, else `default`.
pub async fn open(
    config: Option<&Config>,
    dir: &Path,
    override_path: Option<&Path>,
    workspace_flag: Option<&str>,
) -> anyhow::Result<Opened> {
    let codec = codec_for(config)?;
    let workspace = selected_workspace(dir, workspace_flag)?;
    let store = store_for(config, dir, override_path, codec.clone()).await?;
    Ok(Opened {
        store,
        workspace,
        codec,
    })
}

/// The workspace in use: the flag (or `SS_WORKSPACE`), else the one `ss workspace select`
/// remembered beside the spec, else `default`.
pub fn selected_workspace(dir: &Path, flag: Option<&str>) -> anyhow::Result<String> {
    let name = match flag.filter(|f| !f.is_empty()) {
        Some(name) => name.to_string(),
        None => match std::fs::read_to_string(dir.join(WORKSPACE_FILE)) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => state::workspace::DEFAULT.to_string(),
        },
    };
    state::workspace::check_name(&name)?;
    Ok(name)
}

/// Remembers `name` as the selected workspace of the spec in `dir`.
pub fn remember_workspace(dir: &Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join(WORKSPACE_FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, format!("{name}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

/// The codec of `config`: sealing with the passphrase from the variable named by
/// `ss { encryption { key_env } }`, else from `SS_STATE_KEY` when set, else plain.
pub fn codec_for(config: Option<&Config>) -> anyhow::Result<Codec> {
    let named = config
        .and_then(|c| c.settings.encryption.as_ref())
        .and_then(|e| e.key_env.as_ref())
        .map(|(name, _)| name.clone());
    match named {
        Some(name) => {
            let key = std::env::var(&name).unwrap_or_default();
            if key.is_empty() {
                bail!(
                    "the spec encrypts its state (`ss {{ encryption {{ key_env = \"{name}\" }} }}`) but the environment variable {name} is not set; set it to the state's passphrase"
                );
            }
            cipher_codec(&key)
        }
        None => match std::env::var(KEY_ENV) {
            Ok(key) if !key.is_empty() => cipher_codec(&key),
            _ => Ok(Codec::plain()),
        },
    }
}

/// A codec sealing with `passphrase`.
pub fn cipher_codec(passphrase: &str) -> anyhow::Result<Codec> {
    Ok(Codec::encrypted(Arc::new(Cipher::from_passphrase(
        passphrase,
    )?)))
}

/// Checks `ss { backend "KIND" { … } }` where the spec writes it: a known kind, known
/// attributes, literal values.
pub fn diagnostics(config: &Config) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let Some(b) = &config.settings.backend else {
        return diags;
    };
    let Some((kind, allowed)) = BACKENDS.iter().find(|(k, _)| *k == b.kind) else {
        diags.push(
            SpecDiagnostic::error(format!("unknown state backend `{}`", b.kind), Some(b.span))
                .with_detail(format!(
                    "available backends: {}",
                    BACKENDS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
        );
        return diags;
    };
    for a in &b.body.attributes {
        if !allowed.contains(&a.name.as_str()) {
            diags.push(
                SpecDiagnostic::error(
                    format!("unsupported attribute `{}` in backend \"{kind}\"", a.name),
                    Some(a.name_span),
                )
                .with_detail(format!("backend \"{kind}\" takes {}", allowed.join(", "))),
            );
        } else if literal(&a.expr, &config.dir).is_none() {
            diags.push(
                SpecDiagnostic::error(
                    format!(
                        "backend \"{kind}\": `{}` must be a literal string or number",
                        a.name
                    ),
                    Some(a.name_span),
                )
                .with_detail(
                    "the backend is read before variables are resolved, as in Terraform; use an environment variable (SS_PG_CONN, AWS_ENDPOINT_URL, …) for values that vary",
                ),
            );
        } else if a.name == "lease"
            && literal(&a.expr, &config.dir)
                .and_then(|v| humantime::parse_duration(&v).ok())
                .is_none()
        {
            diags.push(SpecDiagnostic::error(
                format!("backend \"{kind}\": `lease` must be a duration such as \"30s\""),
                Some(a.name_span),
            ));
        }
    }
    for nested in &b.body.blocks {
        diags.push(SpecDiagnostic::error(
            format!(
                "unsupported block `{}` in backend \"{kind}\"",
                nested.type_name
            ),
            Some(nested.span),
        ));
    }
    if kind == &"s3" {
        for required in ["bucket", "key"] {
            if !b.body.attributes.iter().any(|a| a.name == required) {
                diags.push(SpecDiagnostic::error(
                    format!("backend \"s3\" needs `{required}`"),
                    Some(b.span),
                ));
            }
        }
    }
    diags
}

/// The value of a literal attribute expression, as text.
fn literal(expr: &spec::Expr, dir: &Path) -> Option<String> {
    let empty = BTreeMap::new();
    let resources = std::collections::HashMap::new();
    let ctx = spec::EvalContext {
        variables: &empty,
        locals: &empty,
        resources: &resources,
        count_index: None,
        each: None,
        workspace: state::workspace::DEFAULT,
        dir,
    };
    match spec::eval(expr, &ctx).ok()? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The literal attributes of a backend block.
fn attributes(b: &BackendBlock, dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    b.body
        .attributes
        .iter()
        .map(|a| {
            literal(&a.expr, dir)
                .map(|v| (a.name.clone(), v))
                .ok_or_else(|| {
                    anyhow!(
                        "backend \"{}\": `{}` must be a literal string",
                        b.kind,
                        a.name
                    )
                })
        })
        .collect()
}

fn lease(attrs: &BTreeMap<String, String>) -> anyhow::Result<Duration> {
    match attrs.get("lease") {
        Some(text) => {
            humantime::parse_duration(text).map_err(|e| anyhow!("backend lease {text:?}: {e}"))
        }
        None => Ok(Duration::from_secs(30)),
    }
}

/// The store of `config` opened with `codec` (to read a state sealed under another key).
pub async fn store_with_codec(
    config: Option<&Config>,
    dir: &Path,
    codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    store_for(config, dir, None, codec).await
}

async fn store_for(
    config: Option<&Config>,
    dir: &Path,
    override_path: Option<&Path>,
    codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(p) = override_path {
        return Ok(Arc::new(LocalStore::new(p, codec)));
    }
    let Some(b) = config.and_then(|c| c.settings.backend.as_ref()) else {
        return Ok(Arc::new(LocalStore::new(
            dir.join(DEFAULT_STATE_FILE),
            codec,
        )));
    };
    let attrs = attributes(b, dir)?;
    match b.kind.as_str() {
        "local" => {
            let path = attrs
                .get("path")
                .cloned()
                .unwrap_or_else(|| DEFAULT_STATE_FILE.to_string());
            Ok(Arc::new(LocalStore::new(dir.join(path), codec)))
        }
        "postgres" => {
            let conn = match attrs.get("conn") {
                Some(conn) => conn.clone(),
                None => std::env::var(PG_CONN_ENV).map_err(|_| {
                    anyhow!(
                        "backend \"postgres\" has no `conn` and {PG_CONN_ENV} is not set; set one of them to a connection string such as postgres://user@host:5432/db"
                    )
                })?,
            };
            let schema = attrs
                .get("schema")
                .cloned()
                .unwrap_or_else(|| "ss".to_string());
            // A private CA's certificates, as libpq's PGSSLROOTCERT gives them.
            let ca_file = attrs
                .get("ca_file")
                .map(|f| dir.join(f))
                .or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from));
            postgres_store(conn, schema, lease(&attrs)?, ca_file, codec).await
        }
        "s3" => {
            let bucket = attrs
                .get("bucket")
                .cloned()
                .ok_or_else(|| anyhow!("backend \"s3\" needs `bucket`"))?;
            let key = attrs
                .get("key")
                .cloned()
                .ok_or_else(|| anyhow!("backend \"s3\" needs `key`"))?;
            s3_store(
                S3Target {
                    bucket,
                    key,
                    region: attrs.get("region").cloned(),
                    endpoint: attrs.get("endpoint").cloned(),
                    workspace_key_prefix: attrs.get("workspace_key_prefix").cloned(),
                },
                lease(&attrs)?,
                codec,
            )
            .await
        }
        other => bail!("unknown state backend `{other}`"),
    }
}

/// Where an S3 store lives.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub struct S3Target {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub workspace_key_prefix: Option<String>,
}

#[cfg(feature = "postgres")]
pub async fn postgres_store(
    conn: String,
    schema: String,
    lease: Duration,
    ca_file: Option<PathBuf>,
    codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    let store = state::postgres::PgStore::connect(
        state::postgres::PgConfig {
            conn,
            schema,
            lease,
            ca_file,
        },
        codec,
    )
    .await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
pub async fn postgres_store(
    _conn: String,
    _schema: String,
    _lease: Duration,
    _ca_file: Option<PathBuf>,
    _codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    bail!("this ss was built without the PostgreSQL backend (cargo feature `postgres`)")
}

#[cfg(feature = "s3")]
pub async fn s3_store(
    target: S3Target,
    lease: Duration,
    codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    let store = state::s3::S3Store::connect(
        state::s3::S3Config {
            bucket: target.bucket,
            key: target.key,
            region: target.region,
            endpoint: target.endpoint,
            workspace_key_prefix: target
                .workspace_key_prefix
                .unwrap_or_else(|| "env:".to_string()),
            lease,
        },
        codec,
    )
    .await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "s3"))]
pub async fn s3_store(
    _target: S3Target,
    _lease: Duration,
    _codec: Codec,
) -> anyhow::Result<Arc<dyn Store>> {
    bail!("this ss was built without the S3 backend (cargo feature `s3`)")
}

/// The store named by a `ss state migrate --to` target: `postgres://…` (schema from
/// `schema`), `s3://bucket/key`, or a local state file path.
pub async fn store_at(
    target: &str,
    schema: &str,
    codec: Codec,
) -> anyhow::Result<(Arc<dyn Store>, String)> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        let store = postgres_store(
            target.to_string(),
            schema.to_string(),
            Duration::from_secs(30),
            std::env::var_os("PGSSLROOTCERT").map(PathBuf::from),
            codec,
        )
        .await?;
        let shown = store.describe();
        return Ok((store, shown));
    }
    if let Some(rest) = target.strip_prefix("s3://") {
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| anyhow!("an S3 target is s3://BUCKET/KEY, not {target}"))?;
        let store = s3_store(
            S3Target {
                bucket: bucket.to_string(),
                key: key.to_string(),
                region: None,
                endpoint: None,
                workspace_key_prefix: None,
            },
            Duration::from_secs(30),
            codec,
        )
        .await?;
        let shown = store.describe();
        return Ok((store, shown));
    }
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(PathBuf::from(target), codec));
    let shown = store.describe();
    Ok((store, shown))
}
