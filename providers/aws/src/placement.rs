//! The `superset` component on AWS: where its Kubernetes objects go ([`Eks`], the kubernetes
//! crate's `Placement`) and how the `kubernetes_object` service reaches an EKS cluster
//! ([`EksClusters`]).
//!
//! - The cluster reference is `eks:<cluster name>` (the `kubernetes_cluster`'s `id`).
//!   Connecting asks `DescribeCluster` for the API server's `endpoint` and
//!   `certificateAuthority.data`, and authenticates with a token made as `aws eks get-token`
//!   makes it: `k8s-aws-v1.` followed by the base64url (no padding) of an STS
//!   `GetCallerIdentity` URL presigned with SigV4 in its query (`X-Amz-Expires=60`), whose signed
//!   headers are `host` and `x-k8s-aws-id: <cluster name>`. EKS's authenticator calls that URL
//!   and maps the caller's IAM identity to a Kubernetes user (the cluster's creator is an
//!   administrator). The provider's credentials chain signs it.
//! - Node pools: an EKS node group's name (`eks.amazonaws.com/nodegroup`) derives from its
//!   identity, which the `superset` component does not know; so every node group a
//!   `kubernetes_cluster` makes carries the node label [`POOL_LABEL`](kubernetes::app::POOL_LABEL) = the pool's label in
//!   the spec (`web`, `worker`), which the pods select.
//! - The load balancer reaches the web pods through its `ip` target group, filled by the AWS
//!   Load Balancer Controller from a `TargetGroupBinding` (the `load_balancer`'s
//!   `target_group_arn` export). EKS clusters come without metrics-server: the stack installs
//!   it for the web HPA.
//! - ElastiCache is reached over TLS (transit encryption is on); RDS PostgreSQL's database is
//!   `postgres`, the one every instance is created with (ss gives no `DBName`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use kubernetes::app::Placement;
use kubernetes::object::{Clusters, bearer_config};
use kubernetes::superset::LoadBalancer;
use provider_api::{Attrs, Diagnostic, Expansion, ProviderError, Value};

use crate::error::sdk;
use crate::shared::{LazyClient, Shared};

/// The prefix of EKS cluster references.
pub const CLOUD: &str = "eks";

/// The prefix of an EKS bearer token (what the cluster's authenticator expects).
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// The header naming the cluster, signed into the token so it is good for that cluster only.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";

/// How long the presigned URL is valid, as `aws eks get-token` signs it; EKS accepts the
/// token for 15 minutes whatever this says, and the kubernetes crate renews its clients
/// before that ([`kubernetes::object::CLIENT_TTL`]).
const URL_EXPIRES: Duration = Duration::from_secs(60);

/// Where a `superset`'s objects go on AWS.
struct Eks;

impl Placement for Eks {
    fn cloud(&self) -> &'static str {
        CLOUD
    }

    fn load_balancer(&self, load_balancer: Option<&Attrs>) -> LoadBalancer {
        match load_balancer {
            None => LoadBalancer::None,
            Some(lb) => LoadBalancer::AwsTargetGroup {
                arn: lb
                    .get("target_group_arn")
                    .cloned()
                    .unwrap_or(Value::Unknown),
            },
        }
    }

    fn lacks_metrics_server(&self) -> bool {
        true
    }

    fn redis_tls(&self) -> bool {
        true
    }
}

/// Expands a `superset` component on AWS.
pub fn superset(config: &Attrs) -> Result<Expansion, Diagnostic> {
    kubernetes::app::superset(config, &Eks)
}

/// The STS host of a region (its partition's domain).
fn sts_host(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("sts.{region}.{domain}")
}

/// Percent-encodes a query value as SigV4 does: every byte but the unreserved characters.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bearer token of the EKS cluster `cluster` in `region`, signed with `credentials` at
/// `now` (see the module documentation).
pub fn eks_token(
    credentials: Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let failed = |what: &str| ProviderError::Other(format!("cannot sign the EKS token: {what}"));
    let identity: Identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e.to_string()))?
        .into();
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(region)
    );
    let request = SignableRequest::new(
        "GET",
        &url,
        std::iter::once((CLUSTER_HEADER, cluster)),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| failed(&e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| failed(&e.to_string()))?
        .into_parts();
    let mut signed = url;
    for (key, value) in instructions.params() {
        signed.push('&');
        signed.push_str(&query_escape(key));
        signed.push('=');
        signed.push_str(&query_escape(value));
    }
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed)
    ))
}

/// Reaches EKS clusters by their name, with the provider's credentials.
#[derive(Debug)]
pub struct EksClusters {
    shared: Arc<Shared>,
    client: LazyClient<aws_sdk_eks::Client>,
}

impl EksClusters {
    pub fn new(shared: Arc<Shared>) -> EksClusters {
        EksClusters {
            client: LazyClient::new(shared.clone()),
            shared,
        }
    }

    /// The provider's credentials, from its chain (an error names no secret).
    async fn credentials(&self) -> Result<Credentials, ProviderError> {
        let provider = self
            .shared
            .sdk()
            .await
            .credentials_provider()
            .ok_or_else(|| ProviderError::Invalid("no AWS credentials are configured".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| ProviderError::Invalid(format!("no AWS credentials to reach EKS: {e}")))
    }
}

#[async_trait]
impl Clusters for EksClusters {
    async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError> {
        let c = crate::client!(aws_sdk_eks, &self.client);
        let answer = c
            .describe_cluster()
            .name(cluster_id)
            .send()
            .await
            .map_err(|e| sdk("DescribeCluster", e))?;
        let cluster = answer
            .cluster()
            .ok_or_else(|| ProviderError::NotFound(format!("EKS cluster {cluster_id}")))?;
        let endpoint = cluster.endpoint().ok_or_else(|| {
            ProviderError::Transient(format!(
                "EKS cluster {cluster_id} has no API server endpoint yet"
            ))
        })?;
        let ca = cluster
            .certificate_authority()
            .and_then(|a| a.data())
            .unwrap_or_default();
        let token = eks_token(
            self.credentials().await?,
            &self.shared.region,
            cluster_id,
            SystemTime::now(),
        )?;
        bearer_config(endpoint, ca, &token).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use kubernetes::app::POOL_LABEL;

    /// The query parameters of a URL, decoded.
    fn query(url: &str) -> BTreeMap<String, String> {
        let decode = |s: &str| {
            let bytes = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex byte"));
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).expect("utf-8")
        };
        let (_, q) = url.split_once('?').expect("a query");
        q.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect("key=value");
                (decode(k), decode(v))
            })
            .collect()
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_for_the_cluster() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session/token+x".into()),
            None,
            "test",
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let token =
            eks_token(credentials.clone(), "eu-west-3", "ss-main-1a2b", at).expect("a token");
        let encoded = token.strip_prefix(TOKEN_PREFIX).expect("the prefix");
        assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .expect("base64url"),
        )
        .expect("a URL");
        assert!(
            url.starts_with("https://sts.eu-west-3.amazonaws.com/?"),
            "{url}"
        );
        let q = query(&url);
        assert_eq!(q["Action"], "GetCallerIdentity");
        assert_eq!(q["Version"], "2011-06-15");
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-Date"], "20260101T000000Z");
        assert_eq!(
            q["X-Amz-Credential"],
            "AKIDEXAMPLE/20260101/eu-west-3/sts/aws4_request"
        );
        assert_eq!(q["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        assert_eq!(q["X-Amz-Security-Token"], "session/token+x");
        assert_eq!(q["X-Amz-Signature"].len(), 64);
        assert!(
            !url.contains("wJalrXUtnFEMI"),
            "the secret key is not in it"
        );

        // Another cluster, another signature; the same inputs, the same token.
        let other = eks_token(credentials.clone(), "eu-west-3", "ss-other", at).expect("token");
        assert_ne!(other, token);
        let again = eks_token(credentials, "eu-west-3", "ss-main-1a2b", at).expect("token");
        assert_eq!(again, token);
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn the_placement_names_the_cluster_its_pools_and_the_target_group() {
        let cluster = Attrs::from([("id".into(), Value::from("ss-main-1a2b"))]);
        assert_eq!(Eks.cluster_ref(&cluster), Value::from("eks:ss-main-1a2b"));
        assert_eq!(Eks.cluster_ref(&Attrs::new()), Value::Unknown);
        assert_eq!(
            Eks.pool_label(&cluster, &Value::from("web")),
            (POOL_LABEL.to_string(), Value::from("web"))
        );
        let lb = Attrs::from([(
            "target_group_arn".into(),
            Value::from("arn:aws:elasticloadbalancing:eu-west-3:1:targetgroup/tg/1"),
        )]);
        assert!(matches!(
            Eks.load_balancer(Some(&lb)),
            LoadBalancer::AwsTargetGroup { arn } if arn.as_str() == Some("arn:aws:elasticloadbalancing:eu-west-3:1:targetgroup/tg/1")
        ));
        assert!(matches!(Eks.load_balancer(None), LoadBalancer::None));
        assert!(Eks.redis_tls() && Eks.lacks_metrics_server());
    }
}
