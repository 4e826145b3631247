//! The generated `superset_config.py`.
//!
//! Key names and defaults come from Superset's own `superset/config.py` (apache/superset) and
//! from Flask-Caching's `RedisClusterCache.factory` (`CACHE_REDIS_CLUSTER`,
//! `CACHE_REDIS_PASSWORD`, extra `CACHE_OPTIONS` passed to `redis.RedisCluster`). Secrets are
//! not in the text: the pods get them from the Secret as environment variables
//! (`SUPERSET_SECRET_KEY`, `DATABASE_PASSWORD`, `BROKER_REDIS_PASSWORD`, `CACHE_REDIS_PASSWORD`),
//! so the text can be shown in a plan and compared in a diff.

use std::fmt::Write as _;

use provider_api::Value;

use super::values::Gather;
use super::{CELERY_QUEUE, Superset, WEB, WEB_PORT};

/// Environment variables the config reads, set from the Secret in every pod.
pub const ENV_SECRET_KEY: &str = "SUPERSET_SECRET_KEY";
pub const ENV_DB_PASSWORD: &str = "DATABASE_PASSWORD";
pub const ENV_BROKER_PASSWORD: &str = "BROKER_REDIS_PASSWORD";
pub const ENV_CACHE_PASSWORD: &str = "CACHE_REDIS_PASSWORD";

/// The broker Redis databases: Celery's queue (database 0, where the KEDA trigger looks),
/// Celery's results, the async-query channel, SQL Lab's results.
const DB_CELERY: i64 = 0;
const DB_CELERY_RESULTS: i64 = 1;
const DB_ASYNC: i64 = 2;
const DB_SQLLAB_RESULTS: i64 = 3;

/// A Python string literal (double-quoted, escaped) for any text.
fn py(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The texts the config is made from, gathered once.
struct Texts {
    db_host: String,
    db_port: String,
    db_user: String,
    db_name: String,
    cache_cluster: String,
    broker_host: String,
    broker_port: String,
    ttl: String,
    timeout: String,
    namespace: String,
}

/// The text of `superset_config.py`: `Unknown` when any endpoint or setting it is made from is
/// unknown, sensitive only if one of them was (none of the secrets is in it).
pub fn config_py(s: &Superset) -> Value {
    let mut g = Gather::default();
    let db = s.database.pooler.as_ref().unwrap_or(&s.database.endpoint);
    let texts = Texts {
        db_host: g.text(&db.host),
        db_port: g.text(&db.port),
        db_user: g.text(&s.database.user),
        db_name: g.text(&s.database.name),
        cache_cluster: format!(
            "{}:{}",
            g.text(&s.cache.endpoint.host),
            g.text(&s.cache.endpoint.port)
        ),
        broker_host: g.text(&s.broker.endpoint.host),
        broker_port: g.text(&s.broker.endpoint.port),
        ttl: g.text(&s.cache_ttl),
        timeout: g.text(&s.gunicorn_timeout),
        namespace: g.text(&s.namespace),
    };
    let mut t = String::new();
    t.push_str(HEADER);
    database(&mut t, &texts, s.database.pooler.is_some());
    caches(&mut t, &texts, s.cache.tls);
    broker(&mut t, &texts, s.broker.tls);
    g.finish(t)
}

fn database(t: &mut String, x: &Texts, pooler: bool) {
    if pooler {
        t.push_str("from sqlalchemy.pool import NullPool\n");
    }
    let _ = write!(
        t,
        r#"
SECRET_KEY = os.environ["{ENV_SECRET_KEY}"]

# Metadata database. The password is URL-quoted: it may hold any character.
SQLALCHEMY_DATABASE_URI = (
    "postgresql+psycopg2://"
    + quote({user}, safe="")
    + ":"
    + quote(os.environ["{ENV_DB_PASSWORD}"], safe="")
    + "@"
    + {host}
    + ":"
    + {port}
    + "/"
    + quote({name}, safe="")
)
"#,
        user = py(&x.db_user),
        host = py(&x.db_host),
        port = py(&x.db_port),
        name = py(&x.db_name),
    );
    t.push_str(if pooler { POOL_NULL } else { POOL_BOUNDED });
}

fn caches(t: &mut String, x: &Texts, tls: bool) {
    let _ = write!(
        t,
        r#"
# Gunicorn's timeout (GUNICORN_TIMEOUT) must not exceed this one (superset/config.py).
SUPERSET_WEBSERVER_TIMEOUT = int({timeout})
# Behind the cloud's load balancer: trust its X-Forwarded-* headers.
ENABLE_PROXY_FIX = True
# Static assets have content-hashed names (/static/assets/*.<hash>.js), so a year of caching in
# browsers and in the CDN is safe; a new version brings new names.
SEND_FILE_MAX_AGE_DEFAULT = int(timedelta(days=365).total_seconds())

# Caches on the Redis Cluster (Flask-Caching's RedisClusterCache).
_CACHE_TTL = int({ttl})
CACHE_DEFAULT_TIMEOUT = _CACHE_TTL
_CACHE_CLUSTER = {cluster}


def _cluster_cache(prefix, timeout=_CACHE_TTL, **extra):
    config = {{
        "CACHE_TYPE": "RedisClusterCache",
        "CACHE_REDIS_CLUSTER": _CACHE_CLUSTER,
        "CACHE_REDIS_PASSWORD": os.environ.get("{ENV_CACHE_PASSWORD}", ""),
        "CACHE_DEFAULT_TIMEOUT": timeout,
        "CACHE_KEY_PREFIX": prefix,
        "CACHE_OPTIONS": {{"ssl": {cache_tls}}},
    }}
    config.update(extra)
    return config


CACHE_CONFIG = _cluster_cache("superset_")
DATA_CACHE_CONFIG = _cluster_cache("superset_data_")
# Filter and explore states are users' state, not results that can be computed again: they keep
# Superset's own lifetimes (90 and 7 days, refreshed when read) instead of the cache TTL.
FILTER_STATE_CACHE_CONFIG = _cluster_cache(
    "superset_filter_state_",
    int(timedelta(days=90).total_seconds()),
    REFRESH_TIMEOUT_ON_RETRIEVAL=True,
)
EXPLORE_FORM_DATA_CACHE_CONFIG = _cluster_cache(
    "superset_explore_form_",
    int(timedelta(days=7).total_seconds()),
    REFRESH_TIMEOUT_ON_RETRIEVAL=True,
)
"#,
        timeout = py(&x.timeout),
        ttl = py(&x.ttl),
        cluster = py(&x.cache_cluster),
        cache_tls = py_bool(tls),
    );
}

fn broker(t: &mut String, x: &Texts, tls: bool) {
    let scheme = if tls { "rediss" } else { "redis" };
    let tls_query = if tls { "?ssl_cert_reqs=required" } else { "" };
    let _ = write!(
        t,
        r#"
# Celery and the async-query channel on the separate, non-cluster Redis: neither works on a
# Redis Cluster.
_BROKER_HOST = {broker_host}
_BROKER_PORT = int({broker_port})
_BROKER_PASSWORD = os.environ.get("{ENV_BROKER_PASSWORD}", "")
_BROKER_AUTH = ":" + quote(_BROKER_PASSWORD, safe="") + "@" if _BROKER_PASSWORD else ""


def _broker_url(db):
    return "{scheme}://" + _BROKER_AUTH + _BROKER_HOST + ":" + str(_BROKER_PORT) + "/" + str(db) + "{tls_query}"


def _broker_cache(db, prefix):
    return {{
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_HOST": _BROKER_HOST,
        "CACHE_REDIS_PORT": _BROKER_PORT,
        "CACHE_REDIS_PASSWORD": _BROKER_PASSWORD,
        "CACHE_REDIS_DB": db,
        "CACHE_REDIS_SSL": {broker_tls},
        "CACHE_KEY_PREFIX": prefix,
        "CACHE_DEFAULT_TIMEOUT": 300,
    }}


class CeleryConfig:
    broker_url = _broker_url({DB_CELERY})
    result_backend = _broker_url({DB_CELERY_RESULTS})
    task_default_queue = {queue}
    imports = (
        "superset.sql_lab",
        "superset.tasks.scheduler",
        "superset.tasks.thumbnails",
        "superset.tasks.cache",
    )
    worker_prefetch_multiplier = 1
    task_acks_late = False
    task_annotations = {{
        "sql_lab.get_sql_results": {{"rate_limit": "100/s"}},
    }}
    beat_schedule = {{
        "reports.scheduler": {{
            "task": "reports.scheduler",
            "schedule": crontab(minute="*", hour="*"),
        }},
        "reports.prune_log": {{
            "task": "reports.prune_log",
            "schedule": crontab(minute=0, hour=0),
        }},
        # Nightly warm-up of the most viewed dashboards' charts (superset/tasks/cache.py).
        "cache-warmup-nightly": {{
            "task": "cache-warmup",
            "schedule": crontab(minute=0, hour=2),
            "kwargs": {{"strategy_name": "top_n_dashboards", "top_n": 20, "since": "7 days ago"}},
        }},
    }}


CELERY_CONFIG = CeleryConfig
# The warm-up task fetches charts from the web Service.
WEBDRIVER_BASEURL = {webdriver}

# SQL Lab's asynchronous results.
RESULTS_BACKEND = RedisCache(
    host=_BROKER_HOST,
    port=_BROKER_PORT,
    password=_BROKER_PASSWORD or None,
    db={DB_SQLLAB_RESULTS},
    ssl={broker_tls},
    key_prefix="superset_results",
    default_timeout=_CACHE_TTL,
)

# Asynchronous chart queries, polled by the browser. The channel is on the broker Redis under
# each Superset version's key: GLOBAL_ASYNC_QUERIES_REDIS_CONFIG (4.0),
# GLOBAL_ASYNC_QUERIES_CACHE_BACKEND (4.1 and later), DISTRIBUTED_COORDINATION_CONFIG (later).
FEATURE_FLAGS = {{"GLOBAL_ASYNC_QUERIES": True}}
GLOBAL_ASYNC_QUERIES_TRANSPORT = "polling"
# At least 32 bytes, the same in every pod, and not SECRET_KEY itself.
GLOBAL_ASYNC_QUERIES_JWT_SECRET = hashlib.sha256(
    ("global-async-queries:" + SECRET_KEY).encode()
).hexdigest()
GLOBAL_ASYNC_QUERIES_REDIS_CONFIG = {{
    "host": _BROKER_HOST,
    "port": _BROKER_PORT,
    "password": _BROKER_PASSWORD,
    "db": {DB_ASYNC},
    "ssl": {broker_tls},
}}
GLOBAL_ASYNC_QUERIES_CACHE_BACKEND = _broker_cache({DB_ASYNC}, "superset_async_")
DISTRIBUTED_COORDINATION_CONFIG = _broker_cache({DB_ASYNC}, "superset_coordination_")
"#,
        broker_host = py(&x.broker_host),
        broker_port = py(&x.broker_port),
        broker_tls = py_bool(tls),
        queue = py(CELERY_QUEUE),
        webdriver = py(&format!(
            "http://{WEB}.{}.svc.cluster.local:{WEB_PORT}/",
            x.namespace
        )),
    );
}

const HEADER: &str = r#"# superset_config.py, generated by ss for the `superset` component. Do not edit by hand:
# ss applies it again. Superset reads it after its own superset/config.py.
import hashlib
import os
from datetime import timedelta
from urllib.parse import quote

from celery.schedules import crontab
from flask_caching.backends.rediscache import RedisCache
"#;

/// Through PgBouncer: the pooler pools, a second pool in every process would only hold server
/// connections idle (SQLAlchemy's advice for external poolers).
const POOL_NULL: &str = r#"# Through the pooler (PgBouncer), which does the pooling.
SQLALCHEMY_ENGINE_OPTIONS = {"poolclass": NullPool}
"#;

/// Straight to PostgreSQL: a bounded pool per gunicorn/Celery process (at most 10 connections),
/// checked before use so a failover does not hand out dead connections.
const POOL_BOUNDED: &str = r#"# Straight to the database: a bounded pool in each process.
SQLALCHEMY_ENGINE_OPTIONS = {
    "pool_size": 5,
    "max_overflow": 5,
    "pool_timeout": 30,
    "pool_recycle": 1800,
    "pool_pre_ping": True,
}
"#;

#[cfg(test)]
mod tests {
    use super::py;

    #[test]
    fn python_literals_escape() {
        assert_eq!(py("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(py("\u{1}"), r#""\x01""#);
    }
}
