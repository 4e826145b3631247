//! Compute Engine's external Application Load Balancer chain: health check, backend service,
//! URL map, target HTTP proxy and global forwarding rule.

use provider_api::component;
use provider_api::kit::config::attr_i64;
use provider_api::kit::schema::{n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, Value};
use serde_json::{Value as Json, json};

use crate::compute::{Resource, collection};
use crate::json::{cfg_str, num, partial, reference, text};
use crate::types::base;

pub const HEALTH_CHECK: &str = "gcp_compute_health_check";
pub const BACKEND_SERVICE: &str = "gcp_compute_backend_service";
pub const URL_MAP: &str = "gcp_compute_url_map";
pub const HTTP_PROXY: &str = "gcp_compute_target_http_proxy";
pub const FORWARDING_RULE: &str = "gcp_compute_global_forwarding_rule";

/// `gcp_compute_health_check`.
pub struct HealthCheck;
collection!(
    HealthCheck = HEALTH_CHECK,
    health_checks,
    HealthCheck,
    "healthChecks",
    global,
    set_health_check,
    patch
);

impl Resource for HealthCheck {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            HEALTH_CHECK,
            "An HTTP health check (global)",
            component::health_check(base())
                .attr(
                    "port",
                    A::optional(
                        n(),
                        "Port probed; none: each endpoint's own port (USE_SERVING_PORT), \
                         what the web pods of a NEG serve and are probed on",
                    ),
                )
                .attr(
                    "timeout",
                    A::optional(n(), "Seconds a probe may take").default(5),
                ),
        )
    }

    fn body(config: &Attrs) -> Json {
        // Without a port, each endpoint is probed on the port it serves: behind a NEG of pods,
        // the web pods' readiness probe (`/health` on their port), as the issue asks.
        let http = match config.get("port").and_then(Value::as_i64) {
            Some(port) => json!({"port": port, "requestPath": cfg_str(config, "path")}),
            None => json!({
                "portSpecification": "USE_SERVING_PORT",
                "requestPath": cfg_str(config, "path"),
            }),
        };
        json!({
            "type": "HTTP",
            "httpHealthCheck": http,
            "checkIntervalSec": attr_i64(config, "interval", 30),
            "timeoutSec": attr_i64(config, "timeout", 5),
            "healthyThreshold": attr_i64(config, "healthy_threshold", 3),
            "unhealthyThreshold": 3,
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![
            ("port", num(&o["httpHealthCheck"]["port"])),
            ("path", text(&o["httpHealthCheck"]["requestPath"])),
            ("interval", num(&o["checkIntervalSec"])),
            ("timeout", num(&o["timeoutSec"])),
            ("healthy_threshold", num(&o["healthyThreshold"])),
        ]
    }
}

/// `gcp_compute_backend_service`.
pub struct BackendService;
collection!(
    BackendService = BACKEND_SERVICE,
    backend_services,
    BackendService,
    "backendServices",
    global,
    set_backend_service,
    patch
);

impl Resource for BackendService {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            BACKEND_SERVICE,
            "A global backend service (external Application Load Balancer)",
            base()
                .attr("health_check", A::required(s(), "The health check"))
                .attr(
                    "session_affinity",
                    A::optional(s(), "NONE, or GENERATED_COOKIE for sticky sessions")
                        .default("NONE"),
                )
                .attr(
                    "timeout_sec",
                    A::optional(n(), "Backend response timeout").default(30),
                ),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({
            "healthChecks": [cfg_str(config, "health_check")],
            "protocol": "HTTP",
            "portName": "http",
            "loadBalancingScheme": "EXTERNAL_MANAGED",
            "sessionAffinity": cfg_str(config, "session_affinity"),
            "timeoutSec": attr_i64(config, "timeout_sec", 30),
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        let hc = o["healthChecks"][0].as_str().map(partial);
        vec![
            ("health_check", hc.map_or(Value::Null, Value::from)),
            ("session_affinity", text(&o["sessionAffinity"])),
            ("timeout_sec", num(&o["timeoutSec"])),
        ]
    }
}

/// `gcp_compute_url_map`.
pub struct UrlMap;
collection!(
    UrlMap = URL_MAP,
    url_maps,
    UrlMap,
    "urlMaps",
    global,
    set_url_map,
    patch
);

impl Resource for UrlMap {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            URL_MAP,
            "A URL map sending every request to one backend service",
            base().attr("default_service", A::required(s(), "The backend service")),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({"defaultService": cfg_str(config, "default_service")})
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![("default_service", reference(&o["defaultService"]))]
    }
}

/// `gcp_compute_target_http_proxy`.
pub struct TargetHttpProxy;
collection!(
    TargetHttpProxy = HTTP_PROXY,
    http_proxies,
    TargetHttpProxy,
    "targetHttpProxies",
    global,
    set_target_http_proxy,
    patch
);

impl Resource for TargetHttpProxy {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            HTTP_PROXY,
            "A target HTTP proxy",
            base().attr("url_map", A::required(s(), "The URL map").force_new()),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({"urlMap": cfg_str(config, "url_map")})
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![("url_map", reference(&o["urlMap"]))]
    }
}

/// `gcp_compute_global_forwarding_rule`.
pub struct ForwardingRule;
collection!(
    ForwardingRule = FORWARDING_RULE,
    forwarding_rules,
    ForwardingRule,
    "forwardingRules",
    global,
    set_forwarding_rule,
    patch
);

impl Resource for ForwardingRule {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            FORWARDING_RULE,
            "A global forwarding rule: the load balancer's public address and port",
            base()
                .attr("target", A::required(s(), "The target proxy").force_new())
                .attr("port", A::required(n(), "Port").force_new())
                .attr("ip_address", A::computed(s(), "Public IPv4 address")),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({
            "target": cfg_str(config, "target"),
            "portRange": attr_i64(config, "port", 80).to_string(),
            "IPProtocol": "TCP",
            "loadBalancingScheme": "EXTERNAL_MANAGED",
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        let range = o["portRange"].as_str().unwrap_or_default();
        vec![
            ("target", reference(&o["target"])),
            (
                "port",
                range
                    .split('-')
                    .next()
                    .and_then(|p| p.parse::<f64>().ok())
                    .map_or(Value::Null, Value::from),
            ),
            ("ip_address", text(&o["IPAddress"])),
        ]
    }
}
