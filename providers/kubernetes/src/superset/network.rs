//! The web Service and what each cloud's load balancer needs to reach the web pods.
//!
//! - AWS: a `TargetGroupBinding` (elbv2.k8s.aws/v1beta1, AWS Load Balancer Controller:
//!   `spec.serviceRef {name, port}`, `spec.targetGroupARN`, `spec.targetType: ip`) registers the
//!   pod addresses of the Service in the stack's `ip` target group.
//! - GCP: the annotation `cloud.google.com/neg: {"exposed_ports": {"8088": {"name": ...}}}` makes
//!   the GKE NEG controller create a standalone zonal NEG of that name per zone, which the
//!   stack's backend service uses as its backend.
//! - OVH: a NodePort Service on a fixed port, the Octavia pool's members being the nodes.

use provider_api::Value;

use super::values::{concat, list, map, n, s};
use super::workloads::{manifest, metadata, selector};
use super::{LoadBalancer, Superset, WEB, WEB_PORT};

/// The web Service: no session affinity (any pod serves any request: the session is a signed
/// cookie and `SECRET_KEY` is the same everywhere).
pub fn service(sup: &Superset) -> Value {
    let mut port = vec![
        ("name", s("http")),
        ("port", n(WEB_PORT)),
        ("targetPort", s("http")),
        ("protocol", s("TCP")),
    ];
    let mut meta = metadata(sup, s(WEB), "web");
    let service_type = match &sup.load_balancer {
        LoadBalancer::OvhNodePort { node_port } => {
            port.push(("nodePort", node_port.clone()));
            "NodePort"
        }
        LoadBalancer::GcpNeg { name } => {
            let annotation = concat(&[
                &s(&format!(
                    "{{\"exposed_ports\":{{\"{WEB_PORT}\":{{\"name\":\""
                )),
                name,
                &s("\"}}}"),
            ]);
            if let Value::Map(fields) = &mut meta {
                fields.insert(
                    "annotations".into(),
                    map([("cloud.google.com/neg", annotation)]),
                );
            }
            "ClusterIP"
        }
        LoadBalancer::AwsTargetGroup { .. } | LoadBalancer::None => "ClusterIP",
    };
    let spec = map([
        ("type", s(service_type)),
        ("selector", selector("web")),
        ("ports", list([map(port)])),
        ("sessionAffinity", s("None")),
    ]);
    manifest("v1", "Service", meta, vec![("spec", spec)])
}

/// The TargetGroupBinding of the web Service to the stack's target group (AWS).
pub fn target_group_binding(sup: &Superset, arn: &Value) -> Value {
    let spec = map([
        ("serviceRef", map([("name", s(WEB)), ("port", n(WEB_PORT))])),
        ("targetGroupARN", arn.clone()),
        ("targetType", s("ip")),
    ]);
    manifest(
        "elbv2.k8s.aws/v1beta1",
        "TargetGroupBinding",
        metadata(sup, s(WEB), "web"),
        vec![("spec", spec)],
    )
}
