//! Private networks (vRack) and their subnets: `/cloud/project/{serviceName}/region/
//! {regionName}/network[/{networkId}/subnet]`. A network is created by an operation.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::{attr_bool, attr_str};
use provider_api::kit::schema::{b, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{
    answer_id, js, jstr, jv, list, need_str, not_found_is_none, opt_i64, parent_value,
};
use crate::object::{
    Objects, Phase, base, created_by, in_order, named, status_phase, under_parents, wanted,
};
use crate::routes as r;

pub const NETWORK: &str = "ovh_cloud_network";
pub const SUBNET: &str = "ovh_cloud_subnet";

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::native(
            NETWORK,
            "A private network in the provider's region (vRack)",
            base()
                .attr(
                    "vlan_id",
                    A::optional_computed(n(), "vRack VLAN id; chosen by OVH when omitted")
                        .force_new(),
                )
                .attr("region", A::computed(s(), "Region")),
        ),
        ResourceSchema::native(
            SUBNET,
            "An IPv4 subnet of a private network",
            base()
                .attr(
                    "network_id",
                    A::required(s(), "The private network").force_new(),
                )
                .attr("cidr", A::required(s(), "IPv4 range").force_new())
                .attr(
                    "enable_dhcp",
                    A::optional(b(), "DHCP on the subnet")
                        .default(true)
                        .force_new(),
                )
                .attr(
                    "enable_gateway_ip",
                    A::optional(b(), "Reserve a gateway address")
                        .default(true)
                        .force_new(),
                )
                .attr("subnet_id", A::computed(s(), "OpenStack subnet id"))
                .attr("gateway_ip", A::computed(s(), "Gateway address")),
        ),
    ]
}

const NETWORK_ROUTES: TypeRoutes = TypeRoutes {
    list: r::NETWORK_LIST,
    create: r::NETWORK_CREATE,
    get: r::NETWORK_GET,
    put: None,
    delete: r::NETWORK_DELETE,
    id_params: &["networkId"],
};

const SUBNET_ROUTES: TypeRoutes = TypeRoutes {
    list: r::SUBNET_LIST,
    create: r::SUBNET_CREATE,
    get: r::SUBNET_GET,
    put: None,
    delete: r::SUBNET_DELETE,
    id_params: &["networkId", "subnetId"],
};

pub fn network_body(name: &str, config: &Attrs) -> Json {
    let mut b = json!({ "name": name });
    if let Some(v) = opt_i64(config, "vlan_id") {
        b["vlanId"] = json!(v);
    }
    b
}

pub fn subnet_body(name: &str, config: &Attrs) -> Result<Json> {
    Ok(json!({
        "name": name,
        "cidr": need_str(config, "cidr")?,
        "enableDhcp": attr_bool(config, "enable_dhcp", true),
        "enableGatewayIp": attr_bool(config, "enable_gateway_ip", true),
        "ipVersion": 4,
    }))
}

/// The subnets of a private network.
pub async fn subnets_of(api: &Api, network_id: &str) -> Result<Vec<Json>> {
    Ok(list(
        api.call(r::SUBNET_LIST, &[("networkId", network_id)], None)
            .await?,
    ))
}

/// The subnet to use when none is configured: the network's subnet with the lowest CIDR.
pub async fn first_subnet(api: &Api, network_id: &str) -> Result<String> {
    let mut subnets = subnets_of(api, network_id).await?;
    subnets.sort_by(|a, b| js(a, "cidr").cmp(&js(b, "cidr")));
    subnets
        .first()
        .and_then(|s| js(s, "id"))
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::Invalid(format!("private network {network_id} has no subnet"))
        })
}

/// The configured `subnet_id`, else the network's first subnet.
pub async fn configured_subnet(api: &Api, config: &Attrs, net: &str) -> Result<String> {
    match attr_str(config, "subnet_id") {
        Some(s) => Ok(s.to_string()),
        None => first_subnet(api, net).await,
    }
}

/// The CIDRs of a network's subnets, sorted.
pub async fn subnet_cidrs(api: &Api, net: &str) -> Result<Vec<String>> {
    let mut cidrs: Vec<String> = subnets_of(api, net)
        .await?
        .iter()
        .filter_map(|s| js(s, "cidr").map(str::to_string))
        .collect();
    cidrs.sort();
    Ok(cidrs)
}

/// Private networks and subnets.
#[derive(Debug)]
pub struct Networks {
    api: Arc<Api>,
}

impl Networks {
    pub fn new(api: Arc<Api>) -> Networks {
        Networks { api }
    }

    fn state(&self, type_name: &str, id: &str, j: &Json) -> ResourceState {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::from(id));
        a.insert("name".into(), jstr(j, "name"));
        if type_name == NETWORK {
            a.insert("vlan_id".into(), jv(j, "vlanId"));
            a.insert(
                "region".into(),
                js(j, "region")
                    .map(Value::from)
                    .unwrap_or_else(|| Value::from(self.api.region())),
            );
        } else {
            a.insert("network_id".into(), parent_value(id));
            a.insert("cidr".into(), jstr(j, "cidr"));
            a.insert(
                "enable_dhcp".into(),
                Value::from(j.get("dhcpEnabled").and_then(Json::as_bool).unwrap_or(true)),
            );
            a.insert(
                "enable_gateway_ip".into(),
                Value::from(j.get("gatewayIp").is_some_and(|g| !g.is_null())),
            );
            a.insert("subnet_id".into(), jstr(j, "id"));
            a.insert("gateway_ip".into(), jstr(j, "gatewayIp"));
        }
        ResourceState {
            id: id.to_string(),
            attrs: a,
        }
    }
}

#[async_trait]
impl Objects for Networks {
    fn types(&self) -> &'static [&'static str] {
        &[NETWORK, SUBNET]
    }

    fn api(&self) -> &Api {
        &self.api
    }

    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str) {
        match type_name {
            SUBNET => (SUBNET_ROUTES, id),
            _ => (NETWORK_ROUTES, id),
        }
    }

    fn phase(&self, type_name: &str, j: &Json) -> Phase {
        match type_name {
            NETWORK => status_phase(j, "status", &["ACTIVE"], &["ERROR"]),
            _ => Phase::Ready,
        }
    }

    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>> {
        if type_name == NETWORK {
            return Ok(named(
                list(self.api.call(r::NETWORK_LIST, &[], None).await?),
                name,
            ));
        }
        let networks: Vec<String> = match config.and_then(|c| attr_str(c, "network_id")) {
            Some(n) => vec![n.to_string()],
            None => list(self.api.call(r::NETWORK_LIST, &[], None).await?)
                .iter()
                .filter_map(|n| js(n, "id").map(str::to_string))
                .collect(),
        };
        for net in networks {
            let subs = not_found_is_none(subnets_of(&self.api, &net).await)?.unwrap_or_default();
            if let Some(id) = named(subs, name) {
                return Ok(Some(format!("{net}/{id}")));
            }
        }
        Ok(None)
    }

    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        if type_name == NETWORK {
            let op = self
                .api
                .call(r::NETWORK_CREATE, &[], Some(&network_body(name, config)))
                .await?;
            return created_by(self, &op, type_name, name, "network").await;
        }
        let net = need_str(config, "network_id")?;
        let s = self
            .api
            .call(
                r::SUBNET_CREATE,
                &[("networkId", net)],
                Some(&subnet_body(name, config)?),
            )
            .await?;
        let id = answer_id(&s, "subnet")?;
        Ok(format!("{net}/{id}"))
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let found = if type_name == NETWORK {
            wanted(list(self.api.call(r::NETWORK_LIST, &[], None).await?), ids)
        } else {
            under_parents(ids, |net, _| async move {
                Ok(not_found_is_none(subnets_of(&self.api, net).await)?.unwrap_or_default())
            })
            .await?
        };
        let states = found.iter().map(|(id, j)| self.state(type_name, id, j));
        Ok(in_order(ids, states))
    }
}
