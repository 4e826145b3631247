//! The PostgreSQL backend: every workspace's state, journal and lock in one schema of a
//! PostgreSQL database, shared by everyone who can reach it (CI runners, laptops).
//!
//! # Tables
//!
//! All in the configured schema (`ss` by default; a name matching `[a-z_][a-z0-9_]{0,62}`,
//! always quoted in SQL):
//!
//! - `migrations (version, applied_at)`: the layout version, one row per migration applied.
//! - `states (workspace PK, lineage, serial, data bytea, updated_at)`: one snapshot per
//!   workspace. `data` is exactly what the [`Codec`] produces ([`Codec::encode`]), so with a
//!   key set the database only ever sees sealed bytes; lineage and serial are in clear (they
//!   are in clear in a sealed document too), so the serial check never needs the key.
//! - `journal (workspace, base_lineage, base_serial, seq, mutations, data bytea, written_at)`,
//!   primary key `(workspace, seq)`: one row per [`Backend::append`] call, `data` being
//!   [`Codec::encode_entries`] of the whole batch and `mutations` how many of its entries
//!   change the state. The stored serial is the snapshot's plus the sum of `mutations` over
//!   the rows stamped with the snapshot, read without decrypting anything.
//! - `locks (workspace PK, id, info jsonb, acquired_at, expires_at)`: the lock, with its
//!   holder's [`LockInfo`] and a lease.
//!
//! # Migrations
//!
//! [`PgStore::connect`] brings the schema to the current layout version. When it is already
//! there (the common case) this costs two small queries and takes no lock. Otherwise the migration runs in one transaction
//! that first takes `pg_advisory_xact_lock` on a key hashed from the schema name (FNV-1a 64 of
//! `ss state schema migration` and the name), so that any number of processes connecting to a
//! fresh schema at once serialize their migrations: the first applies them, the others find
//! them applied. The advisory lock is transaction-scoped and used for nothing else. In
//! particular state locking does **not** use advisory locks: Terraform's `pg` backend did,
//! with a fixed key, so two states in different schemas of one database locked each other out
//! (hashicorp/terraform#33217). Here two schemas never share a lock row, and a hash collision
//! between two schema names can only make their migrations wait for each other.
//!
//! # Locking: a lease with a heartbeat
//!
//! [`Backend::lock`] is one statement, `INSERT … ON CONFLICT (workspace) DO UPDATE … WHERE
//! expires_at < now() RETURNING …`, taking the row when there is none or when its lease has expired, as
//! judged by the **server's** clock (clients' clocks are never compared). When the row is live
//! the call fails at once with [`StateError::Locked`] naming the holder (it waits at most
//! 400 ms for a row that the holder's fenced write has locked, see below). While the guard
//! lives, a background tokio task renews the lease every third of its length (`expires_at =
//! now() + lease`, only while the row still carries our id and its lease has not run out: a
//! lapsed lease is a lost lock, even before anyone takes it). [`LockGuard::release`] stops the
//! task and deletes the row (only if it still carries our id); dropping the guard stops it and
//! deletes the row in the background ([`crate::release::spawn`]). A holder killed with SIGKILL
//! stops renewing, and its lock becomes available once the lease runs out (30 s by default),
//! not before. [`Backend::lock_holder`] reports only an unexpired holder, and
//! [`Backend::force_unlock`] deletes the row only when it names the live holder's id.
//!
//! A lock dropped by this process whose background release has not run yet may be taken over
//! at once by the next [`Backend::lock`] of the same [`PgStore`] (so dropping a guard and
//! locking again never reports the process itself as the holder).
//!
//! # Fencing
//!
//! A lease can lapse (a process stalled longer than the lease) and a lock can be broken with
//! `ss force-unlock`. So while a backend object holds a lock, every `write`, `append` and
//! `compact` runs in a transaction that first reads the lock row `FOR UPDATE` and proceeds only
//! if it still carries the held id and its lease has not expired; otherwise it fails with a
//! [`StateError::Backend`] saying the lock was lost, and nothing is written. The row lock also
//! orders the check before any new holder's takeover. Without a held lock (tests, `ss state`
//! commands that do not lock) writes are allowed, still serial-checked.
//!
//! # Atomicity and serials
//!
//! `write` and `compact` are a compare-and-swap in one transaction: the state row is read `FOR
//! UPDATE` (or inserted with `ON CONFLICT DO NOTHING` for a first write, so that of two racing
//! first writes the second sees the first and is checked against it), the journal's mutations
//! are summed, [`codec::check_successor`] decides, and the journal of the old snapshot is
//! deleted in the same transaction. `append` reads the state row `FOR UPDATE` too, so appends
//! to one workspace are serialized (their `seq` order is their commit order) and never race a
//! compaction; it refuses a base that is not the stored snapshot. A batch is one row in one
//! transaction: it is committed whole or not at all, so the torn entries a file journal must
//! tolerate cannot happen here ([`Backend::load`] treats a partial row as corruption). `load`
//! reads the snapshot and its journal in one repeatable-read transaction and replays it
//! ([`journal::replay`]).
//!
//! # Connections and secrets
//!
//! The connection string is a URL (`postgres://user:pass@host:port/db?sslmode=require`) or
//! `key=value` pairs, as libpq takes them. A small pool ([`deadpool_postgres`]) holds a few
//! connections. `sslmode=disable` connects in clear; `prefer` (the default) and `require` use
//! TLS (rustls) with the server certificate verified against the Mozilla roots
//! ([`webpki_roots`]) and the certificates of [`PgConfig::ca_file`] (a private CA, like libpq's
//! `sslrootcert`), stricter than libpq's modes of the same names: a server whose certificate
//! no trusted root signed is refused (`prefer` falls back to clear text only when the server
//! offers no TLS at all). The
//! password never appears in [`Store::describe`], errors or logs: messages name host, port,
//! database and schema only, and any error text is scrubbed of the password as well.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio::sync::oneshot;
use tokio_postgres::Row;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Json, ToSql};

use crate::backend::{Backend, LockGuard, Store};
use crate::codec::{self, Codec};
use crate::error::StateError;
use crate::journal::{self, JournalEntry, Loaded, Stamp};
use crate::lock::LockInfo;
use crate::model::State;
use crate::workspace;

/// The schema used when none is configured.
pub const DEFAULT_SCHEMA: &str = "ss";
/// The lock lease used when none is configured.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The shortest lease accepted: it is renewed every third of its length over the network.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

const BACKEND: &str = "postgres";
/// Connections in the pool: enough for a group-committing apply, its lock heartbeat and a
/// refresh of the lock holder, without hogging a shared server.
const POOL_SIZE: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_WAIT: Duration = Duration::from_secs(60);
/// How long taking a lock waits for a row the holder is writing under (its fenced write
/// transactions lock it briefly) before reporting the holder.
const LOCK_WAIT: &str = "SET LOCAL lock_timeout = '400ms'";

/// The layout, one migration per version; `{s}` is the quoted schema. Applied in order, each
/// in the migration transaction, never edited once released (add a new one instead).
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE {s}.states (
        workspace text PRIMARY KEY,
        lineage text NOT NULL,
        serial bigint NOT NULL CHECK (serial >= 0),
        data bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE {s}.journal (
        workspace text NOT NULL,
        base_lineage text NOT NULL,
        base_serial bigint NOT NULL,
        seq bigint NOT NULL,
        mutations bigint NOT NULL CHECK (mutations >= 0),
        data bytea NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace, seq)
    );
    CREATE TABLE {s}.locks (
        workspace text PRIMARY KEY,
        id text NOT NULL,
        info jsonb NOT NULL,
        acquired_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    );",
];

/// Where the states live and how long a lock lasts without renewal.
#[derive(Clone)]
pub struct PgConfig {
    /// A connection URL or libpq `key=value` string. It may hold a password: it is never
    /// shown (`Debug` leaves it out).
    pub conn: String,
    /// The schema holding the tables, created on first use.
    pub schema: String,
    /// How long a lock outlives its holder's last heartbeat.
    pub lease: Duration,
    /// PEM certificates of a private certificate authority to trust besides the public roots
    /// (the CA of a managed database such as RDS, or of a company PKI), like libpq's
    /// `sslrootcert`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl PgConfig {
    /// The configuration for `conn` with the default schema and lease.
    pub fn new(conn: impl Into<String>) -> PgConfig {
        PgConfig {
            conn: conn.into(),
            schema: DEFAULT_SCHEMA.to_string(),
            lease: DEFAULT_LEASE,
            ca_file: None,
        }
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("conn", &"<redacted>")
            .field("schema", &self.schema)
            .field("lease", &self.lease)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Every workspace's state in one schema of a PostgreSQL database.
pub struct PgStore {
    shared: Arc<Shared>,
}

/// What a store and all its backends and lock guards share.
struct Shared {
    pool: Pool,
    codec: Codec,
    sql: Sql,
    schema: String,
    lease: Duration,
    /// `host:port/dbname`, for messages.
    location: String,
    /// The connection password, to scrub from any error text.
    password: Option<String>,
    /// Ids of locks whose guards were dropped and whose background release may not have run:
    /// this store's next `lock` may take them over.
    abandoned: Mutex<HashSet<String>>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Checks a schema name: `[a-z_][a-z0-9_]{0,62}`.
fn check_schema(name: &str) -> Result<(), StateError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(StateError::Backend {
            backend: BACKEND.to_string(),
            reason: format!(
                "invalid schema name {name:?}: use 1 to 63 lowercase letters, digits or `_`, \
                 not starting with a digit"
            ),
        })
    }
}

/// The advisory lock key serializing the migrations of one schema: FNV-1a 64, stable across
/// builds and platforms (unlike `std`'s hasher).
fn migration_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"ss state schema migration\0"
        .iter()
        .chain(schema.as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

/// `host:port/dbname` of a connection configuration, without user or password.
fn location(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(",")
    };
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{hosts}/{db}")
}

/// An error and its causes, `: `-separated (tokio-postgres puts the server's message in the
/// cause).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    // The server's own words (`ERROR: relation … does not exist`), without the client's
    // generic `db error` prefix.
    if let Some(db) = e
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.as_db_error())
    {
        return format!("{db} (SQLSTATE {})", db.code().code());
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// A TLS client configuration verifying servers against the trusted roots ([`root_store`]).
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, StateError> {
    let roots = root_store(ca_file)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StateError::Backend {
        backend: BACKEND.to_string(),
        reason: format!("TLS setup: {e}"),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}

/// The Mozilla roots, plus the PEM certificates in `ca_file`.
fn root_store(ca_file: Option<&std::path::Path>) -> Result<rustls::RootCertStore, StateError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let bad = |reason: String| StateError::Backend {
            backend: BACKEND.to_string(),
            reason: format!("CA certificates {}: {reason}", path.display()),
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in the file".to_string()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(roots)
}

impl PgStore {
    /// Connects (a pool of a few connections) and brings the schema to the current layout,
    /// creating it and its tables on first use (see the module docs on migrations).
    pub async fn connect(config: PgConfig, codec: Codec) -> Result<PgStore, StateError> {
        check_schema(&config.schema)?;
        if config.lease < MIN_LEASE {
            return Err(StateError::Backend {
                backend: BACKEND.to_string(),
                reason: format!(
                    "the lock lease must be at least {}, not {}",
                    humantime::format_duration(MIN_LEASE),
                    humantime::format_duration(config.lease)
                ),
            });
        }
        let mut pg = tokio_postgres::Config::from_str(&config.conn).map_err(|e| {
            // The message names the offending option, never its value; scrub it anyway by
            // never quoting the connection string.
            StateError::Backend {
                backend: BACKEND.to_string(),
                reason: format!("invalid connection string: {}", scrub(&chain(&e), None)),
            }
        })?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("ss");
        }
        let password = pg
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| !p.is_empty());
        let location = location(&pg);
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match pg.get_ssl_mode() {
            SslMode::Disable => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
            _ => Manager::from_config(
                pg,
                tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(
                    config.ca_file.as_deref(),
                )?),
                manager_config,
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StateError::Backend {
                backend: BACKEND.to_string(),
                reason: format!("connection pool: {e}"),
            })?;
        let store = PgStore {
            shared: Arc::new(Shared {
                pool,
                codec,
                sql: Sql::new(&config.schema),
                schema: config.schema,
                lease: config.lease,
                location,
                password,
                abandoned: Mutex::new(HashSet::new()),
            }),
        };
        store.shared.migrate().await?;
        tracing::debug!(store = %store.describe(), "connected to the PostgreSQL state store");
        Ok(store)
    }

    /// The backend of one workspace, as its concrete type ([`Store::backend`] boxes it).
    pub fn workspace_backend(&self, workspace: &str) -> Result<PgBackend, StateError> {
        workspace::check_name(workspace)?;
        Ok(PgBackend {
            shared: Arc::clone(&self.shared),
            workspace: workspace.to_string(),
            held: Arc::new(Mutex::new(None)),
        })
    }
}

/// The error for `what` failing at `place` with `e`: the server's message, never the
/// password, with a hint when TLS verification failed.
fn failure(
    place: &str,
    password: Option<&str>,
    what: &str,
    e: &(dyn std::error::Error + 'static),
) -> StateError {
    let mut reason = format!("{what} ({place}): {}", chain(e));
    if reason.contains("TLS handshake") && reason.contains("certificate") {
        reason.push_str(
            " (the server certificate is verified against the public web roots: for one signed \
             by a private CA, give that CA's certificates with `ca_file` in the backend block \
             or PGSSLROOTCERT; sslmode=disable connects without TLS, only for a network you \
             trust)",
        );
    }
    StateError::Backend {
        backend: BACKEND.to_string(),
        reason: scrub(&reason, password),
    }
}

/// Removes the password from a message, in case a server or library ever quotes it.
fn scrub(text: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() && text.contains(p) => text.replace(p, "******"),
        _ => text.to_string(),
    }
}

/// The SQL of every statement, with the schema quoted in.
struct Sql {
    schema_exists: String,
    migrations_exist: String,
    create_schema: String,
    create_migrations: String,
    version: String,
    record_version: String,
    migrations: Vec<String>,
    lock: String,
    holder: String,
    renew: String,
    unlock: String,
    lock_row: String,
    state_row: String,
    mutations: String,
    insert_state: String,
    update_state: String,
    snapshot: String,
    clear_journal: String,
    append: String,
    journal: String,
    workspaces: String,
    delete_state: String,
    delete_lock: String,
}

impl Sql {
    fn new(schema: &str) -> Sql {
        let s = format!("\"{schema}\"");
        Sql {
            schema_exists: "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)"
                .to_string(),
            migrations_exist: "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
                 WHERE schemaname = $1 AND tablename = 'migrations')"
                .to_string(),
            create_schema: format!("CREATE SCHEMA IF NOT EXISTS {s}"),
            create_migrations: format!(
                "CREATE TABLE IF NOT EXISTS {s}.migrations (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )"
            ),
            version: format!("SELECT coalesce(max(version), 0) FROM {s}.migrations"),
            record_version: format!("INSERT INTO {s}.migrations (version) VALUES ($1)"),
            migrations: MIGRATIONS.iter().map(|m| m.replace("{s}", &s)).collect(),
            lock: format!(
                "INSERT INTO {s}.locks AS l (workspace, id, info, acquired_at, expires_at)
                 VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
                 ON CONFLICT (workspace) DO UPDATE
                 SET id = EXCLUDED.id, info = EXCLUDED.info,
                     acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
                 WHERE l.expires_at < now() OR l.id = ANY($5)
                 RETURNING l.id"
            ),
            holder: format!(
                "SELECT info FROM {s}.locks WHERE workspace = $1 AND expires_at >= now()"
            ),
            renew: format!(
                "UPDATE {s}.locks SET expires_at = now() + make_interval(secs => $3)
                 WHERE workspace = $1 AND id = $2 AND expires_at >= now()"
            ),
            unlock: format!("DELETE FROM {s}.locks WHERE workspace = $1 AND id = $2"),
            lock_row: format!(
                "SELECT id, info, expires_at >= now() FROM {s}.locks WHERE workspace = $1 FOR UPDATE"
            ),
            state_row: format!(
                "SELECT lineage, serial FROM {s}.states WHERE workspace = $1 FOR UPDATE"
            ),
            mutations: format!(
                "SELECT coalesce(sum(mutations), 0)::bigint FROM {s}.journal
                 WHERE workspace = $1 AND base_lineage = $2 AND base_serial = $3"
            ),
            insert_state: format!(
                "INSERT INTO {s}.states (workspace, lineage, serial, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace) DO NOTHING"
            ),
            update_state: format!(
                "UPDATE {s}.states SET lineage = $2, serial = $3, data = $4, updated_at = now()
                 WHERE workspace = $1"
            ),
            snapshot: format!("SELECT lineage, serial, data FROM {s}.states WHERE workspace = $1"),
            clear_journal: format!("DELETE FROM {s}.journal WHERE workspace = $1"),
            append: format!(
                "INSERT INTO {s}.journal (workspace, base_lineage, base_serial, seq, mutations, data)
                 SELECT $1, $2, $3, coalesce(max(seq), 0) + 1, $4, $5
                 FROM {s}.journal WHERE workspace = $1"
            ),
            journal: format!(
                "SELECT data FROM {s}.journal
                 WHERE workspace = $1 AND base_lineage = $2 AND base_serial = $3 ORDER BY seq"
            ),
            workspaces: format!("SELECT workspace FROM {s}.states ORDER BY workspace"),
            delete_state: format!("DELETE FROM {s}.states WHERE workspace = $1"),
            delete_lock: format!("DELETE FROM {s}.locks WHERE workspace = $1"),
        }
    }
}

/// A column of a row, with a typed error instead of a panic.
fn col<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StateError> {
    row.try_get(index).map_err(|e| StateError::Backend {
        backend: BACKEND.to_string(),
        reason: format!("unexpected answer from the server: {}", chain(&e)),
    })
}

fn to_i64(serial: u64) -> Result<i64, StateError> {
    i64::try_from(serial).map_err(|_| StateError::Encode {
        reason: format!("serial {serial} is too large to store"),
    })
}

fn to_u64(value: i64, what: &str) -> Result<u64, StateError> {
    u64::try_from(value).map_err(|_| StateError::Backend {
        backend: BACKEND.to_string(),
        reason: format!("the stored {what} is negative ({value})"),
    })
}

fn locked_set(set: &Mutex<HashSet<String>>) -> MutexGuard<'_, HashSet<String>> {
    match set.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn held_slot(slot: &Mutex<Option<String>>) -> MutexGuard<'_, Option<String>> {
    match slot.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

type Client = deadpool_postgres::Object;
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Queries through statements prepared once per connection (each uncached query would cost a
/// round trip more, which counts for a remote server and an apply's many appends).
#[async_trait::async_trait]
trait Cached: GenericClient {
    async fn cached_opt(&self, sql: &str, params: Params<'_>) -> PgResult<Option<Row>> {
        let statement = self.prepare_cached(sql).await?;
        self.query_opt(&statement, params).await
    }

    async fn cached_one(&self, sql: &str, params: Params<'_>) -> PgResult<Row> {
        let statement = self.prepare_cached(sql).await?;
        self.query_one(&statement, params).await
    }

    async fn cached_all(&self, sql: &str, params: Params<'_>) -> PgResult<Vec<Row>> {
        let statement = self.prepare_cached(sql).await?;
        self.query(&statement, params).await
    }

    async fn cached_exec(&self, sql: &str, params: Params<'_>) -> PgResult<u64> {
        let statement = self.prepare_cached(sql).await?;
        self.execute(&statement, params).await
    }
}

impl<C: GenericClient> Cached for C {}

type PgResult<T> = Result<T, tokio_postgres::Error>;

impl Shared {
    fn describe(&self) -> String {
        format!("PostgreSQL schema {} at {}", self.schema, self.location)
    }

    /// A backend error for `what` failing with `e`, without the password.
    fn fail(&self, what: &str, e: &(dyn std::error::Error + 'static)) -> StateError {
        failure(&self.describe(), self.password.as_deref(), what, e)
    }

    async fn client(&self) -> Result<Client, StateError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.fail("cannot connect", &e),
            other => self.fail("cannot get a database connection", &other),
        })
    }

    /// Brings the schema to the latest layout version (see the module docs).
    async fn migrate(&self) -> Result<(), StateError> {
        let latest = MIGRATIONS.len();
        let mut client = self.client().await?;
        let db = |e: tokio_postgres::Error| self.fail("cannot set up the schema", &e);
        // The common case, without any lock: the schema is already up to date.
        let exists: bool = col(
            &client
                .cached_one(&self.sql.migrations_exist, &[&self.schema])
                .await
                .map_err(db)?,
            0,
        )?;
        if exists {
            let version: i32 = col(
                &client
                    .cached_one(&self.sql.version, &[])
                    .await
                    .map_err(db)?,
                0,
            )?;
            if self.check_version(version, latest)? {
                return Ok(());
            }
        }
        let tx = client.transaction().await.map_err(db)?;
        tx.cached_exec(
            "SELECT pg_advisory_xact_lock($1)",
            &[&migration_key(&self.schema)],
        )
        .await
        .map_err(db)?;
        // Creating a schema needs the CREATE privilege on the database even when it exists:
        // only ask when it does not.
        let schema_exists: bool = col(
            &tx.cached_one(&self.sql.schema_exists, &[&self.schema])
                .await
                .map_err(db)?,
            0,
        )?;
        if !schema_exists {
            tx.batch_execute(&self.sql.create_schema)
                .await
                .map_err(db)?;
        }
        tx.batch_execute(&self.sql.create_migrations)
            .await
            .map_err(db)?;
        let version: i32 = col(&tx.cached_one(&self.sql.version, &[]).await.map_err(db)?, 0)?;
        if self.check_version(version, latest)? {
            tx.commit().await.map_err(db)?;
            return Ok(());
        }
        let from = usize::try_from(version).unwrap_or(0);
        for (index, migration) in self.sql.migrations.iter().enumerate().skip(from) {
            let to = i32::try_from(index + 1).unwrap_or(i32::MAX);
            tx.batch_execute(migration).await.map_err(db)?;
            tx.cached_exec(&self.sql.record_version, &[&to])
                .await
                .map_err(db)?;
            tracing::debug!(schema = %self.schema, version = to, "state schema migrated");
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// Whether the schema is at `latest`; an error when a newer ss migrated it further.
    fn check_version(&self, version: i32, latest: usize) -> Result<bool, StateError> {
        let version = usize::try_from(version).unwrap_or(0);
        if version > latest {
            return Err(StateError::Backend {
                backend: BACKEND.to_string(),
                reason: format!(
                    "{} has layout version {version}, newer than this ss supports (version \
                     {latest}); upgrade ss",
                    self.describe()
                ),
            });
        }
        Ok(version == latest)
    }

    /// Extends the lease of lock `id`; false when the row no longer carries it or its lease has
    /// already run out (a lapsed lease is a lost lock, even if nobody has taken it yet).
    async fn renew(&self, workspace: &str, id: &str) -> Result<bool, StateError> {
        let client = self.client().await?;
        let lease = self.lease.as_secs_f64();
        let n = client
            .cached_exec(&self.sql.renew, &[&workspace, &id, &lease])
            .await
            .map_err(|e| self.fail("cannot renew the state lock", &e))?;
        Ok(n == 1)
    }

    /// Deletes the lock row if it still carries `id`; false when it did not.
    async fn unlock(&self, workspace: &str, id: &str) -> Result<bool, StateError> {
        let client = self.client().await?;
        let n = client
            .cached_exec(&self.sql.unlock, &[&workspace, &id])
            .await
            .map_err(|e| self.fail("cannot release the state lock", &e))?;
        Ok(n == 1)
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn describe(&self) -> String {
        self.shared.describe()
    }

    async fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let client = self.shared.client().await?;
        let rows = client
            .cached_all(&self.shared.sql.workspaces, &[])
            .await
            .map_err(|e| self.shared.fail("cannot list the workspaces", &e))?;
        let names = rows
            .iter()
            .map(|row| col::<String>(row, 0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(workspace::sorted(names))
    }

    async fn backend(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        Ok(Arc::new(self.workspace_backend(workspace)?))
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), StateError> {
        workspace::check_name(workspace)?;
        if workspace == workspace::DEFAULT {
            return Err(StateError::Unsupported(
                "the default workspace cannot be deleted".to_string(),
            ));
        }
        let shared = &self.shared;
        let db = |e: tokio_postgres::Error| shared.fail("cannot delete the workspace", &e);
        let mut client = shared.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // In the order fenced writes lock rows (lock, state, journal), so as not to deadlock
        // with one.
        for sql in [
            &shared.sql.delete_lock,
            &shared.sql.delete_state,
            &shared.sql.clear_journal,
        ] {
            tx.cached_exec(sql, &[&workspace]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        tracing::debug!(store = %shared.describe(), workspace, "workspace deleted");
        Ok(())
    }
}

/// The state of one workspace in a [`PgStore`].
pub struct PgBackend {
    shared: Arc<Shared>,
    workspace: String,
    /// The id of the lock this object holds, if any: writes are fenced by it.
    held: Arc<Mutex<Option<String>>>,
}

/// How [`PgBackend::store`] treats the journal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Compact,
}

impl PgBackend {
    fn fail(&self, what: &str, e: &(dyn std::error::Error + 'static)) -> StateError {
        failure(&self.describe(), self.shared.password.as_deref(), what, e)
    }

    /// Checks, inside `tx`, that the lock this object holds (if any) is still ours and live;
    /// the lock row stays locked until `tx` ends, so nobody takes it over in between.
    async fn fence(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StateError> {
        let Some(id) = held_slot(&self.held).clone() else {
            return Ok(());
        };
        let row = tx
            .cached_opt(&self.shared.sql.lock_row, &[&self.workspace])
            .await
            .map_err(|e| self.fail("cannot check the state lock", &e))?;
        let now = match &row {
            Some(row) => {
                let current: String = col(row, 0)?;
                let live: bool = col(row, 2)?;
                if current == id && live {
                    return Ok(());
                }
                if live {
                    let Json(holder): Json<LockInfo> = col(row, 1)?;
                    format!(
                        "it is now held by {}@{} (pid {}) running `{}` since {}, lock id {}",
                        holder.user,
                        holder.host,
                        holder.pid,
                        holder.operation,
                        holder.created,
                        holder.id
                    )
                } else if current == id {
                    "its lease expired".to_string()
                } else {
                    "nobody holds it now".to_string()
                }
            }
            None => "nobody holds it now".to_string(),
        };
        tracing::warn!(backend = %self.describe(), id = %id, "the state lock was lost; refusing to write");
        Err(StateError::Backend {
            backend: BACKEND.to_string(),
            reason: format!(
                "{}: this process no longer holds the state lock {id} (it was force-unlocked, or \
                 its lease expired while ss was stalled): {now}; nothing was written",
                self.describe()
            ),
        })
    }

    /// Stores `bytes` (the encoding of `state`) as the snapshot, serial-checked, and empties
    /// the journal: one transaction.
    async fn store(&self, state: &State, mode: Mode) -> Result<(), StateError> {
        let bytes = self.shared.codec.encode(state)?;
        let next = Stamp::of(state);
        let serial = to_i64(next.serial)?;
        let sql = &self.shared.sql;
        let db = |e: tokio_postgres::Error| self.fail("cannot write the state", &e);
        let mut client = self.shared.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        self.fence(&tx).await?;
        // Two rounds at most: a first write that loses an insert race sees the winner's row.
        for _ in 0..2 {
            let Some(row) = tx
                .cached_opt(&sql.state_row, &[&self.workspace])
                .await
                .map_err(db)?
            else {
                let inserted = tx
                    .cached_exec(
                        &sql.insert_state,
                        &[&self.workspace, &next.lineage, &serial, &bytes],
                    )
                    .await
                    .map_err(db)?;
                if inserted == 1 {
                    tx.cached_exec(&sql.clear_journal, &[&self.workspace])
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    tracing::debug!(backend = %self.describe(), serial = next.serial, "first state written");
                    return Ok(());
                }
                continue;
            };
            let stored = Stamp {
                lineage: col(&row, 0)?,
                serial: to_u64(col(&row, 1)?, "serial")?,
            };
            let mutations: i64 = col(
                &tx.cached_one(
                    &sql.mutations,
                    &[&self.workspace, &stored.lineage, &to_i64(stored.serial)?],
                )
                .await
                .map_err(db)?,
                0,
            )?;
            let mutations = to_u64(mutations, "journal mutation count")?;
            if mode == Mode::Compact && mutations == 0 && stored == next {
                // Compacting a state identical to the snapshot when the journal changed
                // nothing: only the journal goes (a new snapshot would need a new serial).
                if self.is_stored(&tx, state).await? {
                    tx.cached_exec(&sql.clear_journal, &[&self.workspace])
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    tracing::debug!(backend = %self.describe(), "journal emptied; snapshot unchanged");
                    return Ok(());
                }
            }
            codec::check_successor(&stored, stored.serial.saturating_add(mutations), &next)?;
            tx.cached_exec(
                &sql.update_state,
                &[&self.workspace, &next.lineage, &serial, &bytes],
            )
            .await
            .map_err(db)?;
            // The journal of the old snapshot no longer applies (compact folded it in; a
            // write replaces it).
            tx.cached_exec(&sql.clear_journal, &[&self.workspace])
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            tracing::debug!(backend = %self.describe(), serial = next.serial, compact = (mode == Mode::Compact), "state written");
            return Ok(());
        }
        Err(StateError::Conflict {
            reason: format!(
                "{}: the state row appeared and vanished during the write; retry",
                self.describe()
            ),
        })
    }

    /// Whether the stored snapshot decodes to `state` (compared as states, since sealed bytes
    /// differ at every encoding).
    async fn is_stored(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        state: &State,
    ) -> Result<bool, StateError> {
        let row = tx
            .cached_opt(&self.shared.sql.snapshot, &[&self.workspace])
            .await
            .map_err(|e| self.fail("cannot read the state", &e))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let data: Vec<u8> = col(&row, 2)?;
        Ok(self.shared.codec.decode(&data, &self.describe())? == *state)
    }
}

#[async_trait::async_trait]
impl Backend for PgBackend {
    fn describe(&self) -> String {
        format!("{}, workspace {}", self.shared.describe(), self.workspace)
    }

    async fn lock(&self, mut info: LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        info.path = self.describe();
        let shared = &self.shared;
        let lease = shared.lease.as_secs_f64();
        let db = |e: tokio_postgres::Error| self.fail("cannot take the state lock", &e);
        let mut client = shared.client().await?;
        // The holder may release between our insert and our look at it: try again then.
        for _ in 0..3 {
            let abandoned: Vec<String> = locked_set(&shared.abandoned).iter().cloned().collect();
            let taken = {
                // The holder's fenced writes lock the row for the length of their transaction:
                // wait for that a little, never so long that a refusal is not prompt.
                let tx = client.transaction().await.map_err(db)?;
                tx.batch_execute(LOCK_WAIT).await.map_err(db)?;
                match tx
                    .cached_opt(
                        &shared.sql.lock,
                        &[&self.workspace, &info.id, &Json(&info), &lease, &abandoned],
                    )
                    .await
                {
                    Ok(row) => {
                        tx.commit().await.map_err(db)?;
                        row.is_some()
                    }
                    Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                        tx.rollback().await.map_err(db)?;
                        false
                    }
                    Err(e) => return Err(db(e)),
                }
            };
            if taken {
                // A dropped lock taken over here stays listed until its background release
                // has run (and deleted nothing, the row carrying our id now).
                *held_slot(&self.held) = Some(info.id.clone());
                let (stop, stopped) = oneshot::channel();
                tokio::spawn(heartbeat(
                    Arc::clone(shared),
                    self.workspace.clone(),
                    info.id.clone(),
                    stopped,
                ));
                tracing::debug!(backend = %self.describe(), id = %info.id, lease_s = lease, "state lock taken");
                return Ok(Box::new(PgLock {
                    shared: Arc::clone(shared),
                    workspace: self.workspace.clone(),
                    held: Arc::clone(&self.held),
                    info,
                    stop: Some(stop),
                }));
            }
            let holder = client
                .cached_opt(&shared.sql.holder, &[&self.workspace])
                .await
                .map_err(db)?;
            if let Some(row) = holder {
                let Json(holder): Json<LockInfo> = col(&row, 0)?;
                tracing::debug!(backend = %self.describe(), holder = %holder.id, "state lock refused");
                return Err(StateError::Locked {
                    holder: Box::new(holder),
                });
            }
        }
        Err(StateError::Locked {
            holder: Box::new(LockInfo::unknown(&info.path)),
        })
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let client = self.shared.client().await?;
        let row = client
            .cached_opt(&self.shared.sql.holder, &[&self.workspace])
            .await
            .map_err(|e| self.fail("cannot read the state lock", &e))?;
        match row {
            Some(row) => {
                let Json(holder): Json<LockInfo> = col(&row, 0)?;
                Ok(Some(holder))
            }
            None => Ok(None),
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let sql = &self.shared.sql;
        let db = |e: tokio_postgres::Error| self.fail("cannot force-unlock the state", &e);
        let mut client = self.shared.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = tx
            .cached_opt(&sql.lock_row, &[&self.workspace])
            .await
            .map_err(db)?;
        let live = match &row {
            Some(row) => col::<bool>(row, 2)?,
            None => false,
        };
        let Some(row) = row.filter(|_| live) else {
            // An expired lease is no lock: clean the row up and say so.
            tx.cached_exec(&sql.delete_lock, &[&self.workspace])
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            return Err(StateError::NotLocked {
                path: self.describe(),
            });
        };
        let Json(holder): Json<LockInfo> = col(&row, 1)?;
        if holder.id != id {
            return Err(StateError::LockMismatch {
                given: id.to_string(),
                holder: Box::new(holder),
            });
        }
        tx.cached_exec(&sql.unlock, &[&self.workspace, &id])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::debug!(backend = %self.describe(), id, "state lock force-unlocked");
        Ok(())
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.load().await?.map(|loaded| loaded.state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        self.store(state, Mode::Write).await
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        let sql = &self.shared.sql;
        let db = |e: tokio_postgres::Error| self.fail("cannot read the state", &e);
        let mut client = self.shared.client().await?;
        // One consistent view of the snapshot and its journal.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let Some(row) = tx
            .cached_opt(&sql.snapshot, &[&self.workspace])
            .await
            .map_err(db)?
        else {
            tx.commit().await.map_err(db)?;
            return Ok(None);
        };
        let lineage: String = col(&row, 0)?;
        let serial: i64 = col(&row, 1)?;
        let snapshot: Vec<u8> = col(&row, 2)?;
        let rows = tx
            .cached_all(&sql.journal, &[&self.workspace, &lineage, &serial])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let batches = rows
            .iter()
            .map(|row| col::<Vec<u8>>(row, 0))
            .collect::<Result<Vec<_>, _>>()?;
        drop(rows);
        let stamp = Stamp {
            lineage,
            serial: to_u64(serial, "serial")?,
        };
        let codec = self.shared.codec.clone();
        let origin = self.describe();
        // Decoding (and decrypting) a large state is CPU work: off the async executor.
        tokio::task::spawn_blocking(move || {
            decode_stored(&codec, &origin, &stamp, &snapshot, &batches)
        })
        .await
        .map_err(|e| self.fail("cannot decode the state", &e))?
        .map(Some)
    }

    async fn append(&self, base: &Stamp, entries: &[JournalEntry]) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let data = self.shared.codec.encode_entries(entries)?;
        let mutations = to_i64(entries.iter().filter(|e| e.is_mutation()).count() as u64)?;
        let base_serial = to_i64(base.serial)?;
        let sql = &self.shared.sql;
        let db = |e: tokio_postgres::Error| self.fail("cannot append to the journal", &e);
        let mut client = self.shared.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        self.fence(&tx).await?;
        // The state row stays locked until commit: appends to one workspace are serialized,
        // and no write or compaction replaces the snapshot in between.
        let Some(row) = tx
            .cached_opt(&sql.state_row, &[&self.workspace])
            .await
            .map_err(db)?
        else {
            return Err(StateError::Conflict {
                reason: format!(
                    "there is no state snapshot in {} to journal changes against; a snapshot \
                     must be written before the first append",
                    self.describe()
                ),
            });
        };
        let stored = Stamp {
            lineage: col(&row, 0)?,
            serial: to_u64(col(&row, 1)?, "serial")?,
        };
        codec::check_base(&stored, base)?;
        tx.cached_exec(
            &sql.append,
            &[
                &self.workspace,
                &base.lineage,
                &base_serial,
                &mutations,
                &data,
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::debug!(backend = %self.describe(), entries = entries.len(), mutations, "journal appended");
        Ok(())
    }

    async fn compact(&self, state: &State) -> Result<(), StateError> {
        self.store(state, Mode::Compact).await
    }
}

/// The snapshot stamped `stamp` (as its row says) with its journal batches replayed.
fn decode_stored(
    codec: &Codec,
    origin: &str,
    stamp: &Stamp,
    snapshot: &[u8],
    batches: &[Vec<u8>],
) -> Result<Loaded, StateError> {
    let state = codec.decode(snapshot, origin)?;
    if Stamp::of(&state) != *stamp {
        return Err(StateError::Corrupt {
            path: origin.to_string(),
            reason: format!(
                "the row says serial {} of lineage {} but the stored state is serial {} of \
                 lineage {}",
                stamp.serial, stamp.lineage, state.serial, state.lineage
            ),
        });
    }
    let mut entries = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        let (mut decoded, valid) = codec.decode_entries(batch, origin)?;
        // A batch is committed whole: a partial one is damage, not a crash in mid-append.
        if valid != batch.len() {
            return Err(StateError::Corrupt {
                path: origin.to_string(),
                reason: format!("journal batch {} is truncated", index + 1),
            });
        }
        entries.append(&mut decoded);
    }
    Ok(journal::replay(state, &entries))
}

/// Renews the lease of lock `id` every third of its length until `stop` fires (or its sender
/// is dropped), or until the lock turns out to be lost.
async fn heartbeat(
    shared: Arc<Shared>,
    workspace: String,
    id: String,
    mut stop: oneshot::Receiver<()>,
) {
    let every = shared.lease / 3;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
        match shared.renew(&workspace, &id).await {
            Ok(true) => {
                tracing::debug!(workspace = %workspace, id = %id, "state lock lease renewed")
            }
            Ok(false) => {
                tracing::warn!(
                    store = %shared.describe(),
                    workspace = %workspace,
                    id = %id,
                    "the state lock was lost (force-unlocked, or its lease expired and it was \
                     taken); further writes will be refused"
                );
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the state lock lease; retrying"),
        }
    }
}

/// A held lock: the row, kept alive by the heartbeat task until release or drop.
struct PgLock {
    shared: Arc<Shared>,
    workspace: String,
    /// The backend's record of the lock it holds, cleared on release.
    held: Arc<Mutex<Option<String>>>,
    info: LockInfo,
    /// Dropping it stops the heartbeat. `None` once released.
    stop: Option<oneshot::Sender<()>>,
}

impl PgLock {
    /// Stops the heartbeat and forgets the lock in the backend; false when already done.
    fn disarm(&mut self) -> bool {
        let Some(stop) = self.stop.take() else {
            return false;
        };
        drop(stop);
        let mut held = held_slot(&self.held);
        if held.as_deref() == Some(self.info.id.as_str()) {
            *held = None;
        }
        true
    }
}

#[async_trait::async_trait]
impl LockGuard for PgLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    async fn release(mut self: Box<Self>) -> Result<(), StateError> {
        if !self.disarm() {
            return Ok(());
        }
        if !self.shared.unlock(&self.workspace, &self.info.id).await? {
            // Force-unlocked, expired, or its workspace deleted: nothing left to release (a
            // write under it would have been refused, loudly).
            tracing::debug!(
                workspace = %self.workspace,
                id = %self.info.id,
                "the state lock was already gone at release"
            );
        } else {
            tracing::debug!(workspace = %self.workspace, id = %self.info.id, "state lock released");
        }
        Ok(())
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        if !self.disarm() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let workspace = self.workspace.clone();
        let id = self.info.id.clone();
        locked_set(&shared.abandoned).insert(id.clone());
        crate::release::spawn(async move {
            match shared.unlock(&workspace, &id).await {
                Ok(_) => {
                    tracing::debug!(workspace = %workspace, id = %id, "dropped state lock released")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release a dropped state lock; its lease will expire")
                }
            }
            locked_set(&shared.abandoned).remove(&id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["ss", "_x", "a1_b2", &"s".repeat(63)] {
            assert!(check_schema(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "Ss", "a-b", "a b", "a\"b", "é", &"s".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn migration_keys_differ_per_schema_and_are_stable() {
        assert_ne!(migration_key("ss"), migration_key("ss2"));
        assert_eq!(migration_key("ss"), migration_key("ss"));
    }

    #[test]
    fn location_and_debug_hide_the_password() {
        let config = tokio_postgres::Config::from_str(
            "postgres://alice:s3cret@db.example:6543/states?sslmode=require",
        )
        .expect("parse");
        assert_eq!(location(&config), "db.example:6543/states");
        let kv = tokio_postgres::Config::from_str("host=h user=bob password=s3cret").expect("kv");
        assert_eq!(location(&kv), "h:5432/bob");
        let debug = format!(
            "{:?}",
            PgConfig::new("postgres://alice:s3cret@db.example/states")
        );
        assert!(!debug.contains("s3cret"), "{debug}");
        assert_eq!(
            scrub("auth for s3cret failed", Some("s3cret")),
            "auth for ****** failed"
        );
    }

    #[test]
    fn a_private_ca_file_is_trusted_besides_the_public_roots() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let public = root_store(None).expect("public roots only");
        let with_ca = root_store(Some(&fixtures.join("test-ca.pem"))).expect("the test CA loads");
        assert_eq!(with_ca.len(), public.len() + 1);
        tls_config(Some(&fixtures.join("test-ca.pem"))).expect("a TLS configuration");
        let missing = root_store(Some(&fixtures.join("no-such.pem"))).expect_err("missing file");
        assert!(missing.to_string().contains("no-such.pem"), "{missing}");
        let not_pem = root_store(Some(&fixtures.join("v1.json"))).expect_err("no certificate");
        assert!(
            not_pem.to_string().contains("no PEM certificate"),
            "{not_pem}"
        );
    }

    #[tokio::test]
    async fn bad_configuration_is_refused_before_connecting() {
        let bad_schema = PgConfig {
            schema: "Bad-Name".into(),
            ..PgConfig::new("postgres://u:pw@127.0.0.1:1/db")
        };
        let err = PgStore::connect(bad_schema, Codec::plain())
            .await
            .expect_err("bad schema");
        assert!(err.to_string().contains("invalid schema name"), "{err}");
        let short = PgConfig {
            lease: Duration::from_millis(10),
            ..PgConfig::new("postgres://u:pw@127.0.0.1:1/db")
        };
        assert!(PgStore::connect(short, Codec::plain()).await.is_err());
        let unparsable = PgConfig::new("postgres://u:hunter2@127.0.0.1:1/db?sslmode=bogus");
        let err = PgStore::connect(unparsable, Codec::plain())
            .await
            .expect_err("bad sslmode");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn connection_errors_name_the_server_but_not_the_password() {
        // Port 1 on loopback refuses at once.
        let config = PgConfig::new("postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable");
        let err = PgStore::connect(config, Codec::plain())
            .await
            .expect_err("nothing listens on port 1");
        let text = err.to_string();
        assert!(matches!(err, StateError::Backend { .. }), "{text}");
        assert!(text.contains("127.0.0.1:1/db"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
