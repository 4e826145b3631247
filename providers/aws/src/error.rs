//! SDK errors as [`ProviderError`]s, by the EC2 error code (`ProvideErrorMetadata`) and the
//! HTTP status. Messages carry the code and AWS's message, never a request (so never a
//! credential or an attribute value).

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use provider_api::ProviderError;

/// Codes AWS answers when a request was throttled: it was not carried out.
pub const THROTTLING: [&str; 6] = [
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequestsException",
    "SlowDown",
];

/// Codes of server-side failures worth retrying. `DependencyViolation` is here because EC2
/// releases what held an object (network interfaces, associations) a little after the
/// holder is gone: the planner deletes in dependency order and retries with backoff.
pub const TRANSIENT: [&str; 16] = [
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
    "DependencyViolation",
    "IncorrectState",
    // IAM: another change to the same entity is in progress; a role still held (EKS releases
    // a node role's instance profile a little after its node group is gone).
    "ConcurrentModification",
    "DeleteConflict",
    // EKS: another update of the cluster or node group is in progress, or a cluster still has
    // node groups being deleted (a create answered this finds and adopts the object).
    "ResourceInUseException",
    // RDS: the instance, proxy, subnet group or parameter group is busy (being created,
    // modified or deleted, or still used by an instance being deleted); moto says `…Fault`.
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidDBProxyStateFault",
    "InvalidDBSubnetGroupStateFault",
    "InvalidDBParameterGroupState",
    // ElastiCache: a subnet group is in use until its replication group is really gone;
    // ELBv2: a target group is in use a little after its listener is deleted.
    "CacheSubnetGroupInUse",
    "ResourceInUse",
];

/// True for EC2's "no such object" codes (`InvalidVpcID.NotFound`, `InvalidSubnetID.NotFound`,
/// `InvalidGroup.NotFound`, `InvalidRouteTableID.NotFound`, …).
pub fn is_not_found_code(code: &str) -> bool {
    code.ends_with(".NotFound") || code.ends_with("NotFound") || NOT_FOUND.contains(&code)
}

/// "No such object" codes that do not end in `NotFound`.
pub const NOT_FOUND: &[&str] = &[
    // IAM (roles, policies, inline policies).
    "NoSuchEntity",
    // EKS (clusters, node groups).
    "ResourceNotFoundException",
    // RDS (DBInstanceNotFound and DBParameterGroupNotFound end in NotFound).
    "DBSubnetGroupNotFoundFault",
    "DBProxyNotFoundFault",
    "DBProxyTargetNotFoundFault",
    // ElastiCache.
    "CacheSubnetGroupNotFoundFault",
    "ReplicationGroupNotFoundFault",
    // CloudFront.
    "NoSuchDistribution",
];

/// Classifies an error code and HTTP status.
pub fn classify(code: Option<&str>, status: Option<u16>, text: String) -> ProviderError {
    match code {
        Some(c) if THROTTLING.contains(&c) => ProviderError::Throttled(text),
        Some(c) if TRANSIENT.contains(&c) => ProviderError::Transient(text),
        Some(c) if is_not_found_code(c) => ProviderError::NotFound(text),
        _ if status == Some(429) => ProviderError::Throttled(text),
        _ if status.is_some_and(|s| s >= 500) => ProviderError::Transient(text),
        Some("AuthFailure" | "UnauthorizedOperation" | "OptInRequired" | "Blocked") => {
            ProviderError::Other(text)
        }
        Some(_) => ProviderError::Invalid(text),
        None => ProviderError::Other(text),
    }
}

/// The messages of an error and its sources, joined by ": ", each once (a source whose message
/// the previous one already contains is skipped). Unlike `DisplayErrorContext`, it never
/// appends the `Debug` dump of the whole chain: a missing credential reads as the list of
/// places the credential chain looked, nothing more.
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        let shown = text.trim();
        if !shown.is_empty() && !parts.iter().any(|p| p.contains(shown)) {
            parts.push(shown.to_string());
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Maps an SDK error of the call `what` (like "CreateVpc").
pub fn sdk<E>(what: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => ProviderError::Timeout(format!("{what}: no answer in time")),
        SdkError::DispatchFailure(f) => {
            let text = format!("{what}: {}", chain_text(&err));
            if f.is_timeout() {
                ProviderError::Timeout(text)
            } else if f.is_io() {
                ProviderError::Transient(text)
            } else {
                ProviderError::Other(text)
            }
        }
        SdkError::ResponseError(_) => {
            ProviderError::Transient(format!("{what}: {}", chain_text(&err)))
        }
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = err.code();
            let http = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            let text = match (code, err.message()) {
                (Some(c), Some(m)) => format!("{what}: {c}: {m}{http}"),
                (Some(c), None) => format!("{what}: {c}{http}"),
                _ => format!("{what}: {}{http}", chain_text(&err)),
            };
            classify(code, status, text)
        }
        _ => ProviderError::Other(format!("{what}: {}", chain_text(&err))),
    }
}

/// The outcome of a call whose answer is not needed, as a provider result.
pub trait Sent {
    /// `Ok(())`, or the error of the call `what` mapped by [`sdk`].
    fn sent(self, what: &str) -> Result<(), ProviderError>;
}

impl<O, E> Sent for Result<O, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn sent(self, what: &str) -> Result<(), ProviderError> {
        self.map(|_| ()).map_err(|e| sdk(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let k = |code: Option<&str>, status: Option<u16>| classify(code, status, String::new());
        assert!(matches!(
            k(Some("RequestLimitExceeded"), Some(503)),
            ProviderError::Throttled(_)
        ));
        assert!(matches!(
            k(Some("InternalError"), Some(500)),
            ProviderError::Transient(_)
        ));
        assert!(k(Some("Unavailable"), Some(503)).is_retryable());
        assert!(matches!(
            k(Some("InvalidVpcID.NotFound"), Some(400)),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            k(Some("InvalidParameterValue"), Some(400)),
            ProviderError::Invalid(_)
        ));
        assert!(k(None, Some(502)).is_retryable());
        assert!(!k(Some("AuthFailure"), Some(401)).is_retryable());
    }
}
