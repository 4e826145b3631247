//! The `postgres` component of the AWS provider against a moto server (real `aws-sdk-rds`,
//! `aws-sdk-secretsmanager` and `aws-sdk-iam` clients, no stubs): planned, applied, refreshed,
//! drifted, repaired and destroyed through the real planner; batched refresh of 50 instances,
//! adoption, idempotent deletes and the password's secrecy through the `Provider` trait.
//! Everything is checked with the SDK directly, not through ss.
//!
//! moto gaps met: every RDS object is `available` at once (no creating → available walk, so
//! the readiness waits are not exercised here); `DescribeDBProxies` ignores filters (the
//! provider lists proxies and keeps its own); `ModifyDBProxy` and `ResetDBParameterGroup` do
//! not exist (the proxy's role, secret and TLS setting are replace-only, and removing a
//! parameter is untested); a delete of an unknown proxy answers 500 (the provider looks first).
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the tests say
//! so and pass, except under CI (env `CI` set), where they fail. Every test uses its own stack
//! name, so tests share one server in parallel (no `/moto-api/reset`).

#![allow(clippy::panic)]

mod common;

use common::*;

use std::collections::{BTreeMap, BTreeSet};

use planner::plan::{Action, PlanMode};
use provider_api::{
    Attrs, CreateRequest, Provider, ProviderError, ResourceState, Value, component,
};

// ---------------------------------------------------------------------------------------------
// What moto holds, through the SDK directly.

fn rds(moto: &Moto) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&moto.sdk)
}

fn secrets(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk)
}

fn tag_of<'a>(tags: &'a [aws_sdk_rds::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// The DB instances of a stack.
async fn instances(moto: &Moto, stack: &str) -> Vec<aws_sdk_rds::types::DbInstance> {
    let out = rds(moto)
        .describe_db_instances()
        .max_records(100)
        .send()
        .await
        .expect("describe instances");
    let mut all: Vec<_> = out.db_instances().to_vec();
    let mut marker = out.marker().map(str::to_string);
    while let Some(m) = marker {
        let out = rds(moto)
            .describe_db_instances()
            .marker(m)
            .send()
            .await
            .expect("describe instances");
        all.extend(out.db_instances().iter().cloned());
        marker = out.marker().map(str::to_string);
    }
    all.into_iter()
        .filter(|i| tag_of(i.tag_list(), "ss:stack") == Some(stack))
        .collect()
}

/// Names of the stack's objects of one kind (by their tags).
async fn rds_named(moto: &Moto, stack: &str, kind: &str) -> Vec<String> {
    let c = rds(moto);
    let items: Vec<(String, String)> = match kind {
        "proxy" => c
            .describe_db_proxies()
            .send()
            .await
            .expect("proxies")
            .db_proxies()
            .iter()
            .filter_map(|p| Some((p.db_proxy_name()?.into(), p.db_proxy_arn()?.into())))
            .collect(),
        "subnet_group" => c
            .describe_db_subnet_groups()
            .send()
            .await
            .expect("subnet groups")
            .db_subnet_groups()
            .iter()
            .filter_map(|g| {
                Some((
                    g.db_subnet_group_name()?.into(),
                    g.db_subnet_group_arn()?.into(),
                ))
            })
            .collect(),
        _ => c
            .describe_db_parameter_groups()
            .send()
            .await
            .expect("parameter groups")
            .db_parameter_groups()
            .iter()
            .filter_map(|g| {
                Some((
                    g.db_parameter_group_name()?.into(),
                    g.db_parameter_group_arn()?.into(),
                ))
            })
            .collect(),
    };
    let mut out = Vec::new();
    for (name, arn) in items {
        let tags = c
            .list_tags_for_resource()
            .resource_name(&arn)
            .send()
            .await
            .expect("tags");
        if tag_of(tags.tag_list(), "ss:stack") == Some(stack) {
            out.push(name);
        }
    }
    out
}

/// ARNs of the stack's secrets.
async fn stack_secrets(moto: &Moto, stack: &str) -> Vec<String> {
    let out = secrets(moto)
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::TagValue)
                .values(stack)
                .build(),
        )
        .send()
        .await
        .expect("list secrets");
    out.secret_list()
        .iter()
        .filter(|s| {
            s.tags()
                .iter()
                .any(|t| t.key() == Some("ss:stack") && t.value() == Some(stack))
        })
        .filter_map(|s| s.arn().map(str::to_string))
        .collect()
}

fn spec_text(moto: &Moto) -> String {
    format!(
        r#"{provider}
resource "network" "main" {{
  cidr  = "10.30.0.0/16"
  zones = 3
}}

resource "postgres" "db" {{
  network           = network.main.id
  size              = "small"
  storage_gb        = 20
  high_availability = true
  read_replicas     = 2
  pooler            = true
}}

output "endpoint" {{
  value = postgres.db.endpoint
}}

output "readers" {{
  value = postgres.db.reader_endpoints
}}

output "pooler" {{
  value = postgres.db.pooler_endpoint
}}

output "port" {{
  value = postgres.db.port
}}

output "password" {{
  value     = postgres.db.password
  sensitive = true
}}
"#,
        provider = moto.provider_block(REGION)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plan_apply_refresh_drift_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awspg");
    let calls = Calls::default();
    let work = Workdir::new(&stack, &moto, &calls, &spec_text(&moto));

    // Create.
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let created = changes(&plan);
    let pg: Vec<&String> = created
        .iter()
        .map(|(a, _)| a)
        .filter(|a| a.starts_with("postgres.db."))
        .collect();
    assert_eq!(pg.len(), 8, "{created:?}");
    assert!(created.iter().all(|(_, a)| *a == Action::Create));
    let state = work.apply(engine, &plan, state).await;

    // What moto holds.
    let dbs = instances(&moto, &stack).await;
    assert_eq!(dbs.len(), 3, "{dbs:?}");
    let primary = dbs
        .iter()
        .find(|i| tag_of(i.tag_list(), "ss:address") == Some("postgres.db.aws_db_instance.primary"))
        .expect("primary");
    let primary_id = primary.db_instance_identifier().expect("id").to_string();
    assert_eq!(primary.multi_az(), Some(true));
    assert_eq!(primary.storage_encrypted(), Some(true));
    assert_eq!(primary.engine(), Some("postgres"));
    assert_eq!(primary.db_instance_class(), Some("db.t4g.medium"));
    assert_eq!(primary.master_username(), Some("superset"));
    let replicas: Vec<_> = dbs
        .iter()
        .filter(|i| i.db_instance_identifier() != Some(primary_id.as_str()))
        .collect();
    assert_eq!(replicas.len(), 2);
    assert!(replicas.iter().all(|r| {
        r.read_replica_source_db_instance_identifier() == Some(primary_id.as_str())
            && r.storage_encrypted() == Some(true)
            && r.multi_az() == Some(false)
    }));
    let zones: BTreeSet<&str> = replicas
        .iter()
        .filter_map(|r| r.availability_zone())
        .collect();
    assert_eq!(zones, BTreeSet::from(["us-east-1b", "us-east-1c"]));
    let proxies = rds_named(&moto, &stack, "proxy").await;
    assert_eq!(proxies.len(), 1, "{proxies:?}");
    let targets = rds(&moto)
        .describe_db_proxy_targets()
        .db_proxy_name(&proxies[0])
        .send()
        .await
        .expect("targets");
    let registered: Vec<&str> = targets
        .targets()
        .iter()
        .filter_map(|t| t.rds_resource_id())
        .collect();
    assert_eq!(registered, [primary_id.as_str()]);
    assert_eq!(rds_named(&moto, &stack, "subnet_group").await.len(), 1);
    let groups = rds_named(&moto, &stack, "parameter_group").await;
    assert_eq!(groups.len(), 1);
    let params = rds(&moto)
        .describe_db_parameters()
        .db_parameter_group_name(&groups[0])
        .send()
        .await
        .expect("parameters");
    assert!(
        params.parameters().iter().any(
            |p| p.parameter_name() == Some("rds.force_ssl") && p.parameter_value() == Some("1")
        )
    );
    let secret_arns = stack_secrets(&moto, &stack).await;
    assert_eq!(secret_arns.len(), 1);
    let value = secrets(&moto)
        .get_secret_value()
        .secret_id(&secret_arns[0])
        .send()
        .await
        .expect("secret value");
    let text = value.secret_string().expect("secret string");
    assert!(text.contains("\"username\":\"superset\""), "secret shape");
    // The exports.
    let out = |k: &str| state.outputs.get(k).map(|o| o.value.clone());
    assert_eq!(
        out("endpoint").and_then(|v| v.as_str().map(str::to_string)),
        primary
            .endpoint()
            .and_then(|e| e.address())
            .map(str::to_string)
    );
    assert_eq!(
        out("readers").and_then(|v| v.as_array().map(Vec::len)),
        Some(2)
    );
    assert!(
        out("pooler")
            .and_then(|v| v.as_str().map(|s| s.starts_with(&proxies[0])))
            .unwrap_or(false)
    );
    assert_eq!(out("port").and_then(|v| v.as_i64()), Some(5432));
    let password = out("password")
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("password output");
    assert_eq!(password.len(), 32);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(state.outputs["password"].sensitive);
    assert!(
        text.contains(&password),
        "the secret holds the exported password"
    );

    // A second plan: no changes; the instances' refresh is one describe.
    calls.take();
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    let seen = calls.take();
    eprintln!("calls of a refresh: {seen:?}");
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));
    assert_eq!(seen.get("DescribeDBInstances"), Some(&1), "{seen:?}");
    // The secrets, and the primary's password checked against its secret.
    assert_eq!(seen.get("BatchGetSecretValue"), Some(&2), "{seen:?}");

    // A class changed outside ss shows as an update naming it; apply brings it back.
    rds(&moto)
        .modify_db_instance()
        .db_instance_identifier(&primary_id)
        .db_instance_class("db.r6g.large")
        .apply_immediately(true)
        .send()
        .await
        .expect("modify");
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let drift = changes(&plan);
    assert_eq!(
        drift,
        [(
            "postgres.db.aws_db_instance.primary".to_string(),
            Action::Update
        )]
    );
    let change = plan
        .changes
        .iter()
        .find(|c| c.action == Action::Update)
        .expect("update");
    assert_eq!(change.changed_attributes(), ["instance_class"]);
    work.apply(engine, &plan, state).await;
    let back = rds(&moto)
        .describe_db_instances()
        .db_instance_identifier(&primary_id)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        back.db_instances()[0].db_instance_class(),
        Some("db.t4g.medium")
    );
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    // A new password: the secret and the primary change in one apply.
    let new_password = "N3w-Passw0rd-for-the-db";
    let text = spec_text(&moto).replace(
        "pooler            = true",
        &format!("pooler            = true\n  password          = \"{new_password}\""),
    );
    std::fs::write(work.dir.join("main.hcl"), text).expect("spec");
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let mut changed: Vec<(String, Vec<String>)> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .map(|c| (c.address.to_string(), c.changed_attributes()))
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            (
                "postgres.db.aws_db_instance.primary".to_string(),
                vec!["password".to_string()]
            ),
            (
                "postgres.db.aws_secretsmanager_secret.secret".to_string(),
                vec!["password".to_string()]
            ),
        ]
    );
    let state = work.apply(engine, &plan, state).await;
    let value = secrets(&moto)
        .get_secret_value()
        .secret_id(&secret_arns[0])
        .send()
        .await
        .expect("secret value");
    assert!(
        value
            .secret_string()
            .is_some_and(|t| t.contains(new_password))
    );
    let primary_now = rds(&moto)
        .describe_db_instances()
        .db_instance_identifier(&primary_id)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        tag_of(
            primary_now.db_instances()[0].tag_list(),
            "ss:password-version"
        ),
        value.version_id(),
        "the primary's password was set from the new value"
    );
    assert_eq!(state.outputs["password"].value.as_str(), Some(new_password));
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    // Destroy: nothing of the stack is left.
    let (engine, plan, state) = work.plan(PlanMode::Destroy).await;
    assert!(changes(&plan).iter().all(|(_, a)| *a == Action::Delete));
    let state = work.apply(engine, &plan, state).await;
    assert!(state.resources.is_empty());
    assert!(instances(&moto, &stack).await.is_empty());
    for kind in ["proxy", "subnet_group", "parameter_group"] {
        assert!(rds_named(&moto, &stack, kind).await.is_empty(), "{kind}");
    }
    assert!(stack_secrets(&moto, &stack).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Through the `Provider` trait.

async fn create(
    p: &aws::AwsProvider,
    stack: &str,
    type_name: &str,
    address: &str,
    config: Attrs,
) -> Result<ResourceState, ProviderError> {
    p.create(CreateRequest {
        type_name,
        identity: &identity(stack, address),
        config: &config,
    })
    .await
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn s(state: &ResourceState, key: &str) -> String {
    state
        .attrs
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing"))
        .to_string()
}

/// A credentials secret made through the provider.
async fn secret(p: &aws::AwsProvider, stack: &str, password: Option<&str>) -> ResourceState {
    let mut config = attrs(&[("username", Value::from("app"))]);
    if let Some(pw) = password {
        config.insert("password".into(), Value::from(pw).sensitive());
    }
    create(
        p,
        stack,
        "aws_secretsmanager_secret",
        "test.aws_secretsmanager_secret.secret",
        config,
    )
    .await
    .expect("secret")
}

fn small_primary(secret: &ResourceState) -> Attrs {
    attrs(&[
        ("engine", Value::from("postgres")),
        ("engine_version", Value::from("16")),
        ("instance_class", Value::from("db.t4g.micro")),
        ("allocated_storage", Value::from(20)),
        ("username", Value::from("app")),
        ("password_secret_arn", Value::from(s(secret, "arn"))),
        ("password", secret.attrs["password"].clone()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_of_50_instances_is_one_describe() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awspg50");
    let calls = Calls::default();
    let p = moto.provider(&calls);
    let secret = secret(&p, &stack, None).await;
    let mut made = Vec::new();
    for i in 0..50 {
        let db = create(
            &p,
            &stack,
            "aws_db_instance",
            &format!("test.aws_db_instance.db_{i}"),
            small_primary(&secret),
        )
        .await
        .unwrap_or_else(|e| panic!("create {i}: {e}"));
        made.push(db);
    }
    let ids: Vec<String> = made.iter().map(|d| d.id.clone()).collect();

    calls.take();
    let read = p.read_many("aws_db_instance", &ids).await.expect("read");
    let seen = calls.take();
    // One describe (100 identifiers per filter), and one batch for the secret the passwords
    // are checked against.
    assert_eq!(seen.get("DescribeDBInstances"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("BatchGetSecretValue"), Some(&1), "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(read.len(), 50);
    for (want, got) in made.iter().zip(&read) {
        let got = got.as_ref().expect("found");
        assert_eq!(got.id, want.id);
        assert_eq!(got.attrs, want.attrs);
    }

    // One deleted outside ss reads as None; the others are still there.
    rds(&moto)
        .delete_db_instance()
        .db_instance_identifier(&ids[7])
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete outside");
    let read = p.read_many("aws_db_instance", &ids).await.expect("read");
    assert!(read[7].is_none());
    assert_eq!(read.iter().filter(|r| r.is_some()).count(), 49);

    for db in &made {
        p.delete("aws_db_instance", db).await.expect("delete");
    }
    p.delete("aws_secretsmanager_secret", &secret)
        .await
        .expect("delete secret");
    assert!(instances(&moto, &stack).await.is_empty());
}

/// A network made through the provider (the proxy and subnet groups need its subnets).
async fn network(p: &aws::AwsProvider, stack: &str) -> Vec<(String, ResourceState)> {
    let config = attrs(&[
        ("cidr", Value::from("10.40.0.0/16")),
        ("zones", Value::from(3)),
    ]);
    let expansion = p.expand("network.n", "network", &config).expect("expands");
    create_all(p, stack, "network.n", &expansion)
        .await
        .into_iter()
        .map(|(_, type_name, state)| (type_name, state))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_adopt_and_deletes_are_idempotent() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awspgadopt");
    let calls = Calls::default();
    let p = moto.provider(&calls);
    let net = network(&p, &stack).await;
    let vpc = net
        .iter()
        .find(|(t, _)| t == "aws_vpc")
        .map(|(_, s)| s.id.clone())
        .expect("vpc");

    let secret = secret(&p, &stack, Some("s3cret-Passw0rd")).await;
    let again = secret_again(&p, &stack).await;
    assert_eq!(again.id, secret.id, "the secret is adopted");
    assert_eq!(stack_secrets(&moto, &stack).await.len(), 1);

    let group_config = attrs(&[("vpc_id", Value::from(vpc.as_str()))]);
    let group = create(
        &p,
        &stack,
        "aws_db_subnet_group",
        "t.aws_db_subnet_group.g",
        group_config.clone(),
    )
    .await
    .expect("subnet group");
    assert_eq!(
        group.attrs["subnet_ids"].as_list().map(<[Value]>::len),
        Some(3)
    );
    let params_config = attrs(&[
        ("family", Value::from("postgres16")),
        (
            "parameters",
            Value::Map(BTreeMap::from([(
                "log_min_duration_statement".to_string(),
                Value::from("500"),
            )])),
        ),
    ]);
    let params = create(
        &p,
        &stack,
        "aws_db_parameter_group",
        "t.aws_db_parameter_group.p",
        params_config.clone(),
    )
    .await
    .expect("parameter group");
    assert_eq!(
        params.attrs["parameters"].get("log_min_duration_statement"),
        Some(&Value::from("500"))
    );
    let mut db_config = small_primary(&secret);
    db_config.insert("vpc_id".into(), Value::from(vpc.as_str()));
    db_config.insert(
        "db_subnet_group_name".into(),
        Value::from(group.id.as_str()),
    );
    db_config.insert(
        "parameter_group_name".into(),
        Value::from(params.id.as_str()),
    );
    let db = create(
        &p,
        &stack,
        "aws_db_instance",
        "t.aws_db_instance.db",
        db_config.clone(),
    )
    .await
    .expect("instance");
    assert_eq!(s(&db, "vpc_id"), vpc);
    assert_eq!(s(&db, "password_secret_arn"), secret.id);

    // A proxy, with a role made with the SDK directly.
    let iam = aws_sdk_iam::Client::new(&moto.sdk);
    let role = iam
        .create_role()
        .role_name(format!("{stack}-proxy"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let role_arn = role.role().map(|r| r.arn().to_string()).expect("arn");
    let proxy_config = attrs(&[
        ("role_arn", Value::from(role_arn.as_str())),
        ("secret_arn", Value::from(secret.id.as_str())),
        ("vpc_id", Value::from(vpc.as_str())),
        ("target_db_instance", Value::from(db.id.as_str())),
    ]);
    let proxy = create(
        &p,
        &stack,
        "aws_db_proxy",
        "t.aws_db_proxy.x",
        proxy_config.clone(),
    )
    .await
    .expect("proxy");
    assert_eq!(s(&proxy, "target_db_instance"), db.id);
    assert!(s(&proxy, "endpoint").starts_with(&proxy.id));

    // Every create again: adopted, nothing new made.
    calls.take();
    for (type_name, address, config, first) in [
        (
            "aws_db_subnet_group",
            "t.aws_db_subnet_group.g",
            &group_config,
            &group,
        ),
        (
            "aws_db_parameter_group",
            "t.aws_db_parameter_group.p",
            &params_config,
            &params,
        ),
        ("aws_db_instance", "t.aws_db_instance.db", &db_config, &db),
        ("aws_db_proxy", "t.aws_db_proxy.x", &proxy_config, &proxy),
    ] {
        let again = create(&p, &stack, type_name, address, config.clone())
            .await
            .unwrap_or_else(|e| panic!("{type_name} again: {e}"));
        assert_eq!(again.id, first.id, "{type_name}");
        assert_eq!(again.attrs, first.attrs, "{type_name}");
    }
    let seen = calls.take();
    assert!(
        seen.keys()
            .all(|k| !k.starts_with("Create") && !k.starts_with("Register")),
        "{seen:?}"
    );
    assert_eq!(instances(&moto, &stack).await.len(), 1);
    let targets = rds(&moto)
        .describe_db_proxy_targets()
        .db_proxy_name(&proxy.id)
        .send()
        .await
        .expect("targets");
    assert_eq!(targets.targets().len(), 1);

    // Deleting twice succeeds, in dependency order.
    for (type_name, state) in [
        ("aws_db_proxy", &proxy),
        ("aws_db_instance", &db),
        ("aws_db_parameter_group", &params),
        ("aws_db_subnet_group", &group),
        ("aws_secretsmanager_secret", &secret),
    ] {
        p.delete(type_name, state)
            .await
            .unwrap_or_else(|e| panic!("delete {type_name}: {e}"));
        p.delete(type_name, state)
            .await
            .unwrap_or_else(|e| panic!("delete {type_name} again: {e}"));
        let read = p
            .read_many(type_name, std::slice::from_ref(&state.id))
            .await
            .expect("read");
        assert!(read[0].is_none(), "{type_name} still there");
    }
    for kind in ["proxy", "subnet_group", "parameter_group"] {
        assert!(rds_named(&moto, &stack, kind).await.is_empty(), "{kind}");
    }
    assert!(stack_secrets(&moto, &stack).await.is_empty());
    iam.delete_role()
        .role_name(format!("{stack}-proxy"))
        .send()
        .await
        .expect("delete role");
    for (type_name, state) in net.iter().rev() {
        p.delete(type_name, state)
            .await
            .unwrap_or_else(|e| panic!("delete {type_name}: {e}"));
    }
}

async fn secret_again(p: &aws::AwsProvider, stack: &str) -> ResourceState {
    secret(p, stack, Some("s3cret-Passw0rd")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_shows_in_errors() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awspgpw");
    let calls = Calls::default();
    let p = moto.provider(&calls);
    let password = "Kn0wn-Secret-Value-1234";
    let secret = secret(&p, &stack, Some(password)).await;
    assert!(secret.attrs["password"].is_sensitive());
    assert_eq!(secret.attrs["password"].as_str(), Some(password));

    // A create that fails after the password was read and sent.
    let mut config = small_primary(&secret);
    config.insert(
        "db_subnet_group_name".into(),
        Value::from("no-such-subnet-group"),
    );
    let err = create(
        &p,
        &stack,
        "aws_db_instance",
        "t.aws_db_instance.bad",
        config,
    )
    .await
    .expect_err("fails");
    let shown = format!("{err} / {err:?}");
    assert!(shown.contains("CreateDBInstance"), "{shown}");
    assert!(!shown.contains(password), "{shown}");
    // A primary without the secret is refused before any call.
    let mut config = small_primary(&secret);
    config.remove("password_secret_arn");
    let err = create(
        &p,
        &stack,
        "aws_db_instance",
        "t.aws_db_instance.bad2",
        config,
    )
    .await
    .expect_err("fails");
    assert!(!format!("{err:?}").contains(password));
    assert!(instances(&moto, &stack).await.is_empty());

    // The provider's checks name the password's problem, not the password.
    let bad = "has space@1";
    let diags = p.validate(
        component::POSTGRES,
        &attrs(&[
            ("network", Value::from("vpc-1")),
            ("password", Value::from(bad).sensitive()),
        ]),
    );
    assert_eq!(diags.len(), 1);
    assert!(!format!("{diags:?}").contains(bad));

    p.delete("aws_secretsmanager_secret", &secret)
        .await
        .expect("delete secret");
}
