//! The fields the replay leaves out of its shape comparison, each with why.
//!
//! The replay compares field *paths and JSON types*, never values, so volatile values (ids,
//! etags, fingerprints, timestamps, self links' hosts) need no entry here: their presence and
//! type are the contract. An entry is needed only where the *presence* of a field differs
//! between recordings of the same call — because the real API varies run to run, or because
//! Google added or dropped the field between two recordings — so that no one simulator could
//! reproduce every recording. Each entry says which way the difference may go ([`Leeway`]).

/// Which way a field's presence may differ from the recording without being a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leeway {
    /// Either way, and its type too: the real API itself answers it on some runs and not on
    /// others.
    Either,
    /// The simulator may answer it where the recording lacks it: the field appeared after that
    /// recording was made, and the simulator answers as the newest recordings do. A recording
    /// that has it while the simulator lacks it is still a mismatch.
    Added,
    /// The simulator may leave it out where the recording has it: newer recordings of the same
    /// call no longer show it. A simulator that invents it is still a mismatch.
    Dropped,
}

/// One ignored field path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    /// A path as the shape comparison spells it (`a.b`, `a[].b`); it also covers everything
    /// below it. A leading `*.` matches the rest of the path at any depth (`*.b` covers `b`,
    /// `a.b` and `a[].b.c`).
    pub path: &'static str,
    pub leeway: Leeway,
    /// Why the field's presence varies, and which recordings show it.
    pub why: &'static str,
}

/// Cloud SQL fields first seen in the 2025-08 recording (`sqlinstance-postgres-minimal-direct`):
/// the 2024 recordings predate them.
const SQL_2025: &str = "Cloud SQL added it between the 2024 recordings and the 2025-08 one \
    (sqlinstance-postgres-minimal-direct), which has it; the simulator answers as the newest";

/// Defaults GKE added between the 2025-08 recording (containercluster-minimal, GKE 1.33) and
/// the 2026-04 ones (containercluster, containernodepool, GKE 1.35), which all show them.
const GKE_2026: &str = "a default GKE added between the 2025-08 recording \
    (containercluster-minimal, GKE 1.33) and the 2026-04 ones (GKE 1.35), which have it; the \
    simulator answers as GKE does in 2026";

/// The ignore list (one place, see the module documentation). Values are never compared, so
/// ids, etags, fingerprints, timestamps and hosts need no entry; these are the fields whose
/// *presence* differs between recordings of the same call, and which way it may differ.
pub const IGNORED: &[Ignored] = &[
    Ignored {
        path: "ipAllocationPolicy.defaultPodIpv4RangeUtilization",
        leeway: Leeway::Either,
        why: "GKE samples pod range use in the background: containernodepool has it at the \
              first read, containercluster only from its fifth read on, \
              containercluster-minimal never",
    },
    Ignored {
        path: "nodePools[].networkConfig.podIpv4RangeUtilization",
        leeway: Leeway::Either,
        why: "sampled with defaultPodIpv4RangeUtilization (see there)",
    },
    Ignored {
        path: "addonsConfig.dnsCacheConfig",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "autoscaling.autoprovisioningNodePoolDefaults",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "controlPlaneEgress",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "controlPlaneEndpointsConfig.dnsEndpointConfig.enableK8sCertsViaDns",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "controlPlaneEndpointsConfig.dnsEndpointConfig.enableK8sTokensViaDns",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "ipAllocationPolicy.networkTierConfig",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "nodePools[].networkConfig.networkTierConfig",
        leeway: Leeway::Added,
        why: GKE_2026,
    },
    Ignored {
        path: "includeReplicasForMajorVersionUpgrade",
        leeway: Leeway::Added,
        why: SQL_2025,
    },
    Ignored {
        path: "settings.backupConfiguration.backupTier",
        leeway: Leeway::Added,
        why: SQL_2025,
    },
    Ignored {
        path: "settings.replicationLagMaxSeconds",
        leeway: Leeway::Added,
        why: SQL_2025,
    },
    Ignored {
        path: "upgradableDatabaseVersions",
        leeway: Leeway::Added,
        why: "lists the newer majors an instance may move to, so it is absent when none \
              existed yet: the 2024-08 PostgreSQL recordings predate PostgreSQL 17 on Cloud \
              SQL, the simulator offers up to 17",
    },
    Ignored {
        path: "geminiConfig.activeQueryEnabled",
        leeway: Leeway::Added,
        why: "absent only from the 2024-10 recording (sqlinstance-replica-direct); the \
              2025-08 one has it",
    },
    Ignored {
        path: "satisfiesPzi",
        leeway: Leeway::Added,
        why: "rolled out unevenly: absent from the 2024-10 Cloud SQL recording although the \
              2024-08 and 2025-08 ones have it",
    },
    Ignored {
        path: "response.satisfiesPzi",
        leeway: Leeway::Added,
        why: "absent from one Redis create operation's response in the 2026-06 recording \
              (replicationrediscluster #18) while every GET of the same cluster has it",
    },
    Ignored {
        path: "items[].passwordPolicy",
        leeway: Leeway::Dropped,
        why: "only the 2024-08 Cloud SQL recording (sqluser) shows an empty passwordPolicy on \
              listed users; the 2024-10 and 2025-08 recordings of users.list do not",
    },
];

/// Whether the recording may have `path` where the simulator does not.
pub fn excuses_missing(list: &[Ignored], path: &str) -> bool {
    list.iter()
        .any(|i| matches!(i.leeway, Leeway::Either | Leeway::Dropped) && covers(i.path, path))
}

/// Whether the simulator may have `path` where the recording does not.
pub fn excuses_extra(list: &[Ignored], path: &str) -> bool {
    list.iter()
        .any(|i| matches!(i.leeway, Leeway::Either | Leeway::Added) && covers(i.path, path))
}

/// Whether `path`'s type is left uncompared: only for fields whose presence varies either way.
pub fn is_ignored(list: &[Ignored], path: &str) -> bool {
    list.iter()
        .any(|i| i.leeway == Leeway::Either && covers(i.path, path))
}

/// Whether the pattern `pattern` covers `path` (itself or a descendant).
pub fn covers(pattern: &str, path: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(tail) => {
            // Any start that is a segment boundary: the whole path or after `.` / `[].`.
            std::iter::once(0)
                .chain(path.match_indices('.').map(|(i, _)| i + 1))
                .any(|start| {
                    path.get(start..)
                        .is_some_and(|rest| is_at_or_below(tail, rest))
                })
        }
        None => is_at_or_below(pattern, path),
    }
}

/// `path` equals `ancestor` or lies below it (`ancestor.x`, `ancestor[]…`).
pub fn is_at_or_below(ancestor: &str, path: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}
