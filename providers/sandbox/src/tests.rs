use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use provider_api::{
    Binding, CreateRequest, Expansion, Identity, PlanRequest, Provider, ProviderError,
    ResourceState, component, same,
};

use super::*;

fn provider_in(dir: &Path, extra: &[(&str, Value)]) -> SandboxProvider {
    let mut config = Attrs::from([(
        "dir".to_string(),
        Value::from(dir.to_string_lossy().as_ref()),
    )]);
    for (k, v) in extra {
        config.insert(k.to_string(), v.clone());
    }
    configure(&config, Path::new("/nonexistent-spec-dir")).expect("configure")
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn identity(address: &str) -> Identity {
    Identity {
        stack: "test".into(),
        address: address.into(),
    }
}

async fn create(
    p: &SandboxProvider,
    type_name: &str,
    address: &str,
    config: &Attrs,
) -> ResourceState {
    p.create(CreateRequest {
        type_name,
        identity: &identity(address),
        config,
    })
    .await
    .expect("create")
}

/// A tiny apply: creates the natives of an expansion in dependency order, resolving bindings
/// from the siblings already created, as the core does.
async fn apply(
    p: &SandboxProvider,
    address: &str,
    exp: &Expansion,
) -> BTreeMap<String, (String, ResourceState)> {
    let mut done: BTreeMap<String, (String, ResourceState)> = BTreeMap::new();
    while done.len() < exp.resources.len() {
        let before = done.len();
        for spec in &exp.resources {
            if done.contains_key(&spec.name)
                || !spec.dependencies().iter().all(|d| done.contains_key(*d))
            {
                continue;
            }
            let config = resolve(&spec.config, &done);
            let addr = format!("{address}.{}.{}", spec.type_name, spec.name);
            let st = create(p, &spec.type_name, &addr, &config).await;
            done.insert(spec.name.clone(), (spec.type_name.clone(), st));
        }
        assert!(done.len() > before, "expansion has a cycle");
    }
    done
}

/// A tiny destroy: deletes the natives of an applied expansion, each once no remaining sibling
/// depends on it, as the core orders deletes.
async fn destroy(
    p: &SandboxProvider,
    exp: &Expansion,
    done: &BTreeMap<String, (String, ResourceState)>,
) {
    let mut left: Vec<_> = exp.resources.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        let deletable: Vec<String> = left
            .iter()
            .filter(|spec| {
                !left
                    .iter()
                    .any(|other| other.dependencies().contains(spec.name.as_str()))
            })
            .map(|spec| spec.name.clone())
            .collect();
        for name in &deletable {
            let (type_name, st) = &done[name];
            p.delete(type_name, st).await.expect("delete");
        }
        left.retain(|spec| !deletable.contains(&spec.name));
        assert!(left.len() < before, "expansion has a cycle");
    }
}

fn resolve(
    config: &BTreeMap<String, Binding>,
    done: &BTreeMap<String, (String, ResourceState)>,
) -> Attrs {
    let lookup = |r: &str, a: &str| done.get(r).and_then(|(_, s)| s.attrs.get(a).cloned());
    config
        .iter()
        .map(|(k, b)| (k.clone(), b.resolve(&lookup)))
        .collect()
}

fn count_of(p: &SandboxProvider, type_name: &str) -> usize {
    p.cloud()
        .list()
        .expect("list")
        .iter()
        .filter(|o| o.type_name == type_name)
        .count()
}

fn network_config(zones: i64) -> Attrs {
    attrs(&[("cidr", "10.0.0.0/16".into()), ("zones", zones.into())])
}

fn k8s_config(network: &str) -> Attrs {
    let pools = Value::Map(BTreeMap::from([
        (
            "web".to_string(),
            Value::Map(attrs(&[
                ("size", "large".into()),
                ("min", 5.into()),
                ("max", 20.into()),
            ])),
        ),
        (
            "worker".to_string(),
            Value::Map(attrs(&[("min", 10.into()), ("max", 30.into())])),
        ),
    ]));
    attrs(&[
        ("network", network.into()),
        ("version", "1.31".into()),
        ("node_pool", pools),
    ])
}

/// Creates the subnet and parameter groups a natively created PostgreSQL instance needs, and
/// returns the instance attributes that refer to them.
async fn pg_groups(p: &SandboxProvider, prefix: &str, vpc_id: &str) -> [(&'static str, Value); 2] {
    let subnet_group = create(
        p,
        types::DB_SUBNET_GROUP,
        &format!("{prefix}.subnet_group"),
        &attrs(&[("vpc_id", vpc_id.into())]),
    )
    .await;
    let parameter_group = create(
        p,
        types::DB_PARAMETER_GROUP,
        &format!("{prefix}.parameter_group"),
        &attrs(&[("family", "postgres16".into())]),
    )
    .await;
    [
        ("subnet_group_id", subnet_group.id.as_str().into()),
        ("parameter_group_id", parameter_group.id.as_str().into()),
    ]
}

fn postgres_config(network: &str) -> Attrs {
    attrs(&[
        ("network", network.into()),
        ("version", "16".into()),
        ("size", "large".into()),
        ("storage_gb", 100.into()),
        ("high_availability", true.into()),
        ("read_replicas", 2.into()),
        ("pooler", true.into()),
        ("username", "superset".into()),
    ])
}

#[tokio::test]
async fn object_round_trip_create_read_update_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let input = Value::Map(BTreeMap::from([("a".to_string(), Value::from(1))]));
    let created = create(
        &p,
        "sandbox_object",
        "sandbox_object.a",
        &attrs(&[("input", input.clone())]),
    )
    .await;
    assert!(created.id.starts_with("obj-"), "{}", created.id);
    assert_eq!(created.attrs["output"], input);
    assert_eq!(created.attrs["id"], Value::from(created.id.as_str()));

    let read = p
        .read_many(
            "sandbox_object",
            &[created.id.clone(), "obj-missing".into()],
        )
        .await
        .expect("read");
    assert_eq!(read, vec![Some(created.clone()), None]);

    let updated = p
        .update(
            "sandbox_object",
            &created,
            &attrs(&[("input", "two".into())]),
        )
        .await
        .expect("update");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.attrs["output"], Value::from("two"));
    let read = p
        .read_many("sandbox_object", std::slice::from_ref(&created.id))
        .await
        .expect("read");
    assert_eq!(
        read[0].as_ref().map(|s| &s.attrs["input"]),
        Some(&Value::from("two"))
    );

    p.delete("sandbox_object", &updated).await.expect("delete");
    assert_eq!(
        p.read_many("sandbox_object", std::slice::from_ref(&created.id))
            .await
            .expect("read"),
        vec![None]
    );
    p.delete("sandbox_object", &updated)
        .await
        .expect("deleting what is gone succeeds");
    assert!(p.cloud().list().expect("list").is_empty());
}

#[tokio::test]
async fn create_twice_with_one_identity_adopts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let first = create(
        &p,
        "sandbox_object",
        "sandbox_object.x",
        &attrs(&[("input", 1.into())]),
    )
    .await;
    let second = create(
        &p,
        "sandbox_object",
        "sandbox_object.x",
        &attrs(&[("input", 2.into())]),
    )
    .await;
    assert_eq!(first.id, second.id);
    assert_eq!(
        second.attrs["output"],
        Value::from(2),
        "adoption applies the configuration"
    );
    assert_eq!(count_of(&p, "sandbox_object"), 1);
    let found = p
        .find("sandbox_object", &identity("sandbox_object.x"))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.id, first.id);
    assert!(
        p.find("sandbox_object", &identity("sandbox_object.y"))
            .await
            .expect("find")
            .is_none()
    );
    let other = create(&p, "sandbox_object", "sandbox_object.y", &Attrs::new()).await;
    assert_ne!(other.id, first.id, "ids are fresh per object");
}

#[test]
fn expansion_counts_for_the_reference_architecture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let net = p
        .expand("network.main", "network", &network_config(3))
        .expect("network");
    assert_eq!(net.resources.len(), 5, "vpc + 3 subnets + security group");
    let cidrs: Vec<_> = net
        .resources
        .iter()
        .filter(|r| r.type_name == types::SUBNET)
        .map(|r| r.config["cidr"].clone())
        .collect();
    assert_eq!(
        cidrs,
        ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"].map(|c| Binding::Value(Value::from(c)))
    );

    let pg = p
        .expand("postgres.meta", "postgres", &postgres_config("vpc-1"))
        .expect("postgres");
    let names: Vec<&str> = pg.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "subnet_group",
            "parameter_group",
            "primary",
            "replica_0",
            "replica_1",
            "pooler"
        ],
        "HA primary + 2 replicas + pooler, with the groups it lives in"
    );
    let primary = pg.get("primary").expect("primary");
    assert_eq!(
        primary.config["subnet_group_id"],
        Binding::attr("subnet_group", "id")
    );
    assert_eq!(
        primary.config["parameter_group_id"],
        Binding::attr("parameter_group", "id")
    );
    let replica = pg.get("replica_0").expect("replica");
    assert_eq!(
        replica.dependencies(),
        std::collections::BTreeSet::from(["primary"]),
        "a replica inherits its groups from the primary"
    );
    let group = pg.get("parameter_group").expect("parameter group");
    assert_eq!(group.config["family"], Binding::Value("postgres16".into()));
    let parameters = group.config["parameters"].resolve(&|_, _| None);
    assert_eq!(parameters.get("max_connections"), Some(&Value::from("500")));
    assert_eq!(
        parameters.get("shared_preload_libraries"),
        Some(&Value::from("pg_stat_statements"))
    );
    assert_eq!(
        pg.get("subnet_group").expect("subnet group").config["vpc_id"],
        Binding::Value("vpc-1".into())
    );
    assert_eq!(
        pg.get("primary").expect("primary").config["multi_az"],
        Binding::Value(true.into())
    );
    assert_eq!(
        pg.get("primary").expect("primary").config["instance_class"],
        Binding::Value("db.sandbox.large".into())
    );

    let redis_cfg = attrs(&[
        ("network", "vpc-1".into()),
        ("shards", 3.into()),
        ("replicas_per_shard", 2.into()),
        ("size", "medium".into()),
        ("version", "7.1".into()),
    ]);
    let redis = p
        .expand("redis_cluster.cache", "redis_cluster", &redis_cfg)
        .expect("redis");
    assert_eq!(redis.resources.len(), 2);
    let cluster = redis.get("cluster").expect("cluster");
    assert_eq!(cluster.config["shards"], Binding::Value(3.into()));
    assert_eq!(
        cluster.config["replicas_per_shard"],
        Binding::Value(2.into())
    );

    let k8s = p
        .expand(
            "kubernetes_cluster.main",
            "kubernetes_cluster",
            &k8s_config("vpc-1"),
        )
        .expect("k8s");
    let names: Vec<&str> = k8s.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["cluster_role", "cluster", "pool_web", "pool_worker"]
    );
    assert_eq!(
        k8s.get("cluster").expect("cluster").config["role_id"],
        Binding::attr("cluster_role", "id")
    );
    let role = k8s.get("cluster_role").expect("role");
    assert_eq!(
        role.config["assume_role_service"],
        Binding::Value("k8s.sandbox".into())
    );
    assert_eq!(
        role.config["policies"],
        Binding::Value(Value::List(vec!["SandboxK8sClusterPolicy".into()]))
    );

    let lb = p
        .expand(
            "load_balancer.web",
            "load_balancer",
            &attrs(&[("network", "vpc-1".into()), ("target", "k8s-1".into())]),
        )
        .expect("lb");
    assert_eq!(lb.resources.len(), 3);
    assert_eq!(
        lb.get("target_group").expect("tg").config["stickiness"],
        Binding::Value(false.into()),
        "no sticky sessions by default"
    );
    let cdn = p
        .expand(
            "cdn.static",
            "cdn",
            &attrs(&[("origin", "example.com".into())]),
        )
        .expect("cdn");
    assert_eq!(cdn.resources.len(), 1);

    // Every computed attribute of each component is exported, and native local names are
    // identifiers.
    for (t, exp) in [
        (component::NETWORK, &net),
        (component::POSTGRES, &pg),
        (component::REDIS_CLUSTER, &redis),
        (component::KUBERNETES_CLUSTER, &k8s),
        (component::LOAD_BALANCER, &lb),
        (component::CDN, &cdn),
    ] {
        let schema = component::schema(t).expect("schema");
        for (name, attr) in &schema.body.attributes {
            if attr.is_computed() && !attr.is_configurable() {
                assert!(exp.exports.contains_key(name), "{t} exports {name}");
            }
        }
        for r in &exp.resources {
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                r.name
            );
            assert!(p.schema().resources.contains_key(&r.type_name));
        }
    }
}

#[test]
fn expansion_is_deterministic_and_tolerates_unknowns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let mut cfg = postgres_config("x");
    cfg.insert("network".into(), Value::Unknown);
    let a = p.expand("postgres.meta", "postgres", &cfg).expect("expand");
    assert_eq!(
        a,
        p.expand("postgres.meta", "postgres", &cfg).expect("expand")
    );
    assert_eq!(
        a.get("pooler").expect("pooler").config["vpc_id"],
        Binding::Value(Value::Unknown)
    );

    cfg.insert("version".into(), Value::Unknown);
    let unknown_version = p.expand("postgres.meta", "postgres", &cfg).expect("expand");
    assert_eq!(
        unknown_version
            .get("parameter_group")
            .expect("group")
            .config["family"],
        Binding::Value(Value::Unknown),
        "the family is unknown while the version is"
    );

    cfg.insert("read_replicas".into(), Value::Unknown);
    let err = p
        .expand("postgres.meta", "postgres", &cfg)
        .expect_err("count must be known");
    assert_eq!(err[0].path, vec!["read_replicas"]);

    let mut net = network_config(3);
    net.insert("cidr".into(), Value::Unknown);
    let n = p.expand("network.main", "network", &net).expect("expand");
    assert_eq!(n.resources.len(), 5);
}

#[tokio::test]
async fn reference_architecture_applies_replans_clean_and_destroys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let net_exp = p
        .expand("network.main", "network", &network_config(3))
        .expect("network");
    let net = apply(&p, "network.main", &net_exp).await;
    let vpc_id = net["vpc"].1.id.clone();
    let pg_exp = p
        .expand("postgres.meta", "postgres", &postgres_config(&vpc_id))
        .expect("pg");
    let pg = apply(&p, "postgres.meta", &pg_exp).await;
    let k8s_exp = p
        .expand(
            "kubernetes_cluster.main",
            "kubernetes_cluster",
            &k8s_config(&vpc_id),
        )
        .expect("k8s");
    let k8s = apply(&p, "kubernetes_cluster.main", &k8s_exp).await;
    assert_eq!(count_of(&p, types::IAM_ROLE), 1);
    assert_eq!(count_of(&p, types::DB_SUBNET_GROUP), 1);
    assert_eq!(count_of(&p, types::DB_PARAMETER_GROUP), 1);
    let (_, role) = &k8s["cluster_role"];
    assert!(role.id.starts_with("role-"), "{}", role.id);
    assert_eq!(
        k8s["cluster"].1.attrs["role_id"],
        Value::from(role.id.as_str())
    );
    assert_eq!(
        role.attrs["name"],
        Value::from(
            identity("kubernetes_cluster.main.sandbox_iam_role.cluster_role").name(types::NAME_LEN)
        ),
        "a role not named in its configuration is named after its identity"
    );
    assert!(
        role.attrs["arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:sandbox:iam:")),
        "{}",
        role.attrs["arn"]
    );
    let (_, group) = &pg["parameter_group"];
    assert!(group.id.starts_with("dbpg-"), "{}", group.id);
    assert_eq!(
        group.attrs["parameters"].get("max_connections"),
        Some(&Value::from("500"))
    );
    assert!(pg["subnet_group"].1.id.starts_with("dbsg-"));

    // The exports resolve to real values; the generated password is sensitive.
    let lookup = |r: &str, a: &str| pg.get(r).and_then(|(_, s)| s.attrs.get(a).cloned());
    let endpoint = pg_exp.exports["endpoint"].resolve(&lookup);
    assert!(
        endpoint
            .as_str()
            .is_some_and(|e| e.ends_with(".pg.sandbox.internal")),
        "{endpoint}"
    );
    let readers = pg_exp.exports["reader_endpoints"].resolve(&lookup);
    assert_eq!(readers.as_list().map(<[Value]>::len), Some(2));
    assert!(
        pg_exp.exports["pooler_endpoint"]
            .resolve(&lookup)
            .as_str()
            .is_some()
    );
    let password = pg_exp.exports["password"].resolve(&lookup);
    assert!(password.is_sensitive());
    assert!(password.as_str().is_some_and(|s| s.len() >= 24));
    assert_eq!(pg_exp.exports["port"].resolve(&lookup), Value::from(5432));

    // Planning again against what exists changes nothing.
    for (exp, done) in [(&net_exp, &net), (&pg_exp, &pg), (&k8s_exp, &k8s)] {
        for spec in &exp.resources {
            let (type_name, prior) = &done[&spec.name];
            let proposed = resolve(&spec.config, done);
            let resp = p
                .plan(PlanRequest {
                    type_name,
                    prior: Some(prior),
                    proposed: &proposed,
                })
                .expect("plan");
            assert!(
                resp.requires_replace.is_empty(),
                "{}: {:?}",
                spec.name,
                resp.requires_replace
            );
            for (k, v) in &resp.planned {
                assert!(same(v, &prior.attrs[k]), "{}.{k} would change", spec.name);
            }
        }
    }

    // A VPC, a role or a group still in use cannot be deleted, as on a real cloud.
    for (type_name, st, user) in [
        (types::VPC, &net["vpc"].1, types::SUBNET),
        (types::IAM_ROLE, role, types::K8S_CLUSTER),
        (
            types::DB_SUBNET_GROUP,
            &pg["subnet_group"].1,
            types::PG_INSTANCE,
        ),
        (types::DB_PARAMETER_GROUP, group, types::PG_INSTANCE),
    ] {
        let err = p.delete(type_name, st).await.expect_err("in use");
        assert!(
            matches!(err, ProviderError::Invalid(ref m)
                if m.contains("DependencyViolation") && m.contains(user)),
            "{type_name}: {err}"
        );
    }
    assert_eq!(
        count_of(&p, types::IAM_ROLE),
        1,
        "the refused delete kept it"
    );

    // Destroying in reverse dependency order empties the cloud.
    for (exp, done) in [(&k8s_exp, &k8s), (&pg_exp, &pg), (&net_exp, &net)] {
        destroy(&p, exp, done).await;
    }
    assert!(p.cloud().list().expect("list").is_empty());
}

#[tokio::test]
async fn a_reference_to_a_missing_object_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let err = p
        .create(CreateRequest {
            type_name: types::SUBNET,
            identity: &identity("network.x.sandbox_subnet.subnet_0"),
            config: &attrs(&[
                ("vpc_id", "vpc-0000000000".into()),
                ("cidr", "10.0.0.0/24".into()),
                ("zone", "sandbox-1a".into()),
            ]),
        })
        .await
        .expect_err("no such vpc");
    assert!(matches!(err, ProviderError::Invalid(_)), "{err}");
    assert!(p.cloud().list().expect("list").is_empty());
}

#[tokio::test]
async fn force_new_change_is_refused_in_place_and_planned_as_replace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let vpc = create(
        &p,
        types::VPC,
        "network.n.sandbox_vpc.vpc",
        &attrs(&[("cidr", "10.0.0.0/16".into())]),
    )
    .await;
    let changed = attrs(&[("cidr", "10.1.0.0/16".into())]);
    let resp = p
        .plan(PlanRequest {
            type_name: types::VPC,
            prior: Some(&vpc),
            proposed: &changed,
        })
        .expect("plan");
    assert_eq!(resp.requires_replace, vec!["cidr".to_string()]);
    let err = p
        .update(types::VPC, &vpc, &changed)
        .await
        .expect_err("force new");
    assert!(matches!(err, ProviderError::Invalid(_)));

    // A subnet whose VPC is being replaced gets an unknown `vpc_id`: that is a replacement too.
    let subnet_config = attrs(&[
        ("vpc_id", vpc.id.as_str().into()),
        ("cidr", "10.0.0.0/20".into()),
        ("zone", "sandbox-1a".into()),
    ]);
    let subnet = create(
        &p,
        types::SUBNET,
        "network.n.sandbox_subnet.subnet_0",
        &subnet_config,
    )
    .await;
    assert_eq!(subnet.attrs["available_ip_count"], Value::from(4091));
    let mut unknown_vpc = subnet_config.clone();
    unknown_vpc.insert("vpc_id".into(), Value::Unknown);
    let resp = p
        .plan(PlanRequest {
            type_name: types::SUBNET,
            prior: Some(&subnet),
            proposed: &unknown_vpc,
        })
        .expect("plan");
    assert_eq!(resp.requires_replace, vec!["vpc_id".to_string()]);

    let obj = create(
        &p,
        types::OBJECT,
        "sandbox_object.o",
        &attrs(&[("input", 1.into()), ("replace_on", "a".into())]),
    )
    .await;
    let resp = p
        .plan(PlanRequest {
            type_name: types::OBJECT,
            prior: Some(&obj),
            proposed: &attrs(&[("input", 2.into()), ("replace_on", "a".into())]),
        })
        .expect("plan");
    assert!(resp.requires_replace.is_empty(), "input changes in place");
    assert_eq!(resp.planned["output"], Value::from(2));
    let resp = p
        .plan(PlanRequest {
            type_name: types::OBJECT,
            prior: Some(&obj),
            proposed: &attrs(&[("input", 1.into()), ("replace_on", "b".into())]),
        })
        .expect("plan");
    assert_eq!(resp.requires_replace, vec!["replace_on".to_string()]);
    let fresh = p
        .plan(PlanRequest {
            type_name: types::OBJECT,
            prior: None,
            proposed: &Attrs::new(),
        })
        .expect("plan");
    assert_eq!(fresh.planned["id"], Value::Unknown);
}

#[tokio::test]
async fn a_version_change_replaces_the_parameter_group_and_settings_change_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let exp = |version: &str| {
        let mut cfg = postgres_config("vpc-1");
        cfg.insert("version".into(), version.into());
        let exp = p.expand("postgres.meta", "postgres", &cfg).expect("expand");
        let group = exp.get("parameter_group").expect("group");
        let lookup = |_: &str, _: &str| None;
        group
            .config
            .iter()
            .map(|(k, b)| (k.clone(), b.resolve(&lookup)))
            .collect::<Attrs>()
    };
    let v16 = exp("16.4");
    assert_eq!(
        v16["family"],
        Value::from("postgres16"),
        "minor versions share a family"
    );
    let group = create(
        &p,
        types::DB_PARAMETER_GROUP,
        "postgres.meta.sandbox_db_parameter_group.parameter_group",
        &v16,
    )
    .await;
    assert_eq!(group.attrs["parameters"], v16["parameters"]);

    let v17 = exp("17");
    let resp = p
        .plan(PlanRequest {
            type_name: types::DB_PARAMETER_GROUP,
            prior: Some(&group),
            proposed: &v17,
        })
        .expect("plan");
    assert_eq!(resp.requires_replace, vec!["family".to_string()]);
    let err = p
        .update(types::DB_PARAMETER_GROUP, &group, &v17)
        .await
        .expect_err("family is force-new");
    assert!(
        matches!(err, ProviderError::Invalid(ref m) if m.contains("family")),
        "{err}"
    );

    let mut tuned = v16.clone();
    tuned.insert(
        "parameters".into(),
        Value::Map(BTreeMap::from([(
            "max_connections".to_string(),
            Value::from("800"),
        )])),
    );
    let resp = p
        .plan(PlanRequest {
            type_name: types::DB_PARAMETER_GROUP,
            prior: Some(&group),
            proposed: &tuned,
        })
        .expect("plan");
    assert!(resp.requires_replace.is_empty(), "settings change in place");
    let updated = p
        .update(types::DB_PARAMETER_GROUP, &group, &tuned)
        .await
        .expect("update");
    assert_eq!(updated.id, group.id);
    assert_eq!(
        updated.attrs["parameters"].get("max_connections"),
        Some(&Value::from("800"))
    );
}

#[tokio::test]
async fn out_of_band_edit_shows_in_read_many() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let vpc = create(
        &p,
        types::VPC,
        "network.n.sandbox_vpc.vpc",
        &attrs(&[("cidr", "10.0.0.0/16".into())]),
    )
    .await;
    let role = create(
        &p,
        types::IAM_ROLE,
        "k.r",
        &attrs(&[("assume_role_service", "k8s.sandbox".into())]),
    )
    .await;
    let np_cluster = create(
        &p,
        types::K8S_CLUSTER,
        "k.c",
        &attrs(&[
            ("vpc_id", vpc.id.as_str().into()),
            ("role_id", role.id.as_str().into()),
            ("version", "1.31".into()),
        ]),
    )
    .await;
    let pool = create(
        &p,
        types::NODE_POOL,
        "k.p",
        &attrs(&[
            ("cluster_id", np_cluster.id.as_str().into()),
            ("pool_name", "web".into()),
            ("instance_type", "node.sandbox.large".into()),
            ("min_size", 5.into()),
            ("max_size", 20.into()),
        ]),
    )
    .await;

    // A second handle, as `ss sandbox set` in another process would open.
    let cloud = Cloud::open(dir.path()).expect("open");
    let edited = cloud
        .set(&pool.id, "max_size", serde_json::json!("7"))
        .expect("set");
    assert_eq!(
        edited.attributes["max_size"],
        serde_json::json!(7),
        "converted to the attribute type"
    );
    let read = p
        .read_many(types::NODE_POOL, std::slice::from_ref(&pool.id))
        .await
        .expect("read");
    assert_eq!(
        read[0].as_ref().map(|s| s.attrs["max_size"].clone()),
        Some(Value::from(7))
    );

    assert!(matches!(
        cloud.set("np-nope", "max_size", serde_json::json!(1)),
        Err(SandboxError::UnknownObject(_))
    ));
    assert!(matches!(
        cloud.set(&pool.id, "colour", serde_json::json!(1)),
        Err(SandboxError::UnknownAttribute { .. })
    ));
    assert!(matches!(
        cloud.set(&pool.id, "id", serde_json::json!("x")),
        Err(SandboxError::Rejected(_))
    ));

    let listed = cloud.list().expect("list");
    let kinds: Vec<&str> = listed.iter().map(|o| o.type_name.as_str()).collect();
    assert_eq!(
        kinds,
        [
            types::IAM_ROLE,
            types::K8S_CLUSTER,
            types::NODE_POOL,
            types::VPC
        ],
        "sorted by type"
    );
    let json = serde_json::to_value(&listed[1]).expect("json");
    assert_eq!(json["type"], serde_json::json!(types::K8S_CLUSTER));
    assert!(json["attributes"]["endpoint"].as_str().is_some());
}

#[test]
fn concurrent_handles_in_threads_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ty = types::find(types::OBJECT).expect("type");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let cloud = Cloud::open(&path).expect("open");
                for i in 0..25 {
                    let config = attrs(&[("input", Value::from(i))]);
                    // Half the names are shared by every thread: those must be adopted.
                    let name = if i % 2 == 0 {
                        format!("shared-{i}")
                    } else {
                        format!("t{t}-{i}")
                    };
                    cloud
                        .create_or_adopt(ty, &name, &config, Duration::ZERO)
                        .expect("create");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let objects = Cloud::open(dir.path()).expect("open").list().expect("list");
    // 13 shared names (even i) plus 12 private ones per thread.
    assert_eq!(objects.len(), 13 + 4 * 12);
    let mut names: Vec<_> = objects.iter().map(|o| o.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), objects.len(), "no duplicate names");
}

#[tokio::test]
async fn generated_password_is_sensitive_and_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let vpc = create(
        &p,
        types::VPC,
        "n.vpc",
        &attrs(&[("cidr", "10.0.0.0/16".into())]),
    )
    .await;
    let mut config = attrs(&[
        ("vpc_id", vpc.id.as_str().into()),
        ("version", "16".into()),
        ("instance_class", "db.sandbox.medium".into()),
        ("storage_gb", 100.into()),
        ("username", "superset".into()),
    ]);
    config.extend(
        pg_groups(&p, "postgres.meta", &vpc.id)
            .await
            .map(|(k, v)| (k.to_string(), v)),
    );
    let db = create(
        &p,
        types::PG_INSTANCE,
        "postgres.meta.sandbox_pg_instance.primary",
        &config,
    )
    .await;
    let password = db.attrs["password"].clone();
    assert!(matches!(password, Value::Sensitive(_)));
    let secret = password.as_str().expect("string").to_string();
    assert!(secret.len() >= 24);

    // An update that leaves the password unconfigured keeps it.
    let mut bigger = config.clone();
    bigger.insert("storage_gb".into(), 200.into());
    let updated = p
        .update(types::PG_INSTANCE, &db, &bigger)
        .await
        .expect("update");
    assert_eq!(updated.attrs["password"].as_str(), Some(secret.as_str()));
    assert!(updated.attrs["password"].is_sensitive());

    // Errors about the object never carry it.
    let mut renamed = config.clone();
    renamed.insert("username".into(), "admin".into());
    let err = p
        .update(types::PG_INSTANCE, &db, &renamed)
        .await
        .expect_err("force new");
    let delete_err = p.delete(types::VPC, &vpc).await.expect_err("in use");
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        delete_err.to_string(),
        format!("{delete_err:?}"),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
    }
    // Neither does the console view.
    let listed = serde_json::to_string(&p.cloud().list().expect("list")).expect("json");
    assert!(!listed.contains(&secret));
    assert!(listed.contains(REDACTED));

    // A configured password from a sensitive variable is used and stays marked.
    let mut given = config.clone();
    given.insert(
        "password".into(),
        Value::from("correct horse battery").sensitive(),
    );
    let db2 = create(
        &p,
        types::PG_INSTANCE,
        "postgres.other.sandbox_pg_instance.primary",
        &given,
    )
    .await;
    assert_eq!(
        db2.attrs["password"],
        Value::from("correct horse battery").sensitive()
    );
}

#[tokio::test]
async fn a_sensitive_input_makes_the_output_sensitive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let obj = create(
        &p,
        types::OBJECT,
        "o.s",
        &attrs(&[("input", Value::from("s3cret").sensitive())]),
    )
    .await;
    assert!(obj.attrs["input"].is_sensitive());
    assert!(obj.attrs["output"].is_sensitive());
    let read = p
        .read_many(types::OBJECT, std::slice::from_ref(&obj.id))
        .await
        .expect("read");
    assert_eq!(read[0].as_ref(), Some(&obj));
}

#[tokio::test]
async fn fault_injection_at_rate_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let throttled = provider_in(dir.path(), &[("throttle_rate", 1.0.into())]);
    let err = throttled
        .create(CreateRequest {
            type_name: types::OBJECT,
            identity: &identity("o.a"),
            config: &Attrs::new(),
        })
        .await
        .expect_err("throttled");
    assert!(
        matches!(err, ProviderError::Throttled(_)) && err.is_retryable(),
        "{err}"
    );
    let timeouts = provider_in(dir.path(), &[("timeout_rate", 1.0.into())]);
    let err = timeouts
        .create(CreateRequest {
            type_name: types::OBJECT,
            identity: &identity("o.a"),
            config: &Attrs::new(),
        })
        .await
        .expect_err("timeout");
    assert!(matches!(err, ProviderError::Timeout(_)), "{err}");
    assert!(
        throttled.cloud().list().expect("list").is_empty(),
        "nothing was made"
    );

    // Transient failures happen before the change or, for creates, after it.
    let failing = provider_in(dir.path(), &[("fail_rate", 1.0.into())]);
    let healthy = provider_in(dir.path(), &[]);
    let mut stored = 0;
    for i in 0..40 {
        let address = format!("sandbox_object.f[{i}]");
        let err = failing
            .create(CreateRequest {
                type_name: types::OBJECT,
                identity: &identity(&address),
                config: &Attrs::new(),
            })
            .await
            .expect_err("transient");
        assert!(matches!(err, ProviderError::Transient(_)), "{err}");
        if failing
            .find(types::OBJECT, &identity(&address))
            .await
            .expect("find")
            .is_some()
        {
            stored += 1;
            // The retry adopts what the failed call made.
            create(&healthy, types::OBJECT, &address, &Attrs::new()).await;
        }
    }
    assert!(
        0 < stored && stored < 40,
        "both kinds occur: {stored} of 40 stored"
    );
    assert_eq!(
        count_of(&healthy, types::OBJECT),
        stored,
        "retries adopted, no duplicates"
    );

    let obj = healthy.cloud().list().expect("list").remove(0);
    let prior = ResourceState {
        id: obj.id.clone(),
        attrs: Attrs::new(),
    };
    let err = failing
        .update(types::OBJECT, &prior, &Attrs::new())
        .await
        .expect_err("update");
    assert!(matches!(err, ProviderError::Transient(_)));
    let err = failing
        .delete(types::OBJECT, &prior)
        .await
        .expect_err("delete");
    assert!(matches!(err, ProviderError::Transient(_)));
    assert_eq!(
        count_of(&healthy, types::OBJECT),
        stored,
        "failed deletes delete nothing"
    );
}

#[tokio::test]
async fn latency_scales_with_the_type_and_create_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[("latency", "40ms".into())]);
    let start = Instant::now();
    create(&p, types::OBJECT, "o.fast", &Attrs::new()).await;
    assert!(
        start.elapsed() < Duration::from_millis(40),
        "sandbox_object has no base latency"
    );
    let start = Instant::now();
    create(
        &p,
        types::OBJECT,
        "o.slow",
        &attrs(&[("create_latency", "60ms".into())]),
    )
    .await;
    assert!(start.elapsed() >= Duration::from_millis(60));
    let start = Instant::now();
    create(
        &p,
        types::VPC,
        "n.vpc",
        &attrs(&[("cidr", "10.0.0.0/16".into())]),
    )
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(40),
        "a VPC weighs 1"
    );
}

#[test]
fn configure_checks_its_settings() {
    let spec = Path::new("/tmp/spec");
    let bad = attrs(&[
        ("latency", "fast".into()),
        ("fail_rate", 2.into()),
        ("throttle_rate", "x".into()),
    ]);
    let diags = configure(&bad, spec).expect_err("bad");
    let paths: Vec<_> = diags.iter().map(|d| d.path.join(".")).collect();
    assert_eq!(paths, ["latency", "fail_rate", "throttle_rate"]);
    let ok = attrs(&[
        ("latency", "1s".into()),
        ("timeout_rate", 0.5.into()),
        ("dir", "cloud".into()),
    ]);
    let p = configure(&ok, spec).expect("ok");
    assert_eq!(p.latency(), Duration::from_secs(1));
    assert_eq!(p.cloud().dir(), spec.join("cloud"));
    assert_eq!(p.name(), NAME);
    for c in component::INFRASTRUCTURE {
        assert!(p.schema().components.iter().any(|x| x == c));
    }
    assert!(config_schema().attributes.contains_key("latency"));
}

#[test]
fn resolve_dir_prefers_the_configured_directory() {
    let spec = Path::new("/srv/spec");
    assert_eq!(
        resolve_dir(Some("sim"), spec),
        PathBuf::from("/srv/spec/sim")
    );
    assert_eq!(
        resolve_dir(Some("/abs/sim"), spec),
        PathBuf::from("/abs/sim")
    );
    let default = resolve_dir(None, spec);
    if std::env::var_os(DIR_ENV).is_none() {
        assert_eq!(default, PathBuf::from("/srv/spec/.ss/sandbox"));
    }
}

#[test]
fn validate_checks_sizes_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let mut pg = postgres_config("vpc-1");
    assert!(p.validate("postgres", &pg).is_empty());
    pg.insert("size".into(), "db.sandbox.huge".into());
    assert!(
        p.validate("postgres", &pg).is_empty(),
        "native sizes pass through"
    );
    pg.insert("size".into(), "db.r6g.large".into());
    pg.insert("version".into(), "9.6".into());
    let d = p.validate("postgres", &pg);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[0].path, vec!["version"]);
    assert_eq!(d[1].path, vec!["size"]);

    let pools = Value::Map(BTreeMap::from([(
        "web".to_string(),
        Value::Map(attrs(&[
            ("size", "m5.large".into()),
            ("min", 1.into()),
            ("max", 2.into()),
        ])),
    )]));
    let d = p.validate(
        "kubernetes_cluster",
        &attrs(&[("version", "1.31".into()), ("node_pool", pools)]),
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, vec!["node_pool", "web", "size"]);

    let d = p.validate(
        "network",
        &attrs(&[("cidr", "10.0.0.0/27".into()), ("zones", 3.into())]),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        p.validate(
            "network",
            &attrs(&[("cidr", "10.0.0.0/26".into()), ("zones", 3.into())])
        )
        .is_empty()
    );
    let d = p.validate(
        types::DB_PARAMETER_GROUP,
        &attrs(&[("family", "mysql8.0".into())]),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, vec!["family"]);
    assert!(
        p.validate(
            types::DB_PARAMETER_GROUP,
            &attrs(&[("family", "postgres17".into())])
        )
        .is_empty()
    );
    let d = p.validate(types::OBJECT, &attrs(&[("create_latency", "soon".into())]));
    assert_eq!(d[0].path, vec!["create_latency"]);
    assert!(
        p.validate(
            "redis_cluster",
            &attrs(&[("version", "7.1".into()), ("size", "small".into())])
        )
        .is_empty()
    );
}

/// Creates `identities` through `p`, retrying each while the error is retryable, as the core's
/// retry loop does; returns the ids and how many "5xx after the change" answers were seen.
async fn create_with_retries(
    p: Arc<SandboxProvider>,
    identities: Vec<String>,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut lost_answers = 0;
    for address in identities {
        loop {
            let result = p
                .create(CreateRequest {
                    type_name: types::OBJECT,
                    identity: &identity(&address),
                    config: &attrs(&[("input", Value::from(address.as_str()))]),
                })
                .await;
            match result {
                Ok(st) => {
                    ids.push(st.id);
                    break;
                }
                Err(e) => {
                    assert!(e.is_retryable(), "{address}: {e}");
                    if e.to_string().contains("may have been created") {
                        lost_answers += 1;
                    }
                }
            }
        }
    }
    (ids, lost_answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_creates_under_faults_make_one_object_per_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = [("fail_rate", 0.1.into()), ("throttle_rate", 0.1.into())];
    let addresses: Vec<String> = (0..200).map(|i| format!("sandbox_object.f[{i}]")).collect();
    // Two handles, as two `ss` processes would have, each in several tasks, create the same
    // identities at once: a create races with another one of its identity and with adoptions.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let p = Arc::new(provider_in(dir.path(), &faults));
        for chunk in addresses.chunks(25) {
            tasks.spawn(create_with_retries(p.clone(), chunk.to_vec()));
        }
    }
    let mut by_task = Vec::new();
    let mut lost_answers = 0;
    while let Some(done) = tasks.join_next().await {
        let (ids, lost) = done.expect("task");
        by_task.push(ids);
        lost_answers += lost;
    }
    assert!(lost_answers > 0, "the 5xx-after-the-change case occurred");

    let objects = Cloud::open(dir.path()).expect("open").list().expect("list");
    assert_eq!(objects.len(), addresses.len(), "one object per identity");
    let names: BTreeSet<_> = objects.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names.len(), objects.len(), "no duplicate names");
    let listed: BTreeSet<_> = objects.iter().map(|o| o.id.clone()).collect();
    let returned: BTreeSet<_> = by_task.into_iter().flatten().collect();
    assert_eq!(
        returned, listed,
        "both handles got the ids of the same objects"
    );
    let healthy = provider_in(dir.path(), &[]);
    for address in &addresses {
        let found = healthy
            .find(types::OBJECT, &identity(address))
            .await
            .expect("find")
            .expect("found by identity");
        assert_eq!(found.attrs["output"], Value::from(address.as_str()));
    }
}

#[tokio::test]
async fn an_interrupted_create_leaves_nothing_to_duplicate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider_in(dir.path(), &[]);
    let ty = types::find(types::OBJECT).expect("type");
    let name = identity("sandbox_object.x").name(types::NAME_LEN);
    // A create killed between writing the name index entry and linking the object under its
    // id leaves an entry whose id names nothing.
    let first = create(&p, types::OBJECT, "sandbox_object.x", &Attrs::new()).await;
    let index = dir.path().join("names").join(types::OBJECT);
    std::fs::remove_file(
        dir.path()
            .join("objects")
            .join(types::OBJECT)
            .join(format!("{}.json", first.id)),
    )
    .expect("unlink");
    assert!(index.join(&name).exists());
    assert!(
        p.find(types::OBJECT, &identity("sandbox_object.x"))
            .await
            .expect("find")
            .is_none()
    );
    let made = create(&p, types::OBJECT, "sandbox_object.x", &Attrs::new()).await;
    assert_ne!(made.id, first.id, "a fresh id");
    let again = create(&p, types::OBJECT, "sandbox_object.x", &Attrs::new()).await;
    assert_eq!(again.id, made.id, "the next create adopts");
    assert_eq!(count_of(&p, types::OBJECT), 1);

    // After a delete the name is free again, and a crafted id reads as absent.
    p.delete(types::OBJECT, &made).await.expect("delete");
    assert!(
        !index.join(&name).exists(),
        "the index entry goes with the object"
    );
    assert!(
        Cloud::open(dir.path())
            .expect("open")
            .find_by_name(ty, &name)
            .expect("find")
            .is_none()
    );
    let read = p
        .read_many(types::OBJECT, &["../../etc/passwd".to_string()])
        .await
        .expect("read");
    assert_eq!(read, vec![None]);
}

#[test]
fn polls_follow_the_eta_else_back_off_geometrically() {
    let mut s = PollSchedule::new(Duration::from_millis(400));
    assert_eq!(
        s.next(Some(Duration::from_millis(123))),
        Duration::from_millis(123),
        "sleep until the announced completion"
    );
    let pauses: Vec<_> = (0..4).map(|_| s.next(None).as_millis()).collect();
    assert_eq!(pauses, [40, 60, 90, 135]);
    assert_eq!(
        s.next(Some(Duration::ZERO)),
        Duration::from_micros(202_500),
        "an ETA already passed backs off too"
    );
    let mut tiny = PollSchedule::new(Duration::ZERO);
    assert_eq!(tiny.next(None), MIN_POLL);
    let mut long = PollSchedule::new(Duration::from_secs(60));
    assert_eq!(long.next(None), MAX_POLL);
    assert_eq!(long.next(None), MAX_POLL, "capped");
}

#[tokio::test]
async fn create_returns_when_ready_and_honours_the_readiness_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Arc::new(provider_in(dir.path(), &[("latency", "150ms".into())]));
    let start = Instant::now();
    let task = {
        let p = p.clone();
        tokio::spawn(async move {
            create(
                &p,
                types::VPC,
                "n.vpc",
                &attrs(&[("cidr", "10.0.0.0/16".into())]),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listed = p.cloud().list().expect("list");
    assert_eq!(listed.len(), 1, "the object exists while it is created");
    assert_eq!(listed[0].status, Status::Creating);
    task.await.expect("task");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(148) && took < Duration::from_millis(180),
        "a create takes its latency, not a poll interval more: {took:?}"
    );
    assert_eq!(p.cloud().list().expect("list")[0].status, Status::Available);

    // A create that is not ready within `ready_timeout` times out; the object stays, and the
    // retry adopts it once it is ready.
    let impatient = provider_in(dir.path(), &[("ready_timeout", "30ms".into())]);
    let slow = attrs(&[("create_latency", "120ms".into())]);
    let start = Instant::now();
    let err = impatient
        .create(CreateRequest {
            type_name: types::OBJECT,
            identity: &identity("o.slow"),
            config: &slow,
        })
        .await
        .expect_err("timeout");
    assert!(
        matches!(&err, ProviderError::Timeout(m) if m.contains("not ready after 30ms")),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(
        start.elapsed() < Duration::from_millis(60),
        "gave up in time"
    );
    let patient = provider_in(dir.path(), &[]);
    let adopted = create(&patient, types::OBJECT, "o.slow", &slow).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(118) && took < Duration::from_millis(150),
        "the adopter waits for the first create's completion, no longer: {took:?}"
    );
    assert_eq!(count_of(&patient, types::OBJECT), 1);
    assert_eq!(patient.cloud().list().expect("list")[0].id, adopted.id);
    let bad = configure(
        &attrs(&[("ready_timeout", "soon".into())]),
        Path::new("/tmp/spec"),
    )
    .expect_err("bad");
    assert_eq!(bad[0].path.join("."), "ready_timeout");
}

/// Run with `cargo test -p sandbox --release -- --ignored --nocapture bench`: times 10,000
/// `sandbox_object` creates (64 in flight on two worker threads), one `read_many` of them all,
/// and their deletes, through the provider API with latency 0; prints the median of 3 runs.
#[test]
#[ignore = "a benchmark; run in release"]
fn bench_ten_thousand_objects() {
    const N: usize = 10_000;
    const IN_FLIGHT: usize = 64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runs: Vec<[Duration; 3]> = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Arc::new(provider_in(dir.path(), &[]));
        let timings = runtime.block_on(async {
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let states = Arc::new(std::sync::Mutex::new(Vec::with_capacity(N)));
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..IN_FLIGHT {
                let (p, next, states) = (p.clone(), next.clone(), states.clone());
                tasks.spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= N {
                            break;
                        }
                        let address = format!("sandbox_object.o[{i}]");
                        let st = create(
                            &p,
                            types::OBJECT,
                            &address,
                            &attrs(&[("input", Value::from(i as i64))]),
                        )
                        .await;
                        states.lock().expect("lock").push(st);
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("task");
            }
            let created = start.elapsed();

            let states = std::mem::take(&mut *states.lock().expect("lock"));
            let ids: Vec<String> = states.iter().map(|s| s.id.clone()).collect();
            let start = Instant::now();
            let read = p.read_many(types::OBJECT, &ids).await.expect("read");
            let read_time = start.elapsed();
            assert!(read.iter().all(Option::is_some));

            let states = Arc::new(std::sync::Mutex::new(states));
            let start = Instant::now();
            for _ in 0..IN_FLIGHT {
                let (p, states) = (p.clone(), states.clone());
                tasks.spawn(async move {
                    loop {
                        let Some(st) = states.lock().expect("lock").pop() else {
                            break;
                        };
                        p.delete(types::OBJECT, &st).await.expect("delete");
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("task");
            }
            [created, read_time, start.elapsed()]
        });
        assert!(p.cloud().list().expect("list").is_empty());
        println!(
            "run: create {:?}, read_many {:?}, delete {:?}",
            timings[0], timings[1], timings[2]
        );
        runs.push(timings);
    }
    let median = |k: usize| {
        let mut v: Vec<Duration> = runs.iter().map(|r| r[k]).collect();
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "median of 3, {N} sandbox_object: create {:?}, read_many {:?}, delete {:?}",
        median(0),
        median(1),
        median(2)
    );
}

/// The environment variable that points [`creator_process`] at a shared cloud.
const CHILD_DIR_ENV: &str = "SS_SANDBOX_TEST_CHILD_DIR";

/// One `ss`-like process creating 100 identities in 4 threads; run by
/// [`two_processes_create_each_identity_once`] in two child processes at once.
#[test]
#[ignore = "run as a child process by two_processes_create_each_identity_once"]
fn creator_process() {
    let own = tempfile::tempdir().expect("tempdir");
    let dir =
        std::env::var_os(CHILD_DIR_ENV).map_or_else(|| own.path().to_path_buf(), PathBuf::from);
    let ty = types::find(types::OBJECT).expect("type");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let cloud = Cloud::open(&dir).expect("open");
                for i in 0..100 {
                    let name = format!("shared-{}", (i + 25 * t) % 100);
                    cloud
                        .create_or_adopt(ty, &name, &Attrs::new(), Duration::ZERO)
                        .expect("create");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        Cloud::open(&dir).expect("open").list().expect("list").len(),
        100
    );
}

#[test]
fn two_processes_create_each_identity_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "tests::creator_process", "--ignored", "--quiet"])
                .env(CHILD_DIR_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success(), "a creator failed");
    }
    let objects = Cloud::open(dir.path()).expect("open").list().expect("list");
    assert_eq!(objects.len(), 100, "one object per name across processes");
    let names: BTreeSet<_> = objects.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names.len(), 100);
}
