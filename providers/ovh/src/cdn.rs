//! The CDN dedicated service: domains, their origin backends and cache rules,
//! `/cdn/dedicated/{serviceName}/domains/{domain}[/backends|/cacheRules]`. Backends and cache
//! rules have no name: they are found by their natural key, which only the configuration
//! gives.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::attr_str;
use provider_api::kit::schema::{n, s, with_id};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{
    id_text, js, jstr, jv, list, need_i64, need_str, not_found_is_none, parent_value,
};
use crate::object::{Objects, Phase, in_order, status_phase, under_parents};
use crate::routes as r;

pub const CDN_DOMAIN: &str = "ovh_cdn_domain";
pub const CDN_BACKEND: &str = "ovh_cdn_backend";
pub const CDN_RULE: &str = "ovh_cdn_cache_rule";

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::native(
            CDN_DOMAIN,
            "A domain served by the CDN dedicated service",
            with_id("The domain")
                .attr(
                    "domain",
                    A::optional_computed(
                        s(),
                        "Host name served; NAME.`cdn_zone` (the provider setting) when omitted",
                    )
                    .force_new(),
                )
                .attr("cname", A::computed(s(), "CNAME target for the domain")),
        ),
        ResourceSchema::native(
            CDN_BACKEND,
            "An origin IPv4 address of a CDN domain",
            with_id("DOMAIN/IP")
                .attr("domain", A::required(s(), "The CDN domain").force_new())
                .attr("ip", A::required(s(), "Origin IPv4 address").force_new()),
        ),
        ResourceSchema::native(
            CDN_RULE,
            "A cache rule of a CDN domain",
            with_id("DOMAIN/RULE_ID")
                .attr("domain", A::required(s(), "The CDN domain").force_new())
                .attr(
                    "file_match",
                    A::required(s(), "Folder, file or extension matched").force_new(),
                )
                .attr(
                    "file_type",
                    A::required(s(), "folder, file or extension").force_new(),
                )
                .attr(
                    "cache_type",
                    A::required(s(), "forceCache or noCache").force_new(),
                )
                .attr("ttl", A::required(n(), "Seconds cached; changed in place")),
        ),
    ]
}

/// The routes of each type: list, create, get, put (where an object can be changed in place),
/// delete, and the path parameters an id fills.
#[rustfmt::skip]
fn type_routes(type_name: &str) -> TypeRoutes {
    use r::*;
    let (list, create, get, put, delete, id_params): (_, _, _, _, _, &'static [&'static str]) =
        match type_name {
            CDN_DOMAIN  => (CDN_DOMAIN_LIST,  CDN_DOMAIN_CREATE,  CDN_DOMAIN_GET,  Some(CDN_DOMAIN_PUT), CDN_DOMAIN_DELETE,  &["domain"]),
            CDN_BACKEND => (CDN_BACKEND_LIST, CDN_BACKEND_CREATE, CDN_BACKEND_GET, None,                 CDN_BACKEND_DELETE, &["domain", "ip"]),
            _           => (CDN_RULE_LIST,    CDN_RULE_CREATE,    CDN_RULE_GET,    Some(CDN_RULE_PUT),   CDN_RULE_DELETE,    &["domain", "cacheRuleId"]),
        };
    TypeRoutes { list, create, get, put, delete, id_params }
}

pub fn cache_rule_body(config: &Attrs) -> Result<Json> {
    Ok(json!({
        "cacheType": need_str(config, "cache_type")?,
        "fileMatch": need_str(config, "file_match")?,
        "fileType": need_str(config, "file_type")?,
        "ttl": need_i64(config, "ttl")?,
    }))
}

fn state(type_name: &str, id: &str, j: &Json) -> ResourceState {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::from(id));
    match type_name {
        CDN_DOMAIN => {
            a.insert("domain".into(), Value::from(id));
            a.insert("cname".into(), jstr(j, "cname"));
        }
        CDN_BACKEND => {
            a.insert("domain".into(), parent_value(id));
            a.insert("ip".into(), jstr(j, "ip"));
        }
        _ => {
            a.insert("domain".into(), parent_value(id));
            a.insert("file_match".into(), jstr(j, "fileMatch"));
            a.insert("file_type".into(), jstr(j, "fileType"));
            a.insert("cache_type".into(), jstr(j, "cacheType"));
            a.insert("ttl".into(), jv(j, "ttl"));
        }
    }
    ResourceState {
        id: id.to_string(),
        attrs: a,
    }
}

/// CDN domains, backends and cache rules.
#[derive(Debug)]
pub struct Cdn {
    api: Arc<Api>,
}

impl Cdn {
    pub fn new(api: Arc<Api>) -> Cdn {
        Cdn { api }
    }

    /// The CDN domain a `ovh_cdn_domain` is created under.
    fn domain_name(&self, name: &str, config: &Attrs) -> Result<String> {
        if let Some(d) = attr_str(config, "domain") {
            return Ok(d.to_string());
        }
        let zone = self.api.settings.cdn_zone.as_deref().ok_or_else(|| {
            ProviderError::Invalid("`cdn_zone` is not set in the provider block".into())
        })?;
        Ok(format!("{name}.{}", zone.trim_matches('.')))
    }

    /// The cache rule of `domain` that matches the configuration's file match and type.
    async fn find_rule(&self, c: &Attrs) -> Result<Option<String>> {
        let domain = need_str(c, "domain")?;
        let ids = list(
            self.api
                .call(r::CDN_RULE_LIST, &[("domain", domain)], None)
                .await?,
        );
        for rule in ids.iter().filter_map(id_text) {
            let id = format!("{domain}/{rule}");
            if let Some(j) = self.get_raw(CDN_RULE, &id).await?
                && js(&j, "fileMatch") == attr_str(c, "file_match")
                && js(&j, "fileType") == attr_str(c, "file_type")
            {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// The listed children of one domain: its backends (answered as IPs) or its cache rules
    /// among `children` (read one by one).
    async fn children(
        &self,
        type_name: &str,
        domain: &str,
        children: &[&str],
    ) -> Result<Vec<Json>> {
        if type_name == CDN_BACKEND {
            let listed = not_found_is_none(
                self.api
                    .call(r::CDN_BACKEND_LIST, &[("domain", domain)], None)
                    .await,
            )?;
            return Ok(listed
                .map(list)
                .unwrap_or_default()
                .into_iter()
                .map(|ip| json!({ "id": ip, "ip": ip }))
                .collect());
        }
        let mut rules = Vec::new();
        let listed = self
            .api
            .list_ids(r::CDN_RULE_LIST, &[("domain", domain)])
            .await?;
        for rule in listed.unwrap_or_default() {
            if children.contains(&rule.as_str())
                && let Some(mut j) = self.get_raw(CDN_RULE, &format!("{domain}/{rule}")).await?
            {
                j["id"] = json!(rule);
                rules.push(j);
            }
        }
        Ok(rules)
    }
}

#[async_trait]
impl Objects for Cdn {
    fn types(&self) -> &'static [&'static str] {
        &[CDN_DOMAIN, CDN_BACKEND, CDN_RULE]
    }

    fn api(&self) -> &Api {
        &self.api
    }

    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str) {
        (type_routes(type_name), id)
    }

    fn phase(&self, type_name: &str, j: &Json) -> Phase {
        match type_name {
            CDN_BACKEND => Phase::Ready,
            _ => status_phase(j, "status", &["on", "off", ""], &["error"]),
        }
    }

    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>> {
        match (type_name, config) {
            (CDN_DOMAIN, _) => {
                let domain = self.domain_name(name, config.unwrap_or(&Attrs::new()))?;
                Ok(self.get_raw(CDN_DOMAIN, &domain).await?.map(|_| domain))
            }
            (CDN_BACKEND, Some(c)) => {
                let id = format!("{}/{}", need_str(c, "domain")?, need_str(c, "ip")?);
                Ok(self.get_raw(CDN_BACKEND, &id).await?.map(|_| id))
            }
            (_, Some(c)) => self.find_rule(c).await,
            (_, None) => Ok(None),
        }
    }

    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        if type_name == CDN_DOMAIN {
            let domain = self.domain_name(name, config)?;
            self.api
                .call(
                    r::CDN_DOMAIN_CREATE,
                    &[],
                    Some(&json!({ "domain": domain })),
                )
                .await?;
            return Ok(domain);
        }
        let domain = need_str(config, "domain")?;
        if type_name == CDN_BACKEND {
            let ip = need_str(config, "ip")?;
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(ProviderError::Invalid(format!(
                    "an OVH CDN backend is an IPv4 address, got origin {ip:?}"
                )));
            }
            self.api
                .call(
                    r::CDN_BACKEND_CREATE,
                    &[("domain", domain)],
                    Some(&json!({ "ip": ip })),
                )
                .await?;
            return Ok(format!("{domain}/{ip}"));
        }
        let j = self
            .api
            .call(
                r::CDN_RULE_CREATE,
                &[("domain", domain)],
                Some(&cache_rule_body(config)?),
            )
            .await?;
        let id = j.get("cacheRuleId").and_then(id_text).ok_or_else(|| {
            ProviderError::Other("the cache rule answer has no cacheRuleId".into())
        })?;
        Ok(format!("{domain}/{id}"))
    }

    /// A domain created off is turned on.
    async fn settle(&self, type_name: &str, id: &str) -> Result<()> {
        if type_name == CDN_DOMAIN
            && let Some(d) = self.get_raw(CDN_DOMAIN, id).await?
            && js(&d, "status") == Some("off")
        {
            self.put(CDN_DOMAIN, id, &json!({ "status": "on" })).await?;
        }
        Ok(())
    }

    async fn change(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> Result<()> {
        if type_name == CDN_RULE {
            self.put(
                type_name,
                &prior.id,
                &json!({ "ttl": need_i64(config, "ttl")? }),
            )
            .await?;
        }
        Ok(())
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let found = if type_name == CDN_DOMAIN {
            let listed = self.api.list_ids(r::CDN_DOMAIN_LIST, &[]).await?;
            self.fetch(CDN_DOMAIN, listed.unwrap_or_default(), ids)
                .await?
        } else {
            under_parents(ids, |domain, children| async move {
                self.children(type_name, domain, &children).await
            })
            .await?
        };
        let states = found.iter().map(|(id, j)| state(type_name, id, j));
        Ok(in_order(ids, states))
    }
}
