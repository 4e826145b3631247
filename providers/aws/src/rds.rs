//! RDS: DB subnet groups, parameter groups, Postgres instances and read replicas, RDS Proxy
//! (the `postgres` component).
//!
//! # `postgres` → native resources
//!
//! | local name | type | what |
//! |---|---|---|
//! | `secret` | `aws_secretsmanager_secret` | master user name + password (generated when not given) |
//! | `subnet_group` | `aws_db_subnet_group` | the network's subnets (resolved from `vpc_id`) |
//! | `parameter_group` | `aws_db_parameter_group` | family `postgres<major>`; `rds.force_ssl = 1`, slow queries (> 1 s) logged; replaced create-before-destroy on a major upgrade |
//! | `primary` | `aws_db_instance` | Postgres, `MultiAZ` when `high_availability`, storage encrypted, the network's security group, master password = the secret's |
//! | `replica_0…` | `aws_db_instance` | `read_replicas` read replicas of `primary`, replica *i* in zone `(i + 1) % min(3, zones)` of the provider's zones (the network must span them, as its default 3 zones do) |
//! | `proxy_role` | `aws_iam_role` | when `pooler`: assumed by `rds.amazonaws.com`, may read `secret` |
//! | `proxy` | `aws_db_proxy` | when `pooler`: RDS Proxy (PostgreSQL, TLS required) in the network, `primary` registered as its target |
//!
//! Exports: `id` (the primary's identifier), `endpoint` (its address), `reader_endpoints` (the
//! replicas' addresses), `pooler_endpoint` (the proxy's endpoint, null without a pooler),
//! `port`, `password` (the secret's, sensitive).
//!
//! # Size classes
//!
//! | `size` | instance class | vCPU / memory |
//! |---|---|---|
//! | `small` | `db.t4g.medium` | 2 / 4 GiB (burstable) |
//! | `medium` | `db.r6g.large` | 2 / 16 GiB |
//! | `large` | `db.r6g.xlarge` | 4 / 32 GiB |
//! | `xlarge` | `db.r6g.2xlarge` | 8 / 64 GiB |
//!
//! Anything else is an instance class passed through (`db.m7g.large`).
//!
//! # Identity, refresh, changes
//!
//! Identifiers are the identities' deterministic names (63 characters, a letter first: RDS's
//! rules), so `find` is one describe by name; the `ss:stack` / `ss:address` tags (given in the
//! create call) are checked (`ListTagsForResource` where the describe does not carry them). A
//! create answered `…AlreadyExists` (an SDK retry of a create that reached RDS) adopts.
//!
//! Refresh: instances are one `DescribeDBInstances` filtered on `db-instance-id` (100
//! identifiers per call); subnet groups, parameter groups and proxies are one paginated
//! describe of the type (RDS filters them by nothing else than one name). Two reads cannot be
//! batched: a parameter group's user-set parameters (`DescribeDBParameters`, one group per
//! call) and a proxy's target (`DescribeDBProxyTargets`, one proxy per call).
//!
//! In place, by one `ModifyDBInstance` with `ApplyImmediately`: `instance_class`,
//! `allocated_storage`, `multi_az`, `engine_version` (with `AllowMajorVersionUpgrade`),
//! `parameter_group_name`, and the master password. An instance is ready when `available`
//! with no pending modification of those.
//!
//! RDS cannot read a master password back, so the primary's `password` (sensitive, bound to
//! the secret's) is answered by reads from the secret it was set from: the create and every
//! password change record the secret's ARN and the id of its value in the tags
//! `ss:password-secret` / `ss:password-version`, and a read answers the secret's password
//! while that value is still the secret's current one, null otherwise (a secret changed
//! outside ss shows as a difference, and the apply sets the new password). The secrets of
//! all the instances read are fetched in one batched `BatchGetSecretValue`. A password change
//! is planned as what it is: the secret's and the primary's `password` change, in one apply.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{
    ApplyMethod, AuthScheme, DbInstance, DbParameterGroup, DbProxy, DbSubnetGroup, EngineFamily,
    Filter, IamAuthMode, Parameter, Tag, UserAuthConfig,
};
use provider_api::CreateRequest;
use provider_api::component::{Size, SizeClass};
use provider_api::kit::config::{Reader, attr_bool, attr_i64, attr_str};
use provider_api::kit::schema::{b, list, n, s};
use provider_api::kit::{Lifecycle, Obj};
use provider_api::schema::{AttrType, AttributeSchema as A, Body};
use provider_api::{
    Attrs, Binding, Diagnostic, Expansion, Identity, NativeSpec, ProviderError, Value,
};

use crate::ec2::Ec2;
use crate::error::{Sent, sdk};
use crate::secrets::{Password, SECRET, Secrets};
use crate::settings::Settings;
use crate::shared::{
    LazyClient, Shared, gone_ok, identity_tag_pairs, need_str, opt, strings, tags_match,
    unknown_type,
};
use crate::types::{Module, base};

pub const SUBNET_GROUP: &str = "aws_db_subnet_group";
pub const PARAMETER_GROUP: &str = "aws_db_parameter_group";
pub const INSTANCE: &str = "aws_db_instance";
pub const PROXY: &str = "aws_db_proxy";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[SUBNET_GROUP, PARAMETER_GROUP, INSTANCE, PROXY],
    schema,
    set_like,
};

/// RDS identifiers: at most 63 characters, a letter first.
pub const ID_LEN: usize = 63;

/// Identifiers per `db-instance-id` filter.
const FILTER_VALUES: usize = 100;

/// `ModifyDBParameterGroup` takes at most 20 parameters.
const PARAMETERS_PER_CALL: usize = 20;

/// Tags recording which secret value the master password was last set from.
const TAG_PASSWORD_SECRET: &str = "ss:password-secret";
const TAG_PASSWORD_VERSION: &str = "ss:password-version";

/// The parameters every `postgres` gets.
const PARAMETERS: [(&str, &str); 2] = [
    // Clients must use TLS.
    ("rds.force_ssl", "1"),
    // Log statements slower than a second.
    ("log_min_duration_statement", "1000"),
];

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    let body = match type_name {
        SUBNET_GROUP => (
            "A DB subnet group: the subnets of a `network` made by ss",
            base()
                .attr(
                    "vpc_id",
                    A::required(s(), "The network's VPC; its subnets are used").force_new(),
                )
                .attr(
                    "description",
                    A::optional(s(), "Description")
                        .default("Managed by ss")
                        .force_new(),
                )
                .attr(
                    "subnet_ids",
                    A::computed(list(s()), "The subnets (one per zone of the network)"),
                )
                .attr("arn", A::computed(s(), "ARN")),
        ),
        PARAMETER_GROUP => (
            "A DB parameter group",
            base()
                .attr(
                    "family",
                    A::required(s(), "Parameter group family, like postgres16").force_new(),
                )
                .attr(
                    "description",
                    A::optional(s(), "Description")
                        .default("Managed by ss")
                        .force_new(),
                )
                .attr(
                    "parameters",
                    A::optional(
                        AttrType::Map(Box::new(s())),
                        "Parameters set (applied immediately), name → value",
                    )
                    .default(Value::Map(BTreeMap::new())),
                )
                .attr("arn", A::computed(s(), "ARN")),
        ),
        INSTANCE => instance_schema(),
        PROXY => (
            "An RDS Proxy in front of one DB instance, authenticating with a secret",
            base()
                .attr(
                    "engine_family",
                    A::optional(s(), "POSTGRESQL, MYSQL or SQLSERVER")
                        .default("POSTGRESQL")
                        .force_new(),
                )
                .attr(
                    "role_arn",
                    A::required(s(), "IAM role allowed to read the secret").force_new(),
                )
                .attr(
                    "secret_arn",
                    A::required(s(), "Secret with the database credentials").force_new(),
                )
                .attr(
                    "vpc_id",
                    A::required(s(), "The network's VPC: its subnets and security group")
                        .force_new(),
                )
                .attr(
                    "require_tls",
                    A::optional(b(), "Clients must use TLS")
                        .default(true)
                        .force_new(),
                )
                .attr(
                    "target_db_instance",
                    A::required(s(), "Identifier of the DB instance behind the proxy"),
                )
                .attr("endpoint", A::computed(s(), "Endpoint host name"))
                .attr("arn", A::computed(s(), "ARN")),
        ),
        _ => return None,
    };
    Some(body)
}

/// The description and attributes of `aws_db_instance`.
fn instance_schema() -> (&'static str, Body) {
    (
        "An RDS DB instance: a primary (with `username` and the password's secret) or a \
         read replica (with `replicate_source_db`)",
        base()
            .attr(
                "engine",
                A::optional(s(), "Engine").default("postgres").force_new(),
            )
            .attr(
                "engine_version",
                A::optional_computed(
                    s(),
                    "Major engine version, like 16 (RDS picks and upgrades the minor)",
                ),
            )
            .attr(
                "instance_class",
                A::required(s(), "Instance class, like db.r6g.large"),
            )
            .attr(
                "allocated_storage",
                A::optional_computed(n(), "Storage in GiB (a replica: the source's)"),
            )
            .attr(
                "multi_az",
                A::optional(b(), "A synchronous standby in another zone").default(false),
            )
            .attr(
                "storage_encrypted",
                A::optional(b(), "Storage encrypted at rest")
                    .default(true)
                    .force_new(),
            )
            .attr(
                "db_subnet_group_name",
                A::optional_computed(s(), "DB subnet group").force_new(),
            )
            .attr(
                "parameter_group_name",
                A::optional_computed(s(), "DB parameter group"),
            )
            .attr(
                "vpc_id",
                A::optional_computed(
                    s(),
                    "The network's VPC; the instance gets its security group",
                )
                .force_new(),
            )
            .attr(
                "username",
                A::optional_computed(s(), "Master user name (a primary)").force_new(),
            )
            .attr(
                "password_secret_arn",
                A::optional(
                    s(),
                    "Secret holding {\"username\", \"password\"} (a primary): where reads \
                     check the password, and its source when `password` is not given",
                ),
            )
            .attr(
                "password",
                A::optional(s(), "Master password (a primary): the secret's").sensitive(),
            )
            .attr(
                "replicate_source_db",
                A::optional(s(), "Identifier of the source: makes a read replica").force_new(),
            )
            .attr(
                "availability_zone",
                A::optional_computed(s(), "Zone (not with multi_az)").force_new(),
            )
            .attr("address", A::computed(s(), "Endpoint host name"))
            .attr("port", A::computed(n(), "Endpoint port"))
            .attr("arn", A::computed(s(), "ARN")),
    )
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        SUBNET_GROUP => &["subnet_ids"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// The component.

/// The PostgreSQL major version of a `postgres` that names none (the portable default).
pub const DEFAULT_VERSION: &str = "16";

/// The instance class of a portable size (see the module table).
pub fn instance_class(size: &str) -> String {
    match Size::parse(size) {
        Size::Class(SizeClass::Small) => "db.t4g.medium".into(),
        Size::Class(SizeClass::Medium) => "db.r6g.large".into(),
        Size::Class(SizeClass::Large) => "db.r6g.xlarge".into(),
        Size::Class(SizeClass::XLarge) => "db.r6g.2xlarge".into(),
        Size::Native(name) => name,
    }
}

/// The major part of a Postgres version: `16.3` → `16`, `9.6.22` → `9.6`.
pub fn major_version(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    match parts.first().and_then(|p| p.parse::<u32>().ok()) {
        Some(m) if m < 10 && parts.len() > 1 => format!("{}.{}", parts[0], parts[1]),
        _ => parts.first().copied().unwrap_or_default().to_string(),
    }
}

/// Characters RDS refuses in a master password.
const PASSWORD_FORBIDDEN: [char; 4] = ['/', '@', '"', ' '];

/// The provider's own checks of a `postgres`, on top of the portable ones (which already
/// bound `read_replicas` to 0–5, `storage_gb` to 20–65536 and a given password to at least 8
/// characters). Unknown values are skipped.
pub fn validate(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(v) = config.get("version").and_then(Value::as_str)
        && !v.is_empty()
        && major_version(v) != v
    {
        out.push(
            Diagnostic::error(format!(
                "`version` {v:?}: give the major version ({:?}); RDS picks the minor version \
                 and upgrades it",
                major_version(v)
            ))
            .at(["version"]),
        );
    }
    if let Some(size) = config.get("size").and_then(Value::as_str)
        && let Size::Native(name) = Size::parse(size)
        && !name.starts_with("db.")
    {
        out.push(
            Diagnostic::error(format!(
                "`size` {name:?} is neither small, medium, large, xlarge nor an RDS instance \
                 class (like \"db.m7g.large\")"
            ))
            .at(["size"]),
        );
    }
    if let Some(pw) = config.get("password").and_then(Value::as_str) {
        // Never quote the password itself.
        if pw
            .chars()
            .any(|c| PASSWORD_FORBIDDEN.contains(&c) || !c.is_ascii_graphic())
        {
            out.push(
                Diagnostic::error(
                    "`password` may only hold printable ASCII characters other than '/', '@', \
                     '\"' and spaces (RDS refuses them)",
                )
                .at(["password"]),
            );
        }
        if pw.len() > 128 {
            out.push(
                Diagnostic::error("`password` must be at most 128 characters").at(["password"]),
            );
        }
    }
    if let Some(u) = config.get("username").and_then(Value::as_str)
        && (u.len() > 63
            || !u.starts_with(|c: char| c.is_ascii_alphabetic())
            || !u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        out.push(
            Diagnostic::error(format!(
                "`username` {u:?}: 1 to 63 letters, digits and underscores, a letter first"
            ))
            .at(["username"]),
        );
    }
    out
}

/// A whole number that decides how many resources there are: it must be known at plan time.
fn count(config: &Attrs, key: &str, default: i64) -> Result<i64, Diagnostic> {
    let v = Reader::new(config).value(key, default);
    if v.is_unknown() {
        return Err(Diagnostic::error(format!(
            "`{key}` decides how many resources are created, so it must be known at plan time"
        ))
        .at([key]));
    }
    v.as_i64()
        .ok_or_else(|| Diagnostic::error(format!("`{key}` must be a whole number")).at([key]))
}

/// Expands a `postgres` into native resources (the module table).
pub fn expand(settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let replicas = count(config, "read_replicas", 0).map_err(|d| vec![d])?;
    let r = Reader::new(config);
    let pooler = r.value("pooler", false);
    if pooler.is_unknown() {
        return Err(vec![
            Diagnostic::error(
                "`pooler` decides whether a proxy is created, so it must be known at plan time",
            )
            .at(["pooler"]),
        ]);
    }
    let pooler = pooler.as_bool().unwrap_or(false);
    let network = r.value("network", Value::Unknown);
    let version = r.value("version", DEFAULT_VERSION);
    let family = match version.as_str() {
        Some(v) => Value::from(format!("postgres{}", major_version(v))),
        None => Value::Unknown,
    };
    let class = match r.value("size", "medium").as_str() {
        Some(size) => Value::from(instance_class(size)),
        None => Value::Unknown,
    };
    let storage = r.value("storage_gb", 100);
    let username = r.value("username", "superset");
    let password = r.value("password", Value::Null);
    let ha = r.value("high_availability", false);

    let mut resources = vec![
        NativeSpec::new("secret", SECRET)
            .set("username", username.clone())
            .set("password", password),
        NativeSpec::new("subnet_group", SUBNET_GROUP)
            .set("vpc_id", network.clone())
            .set("description", Value::from("ss: the subnets of the network")),
        NativeSpec::new("parameter_group", PARAMETER_GROUP)
            .set("family", family)
            .set("description", Value::from("ss: postgres parameters"))
            .set(
                "parameters",
                Value::Map(
                    PARAMETERS
                        .iter()
                        .map(|(k, v)| (k.to_string(), Value::from(*v)))
                        .collect(),
                ),
            )
            .create_before_destroy(),
        NativeSpec::new("primary", INSTANCE)
            .set("engine", Value::from("postgres"))
            .set("engine_version", version)
            .set("instance_class", class.clone())
            .set("allocated_storage", storage.clone())
            .set("multi_az", ha)
            .set("storage_encrypted", Value::Bool(true))
            .set("db_subnet_group_name", Binding::attr("subnet_group", "id"))
            .set(
                "parameter_group_name",
                Binding::attr("parameter_group", "id"),
            )
            .set("vpc_id", network.clone())
            .set("username", username)
            .set("password_secret_arn", Binding::attr("secret", "arn"))
            .set("password", Binding::attr("secret", "password")),
    ];
    let zones = settings.zones.len().clamp(1, 3);
    let mut readers = Vec::new();
    for i in 0..replicas.max(0) as usize {
        let name = format!("replica_{i}");
        let mut spec = NativeSpec::new(&name, INSTANCE)
            .set("engine", Value::from("postgres"))
            .set("replicate_source_db", Binding::attr("primary", "id"))
            .set("instance_class", class.clone())
            .set("allocated_storage", storage.clone())
            .set("multi_az", Value::Bool(false))
            .set("storage_encrypted", Value::Bool(true))
            .set("db_subnet_group_name", Binding::attr("subnet_group", "id"))
            .set(
                "parameter_group_name",
                Binding::attr("parameter_group", "id"),
            )
            .set("vpc_id", network.clone());
        if let Some(zone) = settings.zones.get((i + 1) % zones) {
            spec = spec.set("availability_zone", Value::from(zone.as_str()));
        }
        resources.push(spec);
        readers.push(Binding::attr(&name, "address"));
    }
    let pooler_endpoint = if pooler {
        resources.push(
            NativeSpec::new("proxy_role", crate::iam::ROLE)
                .set("assume_role_service", Value::from("rds.amazonaws.com"))
                .set(
                    "readable_secret_arns",
                    Binding::List(vec![Binding::attr("secret", "arn")]),
                ),
        );
        resources.push(
            NativeSpec::new("proxy", PROXY)
                .set("engine_family", Value::from("POSTGRESQL"))
                .set("role_arn", Binding::attr("proxy_role", "arn"))
                .set("secret_arn", Binding::attr("secret", "arn"))
                .set("vpc_id", network)
                .set("require_tls", Value::Bool(true))
                .set("target_db_instance", Binding::attr("primary", "id")),
        );
        Binding::attr("proxy", "endpoint")
    } else {
        Binding::Value(Value::Null)
    };
    let exports = Expansion::exports(&[
        ("id", Binding::attr("primary", "id")),
        ("endpoint", Binding::attr("primary", "address")),
        ("reader_endpoints", Binding::List(readers)),
        ("pooler_endpoint", pooler_endpoint),
        ("port", Binding::attr("primary", "port")),
        ("password", Binding::attr("secret", "password")),
    ]);
    Ok(Expansion { resources, exports })
}

// ---------------------------------------------------------------------------------------------
// The service.

fn rds_tags(identity: &Identity, extra: &[(&str, &str)]) -> Vec<Tag> {
    identity_tag_pairs(identity, ID_LEN)
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().filter_map(|t| Some((t.key()?, t.value()?)))
}

fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tag_pairs(tags).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn not_owned(kind: &str, name: &str) -> ProviderError {
    ProviderError::Invalid(format!(
        "a {kind} named {name:?} exists and is not this resource's (its ss:stack / ss:address \
         tags differ)"
    ))
}

/// `Ok(None)` for a "no such object" answer.
fn none_if_gone<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_already_exists(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Invalid(m) if m.contains("AlreadyExists"))
}

fn num(v: Option<i32>) -> Value {
    v.map(|n| Value::from(i64::from(n))).unwrap_or(Value::Null)
}

/// Secret ARN → (id of its current value, password).
type SecretValues = HashMap<String, (String, Password)>;

/// An instance as read; `secrets` holds the values of the secrets its tags name.
fn instance_obj(i: &DbInstance, secrets: &SecretValues) -> Option<Obj> {
    let id = i.db_instance_identifier()?;
    let tags = i.tag_list();
    // The password set is the secret's while the value it was set from is still current.
    let password = match (
        tag_value(tags, TAG_PASSWORD_SECRET).and_then(|arn| secrets.get(arn)),
        tag_value(tags, TAG_PASSWORD_VERSION),
    ) {
        (Some((current, pw)), Some(set)) if current == set => Value::from(pw.expose()).sensitive(),
        _ => Value::Null,
    };
    let status = i.db_instance_status().unwrap_or_default();
    let pending = i.pending_modified_values().is_some_and(|p| {
        p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
            || p.multi_az().is_some()
            || p.engine_version().is_some()
            || p.master_user_password().is_some()
    });
    let attrs = Attrs::from([
        ("id".into(), Value::from(id)),
        ("name".into(), Value::from(id)),
        ("engine".into(), opt(i.engine())),
        (
            "engine_version".into(),
            i.engine_version()
                .map(|v| Value::from(major_version(v)))
                .unwrap_or(Value::Null),
        ),
        ("instance_class".into(), opt(i.db_instance_class())),
        ("allocated_storage".into(), num(i.allocated_storage())),
        (
            "multi_az".into(),
            Value::Bool(i.multi_az().unwrap_or(false)),
        ),
        (
            "storage_encrypted".into(),
            Value::Bool(i.storage_encrypted().unwrap_or(false)),
        ),
        (
            "db_subnet_group_name".into(),
            opt(i.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
        ),
        (
            "parameter_group_name".into(),
            opt(i
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())),
        ),
        (
            "vpc_id".into(),
            opt(i.db_subnet_group().and_then(|g| g.vpc_id())),
        ),
        ("username".into(), opt(i.master_username())),
        (
            "password_secret_arn".into(),
            opt(tag_value(tags, TAG_PASSWORD_SECRET)),
        ),
        ("password".into(), password),
        (
            "replicate_source_db".into(),
            opt(i.read_replica_source_db_instance_identifier()),
        ),
        ("availability_zone".into(), opt(i.availability_zone())),
        (
            "address".into(),
            opt(i.endpoint().and_then(|e| e.address())),
        ),
        ("port".into(), num(i.endpoint().and_then(|e| e.port()))),
        ("arn".into(), opt(i.db_instance_arn())),
    ]);
    Some(Obj::new(id, attrs, status == "available" && !pending))
}

fn subnet_group_obj(g: &DbSubnetGroup) -> Option<Obj> {
    let name = g.db_subnet_group_name()?;
    let subnets = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    let attrs = Attrs::from([
        ("id".into(), Value::from(name)),
        ("name".into(), Value::from(name)),
        ("vpc_id".into(), opt(g.vpc_id())),
        ("description".into(), opt(g.db_subnet_group_description())),
        ("subnet_ids".into(), strings(subnets)),
        ("arn".into(), opt(g.db_subnet_group_arn())),
    ]);
    let ready = g.subnet_group_status().is_none_or(|s| s == "Complete");
    Some(Obj::new(name, attrs, ready))
}

fn parameter_group_obj(g: &DbParameterGroup, parameters: BTreeMap<String, String>) -> Option<Obj> {
    let name = g.db_parameter_group_name()?;
    let attrs = Attrs::from([
        ("id".into(), Value::from(name)),
        ("name".into(), Value::from(name)),
        ("family".into(), opt(g.db_parameter_group_family())),
        ("description".into(), opt(g.description())),
        (
            "parameters".into(),
            Value::Map(
                parameters
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            ),
        ),
        ("arn".into(), opt(g.db_parameter_group_arn())),
    ]);
    Some(Obj::new(name, attrs, true))
}

fn proxy_obj(p: &DbProxy, target: Option<String>) -> Option<Obj> {
    let name = p.db_proxy_name()?;
    let attrs = Attrs::from([
        ("id".into(), Value::from(name)),
        ("name".into(), Value::from(name)),
        ("engine_family".into(), opt(p.engine_family())),
        ("role_arn".into(), opt(p.role_arn())),
        (
            "secret_arn".into(),
            opt(p.auth().iter().find_map(|a| a.secret_arn())),
        ),
        ("vpc_id".into(), opt(p.vpc_id())),
        (
            "require_tls".into(),
            Value::Bool(p.require_tls().unwrap_or(false)),
        ),
        ("target_db_instance".into(), opt(target.as_deref())),
        ("endpoint".into(), opt(p.endpoint())),
        ("arn".into(), opt(p.db_proxy_arn())),
    ]);
    let ready = p.status().map(|s| s.as_str()) == Some("available");
    Some(Obj::new(name, attrs, ready))
}

/// The RDS operations, on a client built at the first call.
#[derive(Debug)]
pub struct Rds {
    ec2: Arc<Ec2>,
    /// Where a primary's master password is read from.
    secrets: Secrets,
    client: LazyClient<Client>,
}

impl Rds {
    pub fn new(shared: Arc<Shared>, ec2: Arc<Ec2>) -> Rds {
        Rds {
            secrets: Secrets::new(shared.clone()),
            ec2,
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_rds, &self.client)
    }

    // -----------------------------------------------------------------------------------------
    // Describes.

    /// Instances by identifier: one `DescribeDBInstances` per 100, filtered on
    /// `db-instance-id`.
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<DbInstance>, ProviderError> {
        let c = self.client().await;
        let mut out = Vec::new();
        for chunk in ids.chunks(FILTER_VALUES) {
            let filter = Filter::builder()
                .name("db-instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            out.extend(crate::all_items!(
                "DescribeDBInstances",
                c.describe_db_instances().filters(filter)
            )?);
        }
        Ok(out)
    }

    /// One subnet group by name, or all of them.
    async fn describe_subnet_groups(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<DbSubnetGroup>, ProviderError> {
        let found = crate::all_items!(
            "DescribeDBSubnetGroups",
            self.client()
                .await
                .describe_db_subnet_groups()
                .set_db_subnet_group_name(name.map(str::to_string))
        );
        Ok(none_if_gone(found)?.unwrap_or_default())
    }

    /// One parameter group by name, or all of them.
    async fn describe_parameter_groups(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<DbParameterGroup>, ProviderError> {
        let found = crate::all_items!(
            "DescribeDBParameterGroups",
            self.client()
                .await
                .describe_db_parameter_groups()
                .set_db_parameter_group_name(name.map(str::to_string))
        );
        let mut out = none_if_gone(found)?.unwrap_or_default();
        // moto answers an unknown name with every group but that one missing: keep the asked.
        if let Some(name) = name {
            out.retain(|g| g.db_parameter_group_name() == Some(name));
        }
        Ok(out)
    }

    /// The parameters set by a user in a group.
    async fn parameters(&self, group: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        Ok(crate::all_items!(
            "DescribeDBParameters",
            self.client()
                .await
                .describe_db_parameters()
                .db_parameter_group_name(group)
                .source("user")
        )?
        .iter()
        .filter(|p| p.source().is_none_or(|s| s == "user"))
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect())
    }

    /// One proxy by name, or all of them.
    async fn describe_proxies(&self, name: Option<&str>) -> Result<Vec<DbProxy>, ProviderError> {
        let found = crate::all_items!(
            "DescribeDBProxies",
            self.client()
                .await
                .describe_db_proxies()
                .set_db_proxy_name(name.map(str::to_string))
        );
        Ok(none_if_gone(found)?.unwrap_or_default())
    }

    /// The DB instance registered behind a proxy (the first, by identifier).
    async fn proxy_target(&self, proxy: &str) -> Result<Option<String>, ProviderError> {
        let found = crate::all_items!(
            "DescribeDBProxyTargets",
            self.client()
                .await
                .describe_db_proxy_targets()
                .db_proxy_name(proxy)
        );
        let mut ids: Vec<String> = none_if_gone(found)?
            .unwrap_or_default()
            .iter()
            .filter(|t| t.r#type().map(|t| t.as_str()) == Some("RDS_INSTANCE"))
            .filter_map(|t| t.rds_resource_id().map(str::to_string))
            .collect();
        ids.sort();
        Ok(ids.into_iter().next())
    }

    async fn tags(&self, arn: Option<&str>) -> Result<Vec<Tag>, ProviderError> {
        let Some(arn) = arn else {
            return Ok(Vec::new());
        };
        let out = self
            .client()
            .await
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| sdk("ListTagsForResource", e))?;
        Ok(out.tag_list().to_vec())
    }

    /// Instances as read, with the secrets their tags name fetched in one batch.
    async fn instance_objs(&self, found: Vec<DbInstance>) -> Result<Vec<Obj>, ProviderError> {
        let mut arns: Vec<String> = found
            .iter()
            .filter_map(|i| tag_value(i.tag_list(), TAG_PASSWORD_SECRET))
            .map(str::to_string)
            .collect();
        arns.sort();
        arns.dedup();
        let secrets = if arns.is_empty() {
            SecretValues::new()
        } else {
            self.secrets.values(&arns).await?
        };
        Ok(found
            .iter()
            .filter_map(|i| instance_obj(i, &secrets))
            .collect())
    }

    /// The password to set (the configured one, else the secret's) and the id of the secret's
    /// value holding it (empty when the secret holds another: reads then show a difference).
    async fn password_to_set(
        &self,
        config: &Attrs,
        secret: &str,
    ) -> Result<(Password, String), ProviderError> {
        let (current, version) = self.secrets.current(secret).await?;
        match attr_str(config, "password") {
            Some(given) if given != current.expose() => Ok((Password::new(given), String::new())),
            _ => Ok((current, version)),
        }
    }

    async fn read(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        // One id: a describe by name (the waits poll this way); more: the whole type at once.
        let one = (ids.len() == 1).then(|| ids[0].as_str());
        let asked = |name: &str| ids.iter().any(|id| id == name);
        let objs: Vec<Obj> = match type_name {
            INSTANCE => {
                self.instance_objs(self.describe_instances(ids).await?)
                    .await?
            }
            SUBNET_GROUP => self
                .describe_subnet_groups(one)
                .await?
                .iter()
                .filter_map(subnet_group_obj)
                .collect(),
            PARAMETER_GROUP => {
                let mut out = Vec::new();
                for g in self.describe_parameter_groups(one).await? {
                    if let Some(name) = g.db_parameter_group_name().filter(|n| asked(n)) {
                        out.extend(parameter_group_obj(&g, self.parameters(name).await?));
                    }
                }
                out
            }
            PROXY => {
                let mut out = Vec::new();
                for p in self.describe_proxies(one).await? {
                    if let Some(name) = p.db_proxy_name().filter(|n| asked(n)) {
                        out.extend(proxy_obj(&p, self.proxy_target(name).await?));
                    }
                }
                out
            }
            other => return Err(unknown_type(other)),
        };
        let by_id: HashMap<String, Obj> =
            objs.into_iter().map(|o| (o.state.id.clone(), o)).collect();
        Ok(ids.iter().map(|id| by_id.get(id).cloned()).collect())
    }

    async fn find_obj(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let name = identity.name(ID_LEN);
        let owned = |tags: &[Tag]| tags_match(tag_pairs(tags), identity);
        match type_name {
            INSTANCE => {
                let found = self.describe_instances(std::slice::from_ref(&name)).await?;
                let Some(i) = found.first() else {
                    return Ok(None);
                };
                if !owned(i.tag_list()) {
                    return Err(not_owned("DB instance", &name));
                }
                Ok(self.instance_objs(found).await?.pop())
            }
            SUBNET_GROUP => {
                let Some(g) = self.describe_subnet_groups(Some(&name)).await?.pop() else {
                    return Ok(None);
                };
                if !owned(&self.tags(g.db_subnet_group_arn()).await?) {
                    return Err(not_owned("DB subnet group", &name));
                }
                Ok(subnet_group_obj(&g))
            }
            PARAMETER_GROUP => {
                let Some(g) = self.describe_parameter_groups(Some(&name)).await?.pop() else {
                    return Ok(None);
                };
                if !owned(&self.tags(g.db_parameter_group_arn()).await?) {
                    return Err(not_owned("DB parameter group", &name));
                }
                let parameters = self.parameters(&name).await?;
                Ok(parameter_group_obj(&g, parameters))
            }
            PROXY => {
                let Some(p) = self.describe_proxies(Some(&name)).await?.pop() else {
                    return Ok(None);
                };
                if !owned(&self.tags(p.db_proxy_arn()).await?) {
                    return Err(not_owned("DB proxy", &name));
                }
                let target = self.proxy_target(&name).await?;
                Ok(proxy_obj(&p, target))
            }
            other => Err(unknown_type(other)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Creates.

    async fn create_obj(
        &self,
        type_name: &str,
        identity: &Identity,
        config: &Attrs,
    ) -> Result<String, ProviderError> {
        let c = self.client().await;
        let name = identity.name(ID_LEN);
        match type_name {
            SUBNET_GROUP => {
                let subnets = self
                    .ec2
                    .network_subnets(need_str(config, "vpc_id")?)
                    .await?
                    .into_iter()
                    .map(|(id, _zone)| id)
                    .collect();
                c.create_db_subnet_group()
                    .db_subnet_group_name(&name)
                    .db_subnet_group_description(
                        attr_str(config, "description").unwrap_or("Managed by ss"),
                    )
                    .set_subnet_ids(Some(subnets))
                    .set_tags(Some(rds_tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateDBSubnetGroup", e))?;
            }
            PARAMETER_GROUP => {
                // The parameters are set by `converge`, which follows every create.
                c.create_db_parameter_group()
                    .db_parameter_group_name(&name)
                    .db_parameter_group_family(need_str(config, "family")?)
                    .description(attr_str(config, "description").unwrap_or("Managed by ss"))
                    .set_tags(Some(rds_tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateDBParameterGroup", e))?;
            }
            INSTANCE => self.create_instance(identity, &name, config).await?,
            PROXY => {
                let vpc = need_str(config, "vpc_id")?;
                let subnets = self
                    .ec2
                    .network_subnets(vpc)
                    .await?
                    .into_iter()
                    .map(|(id, _zone)| id)
                    .collect();
                let group = self.ec2.network_security_group(vpc).await?;
                let auth = UserAuthConfig::builder()
                    .auth_scheme(AuthScheme::Secrets)
                    .secret_arn(need_str(config, "secret_arn")?)
                    .iam_auth(IamAuthMode::Disabled)
                    .description("ss: the database's master credentials")
                    .build();
                // Its target is registered by `converge`, once the proxy is available.
                c.create_db_proxy()
                    .db_proxy_name(&name)
                    .engine_family(EngineFamily::from(
                        attr_str(config, "engine_family").unwrap_or("POSTGRESQL"),
                    ))
                    .auth(auth)
                    .role_arn(need_str(config, "role_arn")?)
                    .set_vpc_subnet_ids(Some(subnets))
                    .vpc_security_group_ids(group)
                    .require_tls(attr_bool(config, "require_tls", true))
                    .set_tags(Some(rds_tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateDBProxy", e))?;
            }
            other => return Err(unknown_type(other)),
        }
        Ok(name)
    }

    async fn create_instance(
        &self,
        identity: &Identity,
        name: &str,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let c = self.client().await;
        let groups = match attr_str(config, "vpc_id") {
            Some(vpc) => Some(vec![self.ec2.network_security_group(vpc).await?]),
            None => None,
        };
        let class = need_str(config, "instance_class")?;
        let storage = config
            .get("allocated_storage")
            .and_then(Value::as_i64)
            .map(|n| n as i32);
        let multi_az = attr_bool(config, "multi_az", false);
        // RDS refuses a zone for a Multi-AZ instance.
        let zone = attr_str(config, "availability_zone")
            .filter(|_| !multi_az)
            .map(str::to_string);
        if let Some(source) = attr_str(config, "replicate_source_db") {
            c.create_db_instance_read_replica()
                .db_instance_identifier(name)
                .source_db_instance_identifier(source)
                .db_instance_class(class)
                .set_availability_zone(zone)
                .multi_az(multi_az)
                .set_allocated_storage(storage)
                .set_db_subnet_group_name(attr_str(config, "db_subnet_group_name").map(Into::into))
                .set_db_parameter_group_name(
                    attr_str(config, "parameter_group_name").map(Into::into),
                )
                .set_vpc_security_group_ids(groups)
                .publicly_accessible(false)
                .copy_tags_to_snapshot(true)
                .set_tags(Some(rds_tags(identity, &[])))
                .send()
                .await
                .map_err(|e| sdk("CreateDBInstanceReadReplica", e))?;
            return Ok(());
        }
        let username = need_str(config, "username")?;
        let secret = attr_str(config, "password_secret_arn").ok_or_else(|| {
            ProviderError::Invalid(
                "a primary DB instance needs `password_secret_arn` (the secret holding its \
                 master password)"
                    .into(),
            )
        })?;
        let (password, version) = self.password_to_set(config, secret).await?;
        c.create_db_instance()
            .db_instance_identifier(name)
            .engine(attr_str(config, "engine").unwrap_or("postgres"))
            .set_engine_version(attr_str(config, "engine_version").map(Into::into))
            .db_instance_class(class)
            .allocated_storage(storage.unwrap_or(20))
            .multi_az(multi_az)
            .set_availability_zone(zone)
            .storage_encrypted(attr_bool(config, "storage_encrypted", true))
            .set_db_subnet_group_name(attr_str(config, "db_subnet_group_name").map(Into::into))
            .set_db_parameter_group_name(attr_str(config, "parameter_group_name").map(Into::into))
            .set_vpc_security_group_ids(groups)
            .master_username(username)
            .master_user_password(password.expose())
            .publicly_accessible(false)
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(
                identity,
                &[
                    (TAG_PASSWORD_SECRET, secret),
                    (TAG_PASSWORD_VERSION, version.as_str()),
                ],
            )))
            .send()
            .await
            .map_err(|e| password.scrub(sdk("CreateDBInstance", e)))?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Convergence.

    async fn converge_obj(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let c = self.client().await;
        let id = current.state.id.as_str();
        let now = &current.state.attrs;
        match type_name {
            INSTANCE => self.converge_instance(current, config).await,
            PARAMETER_GROUP => {
                let want: BTreeMap<String, String> = config
                    .get("parameters")
                    .and_then(Value::as_map)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                let have: BTreeMap<String, String> = now
                    .get("parameters")
                    .and_then(Value::as_map)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                let set: Vec<Parameter> = want
                    .iter()
                    .filter(|(k, v)| have.get(*k) != Some(*v))
                    .map(|(k, v)| {
                        Parameter::builder()
                            .parameter_name(k)
                            .parameter_value(v)
                            .apply_method(ApplyMethod::Immediate)
                            .build()
                    })
                    .collect();
                let reset: Vec<Parameter> = have
                    .keys()
                    .filter(|k| !want.contains_key(*k))
                    .map(|k| {
                        Parameter::builder()
                            .parameter_name(k)
                            .apply_method(ApplyMethod::Immediate)
                            .build()
                    })
                    .collect();
                for chunk in set.chunks(PARAMETERS_PER_CALL) {
                    c.modify_db_parameter_group()
                        .db_parameter_group_name(id)
                        .set_parameters(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| sdk("ModifyDBParameterGroup", e))?;
                }
                for chunk in reset.chunks(PARAMETERS_PER_CALL) {
                    c.reset_db_parameter_group()
                        .db_parameter_group_name(id)
                        .set_parameters(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| sdk("ResetDBParameterGroup", e))?;
                }
                Ok(!set.is_empty() || !reset.is_empty())
            }
            PROXY => {
                let want = need_str(config, "target_db_instance")?;
                let have = attr_str(now, "target_db_instance");
                if have == Some(want) {
                    return Ok(false);
                }
                if let Some(old) = have {
                    gone_ok(
                        c.deregister_db_proxy_targets()
                            .db_proxy_name(id)
                            .db_instance_identifiers(old)
                            .send()
                            .await
                            .sent("DeregisterDBProxyTargets"),
                    )?;
                }
                c.register_db_proxy_targets()
                    .db_proxy_name(id)
                    .db_instance_identifiers(want)
                    .send()
                    .await
                    .map_err(|e| sdk("RegisterDBProxyTargets", e))?;
                Ok(true)
            }
            SUBNET_GROUP => Ok(false),
            other => Err(unknown_type(other)),
        }
    }

    /// One `ModifyDBInstance` (applied immediately) with what differs, the password included
    /// (then the tags recording where it came from).
    async fn converge_instance(
        &self,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let c = self.client().await;
        let id = current.state.id.as_str();
        let now = &current.state.attrs;
        let differs = |k: &str| match config.get(k).filter(|v| !v.is_null()) {
            Some(want) => !provider_api::same(want, now.get(k).unwrap_or(&Value::Null)),
            None => false,
        };
        let mut call = c
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        let mut changed = false;
        if differs("instance_class") {
            call = call.db_instance_class(need_str(config, "instance_class")?);
            changed = true;
        }
        if differs("allocated_storage") {
            call = call.allocated_storage(attr_i64(config, "allocated_storage", 20) as i32);
            changed = true;
        }
        if differs("multi_az") {
            call = call.multi_az(attr_bool(config, "multi_az", false));
            changed = true;
        }
        if differs("engine_version") {
            call = call
                .engine_version(need_str(config, "engine_version")?)
                .allow_major_version_upgrade(true);
            changed = true;
        }
        if differs("parameter_group_name") {
            call = call.db_parameter_group_name(need_str(config, "parameter_group_name")?);
            changed = true;
        }
        let mut password: Option<(Password, String, String)> = None;
        if let Some(secret) = attr_str(config, "password_secret_arn")
            && (differs("password_secret_arn") || differs("password"))
        {
            let (pw, version) = self.password_to_set(config, secret).await?;
            password = Some((pw, secret.to_string(), version));
        }
        if let Some((pw, _, _)) = &password {
            call = call.master_user_password(pw.expose());
            changed = true;
        }
        if !changed {
            return Ok(false);
        }
        let sent = call.send().await.map_err(|e| sdk("ModifyDBInstance", e));
        if let Some((pw, secret, version)) = password {
            sent.map_err(|e| pw.scrub(e))?;
            if let Some(arn) = attr_str(now, "arn") {
                c.add_tags_to_resource()
                    .resource_name(arn)
                    .tags(
                        Tag::builder()
                            .key(TAG_PASSWORD_SECRET)
                            .value(secret)
                            .build(),
                    )
                    .tags(
                        Tag::builder()
                            .key(TAG_PASSWORD_VERSION)
                            .value(version)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| sdk("AddTagsToResource", e))?;
            }
        } else {
            sent?;
        }
        Ok(true)
    }

    // -----------------------------------------------------------------------------------------
    // Deletes.

    async fn delete_obj(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        let r = match type_name {
            INSTANCE => {
                let r = c
                    .delete_db_instance()
                    .db_instance_identifier(id)
                    .skip_final_snapshot(true)
                    .delete_automated_backups(true)
                    .send()
                    .await
                    .sent("DeleteDBInstance");
                match r {
                    // Already being deleted: fine (the caller waits until it is gone).
                    Err(e) if e.is_retryable() => {
                        let status = self
                            .describe_instances(&[id.to_string()])
                            .await?
                            .first()
                            .and_then(|i| i.db_instance_status().map(str::to_string));
                        match status.as_deref() {
                            None | Some("deleting") => Ok(()),
                            Some(_) => Err(e),
                        }
                    }
                    other => other,
                }
            }
            SUBNET_GROUP => c
                .delete_db_subnet_group()
                .db_subnet_group_name(id)
                .send()
                .await
                .sent("DeleteDBSubnetGroup"),
            PARAMETER_GROUP => c
                .delete_db_parameter_group()
                .db_parameter_group_name(id)
                .send()
                .await
                .sent("DeleteDBParameterGroup"),
            PROXY => {
                // moto answers a delete of an unknown proxy with a 500: look first.
                if self.describe_proxies(Some(id)).await?.is_empty() {
                    return Ok(());
                }
                c.delete_db_proxy()
                    .db_proxy_name(id)
                    .send()
                    .await
                    .sent("DeleteDBProxy")
            }
            other => Err(unknown_type(other)),
        };
        gone_ok(r)
    }
}

#[async_trait]
impl Lifecycle for Rds {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        self.find_obj(type_name, identity).await
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        match self.create_obj(type_name, identity, config).await {
            // An SDK retry of a create that reached RDS: adopt what it made.
            Err(e) if is_already_exists(&e) => match self.find_obj(type_name, identity).await? {
                Some(found) => Ok(found.state.id),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        self.read(type_name, ids).await
    }

    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        self.converge_obj(type_name, current, config).await
    }

    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        self.delete_obj(type_name, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::default_zones;

    fn settings() -> Settings {
        Settings {
            region: "eu-west-1".into(),
            zones: default_zones("eu-west-1"),
        }
    }

    fn config(pairs: &[(&str, Value)]) -> Attrs {
        let mut c = Attrs::from([("network".to_string(), Value::from("vpc-1"))]);
        for (k, v) in pairs {
            c.insert(k.to_string(), v.clone());
        }
        c
    }

    #[test]
    fn expansion_follows_ha_replicas_and_pooler() {
        let c = config(&[
            ("high_availability", Value::Bool(true)),
            ("read_replicas", Value::from(2)),
            ("pooler", Value::Bool(true)),
            ("size", Value::from("large")),
        ]);
        let e = expand(&settings(), &c).expect("expands");
        assert_eq!(e, expand(&settings(), &c).expect("expands"));
        let names: Vec<&str> = e.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "secret",
                "subnet_group",
                "parameter_group",
                "primary",
                "replica_0",
                "replica_1",
                "proxy_role",
                "proxy"
            ]
        );
        let primary = e.get("primary").expect("primary");
        assert_eq!(
            primary.config["multi_az"],
            Binding::Value(Value::Bool(true))
        );
        assert_eq!(
            primary.config["instance_class"],
            Binding::Value(Value::from("db.r6g.xlarge"))
        );
        let r1 = e.get("replica_1").expect("replica");
        assert_eq!(
            r1.config["availability_zone"],
            Binding::Value(Value::from("eu-west-1c"))
        );
        assert!(r1.dependencies().contains("primary"));
        assert_eq!(
            e.get("parameter_group").expect("pg").config["family"],
            Binding::Value(Value::from("postgres16"))
        );
        assert!(e.get("parameter_group").expect("pg").create_before_destroy);
        let mut exports: Vec<&str> = e.exports.keys().map(String::as_str).collect();
        exports.sort();
        assert_eq!(
            exports,
            [
                "endpoint",
                "id",
                "password",
                "pooler_endpoint",
                "port",
                "reader_endpoints"
            ]
        );
        assert_eq!(
            e.exports["pooler_endpoint"],
            Binding::attr("proxy", "endpoint")
        );

        let plain = expand(&settings(), &config(&[])).expect("expands");
        assert!(plain.get("proxy").is_none() && plain.get("replica_0").is_none());
        assert_eq!(
            plain.exports["pooler_endpoint"],
            Binding::Value(Value::Null)
        );
        assert_eq!(
            plain.get("primary").expect("primary").config["instance_class"],
            Binding::Value(Value::from("db.r6g.large"))
        );
        let unknown = config(&[("read_replicas", Value::Unknown)]);
        assert!(expand(&settings(), &unknown).is_err());
    }

    #[test]
    fn sizes_versions_and_checks() {
        assert_eq!(instance_class("small"), "db.t4g.medium");
        assert_eq!(instance_class("xlarge"), "db.r6g.2xlarge");
        assert_eq!(instance_class("db.m7g.large"), "db.m7g.large");
        assert_eq!(major_version("16.3"), "16");
        assert_eq!(major_version("16"), "16");
        assert_eq!(major_version("9.6.22"), "9.6");
        assert!(validate(&settings(), &config(&[("version", Value::from("16"))])).is_empty());
        assert_eq!(
            validate(&settings(), &config(&[("version", Value::from("16.3"))])).len(),
            1
        );
        assert_eq!(
            validate(&settings(), &config(&[("size", Value::from("huge"))])).len(),
            1
        );
        let bad = config(&[("password", Value::from("abc/defgh").sensitive())]);
        let diags = validate(&settings(), &bad);
        assert_eq!(diags.len(), 1);
        assert!(!format!("{diags:?}").contains("abc/defgh"));
        // The ranges and the minimum password length are the portable checks.
        let portable = provider_api::component::validate(
            provider_api::component::POSTGRES,
            &config(&[
                ("read_replicas", Value::from(6)),
                ("storage_gb", Value::from(10)),
                ("password", Value::from("short").sensitive()),
            ]),
        );
        assert_eq!(portable.len(), 3);
    }
}
