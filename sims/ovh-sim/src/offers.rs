//! What the simulated OVH sells where: the answers of `GET /cloud/project/{serviceName}/
//! database/availability` (one row per engine, version, plan, flavor and region) and
//! `GET …/database/capabilities` (the engines with their versions, the plans, the flavors),
//! shaped as the schema's `cloud.project.database.Availability` and `…Capabilities` models.
//!
//! The offer follows OVH's public cloud catalogue of 2026-01-27 (plan codes
//! `databases.<engine>-<plan>-<flavor>.hour.consumption[.3az]`, read from
//! `feoche/public-cost-indicator@f5deddb1:catalogue-produits.md`) and OVH's guide "Migrate from
//! Gen 2 to Gen 3" (`ovh/docs@149a8f56:pages/public_cloud/public_cloud_databases/
//! databases_20_migrate_from_gen2_to_gen3/guide.en-gb.md`, 2026-05-05: Business → Production,
//! Enterprise → Advanced, no Gen 3 single-node plan, 2–3 nodes by plan):
//!
//! | engine | plan | flavors | nodes | regions |
//! |---|---|---|---|---|
//! | postgresql | `production` | `b3-8` … `b3-256` | 2 | 3-AZ and 1-AZ |
//! | postgresql | `advanced` | `b3-8` … `b3-256` | 3 | 3-AZ and 1-AZ |
//! | postgresql | `essential` | `db1-4` … `db1-30` | 1 | 1-AZ only |
//! | postgresql | `business`, `enterprise` | `db1-4` … `db1-120` | 2, 3 | 1-AZ only |
//! | valkey | `production` | `b3-8` … `b3-256` | 2 | 3-AZ and 1-AZ |
//! | redis | `essential` (`db1-4`, `db1-7`), `business` (`db1-4` … `db1-120`) | | 1, 2 | 1-AZ only |
//!
//! `GET …/capabilities/kube/flavors?region=R` answers the instance flavors Managed Kubernetes
//! nodes can use in a region (`cloud.kube.Flavor`): the Gen 3 families `b3`, `c3`, `r3`
//! everywhere, and in 1-AZ regions the Gen 2 `b2`, `c2`, `r2`, `d2` as well (sizes from the
//! same catalogue; which generation each region has is this simulator's assumption).
//!
//! Only private-network rows are listed (ss creates no public service). The 1-AZ region names
//! are those a project's `region` setting takes; the real availability may name 1-AZ
//! databases by their site (`GRA`), so both forms are listed.

use serde_json::{Value, json};

/// The 3-AZ regions.
pub const THREE_AZ: [&str; 2] = ["EU-WEST-PAR", "EU-SOUTH-MIL"];
/// The 1-AZ regions with managed databases.
pub const ONE_AZ: [&str; 6] = ["GRA", "GRA9", "GRA11", "SBG", "DE", "BHS"];

const B3: [&str; 6] = ["b3-8", "b3-16", "b3-32", "b3-64", "b3-128", "b3-256"];
const DB1: [&str; 6] = ["db1-4", "db1-7", "db1-15", "db1-30", "db1-60", "db1-120"];
const DB1_ESSENTIAL_PG: [&str; 4] = ["db1-4", "db1-7", "db1-15", "db1-30"];
const DB1_ESSENTIAL_REDIS: [&str; 2] = ["db1-4", "db1-7"];

/// Where a plan is sold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sold {
    Everywhere,
    OneAz,
}

/// One plan of one engine.
struct Plan {
    engine: &'static str,
    name: &'static str,
    flavors: &'static [&'static str],
    nodes: i64,
    sold: Sold,
}

#[rustfmt::skip]
const PLANS: [Plan; 8] = [
    Plan { engine: "postgresql", name: "production", flavors: &B3, nodes: 2, sold: Sold::Everywhere },
    Plan { engine: "postgresql", name: "advanced", flavors: &B3, nodes: 3, sold: Sold::Everywhere },
    Plan { engine: "postgresql", name: "essential", flavors: &DB1_ESSENTIAL_PG, nodes: 1, sold: Sold::OneAz },
    Plan { engine: "postgresql", name: "business", flavors: &DB1, nodes: 2, sold: Sold::OneAz },
    Plan { engine: "postgresql", name: "enterprise", flavors: &DB1, nodes: 3, sold: Sold::OneAz },
    Plan { engine: "valkey", name: "production", flavors: &B3, nodes: 2, sold: Sold::Everywhere },
    Plan { engine: "redis", name: "essential", flavors: &DB1_ESSENTIAL_REDIS, nodes: 1, sold: Sold::OneAz },
    Plan { engine: "redis", name: "business", flavors: &DB1, nodes: 2, sold: Sold::OneAz },
];

/// The versions of each engine, newest last; the default is the newest.
fn versions(engine: &str) -> &'static [&'static str] {
    match engine {
        "postgresql" => &["14", "15", "16", "17"],
        "valkey" => &["8.0"],
        _ => &["7.2"],
    }
}

/// vCPUs and memory (GB) of a flavor, from its name: `b3-N` has N GB and N/4 vCPUs (b3-8: 2
/// vCPU, 8 GB); `db1-N` is the Gen 2 range (db1-7: 2 vCPU, 7 GB).
fn size(flavor: &str) -> (i64, i64) {
    let n: i64 = flavor
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    match flavor {
        "db1-4" => (1, 4),
        "db1-7" => (2, 7),
        "db1-15" => (4, 15),
        "db1-30" => (8, 30),
        "db1-60" => (16, 60),
        "db1-120" => (32, 120),
        _ => ((n / 4).max(1), n),
    }
}

/// Disk bounds in GB: the flavor's included storage up to ten times it, in 10 GB steps.
fn disk(flavor: &str) -> (i64, i64) {
    let (_, memory) = size(flavor);
    let min = (memory * 20).clamp(80, 5120);
    (min, min * 10)
}

fn lifecycle() -> Value {
    json!({"startDate": "2025-04-01", "status": "STABLE", "endOfLife": null, "endOfSale": null})
}

fn unit(value: i64) -> Value {
    json!({"unit": "GB", "value": value})
}

/// Every row of `GET /database/availability`.
pub fn availability() -> Value {
    let mut rows = Vec::new();
    for plan in &PLANS {
        let regions: Vec<&str> = match plan.sold {
            Sold::Everywhere => THREE_AZ.iter().chain(ONE_AZ.iter()).copied().collect(),
            Sold::OneAz => ONE_AZ.to_vec(),
        };
        let newest = versions(plan.engine).last().copied();
        for region in regions {
            let suffix = if THREE_AZ.contains(&region) {
                ".3az"
            } else {
                ""
            };
            for version in versions(plan.engine) {
                for flavor in plan.flavors {
                    let (min_disk, max_disk) = disk(flavor);
                    rows.push(json!({
                        "engine": plan.engine, "version": version, "plan": plan.name,
                        "flavor": flavor, "region": region, "network": "private",
                        "category": "operational", "status": "STABLE",
                        "lifecycle": lifecycle(), "startDate": "2025-04-01",
                        "endOfLife": null, "upstreamEndOfLife": null,
                        "default": plan.name == "production" && *flavor == "b3-8"
                            && Some(*version) == newest,
                        "minNodeNumber": plan.nodes, "maxNodeNumber": plan.nodes,
                        "minDiskSize": min_disk, "maxDiskSize": max_disk, "stepDiskSize": 10,
                        "backup": "automatic", "backupRetentionDays": 2,
                        "backups": {"available": true, "retentionDays": 2},
                        "planCode": format!(
                            "databases.{}-{}-{flavor}.hour.consumption{suffix}",
                            plan.engine, plan.name
                        ),
                        "planCodeStorage": format!(
                            "databases.{}-{}-additionnal-storage-gb.hour.consumption{suffix}",
                            plan.engine, plan.name
                        ),
                        "specifications": {
                            "flavor": flavor, "network": "private",
                            "nodes": {"minimum": plan.nodes, "maximum": plan.nodes},
                            "storage": {"minimum": unit(min_disk), "maximum": unit(max_disk), "step": unit(10)},
                        },
                    }));
                }
            }
        }
    }
    Value::Array(rows)
}

/// The answer of `GET /database/capabilities`.
pub fn capabilities() -> Value {
    let mut engines: Vec<&str> = PLANS.iter().map(|p| p.engine).collect();
    engines.dedup();
    let engines: Vec<Value> = engines
        .iter()
        .map(|e| {
            json!({
                "name": e, "description": format!("Managed {e}"), "category": "operational",
                "versions": versions(e), "defaultVersion": versions(e).last(),
                "sslModes": ["require"], "storage": "replicated",
            })
        })
        .collect();
    let mut plan_names: Vec<&str> = PLANS.iter().map(|p| p.name).collect();
    plan_names.sort_unstable();
    plan_names.dedup();
    let plans: Vec<Value> = plan_names
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"name": p, "description": format!("{p} plan"), "order": i,
                   "backupRetention": "P2D", "lifecycle": lifecycle(), "tags": []})
        })
        .collect();
    let flavors: Vec<Value> = B3
        .iter()
        .chain(DB1.iter())
        .enumerate()
        .map(|(i, f)| {
            let (core, memory) = size(f);
            json!({"name": f, "core": core, "memory": memory, "storage": disk(f).0, "order": i,
                   "lifecycle": lifecycle(), "tags": [],
                   "specifications": {"core": core, "memory": unit(memory), "storage": unit(disk(f).0)}})
        })
        .collect();
    let regions: Vec<&str> = THREE_AZ.iter().chain(ONE_AZ.iter()).copied().collect();
    json!({
        "engines": engines, "plans": plans, "flavors": flavors, "regions": regions,
        "disks": ["high-speed", "high-speed-gen2"], "options": [],
    })
}

/// The node flavors of a region (`None`: every region's).
pub fn kube_flavors(region: Option<&str>) -> Value {
    const GEN3: [(&str, &[i64]); 3] = [
        ("b3", &[8, 16, 32, 64, 128, 256]),
        ("c3", &[4, 8, 16, 32, 64, 128, 256]),
        ("r3", &[16, 32, 64, 128, 256, 512]),
    ];
    const GEN2: [(&str, &[i64]); 4] = [
        ("b2", &[7, 15, 30, 60, 120]),
        ("c2", &[7, 15, 30, 60, 120]),
        ("r2", &[15, 30, 60, 120, 240]),
        ("d2", &[2, 4, 8]),
    ];
    let three_az = region.is_some_and(|r| THREE_AZ.contains(&r));
    let families = GEN3.iter().chain(GEN2.iter().filter(|_| !three_az));
    let mut out = Vec::new();
    for (family, sizes) in families {
        for ram in *sizes {
            // vCPUs by family: b (4 GB each), c (2 GB each), r (8 GB each), d (2 GB each).
            let per_cpu = match *family {
                "c3" | "c2" | "d2" => 2,
                "r3" | "r2" => 8,
                _ => 4,
            };
            let category = &family[..1];
            out.push(json!({
                "name": format!("{family}-{ram}"), "category": category, "state": "available",
                "ram": ram, "vCPUs": (ram / per_cpu).max(1), "gpus": 0,
            }));
        }
    }
    Value::Array(out)
}
