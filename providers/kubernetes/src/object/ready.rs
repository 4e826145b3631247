//! When an applied object counts as ready (the `wait = "ready"` rule), from its live JSON.

use serde_json::Value as Json;

/// What one look at a live object says about its readiness.
#[derive(Debug, PartialEq)]
pub enum Readiness {
    Ready,
    Pending,
    /// It will never be ready (a Job that failed); the message says why.
    Failed(String),
}

/// The readiness of `live` by its kind:
/// - Deployment and StatefulSet: rolled out, as `kubectl rollout status` decides: the
///   controller has seen the latest spec (`status.observedGeneration` ≥
///   `metadata.generation`) and as many replicas as wanted (`spec.replicas`, 1 when absent)
///   are updated and available;
/// - Job: its `Complete` condition is true; a true `Failed` condition fails with its message;
/// - Namespace: `status.phase` is `Active`;
/// - CustomResourceDefinition: its `Established` condition is true, since only then does the
///   API serve its kind to the objects that follow;
/// - anything else: it exists.
pub fn readiness(live: &Json) -> Readiness {
    let status = &live["status"];
    let ready = match live["kind"].as_str().unwrap_or_default() {
        "Deployment" | "StatefulSet" => {
            let wanted = live["spec"]["replicas"].as_i64().unwrap_or(1);
            let count = |key: &str| status[key].as_i64().unwrap_or(0);
            let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
            count("observedGeneration") >= generation
                && count("updatedReplicas") >= wanted
                && count("availableReplicas") >= wanted
        }
        "Job" => {
            if let Some(failed) = condition(status, "Failed") {
                let why = failed["message"]
                    .as_str()
                    .or(failed["reason"].as_str())
                    .unwrap_or("no message");
                return Readiness::Failed(format!("the Job failed: {why}"));
            }
            condition(status, "Complete").is_some()
        }
        "Namespace" => status["phase"].as_str() == Some("Active"),
        "CustomResourceDefinition" => condition(status, "Established").is_some(),
        _ => true,
    };
    if ready {
        Readiness::Ready
    } else {
        Readiness::Pending
    }
}

/// The condition of this type whose status is `"True"`, if any.
fn condition<'a>(status: &'a Json, kind: &str) -> Option<&'a Json> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind) && c["status"].as_str() == Some("True"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: Option<i64>, generation: i64, status: Json) -> Json {
        let mut spec = json!({});
        if let Some(r) = replicas {
            spec["replicas"] = json!(r);
        }
        json!({"kind": "Deployment", "metadata": {"generation": generation}, "spec": spec, "status": status})
    }

    #[test]
    fn a_deployment_is_ready_once_rolled_out() {
        let rolled = json!({"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            readiness(&deployment(Some(3), 2, rolled.clone())),
            Readiness::Ready
        );
        // The controller has not seen generation 3 yet.
        assert_eq!(
            readiness(&deployment(Some(3), 3, rolled)),
            Readiness::Pending
        );
        let rolling =
            json!({"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 2});
        assert_eq!(
            readiness(&deployment(Some(3), 2, rolling)),
            Readiness::Pending
        );
        // No replica count means one.
        let one = json!({"observedGeneration": 1, "updatedReplicas": 1, "availableReplicas": 1});
        assert_eq!(readiness(&deployment(None, 1, one)), Readiness::Ready);
        assert_eq!(
            readiness(&deployment(None, 1, json!({}))),
            Readiness::Pending
        );
        let mut sts = deployment(Some(0), 1, json!({"observedGeneration": 1}));
        sts["kind"] = json!("StatefulSet");
        assert_eq!(readiness(&sts), Readiness::Ready);
    }

    #[test]
    fn a_job_is_ready_when_complete_and_fails_when_failed() {
        let job = |conditions: Json| json!({"kind": "Job", "status": {"conditions": conditions}});
        assert_eq!(readiness(&job(json!([]))), Readiness::Pending);
        assert_eq!(
            readiness(&job(json!([{"type": "Complete", "status": "False"}]))),
            Readiness::Pending
        );
        assert_eq!(
            readiness(&job(json!([{"type": "Complete", "status": "True"}]))),
            Readiness::Ready
        );
        assert_eq!(
            readiness(&job(json!([{
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"
            }]))),
            Readiness::Failed("the Job failed: Job has reached the specified backoff limit".into())
        );
        assert_eq!(
            readiness(&job(
                json!([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}])
            )),
            Readiness::Failed("the Job failed: DeadlineExceeded".into())
        );
    }

    #[test]
    fn namespaces_crds_and_the_rest() {
        let ns = |phase: &str| json!({"kind": "Namespace", "status": {"phase": phase}});
        assert_eq!(readiness(&ns("Active")), Readiness::Ready);
        assert_eq!(readiness(&ns("Terminating")), Readiness::Pending);
        let crd = |status: &str| {
            json!({"kind": "CustomResourceDefinition", "status": {"conditions": [
                {"type": "NamesAccepted", "status": "True"},
                {"type": "Established", "status": status}
            ]}})
        };
        assert_eq!(readiness(&crd("True")), Readiness::Ready);
        assert_eq!(readiness(&crd("False")), Readiness::Pending);
        assert_eq!(
            readiness(&json!({"kind": "ConfigMap", "data": {}})),
            Readiness::Ready
        );
    }
}
