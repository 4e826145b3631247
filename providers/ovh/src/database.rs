//! Managed databases: PostgreSQL (`/cloud/project/{serviceName}/database/postgresql`) and
//! Valkey (`…/database/valkey`, or `…/database/redis` where a service runs the Redis engine).
//! A service is named by its `description`; its id is its uuid, `redis/UUID` on the Redis
//! engine.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::{attr_list, attr_str};
use provider_api::kit::schema::{list, n, s};
use provider_api::schema::{AttributeSchema as A, Body, ResourceSchema};
use provider_api::{Attrs, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{answer_id, js, jstr, jv, need_i64, need_str, not_found_is_none, opt_i64};
use crate::network::{configured_subnet, subnet_cidrs};
use crate::object::{Objects, Phase, base, in_order, status_phase};
use crate::routes as r;

pub const POSTGRES: &str = "ovh_cloud_database_postgresql";
pub const VALKEY: &str = "ovh_cloud_database_valkey";

fn common() -> Body {
    base()
        .attr(
            "network_id",
            A::required(s(), "Private network").force_new(),
        )
        .attr(
            "subnet_id",
            A::optional_computed(s(), "Subnet; the network's first subnet when omitted")
                .force_new(),
        )
        .attr(
            "version",
            A::required(s(), "Engine version; upgraded in place"),
        )
        .attr(
            "plan",
            A::required(s(), "essential, business or enterprise; changed in place"),
        )
        .attr("flavor", A::required(s(), "Node flavor (db1-15, …)"))
        .attr("nodes", A::required(n(), "Number of nodes"))
        .attr(
            "ip_restrictions",
            A::optional_computed(
                list(s()),
                "IPv4 ranges allowed in; the network's subnets when omitted",
            ),
        )
        .attr("endpoint", A::computed(s(), "Primary host name"))
        .attr("port", A::computed(n(), "Port"))
        .attr(
            "reader_endpoints",
            A::computed(list(s()), "Read-only host names"),
        )
}

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::native(
            POSTGRES,
            "A Managed PostgreSQL service",
            common().attr("disk_gb", A::optional(n(), "Disk per node in GB")),
        ),
        ResourceSchema::native(
            VALKEY,
            "A Managed Valkey (Redis-compatible) service",
            common().attr(
                "engine",
                A::optional(s(), "valkey, or redis where valkey is not offered")
                    .default("valkey")
                    .force_new(),
            ),
        ),
    ]
}

/// The routes of a database engine (`postgresql`, `redis`, else `valkey`).
#[rustfmt::skip]
fn engine_routes(engine: &str) -> TypeRoutes {
    use r::*;
    let (list, create, get, put, delete) = match engine {
        "postgresql" => (PG_LIST,     PG_CREATE,     PG_GET,     PG_PUT,     PG_DELETE),
        "redis"      => (REDIS_LIST,  REDIS_CREATE,  REDIS_GET,  REDIS_PUT,  REDIS_DELETE),
        _            => (VALKEY_LIST, VALKEY_CREATE, VALKEY_GET, VALKEY_PUT, VALKEY_DELETE),
    };
    TypeRoutes { list, create, get, put: Some(put), delete, id_params: &["clusterId"] }
}

/// A database id is the service uuid; a Valkey service on the Redis engine is `redis/UUID`.
fn db_parts<'a>(type_name: &str, id: &'a str) -> (&'a str, &'a str) {
    if type_name == POSTGRES {
        return ("postgresql", id);
    }
    id.split_once('/').unwrap_or(("valkey", id))
}

/// The id of an engine's service.
fn db_id(engine: &str, uuid: &str) -> String {
    match engine {
        "redis" => format!("redis/{uuid}"),
        _ => uuid.to_string(),
    }
}

fn db_engine<'a>(type_name: &str, config: &'a Attrs) -> &'a str {
    if type_name == POSTGRES {
        "postgresql"
    } else {
        attr_str(config, "engine").unwrap_or("valkey")
    }
}

fn ip_restrictions(cidrs: &[String]) -> Json {
    Json::Array(
        cidrs
            .iter()
            .map(|c| json!({ "ip": c, "description": "ss: private network" }))
            .collect(),
    )
}

/// What a service's create and update bodies share: its name, plan, version, allowed ranges
/// and the configured disk size, if any.
fn service_body(name: &str, config: &Attrs, allowed: &[String]) -> Result<Json> {
    let mut b = json!({
        "description": name,
        "plan": need_str(config, "plan")?,
        "version": need_str(config, "version")?,
        "ipRestrictions": ip_restrictions(allowed),
    });
    if let Some(gb) = opt_i64(config, "disk_gb") {
        b["disk"] = json!({ "size": gb });
    }
    Ok(b)
}

pub fn db_body(
    name: &str,
    region: &str,
    config: &Attrs,
    subnet_id: &str,
    allowed: &[String],
) -> Result<Json> {
    let mut b = service_body(name, config, allowed)?;
    b["nodesPattern"] = json!({
        "flavor": need_str(config, "flavor")?,
        "number": need_i64(config, "nodes")?,
        "region": region,
    });
    b["networkId"] = json!(need_str(config, "network_id")?);
    b["subnetId"] = json!(subnet_id);
    Ok(b)
}

pub fn db_update_body(name: &str, config: &Attrs, allowed: &[String]) -> Result<Json> {
    let mut b = service_body(name, config, allowed)?;
    b["flavor"] = json!(need_str(config, "flavor")?);
    b["nodeNumber"] = json!(need_i64(config, "nodes")?);
    Ok(b)
}

/// Where a service is: `READY`, failed in `ERROR`.
pub fn phase(j: &Json) -> Phase {
    status_phase(j, "status", &["READY"], &["ERROR"])
}

fn endpoints<'a>(j: &'a Json, component: &str) -> Vec<&'a Json> {
    j.get("endpoints")
        .and_then(Json::as_array)
        .map(|e| {
            e.iter()
                .filter(|x| js(x, "component") == Some(component))
                .collect()
        })
        .unwrap_or_default()
}

fn state(type_name: &str, id: &str, j: &Json) -> ResourceState {
    let (engine, _) = db_parts(type_name, id);
    let mut a = Attrs::new();
    a.insert("id".into(), Value::from(id));
    a.insert("name".into(), jstr(j, "description"));
    a.insert("network_id".into(), jstr(j, "networkId"));
    a.insert("subnet_id".into(), jstr(j, "subnetId"));
    a.insert("version".into(), jstr(j, "version"));
    a.insert("plan".into(), jstr(j, "plan"));
    a.insert("flavor".into(), jstr(j, "flavor"));
    a.insert("nodes".into(), jv(j, "nodeNumber"));
    let ips: Vec<Value> = j
        .get("ipRestrictions")
        .and_then(Json::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|x| js(x, "ip"))
                .map(Value::from)
                .collect()
        })
        .unwrap_or_default();
    a.insert("ip_restrictions".into(), Value::List(ips));
    let main = endpoints(j, engine);
    let first = main.first();
    a.insert(
        "endpoint".into(),
        first.map(|e| jstr(e, "domain")).unwrap_or_default(),
    );
    a.insert(
        "port".into(),
        first.map(|e| jv(e, "port")).unwrap_or_default(),
    );
    if type_name == POSTGRES {
        let readers: Vec<Value> = endpoints(j, "postgresqlRead")
            .into_iter()
            .chain(endpoints(j, "postgresqlReadReplica"))
            .map(|e| jstr(e, "domain"))
            .collect();
        a.insert("reader_endpoints".into(), Value::List(readers));
        a.insert(
            "disk_gb".into(),
            j.get("disk").map(|d| jv(d, "size")).unwrap_or_default(),
        );
    } else {
        a.insert("reader_endpoints".into(), Value::List(Vec::new()));
        a.insert("engine".into(), Value::from(engine));
    }
    ResourceState {
        id: id.to_string(),
        attrs: a,
    }
}

/// Managed PostgreSQL and Valkey services.
#[derive(Debug)]
pub struct Databases {
    api: Arc<Api>,
}

impl Databases {
    pub fn new(api: Arc<Api>) -> Databases {
        Databases { api }
    }

    /// The IP ranges allowed to reach a database: the configured ones, else the CIDRs of the
    /// network's subnets.
    async fn allowed_ranges(&self, config: &Attrs, net: &str) -> Result<Vec<String>> {
        if config
            .get("ip_restrictions")
            .and_then(Value::as_list)
            .is_some()
        {
            return Ok(attr_list(config, "ip_restrictions"));
        }
        subnet_cidrs(&self.api, net).await
    }
}

#[async_trait]
impl Objects for Databases {
    fn types(&self) -> &'static [&'static str] {
        &[POSTGRES, VALKEY]
    }

    fn api(&self) -> &Api {
        &self.api
    }

    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str) {
        let (engine, uuid) = db_parts(type_name, id);
        (engine_routes(engine), uuid)
    }

    fn phase(&self, _type_name: &str, j: &Json) -> Phase {
        phase(j)
    }

    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>> {
        let engines: Vec<&str> = if type_name == POSTGRES {
            vec!["postgresql"]
        } else {
            match config.and_then(|c| attr_str(c, "engine")) {
                Some(e) => vec![e],
                None => vec!["valkey", "redis"],
            }
        };
        for engine in engines {
            let get = engine_routes(engine).get;
            for uuid in self
                .api
                .list_ids(engine_routes(engine).list, &[])
                .await?
                .unwrap_or_default()
            {
                let svc =
                    not_found_is_none(self.api.call(get, &[("clusterId", &uuid)], None).await)?;
                if svc.as_ref().and_then(|s| js(s, "description")) == Some(name) {
                    return Ok(Some(db_id(engine, &uuid)));
                }
            }
        }
        Ok(None)
    }

    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        let engine = db_engine(type_name, config);
        let net = need_str(config, "network_id")?;
        let subnet = configured_subnet(&self.api, config, net).await?;
        let allowed = self.allowed_ranges(config, net).await?;
        let body = db_body(name, self.api.region(), config, &subnet, &allowed)?;
        let svc = self
            .api
            .call(engine_routes(engine).create, &[], Some(&body))
            .await?;
        let id = answer_id(&svc, "database")?;
        Ok(db_id(engine, id))
    }

    async fn change(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> Result<()> {
        let name = prior
            .attrs
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let net = need_str(config, "network_id")?;
        let allowed = self.allowed_ranges(config, net).await?;
        self.put(
            type_name,
            &prior.id,
            &db_update_body(name, config, &allowed)?,
        )
        .await?;
        Ok(())
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let mut engines = vec![if type_name == POSTGRES {
            "postgresql"
        } else {
            "valkey"
        }];
        if type_name == VALKEY && ids.iter().any(|i| i.starts_with("redis/")) {
            engines.push("redis");
        }
        let mut states = Vec::new();
        for engine in engines {
            let listed = self.api.list_ids(engine_routes(engine).list, &[]).await?;
            let listed = listed
                .unwrap_or_default()
                .iter()
                .map(|u| db_id(engine, u))
                .collect();
            for (id, item) in self.fetch(type_name, listed, ids).await? {
                states.push(state(type_name, &id, &item));
            }
        }
        Ok(in_order(ids, states))
    }
}
