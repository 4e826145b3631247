"""moto's server (`moto_server`), with two ElastiCache gaps of moto 5.2 filled in.

scripts/moto-start runs this instead of `moto_server`; the arguments are moto_server's.

moto 5.2 (up to 5.2.5, the newest on PyPI when this was written) does not implement
`DeleteCacheSubnetGroup` (it answers 500 "not implemented"), and keeps a deleted replication
group in the `deleting` status forever, where AWS removes it once the delete is done. Both
would leave every `redis_cluster` test with objects that can never be removed. The additions
below follow the ElastiCache API reference: deleting a subnet group that does not exist is
`CacheSubnetGroupNotFoundFault`, one still used by a replication group is
`CacheSubnetGroupInUse` (400), and a replication group being deleted disappears from
describes a moment (DELETE_AFTER seconds) after its delete call. Nothing else of moto changes,
and the additions step aside as soon as moto implements the operation itself.
"""

import sys
import time

from moto.core.responses import EmptyResult
from moto.elasticache import models as cache_models
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.responses import ElastiCacheResponse
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


if __name__ == "__main__":
    main(sys.argv[1:])
