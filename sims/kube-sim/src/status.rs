//! What the controllers and defaulting of a real cluster add to an object: the defaults the
//! API server fills in on every write, the status a new object starts with, and the status the
//! workload controllers reach one step after a change (Deployment and StatefulSet rolled out,
//! Job complete or failed).

use serde_json::{Map, Value, json};

/// Sets `obj[field]` to `value` when it is absent.
fn default(obj: &mut Value, field: &str, value: Value) {
    if let Value::Object(map) = obj
        && map.get(field).is_none_or(Value::is_null)
    {
        map.insert(field.to_string(), value);
    }
}

/// An object field, made an (empty) object when it is absent.
fn object_at<'a>(obj: &'a mut Value, field: &str) -> &'a mut Value {
    default(obj, field, Value::Object(Map::new()));
    &mut obj[field]
}

/// Fills in the defaults the API server sets on a write of `kind` (server-side defaulting of
/// the 1.33 built-in types: the most visible ones).
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    match kind {
        "Deployment" => {
            let spec = object_at(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = object_at(spec, "strategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == json!("RollingUpdate") {
                let rolling = object_at(strategy, "rollingUpdate");
                default(rolling, "maxUnavailable", json!("25%"));
                default(rolling, "maxSurge", json!("25%"));
            }
            pod_template(&mut spec["template"], "Always");
        }
        "StatefulSet" => {
            let spec = object_at(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            let strategy = object_at(spec, "updateStrategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == json!("RollingUpdate") {
                default(object_at(strategy, "rollingUpdate"), "partition", json!(0));
            }
            let retention = object_at(spec, "persistentVolumeClaimRetentionPolicy");
            default(retention, "whenDeleted", json!("Retain"));
            default(retention, "whenScaled", json!("Retain"));
            pod_template(&mut spec["template"], "Always");
        }
        "Job" => {
            let spec = object_at(obj, "spec");
            default(spec, "backoffLimit", json!(6));
            default(spec, "completions", json!(1));
            default(spec, "parallelism", json!(1));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            pod_template(&mut spec["template"], "");
        }
        "Secret" => {
            default(obj, "type", json!("Opaque"));
            // `stringData` is write-only: the server merges it into `data`, base64-encoded.
            if let Some(Value::Object(plain)) = obj
                .as_object_mut()
                .and_then(|m| m.shift_remove("stringData"))
            {
                let data = object_at(obj, "data");
                for (k, v) in plain {
                    let text = v.as_str().unwrap_or_default();
                    data[k.as_str()] = json!(sim_kit::text::base64(text.as_bytes()));
                }
            }
        }
        "Namespace" => {
            let name = obj["metadata"]["name"].clone();
            let labels = object_at(object_at(obj, "metadata"), "labels");
            default(labels, "kubernetes.io/metadata.name", name);
            default(object_at(obj, "spec"), "finalizers", json!(["kubernetes"]));
        }
        "Service" => service(obj),
        _ => {}
    }
}

fn pod_template(template: &mut Value, restart_policy: &str) {
    if !template.is_object() {
        return;
    }
    let spec = object_at(template, "spec");
    if !restart_policy.is_empty() {
        default(spec, "restartPolicy", json!(restart_policy));
    }
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            containers.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default();
    let tag = image.rsplit('/').next().unwrap_or(image);
    let latest = !tag.contains(':') || tag.ends_with(":latest");
    let pull = if latest && !image.contains('@') {
        "Always"
    } else {
        "IfNotPresent"
    };
    default(c, "imagePullPolicy", json!(pull));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports {
            default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) else {
            continue;
        };
        default(p, "timeoutSeconds", json!(1));
        default(p, "periodSeconds", json!(10));
        default(p, "successThreshold", json!(1));
        default(p, "failureThreshold", json!(3));
        if let Some(get) = p.get_mut("httpGet").filter(|g| g.is_object()) {
            default(get, "scheme", json!("HTTP"));
        }
    }
}

fn service(obj: &mut Value) {
    let spec = object_at(obj, "spec");
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    default(spec, "ipFamilies", json!(["IPv4"]));
    default(spec, "ipFamilyPolicy", json!("SingleStack"));
    default(spec, "internalTrafficPolicy", json!("Cluster"));
    let node_ports = matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"));
    if node_ports {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports {
            default(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            default(p, "targetPort", port);
        }
    }
}

/// What the server fills in when it creates the object: a Service's addresses, and the status
/// an object starts with.
pub fn on_create(kind: &str, obj: &mut Value, draw: &mut dyn FnMut(u32) -> u32) {
    match kind {
        "Service" => {
            let spec = object_at(obj, "spec");
            if spec["clusterIP"].is_null() {
                let ip = format!("10.96.{}.{}", draw(256), 1 + draw(254));
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"))
                && let Some(Value::Array(ports)) = spec.get_mut("ports")
            {
                for p in ports {
                    default(p, "nodePort", json!(30000 + draw(2768)));
                }
            }
            obj["status"] = json!({"loadBalancer": {}});
        }
        "Namespace" => obj["status"] = json!({"phase": "Active"}),
        "CustomResourceDefinition" => {
            let names = obj["spec"]["names"].clone();
            let stored: Vec<Value> = obj["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect();
            let now = sim_kit::text::rfc3339_seconds();
            let condition = |t: &str, reason: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": ""});
            obj["status"] = json!({
                "conditions": [condition("NamesAccepted", "NoConflicts"), condition("Established", "InitialNamesAccepted")],
                "acceptedNames": names, "storedVersions": stored,
            });
        }
        _ => {}
    }
}

/// Moves the status of a workload on to where its controller takes it once its change has
/// rolled out; answers whether anything changed. A `failing` Job fails instead of completing.
pub fn progress(obj: &mut Value, failing: bool) -> bool {
    let generation = obj["metadata"]["generation"].clone();
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let observed = &obj["status"]["observedGeneration"];
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let now = sim_kit::text::rfc3339_seconds();
    let status = match kind.as_str() {
        "Deployment" if *observed != generation => {
            let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
            json!({
                "observedGeneration": generation, "replicas": replicas,
                "updatedReplicas": replicas, "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    condition("Progressing", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed."),
                ],
            })
        }
        "StatefulSet" if *observed != generation => {
            let revision = format!(
                "{}-{generation}",
                obj["metadata"]["name"].as_str().unwrap_or("sts")
            );
            json!({
                "observedGeneration": generation, "replicas": replicas,
                "readyReplicas": replicas, "currentReplicas": replicas,
                "updatedReplicas": replicas, "availableReplicas": replicas,
                "currentRevision": revision, "updateRevision": revision, "collisionCount": 0,
            })
        }
        "Job" if obj["status"].get("conditions").is_none() => job_status(obj, failing, &now),
        "HorizontalPodAutoscaler" if *observed != generation => {
            let min = obj["spec"]["minReplicas"].as_i64().unwrap_or(1);
            json!({"observedGeneration": generation, "currentReplicas": min, "desiredReplicas": min})
        }
        "PodDisruptionBudget" if *observed != generation => json!({
            "observedGeneration": generation, "currentHealthy": 0, "desiredHealthy": 0,
            "disruptionsAllowed": 0, "expectedPods": 0,
        }),
        _ => return false,
    };
    obj["status"] = status;
    true
}

fn job_status(obj: &Value, failing: bool, now: &str) -> Value {
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
    if failing {
        let tries = obj["spec"]["backoffLimit"].as_i64().unwrap_or(6) + 1;
        let message = "Job has reached the specified backoff limit";
        json!({
            "startTime": now, "failed": tries, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                condition("FailureTarget", "BackoffLimitExceeded", message),
                condition("Failed", "BackoffLimitExceeded", message),
            ],
        })
    } else {
        let completions = obj["spec"]["completions"].as_i64().unwrap_or(1);
        json!({
            "startTime": now, "completionTime": now, "succeeded": completions, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [
                condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ],
        })
    }
}
