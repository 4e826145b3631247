"""moto's server (`moto_server`), with two ElastiCache gaps of moto 5.2 filled in.

scripts/moto-start runs this instead of `moto_server`; the arguments are moto_server's.

moto 5.2 (up to 5.2.5, the newest on PyPI when this was written) does not implement
`DeleteCacheSubnetGroup` (it answers 500 "not implemented"), and keeps a deleted replication
group in the `deleting` status forever, where AWS removes it once the delete is done. Both
would leave every `redis_cluster` test with objects that can never be removed. The additions
below follow the ElastiCache API reference: deleting a subnet group that does not exist is
`CacheSubnetGroupNotFoundFault`, one still used by a replication group is
`CacheSubnetGroupInUse` (400), and a replication group being deleted disappears from
describes a moment (DELETE_AFTER seconds) after its delete call.

It also answers the three calls the AWS provider's plan-time offer checks make, with
per-region offers: moto 5.2 has no `DescribeClusterVersions` (EKS) nor
`DescribeReservedCacheNodesOfferings` (ElastiCache), and its
`DescribeOrderableDBInstanceOptions` (RDS) knows only Aurora PostgreSQL and Neptune (an empty
list for `postgres`). The "Offers" section below has the shapes (from the EKS, RDS and
ElastiCache API references) and says where its data comes from.

Nothing else of moto changes, and each addition steps aside as soon as moto implements the
operation itself.
"""

import datetime
import sys
import time

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache import models as cache_models
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.eks import urls as eks_urls
from moto.eks.responses import EKSResponse
from moto.elasticache.responses import ElastiCacheResponse
from moto.rds.responses import RDSResponse
from moto.server import main

# Seconds a deleted replication group stays visible as `deleting`.
DELETE_AFTER = 1.0


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str):
        super().__init__(f"Cache subnet group {name} is currently in use by a replication group.")


def _forget_deleted(backend) -> None:
    """Removes replication groups whose delete began more than DELETE_AFTER seconds ago."""
    now = time.monotonic()
    for group_id, group in list(backend.replication_groups.items()):
        started = getattr(group, "_ss_deleting_since", None)
        if group.status == "deleting" and started is not None and now - started >= DELETE_AFTER:
            del backend.replication_groups[group_id]


def _delete_cache_subnet_group(self):
    name = self._get_param("CacheSubnetGroupName")
    backend = self.elasticache_backend
    _forget_deleted(backend)
    if name not in backend.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(name)
    for group in backend.replication_groups.values():
        if getattr(group, "cache_subnet_group_name", None) == name and group.status != "deleting":
            raise CacheSubnetGroupInUse(name)
    del backend.cache_subnet_groups[name]
    return EmptyResult()


if not hasattr(ElastiCacheResponse, "delete_cache_subnet_group"):
    ElastiCacheResponse.delete_cache_subnet_group = _delete_cache_subnet_group

    _moto_delete = cache_models.ElastiCacheBackend.delete_replication_group

    def _delete_replication_group(self, replication_group_id, retain_primary_cluster):
        group = _moto_delete(self, replication_group_id, retain_primary_cluster)
        if getattr(group, "_ss_deleting_since", None) is None:
            group._ss_deleting_since = time.monotonic()
        return group

    _moto_describe = cache_models.ElastiCacheBackend.describe_replication_groups

    def _describe_replication_groups(self, *args, **kwargs):
        _forget_deleted(self)
        return _moto_describe(self, *args, **kwargs)

    cache_models.ElastiCacheBackend.delete_replication_group = _delete_replication_group
    cache_models.ElastiCacheBackend.describe_replication_groups = _describe_replication_groups


# ---------------------------------------------------------------------------------------------
# Offers.
#
# Node types and instance classes per region are those of AWS's public price list files, as
# vendored by yeo/ec2.shop: ElastiCache Redis on-demand node types from
# data/elasticache/elasticache.json (commit 73696e38, price list of 2025-03-14), RDS PostgreSQL
# on-demand instance classes from data/rds/rds-postgresql-ondemand.json (commit 44337592,
# 2024-09-28). Three regions are described (eu-west-3, the example's; eu-west-1; us-east-1,
# the tests'); any other region answers like us-east-1. Note eu-west-3: no cache.r7g, no
# db.r7g / db.m7g.
#
# EKS versions are the Kubernetes release calendar of the EKS user guide as of SNAPSHOT (dates
# as endoflife.date/amazon-eks lists them): the answers are what AWS said that day, not
# computed from today's date, so tests do not change meaning as time passes.

SNAPSHOT = "2026-12-07"


def _types(prefix: str, families: dict) -> list:
    return [f"{prefix}.{family}.{size}" for family, sizes in families.items() for size in sizes.split()]


CACHE_NODE_TYPES = {
    "eu-west-3": {
        "m5": "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge",
        "m6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
        "m7g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
        "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
        "r5": "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge",
        "r6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
        "r6gd": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
        "t2": "micro small medium",
        "t3": "micro small medium",
        "t4g": "micro small medium",
    },
}
# eu-west-1 and us-east-1 list the same Redis node types.
CACHE_NODE_TYPES["us-east-1"] = CACHE_NODE_TYPES["eu-west-1"] = {
    "c1": "xlarge",
    "c7gn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m1": "small medium large xlarge",
    "m2": "xlarge 2xlarge 4xlarge",
    "m3": "medium large xlarge 2xlarge",
    "m4": "large xlarge 2xlarge 4xlarge 10xlarge",
    "m5": "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge",
    "m6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m7g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "r5": "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge",
    "r6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r6gd": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r7g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "t1": "micro",
    "t2": "micro small medium",
    "t3": "micro small medium",
    "t4g": "micro small medium",
}

_RDS_COMMON = {
    "c6gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m5": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5d": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m6gd": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "r5": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5d": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r6g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r6gd": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "t2": "micro small medium large xlarge 2xlarge",
    "t3": "micro small medium large xlarge 2xlarge",
    "t4g": "micro small medium large xlarge 2xlarge",
}
_RDS_LARGE_REGIONS = {
    "m1": "small medium large xlarge",
    "m2": "xlarge 2xlarge 4xlarge",
    "m3": "medium large xlarge 2xlarge",
    "m4": "large xlarge 2xlarge 4xlarge 10xlarge 16xlarge",
    "m6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m6idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m7g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "r6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r6idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r7g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "t1": "micro",
    "x2g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "x2iedn": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge",
}
RDS_POSTGRES_CLASSES = {
    "eu-west-3": _RDS_COMMON,
    "eu-west-1": {**_RDS_COMMON, **_RDS_LARGE_REGIONS, "x2idn": "16xlarge 24xlarge 32xlarge"},
    "us-east-1": {**_RDS_COMMON, **_RDS_LARGE_REGIONS, "r5b": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"},
}
# RDS for PostgreSQL minor versions (each class is offered with each of them here).
RDS_POSTGRES_VERSIONS = ["14.15", "14.17", "15.10", "15.12", "16.6", "16.8", "17.2", "17.4"]
# One row per storage type, as RDS answers.
RDS_STORAGE_TYPES = ["gp2", "gp3", "io1"]


def _day(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


# (version, release, end of standard support, end of extended support), newest first.
EKS_CALENDAR = [
    ("1.35", "2026-01-28", "2027-03-27", "2028-03-27"),
    ("1.34", "2025-10-06", "2026-12-02", "2027-12-02"),
    ("1.33", "2025-05-28", "2026-07-29", "2027-07-29"),
    ("1.32", "2025-01-25", "2026-03-23", "2027-03-23"),
    ("1.31", "2024-09-26", "2025-11-26", "2026-11-26"),
    ("1.30", "2024-05-23", "2025-07-23", "2026-07-23"),
    ("1.29", "2024-01-23", "2025-03-23", "2026-03-23"),
]


def _eks_versions() -> list:
    today = SNAPSHOT
    out = []
    for version, release, standard_end, extended_end in EKS_CALENDAR:
        if today < standard_end:
            status, old_status = "STANDARD_SUPPORT", "standard-support"
        elif today < extended_end:
            status, old_status = "EXTENDED_SUPPORT", "extended-support"
        else:
            status, old_status = "UNSUPPORTED", "unsupported"
        out.append(
            {
                "clusterVersion": version,
                "clusterType": "eks",
                "defaultPlatformVersion": "eks.1",
                "defaultVersion": version == EKS_CALENDAR[0][0],
                "releaseDate": _day(release),
                "endOfStandardSupportDate": _day(standard_end),
                "endOfExtendedSupportDate": _day(extended_end),
                "status": old_status,
                "versionStatus": status,
                "kubernetesPatchVersion": f"{version}.0",
            }
        )
    return out


def _describe_cluster_versions(self):
    """EKS DescribeClusterVersions (GET /cluster-versions): without `includeAll`, only the
    versions that can be created (standard or extended support)."""
    query = self.querystring
    first = lambda k: (query.get(k) or [None])[0]  # noqa: E731
    versions = _eks_versions()
    if first("includeAll") != "true":
        versions = [v for v in versions if v["versionStatus"] != "UNSUPPORTED"]
    wanted = query.get("clusterVersions")
    if wanted:
        versions = [v for v in versions if v["clusterVersion"] in wanted]
    if first("defaultOnly") == "true":
        versions = [v for v in versions if v["defaultVersion"]]
    if first("versionStatus"):
        versions = [v for v in versions if v["versionStatus"] == first("versionStatus")]
    if first("status"):
        versions = [v for v in versions if v["status"] == first("status")]
    return ActionResult({"clusterVersions": versions})


def _page(rows: list, marker, max_records, default: int, low: int, high: int):
    """One page of `rows` after `marker` (an offset, as text), and the next marker."""
    size = min(max(int(max_records or default), low), high)
    start = int(marker or 0)
    end = start + size
    return rows[start:end], (str(end) if end < len(rows) else None)


def _describe_orderable_db_instance_options(self):
    """RDS DescribeOrderableDBInstanceOptions for `postgres`; other engines go to moto."""
    if self._get_param("Engine") != "postgres":
        return _moto_orderable(self)
    version = self._get_param("EngineVersion")
    db_class = self._get_param("DBInstanceClass")
    families = RDS_POSTGRES_CLASSES.get(self.region, RDS_POSTGRES_CLASSES["us-east-1"])
    zones = [{"Name": f"{self.region}{z}"} for z in "abc"]
    rows = []
    for v in RDS_POSTGRES_VERSIONS:
        if version and v != version:
            continue
        for c in _types("db", families):
            if db_class and c != db_class:
                continue
            for storage in RDS_STORAGE_TYPES:
                rows.append(
                    {
                        "Engine": "postgres",
                        "EngineVersion": v,
                        "DBInstanceClass": c,
                        "LicenseModel": "postgresql-license",
                        "AvailabilityZones": zones,
                        "MultiAZCapable": True,
                        "ReadReplicaCapable": True,
                        "Vpc": True,
                        "SupportsStorageEncryption": True,
                        "StorageType": storage,
                        "SupportsIops": storage != "gp2",
                        "SupportsPerformanceInsights": True,
                        "MinStorageSize": 100 if storage == "io1" else 20,
                        "MaxStorageSize": 65536,
                        "SupportedEngineModes": ["provisioned"],
                        "SupportsStorageAutoscaling": True,
                    }
                )
    page, marker = _page(rows, self._get_param("Marker"), self._get_param("MaxRecords"), 100, 20, 1000)
    result = {"OrderableDBInstanceOptions": page}
    if marker:
        result["Marker"] = marker
    return ActionResult(result)


# Reserved node offerings: per node type, 1 and 3 years, three payment options, for each
# engine. Prices are not modelled (0).
_DURATIONS = {"1": 31536000, "3": 94608000}
_OFFERING_TYPES = ["No Upfront", "Partial Upfront", "All Upfront"]
_PRODUCTS = ["redis", "valkey", "memcached"]


def _describe_reserved_cache_nodes_offerings(self):
    """ElastiCache DescribeReservedCacheNodesOfferings."""
    node_type = self._get_param("CacheNodeType")
    product = self._get_param("ProductDescription")
    offering_type = self._get_param("OfferingType")
    offering_id = self._get_param("ReservedCacheNodesOfferingId")
    duration = self._get_param("Duration")
    duration = _DURATIONS.get(str(duration), duration)
    families = CACHE_NODE_TYPES.get(self.region, CACHE_NODE_TYPES["us-east-1"])
    rows = []
    for t in _types("cache", families):
        for years, seconds in _DURATIONS.items():
            for kind in _OFFERING_TYPES:
                for p in _PRODUCTS:
                    oid = f"ss-{t}-{p}-{years}y-{kind.split()[0].lower()}"
                    if (
                        (node_type and t != node_type)
                        or (product and p != product)
                        or (offering_type and kind != offering_type)
                        or (offering_id and oid != offering_id)
                        or (duration and int(duration) != seconds)
                    ):
                        continue
                    rows.append(
                        {
                            "ReservedCacheNodesOfferingId": oid,
                            "CacheNodeType": t,
                            "Duration": seconds,
                            "FixedPrice": 0.0,
                            "UsagePrice": 0.0,
                            "ProductDescription": p,
                            "OfferingType": kind,
                            "RecurringCharges": [],
                        }
                    )
    page, marker = _page(rows, self._get_param("Marker"), self._get_param("MaxRecords"), 100, 20, 100)
    result = {"ReservedCacheNodesOfferings": page}
    if marker:
        result["Marker"] = marker
    return ActionResult(result)


if not hasattr(EKSResponse, "describe_cluster_versions"):
    EKSResponse.describe_cluster_versions = _describe_cluster_versions
    eks_urls.url_paths["{0}/cluster-versions$"] = eks_urls.response.dispatch

_moto_orderable = RDSResponse.describe_orderable_db_instance_options
RDSResponse.describe_orderable_db_instance_options = _describe_orderable_db_instance_options

if not hasattr(ElastiCacheResponse, "describe_reserved_cache_nodes_offerings"):
    ElastiCacheResponse.describe_reserved_cache_nodes_offerings = _describe_reserved_cache_nodes_offerings


if __name__ == "__main__":
    main(sys.argv[1:])
