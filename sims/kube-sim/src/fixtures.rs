//! What the tests of ss and of the simulator install into it to stand for a cluster add-on:
//! KEDA's CRDs (ScaledObject with the fields the `superset` component sets, and
//! TriggerAuthentication), and a small release manifest of KEDA (namespace, CRDs, operator) as
//! `kubernetes_manifest` downloads one.

use serde_json::{Value, json};

/// A small KEDA release manifest (multi-document YAML): its namespace, the ScaledObject and
/// TriggerAuthentication CRDs (schemas left open) and the operator's Deployment.
pub const KEDA_MANIFEST: &str = include_str!("../testdata/keda-small.yaml");

/// A CustomResourceDefinition of KEDA's ScaledObject, with the fields the `superset`
/// component sets.
pub fn keda_crd() -> Value {
    let trigger = json!({"type": "object", "required": ["type", "metadata"], "properties": {
        "type": {"type": "string"}, "name": {"type": "string"},
        "authenticationRef": {"type": "object", "properties": {"name": {"type": "string"}}},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}});
    let spec = json!({"type": "object", "required": ["scaleTargetRef", "triggers"], "properties": {
        "scaleTargetRef": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                "apiVersion": {"type": "string"}}},
        "minReplicaCount": {"type": "integer", "format": "int32"},
        "maxReplicaCount": {"type": "integer", "format": "int32"},
        "pollingInterval": {"type": "integer", "format": "int32"},
        "cooldownPeriod": {"type": "integer", "format": "int32"},
        "triggers": {"type": "array", "items": trigger}}});
    let schema = json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "scaledobjects.keda.sh"},
        "spec": {"group": "keda.sh", "scope": "Namespaced",
            "names": {"kind": "ScaledObject", "listKind": "ScaledObjectList",
                "plural": "scaledobjects", "singular": "scaledobject", "shortNames": ["so"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}}, "schema": {"openAPIV3Schema": schema}}]}})
}

/// KEDA's TriggerAuthentication CRD (its schema left open): what a trigger's credentials come
/// from (the broker's password).
pub fn keda_trigger_auth_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "triggerauthentications.keda.sh"},
        "spec": {"group": "keda.sh", "scope": "Namespaced",
            "names": {"kind": "TriggerAuthentication", "listKind": "TriggerAuthenticationList",
                "plural": "triggerauthentications", "singular": "triggerauthentication"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// The AWS Load Balancer Controller's TargetGroupBinding CRD (`elbv2.k8s.aws/v1beta1`), with
/// the fields the `superset` component sets on AWS: `serviceRef {name, port}`,
/// `targetGroupARN`, `targetType` (ip or instance).
pub fn target_group_binding_crd() -> Value {
    let spec = json!({"type": "object", "required": ["serviceRef", "targetGroupARN"],
        "properties": {
            "serviceRef": {"type": "object", "required": ["name", "port"], "properties": {
                "name": {"type": "string"},
                "port": {"x-kubernetes-int-or-string": true}}},
            "targetGroupARN": {"type": "string"},
            "targetType": {"type": "string", "enum": ["instance", "ip"]}}});
    let schema = json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object"}, "spec": spec,
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
        "spec": {"group": "elbv2.k8s.aws", "scope": "Namespaced",
            "names": {"kind": "TargetGroupBinding", "listKind": "TargetGroupBindingList",
                "plural": "targetgroupbindings", "singular": "targetgroupbinding"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}}, "schema": {"openAPIV3Schema": schema}}]}})
}
