//! The S3 backend: each workspace's state as an object in a bucket, with its write-ahead journal
//! and its lock as objects beside it. Concurrency control uses S3 conditional writes only
//! (`If-None-Match: *` to create an object, `If-Match: <etag>` to replace or delete one; a
//! mismatch answers 412 Precondition Failed), so no DynamoDB table is needed.
//!
//! # Layout
//!
//! The `default` workspace's state is at `key`; workspace `W`'s at
//! `{workspace_key_prefix}/W/{key}` (Terraform's convention, `env:/W/…` by default). For a state
//! object at `K`:
//! - `K`: the snapshot, the bytes of [`Codec::encode`] (sealed when the codec encrypts). Its
//!   stamp is also in the metadata `ss-lineage` / `ss-serial`, so that a serial check needs only a
//!   `HEAD`; a snapshot without them (uploaded by hand) is read instead.
//! - `K.journal/<lineage>/<base serial, 20 digits>/<sequence, 10 digits>`: one object per
//!   [`Backend::append`] call, created with `If-None-Match: *`, holding the bytes of
//!   [`Codec::encode_entries`]. The number of entries of the batch that change the state is in
//!   its metadata `ss-mutations`, so the serial check never decrypts anything. Objects under
//!   another base than the stored snapshot's are ignored by `load` and deleted by the next
//!   `compact`.
//! - `K.lock`: the lock record, JSON: the [`LockInfo`] fields, `lease_ms` and a renewal counter.
//!
//! # Crash safety
//!
//! An S3 `PUT` is atomic: a crash leaves whole objects only. A crash in mid-append leaves the
//! batches appended before it (a prefix of the calls, never part of a batch). `compact` puts the
//! new snapshot first and deletes the old base's journal objects after; a crash in between
//! leaves objects whose base is no longer the stored snapshot, which `load` ignores and the next
//! compaction deletes. `write` and `compact` are compare-and-swap: the snapshot's `ETag` is read
//! with its stamp, the new state is checked with [`codec::check_successor`] against the
//! snapshot's serial plus the journal's mutations, and the `PUT` carries `If-Match` on that
//! `ETag` (`If-None-Match: *` for the first write), so a concurrent writer makes exactly one of
//! them fail with [`StateError::Conflict`].
//!
//! # Lock, lease and fencing
//!
//! [`Backend::lock`] creates `K.lock` with `If-None-Match: *`. When it exists, it is taken over
//! only once its lease has expired, judged by the S3 server's clock: the age of the lock is the
//! `Date` header of the `GET` answer minus the object's `Last-Modified`, and the lease has
//! expired when that age is at least the holder's `lease_ms` plus one second (both are whole
//! seconds: expiry is judged at most a second late, never early). The takeover is a `PUT` with
//! `If-Match` on the expired record's `ETag`, so of several contenders exactly one wins.
//! Otherwise the lock is refused at once with [`StateError::Locked`] naming the holder.
//!
//! While held, a background heartbeat re-puts the record every lease/3 with `If-Match` on its own
//! `ETag` (the record carries a renewal counter, so every renewal changes the `ETag`). A 412 or
//! 404 means the lock was taken over or force-unlocked; so does failing to renew for a whole
//! lease. The lock is then *lost*: every `write`, `append` and `compact` through the backend
//! object that took it fails with a [`StateError::Backend`] saying so (fencing), since another
//! process may now be writing the state. Releasing deletes the record with `If-Match` on its
//! `ETag` (so a lock taken over since is never deleted); dropping the guard stops the heartbeat
//! and releases in the background ([`crate::release::spawn`]). A process that dies leaves its
//! record, which expires with the lease.
//!
//! A lock this process has released but whose background deletion has not landed yet is taken
//! over at once by a new `lock` on the same backend object.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::backend::{Backend, LockGuard, Store};
use crate::codec::{self, Codec};
use crate::error::StateError;
use crate::journal::{self, JournalEntry, Loaded, Stamp};
use crate::lock::LockInfo;
use crate::model::State;
use crate::workspace;

/// The backend name in [`StateError::Backend`].
const BACKEND: &str = "s3";

/// The default of [`S3Config::workspace_key_prefix`], as Terraform's.
pub const DEFAULT_WORKSPACE_KEY_PREFIX: &str = "env:";

/// The default of [`S3Config::lease`].
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The shortest lease accepted: renewals run every lease/3 and expiry is judged in whole
/// seconds, so a shorter lease would be lost to ordinary latency.
const MIN_LEASE: Duration = Duration::from_secs(2);

/// Journal objects fetched at once by `load`.
const FETCH_PARALLELISM: usize = 16;

/// How many times an operation that lost a race on a conditional write looks again before
/// giving up.
const RACE_RETRIES: usize = 5;

/// Metadata keys (sent as `x-amz-meta-…`).
const META_LINEAGE: &str = "ss-lineage";
const META_SERIAL: &str = "ss-serial";
const META_MUTATIONS: &str = "ss-mutations";

/// Where the states live.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub bucket: String,
    /// The default workspace's state object, e.g. `superset/ss.state.json`.
    pub key: String,
    /// Else the standard chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// An S3-compatible endpoint (MinIO, moto); else `AWS_ENDPOINT_URL` or AWS itself. Requests
    /// then use path-style addressing.
    pub endpoint: Option<String>,
    /// Other workspaces live at `{workspace_key_prefix}/W/{key}`.
    pub workspace_key_prefix: String,
    /// How long a lock outlives its last renewal (its holder renews it every lease/3).
    pub lease: Duration,
}

impl S3Config {
    /// A configuration with the defaults: the standard region and endpoint, `env:` as the
    /// workspace prefix, a 30 s lease.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            key: key.into(),
            region: None,
            endpoint: None,
            workspace_key_prefix: DEFAULT_WORKSPACE_KEY_PREFIX.to_string(),
            lease: DEFAULT_LEASE,
        }
    }

    fn check(&self) -> Result<(), StateError> {
        let bad = |reason: String| Err(backend_error(reason));
        if self.bucket.is_empty() {
            return bad("the bucket name is empty".to_string());
        }
        if self.key.is_empty() || self.key.ends_with('/') || self.key.starts_with('/') {
            return bad(format!(
                "the state key {:?} must be an object name such as `superset/ss.state.json`",
                self.key
            ));
        }
        if self.lease < MIN_LEASE {
            return bad(format!(
                "the lock lease must be at least {}, not {}",
                humantime::format_duration(MIN_LEASE),
                humantime::format_duration(self.lease)
            ));
        }
        Ok(())
    }
}

/// Every workspace's state in one S3 bucket.
pub struct S3Store {
    shared: Arc<Shared>,
    /// One backend object per workspace, so that the journal sequence, the cached mutation
    /// counts and the fencing of a lock are shared by every user of a workspace in this process.
    backends: StdMutex<HashMap<String, Arc<S3Backend>>>,
}

/// What every backend of a store shares.
struct Shared {
    client: Client,
    bucket: String,
    key: String,
    workspace_key_prefix: String,
    lease: Duration,
    codec: Codec,
}

impl S3Store {
    /// Builds the client from the standard AWS chain (environment, profile, SSO, instance
    /// metadata) and checks that the bucket exists.
    pub async fn connect(config: S3Config, codec: Codec) -> Result<S3Store, StateError> {
        config.check()?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        S3Store::with_sdk_config(config, codec, &sdk).await
    }

    /// As [`S3Store::connect`], with an SDK configuration built by the caller (tests use it to
    /// set credentials without touching the process environment). `config.region` and
    /// `config.endpoint`, when set, take precedence over the SDK configuration's.
    pub async fn with_sdk_config(
        config: S3Config,
        codec: Codec,
        sdk: &aws_config::SdkConfig,
    ) -> Result<S3Store, StateError> {
        config.check()?;
        let mut builder = aws_sdk_s3::config::Builder::from(sdk).retry_config(
            // Standard retries (with backoff and jitter) cover throttling (SlowDown, 503) and
            // transient network errors.
            aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(5),
        );
        if let Some(region) = &config.region {
            builder = builder.region(aws_sdk_s3::config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let custom_endpoint = config.endpoint.is_some()
            || sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        if custom_endpoint {
            // S3-compatible servers rarely resolve virtual-hosted bucket names.
            builder = builder.force_path_style(true);
        }
        if config.region.is_none() && sdk.region().is_none() {
            return Err(backend_error(
                "no AWS region is set: set `region` in the backend configuration, or AWS_REGION"
                    .to_string(),
            ));
        }
        let client = Client::from_conf(builder.build());
        check_bucket(&client, &config.bucket).await?;
        tracing::debug!(bucket = %config.bucket, key = %config.key, "connected to S3");
        Ok(S3Store {
            shared: Arc::new(Shared {
                client,
                bucket: config.bucket,
                key: config.key,
                workspace_key_prefix: config
                    .workspace_key_prefix
                    .trim_end_matches('/')
                    .to_string(),
                lease: config.lease,
                codec,
            }),
            backends: StdMutex::new(HashMap::new()),
        })
    }

    /// The key of `workspace`'s state object.
    pub fn state_key(&self, workspace: &str) -> Result<String, StateError> {
        workspace::check_name(workspace)?;
        Ok(self.shared.state_key(workspace))
    }

    fn cached(&self, workspace: &str) -> Arc<S3Backend> {
        let mut backends = lock_std(&self.backends);
        Arc::clone(backends.entry(workspace.to_string()).or_insert_with(|| {
            Arc::new(S3Backend::new(
                Arc::clone(&self.shared),
                workspace,
                self.shared.state_key(workspace),
            ))
        }))
    }
}

impl Shared {
    fn state_key(&self, workspace: &str) -> String {
        if workspace == workspace::DEFAULT {
            self.key.clone()
        } else if self.workspace_key_prefix.is_empty() {
            format!("{workspace}/{}", self.key)
        } else {
            format!("{}/{workspace}/{}", self.workspace_key_prefix, self.key)
        }
    }

    /// The listing prefix under which the non-default workspaces live.
    fn workspaces_prefix(&self) -> String {
        if self.workspace_key_prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.workspace_key_prefix)
        }
    }
}

/// HeadBucket, with a message that says what to fix.
async fn check_bucket(client: &Client, bucket: &str) -> Result<(), StateError> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) => {
            let reason = match status(&err) {
                Some(404) => format!("the bucket {bucket} does not exist; create it first"),
                Some(403) => format!(
                    "access to the bucket {bucket} is denied: check the AWS credentials and the \
                     bucket policy ({})",
                    error_text(&err)
                ),
                Some(301) => format!(
                    "the bucket {bucket} is in another region than the one configured; set \
                     `region` (or AWS_REGION) to the bucket's region"
                ),
                _ => format!("cannot reach the bucket {bucket}: {}", error_text(&err)),
            };
            Err(backend_error(reason))
        }
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    fn describe(&self) -> String {
        format!("S3 s3://{}/{}", self.shared.bucket, self.shared.key)
    }

    async fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let prefix = self.shared.workspaces_prefix();
        let suffix = format!("/{}", self.shared.key);
        let objects = list(&self.shared.client, &self.shared.bucket, &prefix).await?;
        let names = objects
            .iter()
            .filter_map(|o| o.key.strip_prefix(&prefix)?.strip_suffix(&suffix))
            .filter(|name| workspace::check_name(name).is_ok())
            .map(str::to_string)
            .collect();
        Ok(workspace::sorted(names))
    }

    async fn backend(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        workspace::check_name(workspace)?;
        Ok(self.cached(workspace))
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), StateError> {
        workspace::check_name(workspace)?;
        if workspace == workspace::DEFAULT {
            return Err(StateError::Unsupported(
                "the default workspace cannot be deleted".to_string(),
            ));
        }
        let backend = self.cached(workspace);
        backend.delete_all().await
    }
}

/// One workspace's state (handed out by [`S3Store`] as an `Arc<dyn Backend>`).
struct S3Backend {
    shared: Arc<Shared>,
    workspace: String,
    /// The snapshot object.
    key: String,
    /// Where the next append goes. Held for every write, append and compaction, so that those
    /// of this process never interleave.
    journal: tokio::sync::Mutex<Option<Cursor>>,
    /// How many mutations each journal object holds, by key and `ETag` (objects are never
    /// rewritten, but a key can be reused after its journal was emptied; the `ETag` tells).
    counts: StdMutex<HashMap<(String, String), u64>>,
    /// The locks taken through this object, for fencing and for taking over one released in
    /// the background.
    locks: StdMutex<Vec<Arc<HeldLock>>>,
}

/// The next journal object for a base.
struct Cursor {
    base: Stamp,
    next: u64,
}

/// What a `HEAD` of the snapshot tells.
struct SnapshotHead {
    etag: String,
    stamp: Stamp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Compact,
}

impl S3Backend {
    fn new(shared: Arc<Shared>, workspace: &str, key: String) -> S3Backend {
        S3Backend {
            shared,
            workspace: workspace.to_string(),
            key,
            journal: tokio::sync::Mutex::new(None),
            counts: StdMutex::new(HashMap::new()),
            locks: StdMutex::new(Vec::new()),
        }
    }

    fn client(&self) -> &Client {
        &self.shared.client
    }

    fn bucket(&self) -> &str {
        &self.shared.bucket
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.shared.bucket, self.key)
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    fn journal_root(&self) -> String {
        format!("{}.journal/", self.key)
    }

    fn journal_prefix(&self, base: &Stamp) -> String {
        format!(
            "{}{}/{:020}/",
            self.journal_root(),
            key_part(&base.lineage),
            base.serial
        )
    }

    fn origin(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.shared.bucket)
    }

    /// Fails when the lock last taken through this object is still meant to be held but was
    /// lost: another process may be writing. (Locks taken before it no longer matter.)
    fn check_fence(&self) -> Result<(), StateError> {
        let locks = lock_std(&self.locks);
        let Some(held) = locks.last() else {
            return Ok(());
        };
        if held.released.load(Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(why) = lock_std(&held.lost).as_ref() {
            return Err(backend_error(format!(
                "the state lock {} on {} was lost ({why}); refusing to write, since another \
                 process may be writing the state now. Run the command again",
                held.info.id,
                self.url()
            )));
        }
        Ok(())
    }

    /// The snapshot's `ETag` and stamp; `None` when there is no snapshot.
    async fn head_snapshot(&self) -> Result<Option<SnapshotHead>, StateError> {
        let head = match self
            .client()
            .head_object()
            .bucket(self.bucket())
            .key(&self.key)
            .send()
            .await
        {
            Ok(head) => head,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(s3_error("reading", &self.url(), &err)),
        };
        let etag = head.e_tag().unwrap_or_default().to_string();
        let metadata = head.metadata();
        let stamp = metadata.and_then(|m| {
            Some(Stamp {
                lineage: m.get(META_LINEAGE)?.clone(),
                serial: m.get(META_SERIAL)?.parse().ok()?,
            })
        });
        if let Some(stamp) = stamp {
            return Ok(Some(SnapshotHead { etag, stamp }));
        }
        // Uploaded without ss's metadata: read the stamp from the bytes.
        match get_object(self.client(), self.bucket(), &self.key, None).await? {
            None => Ok(None),
            Some(object) => {
                let stamp = self.shared.codec.decode_stamp(&object.bytes, &self.url())?;
                Ok(Some(SnapshotHead {
                    etag: object.etag,
                    stamp,
                }))
            }
        }
    }

    /// The journal objects of `base`, in order, with their sequence numbers.
    async fn journal_objects(&self, base: &Stamp) -> Result<Vec<(u64, Listed)>, StateError> {
        let prefix = self.journal_prefix(base);
        let mut objects: Vec<(u64, Listed)> = list(self.client(), self.bucket(), &prefix)
            .await?
            .into_iter()
            .filter_map(|o| match o.key[prefix.len()..].parse::<u64>() {
                Ok(seq) => Some((seq, o)),
                Err(_) => {
                    tracing::warn!(key = %o.key, "ignoring an object that is not a journal batch");
                    None
                }
            })
            .collect();
        objects.sort_by_key(|(seq, _)| *seq);
        Ok(objects)
    }

    /// How many state changes the journal of `base` holds, without decrypting it: from the
    /// counts cached by this object, else from each object's metadata.
    async fn journal_mutations(&self, base: &Stamp) -> Result<u64, StateError> {
        let mut total = 0;
        for (_, object) in self.journal_objects(base).await? {
            total += self.mutations_of(&object).await?;
        }
        Ok(total)
    }

    async fn mutations_of(&self, object: &Listed) -> Result<u64, StateError> {
        let id = (object.key.clone(), bare_etag(&object.etag));
        if let Some(n) = lock_std(&self.counts).get(&id) {
            return Ok(*n);
        }
        let head = self
            .client()
            .head_object()
            .bucket(self.bucket())
            .key(&object.key)
            .send()
            .await
            .map_err(|err| s3_error("reading", &self.origin(&object.key), &err))?;
        let n = match head
            .metadata()
            .and_then(|m| m.get(META_MUTATIONS)?.parse::<u64>().ok())
        {
            Some(n) => n,
            None => {
                // Not written by ss (or its metadata was stripped): count the entries.
                let origin = self.origin(&object.key);
                match get_object(self.client(), self.bucket(), &object.key, None).await? {
                    Some(o) => self.shared.codec.count_mutations(&o.bytes, &origin)?,
                    None => 0,
                }
            }
        };
        lock_std(&self.counts).insert(id, n);
        Ok(n)
    }

    /// A journal object with entries but no snapshot cannot come from ss, which writes a
    /// snapshot before the first append: the state object was removed by hand. Its entries may
    /// record cloud objects, so this is reported rather than read as no state.
    async fn refuse_orphan_journal(&self) -> Result<(), StateError> {
        let root = self.journal_root();
        let page = self
            .client()
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(&root)
            .max_keys(1)
            .send()
            .await
            .map_err(|err| s3_error("listing", &self.origin(&root), &err))?;
        if page.contents().is_empty() {
            return Ok(());
        }
        Err(StateError::Corrupt {
            path: self.origin(&root),
            reason: format!(
                "it records changes but there is no state snapshot at {}; restore the snapshot \
                 (from a previous version of the object), or delete the journal objects if the \
                 state was deleted on purpose",
                self.url()
            ),
        })
    }

    /// The snapshot and the entries of its journal, or `None`.
    async fn load_once(&self) -> Result<Option<Option<Loaded>>, StateError> {
        let Some(snapshot) = get_object(self.client(), self.bucket(), &self.key, None).await?
        else {
            self.refuse_orphan_journal().await?;
            return Ok(Some(None));
        };
        let state = self.shared.codec.decode(&snapshot.bytes, &self.url())?;
        drop(snapshot);
        let base = Stamp::of(&state);
        let objects = self.journal_objects(&base).await?;
        let keys: Vec<String> = objects.iter().map(|(_, o)| o.key.clone()).collect();
        let Some(bodies) = get_many(self.client(), self.bucket(), keys).await? else {
            // A journal object vanished: the journal was compacted meanwhile. Read again.
            return Ok(None);
        };
        let mut entries = Vec::new();
        for ((_, listed), body) in objects.iter().zip(bodies) {
            let origin = self.origin(&listed.key);
            let (batch, _) = self.shared.codec.decode_entries(&body.bytes, &origin)?;
            let mutations = batch.iter().filter(|e| e.is_mutation()).count() as u64;
            lock_std(&self.counts).insert((listed.key.clone(), bare_etag(&body.etag)), mutations);
            entries.extend(batch);
        }
        tracing::debug!(
            state = %self.url(),
            serial = base.serial,
            batches = objects.len(),
            entries = entries.len(),
            "state loaded"
        );
        Ok(Some(Some(journal::replay(state, &entries))))
    }

    /// Whether the stored snapshot (with `etag`) holds exactly `state`.
    async fn stored_is(&self, state: &State, etag: Option<&str>) -> Result<bool, StateError> {
        let Some(object) = get_object(self.client(), self.bucket(), &self.key, None).await? else {
            return Ok(false);
        };
        if etag.is_some_and(|etag| bare_etag(etag) != bare_etag(&object.etag)) {
            return Ok(false);
        }
        if self.shared.codec.decode_stamp(&object.bytes, &self.url())? != Stamp::of(state) {
            return Ok(false);
        }
        Ok(self.shared.codec.decode(&object.bytes, &self.url())? == *state)
    }

    /// `write` and `compact`: a compare-and-swap of the snapshot.
    async fn store(&self, state: &State, mode: Mode) -> Result<(), StateError> {
        let bytes = self.shared.codec.encode(state)?;
        let next = Stamp::of(state);
        let mut cursor = self.journal.lock().await;
        self.check_fence()?;
        // Whatever happens, the next append checks its base again.
        *cursor = None;
        let condition = match self.head_snapshot().await? {
            Some(head) => {
                let mutations = self.journal_mutations(&head.stamp).await?;
                // Compacting a state identical to the snapshot when the journal changed nothing
                // (it holds only intents and their resolutions): there is nothing to fold in,
                // and a new snapshot would need a new serial for no change.
                if mode == Mode::Compact
                    && mutations == 0
                    && head.stamp == next
                    && self.stored_is(state, Some(&head.etag)).await?
                {
                    self.delete_journal(|_| true).await?;
                    tracing::debug!(state = %self.url(), serial = next.serial, "journal emptied");
                    return Ok(());
                }
                codec::check_successor(&head.stamp, head.stamp.serial + mutations, &next)?;
                Condition::Replace(head.etag)
            }
            None => {
                self.refuse_orphan_journal().await?;
                Condition::Create
            }
        };
        let metadata = snapshot_metadata(&next);
        match put_object(
            self.client(),
            self.bucket(),
            &self.key,
            bytes,
            &condition,
            &metadata,
        )
        .await
        {
            Ok(_) => {}
            Err(PutError::Precondition) => {
                // Our own attempt may have landed before a retry of the same request.
                if self.stored_is(state, None).await? {
                    tracing::debug!(state = %self.url(), "the write landed on an earlier attempt");
                } else {
                    return Err(self.conflict().await);
                }
            }
            Err(PutError::Other(e)) => return Err(e),
        }
        tracing::debug!(state = %self.url(), serial = next.serial, "state written");
        if mode == Mode::Compact {
            // The snapshot is in place: the old journal is stale whether or not this succeeds
            // (load ignores objects of another base, the next compaction deletes them).
            let keep = self.journal_prefix(&next);
            if let Err(e) = self.delete_journal(|key| !key.starts_with(&keep)).await {
                tracing::warn!(state = %self.url(), error = %e, "cannot delete the folded journal; the next compaction will");
            }
        }
        Ok(())
    }

    /// The conflict reported when a conditional write lost a race.
    async fn conflict(&self) -> StateError {
        let now = match self.head_snapshot().await {
            Ok(Some(head)) => format!(
                " (it is now serial {} of lineage {})",
                head.stamp.serial, head.stamp.lineage
            ),
            _ => String::new(),
        };
        StateError::Conflict {
            reason: format!(
                "the state at {} was written by someone else at the same time{now}; load it \
                 again and retry",
                self.url()
            ),
        }
    }

    /// Deletes the journal objects whose key passes `select`.
    async fn delete_journal(&self, select: impl Fn(&str) -> bool) -> Result<(), StateError> {
        let root = self.journal_root();
        let keys: Vec<String> = list(self.client(), self.bucket(), &root)
            .await?
            .into_iter()
            .map(|o| o.key)
            .filter(|key| select(key))
            .collect();
        delete_keys(self.client(), self.bucket(), &keys).await?;
        let mut counts = lock_std(&self.counts);
        counts.retain(|(key, _), _| !keys.contains(key));
        Ok(())
    }

    /// Where the next batch for `base` goes: checks that `base` is the stored snapshot and
    /// lists its journal.
    async fn open_cursor(&self, base: &Stamp) -> Result<Cursor, StateError> {
        let stored = match self.head_snapshot().await? {
            Some(head) => head.stamp,
            None => {
                return Err(StateError::Conflict {
                    reason: format!(
                        "there is no state snapshot at {} to journal changes against; a snapshot \
                         must be written before the first append",
                        self.url()
                    ),
                });
            }
        };
        codec::check_base(&stored, base)?;
        let next = self
            .journal_objects(base)
            .await?
            .last()
            .map_or(0, |(seq, _)| seq + 1);
        tracing::debug!(state = %self.url(), serial = base.serial, next, "journal opened");
        Ok(Cursor {
            base: base.clone(),
            next,
        })
    }

    /// Removes the state, its journal and its lock record (`delete_workspace`).
    async fn delete_all(&self) -> Result<(), StateError> {
        let mut cursor = self.journal.lock().await;
        *cursor = None;
        // The journal first: a journal without a snapshot is reported as damage, a snapshot
        // without a journal is a valid state.
        self.delete_journal(|_| true).await?;
        delete_keys(
            self.client(),
            self.bucket(),
            std::slice::from_ref(&self.key),
        )
        .await?;
        // The caller's lock goes with the workspace: its heartbeat stops without reporting a loss.
        for held in lock_std(&self.locks).iter() {
            held.released.store(true, Ordering::SeqCst);
        }
        delete_keys(self.client(), self.bucket(), &[self.lock_key()]).await?;
        tracing::debug!(state = %self.url(), workspace = %self.workspace, "workspace deleted");
        Ok(())
    }

    /// The current lock record, judged against the server's clock.
    async fn current_lock(&self) -> Result<Option<CurrentLock>, StateError> {
        current_lock(
            self.client(),
            self.bucket(),
            &self.lock_key(),
            self.shared.lease,
        )
        .await
    }

    /// Whether `id` names a lock this object took and has released (its deletion may still be
    /// on its way).
    fn released_here(&self, id: &str) -> bool {
        lock_std(&self.locks)
            .iter()
            .any(|held| held.info.id == id && held.released.load(Ordering::SeqCst))
    }

    fn guard(&self, info: LockInfo, etag: String) -> Result<Box<dyn LockGuard>, StateError> {
        let held = Arc::new(HeldLock {
            client: self.client().clone(),
            bucket: self.bucket().to_string(),
            key: self.lock_key(),
            info,
            lease: self.shared.lease,
            etag: StdMutex::new(etag),
            renewals: AtomicU64::new(0),
            lost: StdMutex::new(None),
            released: AtomicBool::new(false),
        });
        {
            let mut locks = lock_std(&self.locks);
            // Locks released or lost before this one no longer matter.
            locks.retain(|h| !h.released.load(Ordering::SeqCst) && lock_std(&h.lost).is_none());
            locks.push(Arc::clone(&held));
        }
        let heartbeat = tokio::spawn(heartbeat(Arc::clone(&held)));
        tracing::debug!(lock = %held.key, id = %held.info.id, "state lock taken");
        Ok(Box::new(S3Lock {
            held,
            heartbeat: Some(heartbeat),
            done: false,
        }))
    }
}

#[async_trait::async_trait]
impl Backend for S3Backend {
    fn describe(&self) -> String {
        format!("S3 {} (workspace {})", self.url(), self.workspace)
    }

    async fn lock(&self, mut info: LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        info.path = self.url();
        let record = LockRecord::new(&info, self.shared.lease, 0);
        let body = record.to_bytes()?;
        let key = self.lock_key();
        let origin = self.origin(&key);
        let mut last_seen = None;
        for _ in 0..RACE_RETRIES {
            match put_object(
                self.client(),
                self.bucket(),
                &key,
                body.clone(),
                &Condition::Create,
                &[],
            )
            .await
            {
                Ok(etag) => return self.guard(info, etag),
                Err(PutError::Precondition) => {}
                Err(PutError::Other(e)) => return Err(e),
            }
            let Some(current) = self.current_lock().await? else {
                // Released in between: try again.
                continue;
            };
            let holder = current.holder(&origin);
            if holder.id == info.id {
                // An earlier attempt of our own request created it.
                return self.guard(info, current.etag);
            }
            let released = self.released_here(&holder.id);
            if !(current.expired || released) {
                return Err(StateError::Locked {
                    holder: Box::new(holder),
                });
            }
            tracing::debug!(
                lock = %key,
                previous = %holder.id,
                expired = current.expired,
                "taking over a lock whose lease expired or that this process released"
            );
            match put_object(
                self.client(),
                self.bucket(),
                &key,
                body.clone(),
                &Condition::Replace(current.etag),
                &[],
            )
            .await
            {
                Ok(etag) => return self.guard(info, etag),
                // Renewed, released or taken by someone else meanwhile: look again.
                Err(PutError::Precondition) => {}
                Err(PutError::Other(e)) => return Err(e),
            }
            last_seen = Some(holder);
        }
        Err(StateError::Locked {
            holder: Box::new(last_seen.unwrap_or_else(|| LockInfo::unknown(&self.url()))),
        })
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let origin = self.origin(&self.lock_key());
        Ok(self.current_lock().await?.and_then(|current| {
            let holder = current.holder(&origin);
            (!current.expired && !self.released_here(&holder.id)).then_some(holder)
        }))
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let key = self.lock_key();
        let origin = self.origin(&key);
        for _ in 0..RACE_RETRIES {
            let Some(current) = self.current_lock().await? else {
                return Err(StateError::NotLocked { path: self.url() });
            };
            let holder = current.holder(&origin);
            if holder.id != id {
                if current.expired {
                    return Err(StateError::NotLocked { path: self.url() });
                }
                return Err(StateError::LockMismatch {
                    given: id.to_string(),
                    holder: Box::new(holder),
                });
            }
            match delete_if_match(self.client(), self.bucket(), &key, &current.etag).await? {
                Deleted::Yes | Deleted::Gone => {
                    tracing::debug!(lock = %key, id, "state lock forcibly released");
                    return Ok(());
                }
                // Renewed meanwhile: look again.
                Deleted::Changed => {}
            }
        }
        Err(backend_error(format!(
            "the lock {id} on {} keeps changing while it is being released; is its holder still \
             running?",
            self.url()
        )))
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.load().await?.map(|loaded| loaded.state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        self.store(state, Mode::Write).await
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        for _ in 0..RACE_RETRIES {
            if let Some(loaded) = self.load_once().await? {
                return Ok(loaded);
            }
        }
        Err(backend_error(format!(
            "the journal of {} keeps changing while it is read; is another ss compacting it \
             without the lock?",
            self.url()
        )))
    }

    async fn append(&self, base: &Stamp, entries: &[JournalEntry]) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let body = self.shared.codec.encode_entries(entries)?;
        let mutations = entries.iter().filter(|e| e.is_mutation()).count() as u64;
        let metadata = [(META_MUTATIONS, mutations.to_string())];
        let mut cursor = self.journal.lock().await;
        self.check_fence()?;
        for _ in 0..RACE_RETRIES {
            let seq = match cursor.as_ref() {
                Some(c) if c.base == *base => c.next,
                _ => {
                    *cursor = None;
                    let opened = self.open_cursor(base).await?;
                    let next = opened.next;
                    *cursor = Some(opened);
                    next
                }
            };
            let key = format!("{}{seq:010}", self.journal_prefix(base));
            let landed = match put_object(
                self.client(),
                self.bucket(),
                &key,
                body.clone(),
                &Condition::Create,
                &metadata,
            )
            .await
            {
                Ok(etag) => Some(etag),
                Err(PutError::Precondition) => {
                    // Our own earlier attempt of this request, or another writer's batch.
                    get_object(self.client(), self.bucket(), &key, None)
                        .await?
                        .filter(|o| o.bytes == body)
                        .map(|o| o.etag)
                }
                Err(PutError::Other(e)) => return Err(e),
            };
            match landed {
                Some(etag) => {
                    lock_std(&self.counts).insert((key.clone(), bare_etag(&etag)), mutations);
                    if let Some(c) = cursor.as_mut() {
                        c.next = seq + 1;
                    }
                    tracing::debug!(journal = %key, entries = entries.len(), mutations, "journal batch appended");
                    return Ok(());
                }
                None => {
                    tracing::debug!(journal = %key, "journal position taken by another writer; looking again");
                    *cursor = None;
                }
            }
        }
        Err(StateError::Conflict {
            reason: format!(
                "another writer keeps appending to the journal of {}; is another ss running \
                 without the lock?",
                self.url()
            ),
        })
    }

    async fn compact(&self, state: &State) -> Result<(), StateError> {
        self.store(state, Mode::Compact).await
    }
}

// ---------------------------------------------------------------------------------------------
// The lock.

/// The stored lock record.
#[derive(Serialize, Deserialize)]
struct LockRecord {
    #[serde(flatten)]
    info: LockInfo,
    /// The lock expires this long after the object's `Last-Modified` (its last renewal).
    lease_ms: u64,
    /// Incremented at every renewal, so that every renewal changes the `ETag`.
    renewal: u64,
}

impl LockRecord {
    fn new(info: &LockInfo, lease: Duration, renewal: u64) -> LockRecord {
        LockRecord {
            info: info.clone(),
            lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
            renewal,
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>, StateError> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| StateError::Encode {
            reason: format!("lock record: {e}"),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The lock object as found.
struct CurrentLock {
    /// `None` when the record is unreadable (damaged, or not ss's).
    record: Option<LockRecord>,
    etag: String,
    expired: bool,
}

impl CurrentLock {
    fn holder(&self, origin: &str) -> LockInfo {
        match &self.record {
            Some(record) => record.info.clone(),
            None => LockInfo::unknown(origin),
        }
    }
}

/// Reads the lock at `key`; its lease (the record's, else `default_lease`) is judged against the
/// server's clock.
async fn current_lock(
    client: &Client,
    bucket: &str,
    key: &str,
    default_lease: Duration,
) -> Result<Option<CurrentLock>, StateError> {
    let date = ServerDate::default();
    let Some(object) = get_object(client, bucket, key, Some(date.clone())).await? else {
        return Ok(None);
    };
    let record = serde_json::from_slice::<LockRecord>(&object.bytes).ok();
    if record.is_none() {
        tracing::warn!(lock = %key, "the lock record is unreadable");
    }
    let lease = record
        .as_ref()
        .map_or(default_lease, |r| Duration::from_millis(r.lease_ms));
    let now = date.get().unwrap_or_else(|| {
        tracing::debug!(lock = %key, "no Date header; judging the lease by the local clock");
        DateTime::from(std::time::SystemTime::now())
    });
    let expired = object
        .last_modified
        .is_some_and(|modified| lease_expired(modified, now, lease));
    Ok(Some(CurrentLock {
        record,
        etag: object.etag,
        expired,
    }))
}

/// Whether a lock last modified at `modified` has expired at `now` (both from the server, in
/// whole seconds): at most a second late, never early.
fn lease_expired(modified: DateTime, now: DateTime, lease: Duration) -> bool {
    let age_ms = (now.as_nanos() - modified.as_nanos()) / 1_000_000;
    let needed_ms = i128::try_from(lease.as_millis()).unwrap_or(i128::MAX) + 1000;
    age_ms >= needed_ms
}

/// A lock held by this process, shared by its guard, its heartbeat and the backend's fencing.
struct HeldLock {
    client: Client,
    bucket: String,
    key: String,
    info: LockInfo,
    lease: Duration,
    /// The `ETag` of our latest record.
    etag: StdMutex<String>,
    renewals: AtomicU64,
    /// Why the lock was lost, once it was.
    lost: StdMutex<Option<String>>,
    /// Released (or being released) by its guard, or gone with its workspace.
    released: AtomicBool,
}

impl HeldLock {
    fn mark_lost(&self, why: String) {
        tracing::warn!(lock = %self.key, id = %self.info.id, reason = %why, "the state lock was lost");
        *lock_std(&self.lost) = Some(why);
    }

    /// Re-puts the record with `If-Match` on our `ETag`.
    async fn renew(&self) -> Result<(), Renewal> {
        let renewal = self.renewals.fetch_add(1, Ordering::SeqCst) + 1;
        let body = LockRecord::new(&self.info, self.lease, renewal)
            .to_bytes()
            .map_err(Renewal::Failed)?;
        let etag = lock_std(&self.etag).clone();
        match put_object(
            &self.client,
            &self.bucket,
            &self.key,
            body,
            &Condition::Replace(etag),
            &[],
        )
        .await
        {
            Ok(etag) => {
                *lock_std(&self.etag) = etag;
                Ok(())
            }
            Err(PutError::Precondition) => Err(Renewal::Lost),
            Err(PutError::Other(e)) => Err(Renewal::Failed(e)),
        }
    }

    /// Deletes the record if it is still ours.
    async fn release(&self) -> Result<(), StateError> {
        self.released.store(true, Ordering::SeqCst);
        let etag = lock_std(&self.etag).clone();
        match delete_if_match(&self.client, &self.bucket, &self.key, &etag).await? {
            Deleted::Yes => {
                tracing::debug!(lock = %self.key, id = %self.info.id, "state lock released");
                return Ok(());
            }
            Deleted::Gone => {
                tracing::debug!(lock = %self.key, id = %self.info.id, "state lock already gone");
                return Ok(());
            }
            Deleted::Changed => {}
        }
        // A renewal cut off by the release may have landed after all: look at who holds it.
        let Some(current) = current_lock(&self.client, &self.bucket, &self.key, self.lease).await?
        else {
            return Ok(());
        };
        let holder = current.holder(&self.key);
        if holder.id != self.info.id {
            tracing::warn!(lock = %self.key, id = %self.info.id, holder = %holder.id, "the state lock was taken over before its release; leaving it");
            return Ok(());
        }
        match delete_if_match(&self.client, &self.bucket, &self.key, &current.etag).await? {
            Deleted::Yes | Deleted::Gone => Ok(()),
            Deleted::Changed => Err(backend_error(format!(
                "the state lock {} at s3://{}/{} changed while it was being released; it expires \
                 with its lease",
                self.info.id, self.bucket, self.key
            ))),
        }
    }
}

enum Renewal {
    Lost,
    Failed(StateError),
}

/// Renews the lock every lease/3 until the guard stops it, or the lock is lost.
async fn heartbeat(held: Arc<HeldLock>) {
    let period = held.lease / 3;
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(period).await;
        if held.released.load(Ordering::SeqCst) {
            return;
        }
        match held.renew().await {
            Ok(()) => {
                renewed = tokio::time::Instant::now();
                tracing::debug!(lock = %held.key, id = %held.info.id, "state lock renewed");
            }
            Err(Renewal::Lost) => {
                if held.released.load(Ordering::SeqCst) {
                    return;
                }
                let now = current_lock(&held.client, &held.bucket, &held.key, held.lease)
                    .await
                    .ok()
                    .flatten()
                    .map(|current| current.holder(&held.key));
                let why = match now {
                    Some(holder) if holder.id != held.info.id => format!(
                        "it is now held by {}@{} (pid {}) running `{}`, lock id {}",
                        holder.user, holder.host, holder.pid, holder.operation, holder.id
                    ),
                    Some(_) => "it was modified by someone else".to_string(),
                    None => "it was removed, by a force-unlock or by hand".to_string(),
                };
                held.mark_lost(why);
                return;
            }
            Err(Renewal::Failed(e)) => {
                if renewed.elapsed() >= held.lease {
                    held.mark_lost(format!(
                        "it could not be renewed for longer than its lease of {}: {e}",
                        humantime::format_duration(held.lease)
                    ));
                    return;
                }
                tracing::warn!(lock = %held.key, error = %e, "cannot renew the state lock; retrying");
            }
        }
    }
}

/// A held S3 lock.
struct S3Lock {
    held: Arc<HeldLock>,
    heartbeat: Option<JoinHandle<()>>,
    done: bool,
}

impl S3Lock {
    fn stop(&mut self) {
        self.done = true;
        self.held.released.store(true, Ordering::SeqCst);
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

#[async_trait::async_trait]
impl LockGuard for S3Lock {
    fn info(&self) -> &LockInfo {
        &self.held.info
    }

    async fn release(mut self: Box<Self>) -> Result<(), StateError> {
        self.stop();
        self.held.release().await
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.stop();
        let held = Arc::clone(&self.held);
        crate::release::spawn(async move {
            if let Err(e) = held.release().await {
                tracing::warn!(lock = %held.key, error = %e, "cannot release the state lock; it expires with its lease");
            }
        });
    }
}

/// Captures the `Date` header of a response: the server's clock, to judge a lease by.
#[derive(Clone, Debug, Default)]
struct ServerDate(Arc<StdMutex<Option<String>>>);

impl ServerDate {
    fn get(&self) -> Option<DateTime> {
        let text = lock_std(&self.0).clone()?;
        DateTime::from_str(&text, DateTimeFormat::HttpDate).ok()
    }
}

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ss-server-date"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            *lock_std(&self.0) = Some(date.to_string());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// S3 calls.

/// An object read whole.
struct Fetched {
    bytes: Vec<u8>,
    etag: String,
    last_modified: Option<DateTime>,
}

/// GETs `key`; `None` when there is no such object. With `date`, the answer's `Date` header is
/// captured into it.
async fn get_object(
    client: &Client,
    bucket: &str,
    key: &str,
    date: Option<ServerDate>,
) -> Result<Option<Fetched>, StateError> {
    let origin = format!("s3://{bucket}/{key}");
    let request = client.get_object().bucket(bucket).key(key);
    let sent = match date {
        Some(date) => request.customize().interceptor(date).send().await,
        None => request.send().await,
    };
    let output = match sent {
        Ok(output) => output,
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(s3_error("reading", &origin, &err)),
    };
    let etag = output.e_tag().unwrap_or_default().to_string();
    let last_modified = output.last_modified().copied();
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| backend_error(format!("reading {origin}: {}", DisplayErrorContext(&e))))?
        .into_bytes()
        .to_vec();
    Ok(Some(Fetched {
        bytes,
        etag,
        last_modified,
    }))
}

/// GETs every key, several at a time, in order; `None` when one of them no longer exists.
async fn get_many(
    client: &Client,
    bucket: &str,
    keys: Vec<String>,
) -> Result<Option<Vec<Fetched>>, StateError> {
    let count = keys.len();
    let mut results: Vec<Option<Fetched>> = (0..count).map(|_| None).collect();
    let mut pending = keys.into_iter().enumerate();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < FETCH_PARALLELISM {
            let Some((index, key)) = pending.next() else {
                break;
            };
            let client = client.clone();
            let bucket = bucket.to_string();
            tasks.spawn(async move { (index, get_object(&client, &bucket, &key, None).await) });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (index, fetched) =
            done.map_err(|e| backend_error(format!("a read task failed: {e}")))?;
        match fetched? {
            Some(object) => results[index] = Some(object),
            None => return Ok(None),
        }
    }
    Ok(results.into_iter().collect())
}

enum Condition {
    /// `If-None-Match: *`: only when there is no such object.
    Create,
    /// `If-Match: <etag>`: only over this version of the object.
    Replace(String),
}

enum PutError {
    /// The condition failed: the object exists (create), or is another version or gone
    /// (replace).
    Precondition,
    Other(StateError),
}

/// PUTs `body` at `key` under `condition`; returns the new `ETag`.
async fn put_object(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    condition: &Condition,
    metadata: &[(&str, String)],
) -> Result<String, PutError> {
    let mut request = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body));
    request = match condition {
        Condition::Create => request.if_none_match("*"),
        Condition::Replace(etag) => request.if_match(etag),
    };
    for (name, value) in metadata {
        request = request.metadata(*name, value);
    }
    match request.send().await {
        Ok(output) => Ok(output.e_tag().unwrap_or_default().to_string()),
        Err(err) if is_precondition(&err) => Err(PutError::Precondition),
        // `If-Match` on an object that no longer exists.
        Err(err) if matches!(condition, Condition::Replace(_)) && is_not_found(&err) => {
            Err(PutError::Precondition)
        }
        Err(err) => Err(PutError::Other(s3_error(
            "writing",
            &format!("s3://{bucket}/{key}"),
            &err,
        ))),
    }
}

enum Deleted {
    Yes,
    /// There was no such object.
    Gone,
    /// The object is another version than the one named.
    Changed,
}

/// DELETEs `key` only if it is still the version `etag`.
async fn delete_if_match(
    client: &Client,
    bucket: &str,
    key: &str,
    etag: &str,
) -> Result<Deleted, StateError> {
    match client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .if_match(etag)
        .send()
        .await
    {
        Ok(_) => Ok(Deleted::Yes),
        Err(err) if is_precondition(&err) => Ok(Deleted::Changed),
        Err(err) if is_not_found(&err) => Ok(Deleted::Gone),
        Err(err) => Err(s3_error("deleting", &format!("s3://{bucket}/{key}"), &err)),
    }
}

/// Deletes `keys`, a thousand per request.
async fn delete_keys(client: &Client, bucket: &str, keys: &[String]) -> Result<(), StateError> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| backend_error(format!("deleting objects: {e}")))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| backend_error(format!("deleting objects: {e}")))?;
        let output = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|err| s3_error("deleting objects in", &format!("s3://{bucket}"), &err))?;
        if let Some(failed) = output.errors().first() {
            return Err(backend_error(format!(
                "deleting s3://{bucket}/{} failed: {}: {}",
                failed.key().unwrap_or("?"),
                failed.code().unwrap_or("error"),
                failed.message().unwrap_or("no message")
            )));
        }
        tracing::debug!(bucket, count = chunk.len(), "objects deleted");
    }
    Ok(())
}

/// An object found by a listing.
struct Listed {
    key: String,
    etag: String,
}

/// Every object under `prefix`, in key order.
async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StateError> {
    let mut objects = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|err| s3_error("listing", &format!("s3://{bucket}/{prefix}"), &err))?;
        objects.extend(page.contents().iter().filter_map(|o| {
            Some(Listed {
                key: o.key()?.to_string(),
                etag: o.e_tag().unwrap_or_default().to_string(),
            })
        }));
    }
    Ok(objects)
}

fn snapshot_metadata(stamp: &Stamp) -> Vec<(&'static str, String)> {
    let mut metadata = vec![(META_SERIAL, stamp.serial.to_string())];
    // Metadata is ASCII; an unusual lineage is read from the object instead.
    if stamp
        .lineage
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        metadata.push((META_LINEAGE, stamp.lineage.clone()));
    }
    metadata
}

/// `s` as one path segment of a key: anything but letters, digits, `-`, `_` and `.` is
/// percent-encoded.
fn key_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `ETag` without its quotes (listings and answers may differ in quoting).
fn bare_etag(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

// ---------------------------------------------------------------------------------------------
// Errors.

fn backend_error(reason: String) -> StateError {
    StateError::Backend {
        backend: BACKEND.to_string(),
        reason,
    }
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn is_precondition<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    // 409 ConditionalRequestConflict: a concurrent conditional write to the same key.
    matches!(status(err), Some(412 | 409))
        || matches!(
            err.code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
}

fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    status(err) == Some(404) || matches!(err.code(), Some("NoSuchKey" | "NotFound"))
}

/// The S3 error code and message, or the whole error chain for a failure without an answer
/// (connection refused, timeout, no credentials). Never holds credentials.
fn error_text<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let http = status(err)
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}{http}"),
        (Some(code), None) => format!("{code}{http}"),
        _ => format!("{}{http}", DisplayErrorContext(err)),
    }
}

fn s3_error<E>(action: &str, target: &str, err: &SdkError<E, HttpResponse>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    backend_error(format!("{action} {target} failed: {}", error_text(err)))
}

fn lock_std<T>(mutex: &StdMutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_one_safe_segment() {
        assert_eq!(
            key_part("4f0c2a5e-8d1b-4c8e-9a51-2b7f0e6d3c11"),
            "4f0c2a5e-8d1b-4c8e-9a51-2b7f0e6d3c11"
        );
        assert_eq!(key_part("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn leases_expire_late_never_early() {
        let at = |secs| DateTime::from_secs(secs);
        let lease = Duration::from_secs(2);
        // Whole seconds: an age of 2 may be 2.99 or 1.01, an age of 3 is above 2.
        assert!(!lease_expired(at(100), at(101), lease));
        assert!(!lease_expired(at(100), at(102), lease));
        assert!(lease_expired(at(100), at(103), lease));
        // A server clock behind the object's time (another node) is not expiry.
        assert!(!lease_expired(at(100), at(90), lease));
    }

    #[test]
    fn lock_record_carries_the_holder_and_the_lease() {
        let info = LockInfo::new("apply");
        let bytes = LockRecord::new(&info, Duration::from_secs(30), 4)
            .to_bytes()
            .expect("record");
        let holder: LockInfo = serde_json::from_slice(&bytes).expect("a LockInfo");
        assert_eq!(holder, info);
        let record: LockRecord = serde_json::from_slice(&bytes).expect("a record");
        assert_eq!((record.lease_ms, record.renewal), (30_000, 4));
    }

    #[test]
    fn config_is_checked() {
        assert!(S3Config::new("b", "superset/ss.state.json").check().is_ok());
        for bad in [
            S3Config::new("", "k"),
            S3Config::new("b", ""),
            S3Config::new("b", "dir/"),
            S3Config {
                lease: Duration::from_millis(500),
                ..S3Config::new("b", "k")
            },
        ] {
            assert!(matches!(bad.check(), Err(StateError::Backend { .. })));
        }
    }
}
