//! Reaching a cluster from a *cluster reference*: the string a `kubernetes_object` records in
//! its `cluster` attribute and its id, enough to reconnect later with nothing else (a refresh
//! gets only ids).
//!
//! - `kubeconfig:<path>` or `kubeconfig:<path>#<context>`: a kubeconfig file (`~` is the home
//!   directory), its current context or the named one; resolved here.
//! - `<cloud>:<cloud cluster id>` (`eks:ss-main-1a2b`, `gke:projects/p/locations/r/clusters/c`,
//!   `ovh:<kube id>`): resolved by the [`Clusters`] the cloud's provider registers under that
//!   name, which answers the endpoint, the CA and a bearer token.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use provider_api::ProviderError;
use tokio::sync::Mutex;

/// How a cloud provider reaches its own Kubernetes clusters.
#[async_trait]
pub trait Clusters: Send + Sync + Debug {
    /// The connection to the cluster `cluster_id` (what follows `<cloud>:` in the reference):
    /// its endpoint, its CA and credentials valid for at least [`CLIENT_TTL`].
    async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError>;
}

/// How long a connection is reused before it is made again from its reference: less than the
/// 15 minutes an EKS token (an STS presigned URL) is valid, so a cloud's short-lived bearer
/// tokens are renewed in time.
pub const CLIENT_TTL: Duration = Duration::from_secs(10 * 60);

/// The prefix of a reference to a kubeconfig file.
const KUBECONFIG: &str = "kubeconfig";

/// A parsed cluster reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterRef {
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    Cloud {
        cloud: String,
        id: String,
    },
}

impl ClusterRef {
    /// Parses a reference; the error says what a reference looks like.
    pub fn parse(reference: &str) -> Result<ClusterRef, ProviderError> {
        let invalid = || {
            ProviderError::Invalid(format!(
                "cluster reference {reference:?}: expected `kubeconfig:<path>[#<context>]` \
                 or `<cloud>:<cluster id>`"
            ))
        };
        let (scheme, rest) = reference.split_once(':').ok_or_else(invalid)?;
        if scheme.is_empty() || rest.is_empty() {
            return Err(invalid());
        }
        if scheme != KUBECONFIG {
            return Ok(ClusterRef::Cloud {
                cloud: scheme.to_string(),
                id: rest.to_string(),
            });
        }
        let (path, context) = match rest.rsplit_once('#') {
            Some((path, context)) if !context.is_empty() => (path, Some(context.to_string())),
            Some((path, _)) => (path, None),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(invalid());
        }
        Ok(ClusterRef::Kubeconfig {
            path: expand_home(path),
            context,
        })
    }
}

/// `~` or a leading `~/` as the home directory (`$HOME`); any other path as it is.
fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (path, home) {
        ("~", Some(home)) => home,
        (p, Some(home)) if p.starts_with("~/") => home.join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

/// The connection of a kubeconfig file. Its parse error is not shown: the YAML parser may
/// quote the text around the fault, and a kubeconfig holds tokens and keys.
async fn kubeconfig_config(
    path: &PathBuf,
    context: Option<String>,
) -> Result<kube::Config, ProviderError> {
    let shown = path.display().to_string();
    let file = Kubeconfig::read_from(path).map_err(|e| match e {
        KubeconfigError::Parse(_) => {
            ProviderError::Invalid(format!("{shown} is not a valid kubeconfig (YAML)"))
        }
        e => ProviderError::Invalid(format!("cannot read the kubeconfig {shown}: {e}")),
    })?;
    config_of(file, context, &shown).await
}

/// The connection a kubeconfig's text describes (OVH's API answers a cluster's kubeconfig),
/// its current context or the named one. A parse error is not shown (see above).
pub async fn kubeconfig_text_config(
    text: &str,
    context: Option<String>,
) -> Result<kube::Config, ProviderError> {
    let file = Kubeconfig::from_yaml(text)
        .map_err(|_| ProviderError::Invalid("not a valid kubeconfig (YAML)".to_string()))?;
    config_of(file, context, "(text)").await
}

/// The connection to a cluster by its endpoint, its CA (base64 of the PEM certificates, as
/// EKS's `certificateAuthority.data` and GKE's `masterAuth.clusterCaCertificate` carry it;
/// empty for the system's roots) and a bearer token: what a cloud's [`Clusters::connect`]
/// answers.
pub async fn bearer_config(
    endpoint: &str,
    ca_data: &str,
    token: &str,
) -> Result<kube::Config, ProviderError> {
    let mut cluster = serde_json::json!({"server": endpoint});
    if !ca_data.is_empty() {
        cluster["certificate-authority-data"] = serde_json::json!(ca_data);
    }
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": "cluster", "context": {"cluster": "cluster", "user": "user"}}],
        "current-context": "cluster"
    });
    let file: Kubeconfig = serde_json::from_value(doc).map_err(|_| {
        ProviderError::Invalid(format!("cannot describe the cluster at {endpoint}"))
    })?;
    config_of(file, None, endpoint).await
}

/// The connection of a parsed kubeconfig; `shown` names it in messages.
async fn config_of(
    file: Kubeconfig,
    context: Option<String>,
    shown: &str,
) -> Result<kube::Config, ProviderError> {
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| ProviderError::Invalid(format!("kubeconfig {shown}: {e}")))
}

/// A client made at a time.
#[derive(Clone)]
struct Cached {
    client: kube::Client,
    made: Instant,
}

/// Clients by cluster reference: made on first use from the reference (a kubeconfig file, or
/// the registered [`Clusters`] of a cloud) and reused for [`CLIENT_TTL`].
#[derive(Default)]
pub struct Connector {
    clouds: BTreeMap<String, Arc<dyn Clusters>>,
    clients: Mutex<HashMap<String, Cached>>,
}

impl Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("clouds", &self.clouds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Resolves `<cloud>:…` references with `clusters`.
    pub fn register(&mut self, cloud: &str, clusters: Arc<dyn Clusters>) {
        self.clouds.insert(cloud.to_string(), clusters);
    }

    /// The client of a cluster reference.
    pub async fn client(&self, reference: &str) -> Result<kube::Client, ProviderError> {
        let mut clients = self.clients.lock().await;
        if let Some(cached) = clients.get(reference)
            && cached.made.elapsed() < CLIENT_TTL
        {
            return Ok(cached.client.clone());
        }
        let config = match ClusterRef::parse(reference)? {
            ClusterRef::Kubeconfig { path, context } => kubeconfig_config(&path, context).await?,
            ClusterRef::Cloud { cloud, id } => {
                let clusters = self.clouds.get(&cloud).ok_or_else(|| {
                    ProviderError::Invalid(format!(
                        "cluster reference {reference:?}: no provider here reaches {cloud:?} \
                         clusters (known: {})",
                        self.known()
                    ))
                })?;
                clusters.connect(&id).await?
            }
        };
        let client = kube::Client::try_from(config).map_err(|e| {
            ProviderError::Invalid(format!("cannot make a client for {reference:?}: {e}"))
        })?;
        tracing::debug!(cluster = reference, "connected");
        clients.insert(
            reference.to_string(),
            Cached {
                client: client.clone(),
                made: Instant::now(),
            },
        );
        Ok(client)
    }

    /// The prefixes references may start with, for messages.
    fn known(&self) -> String {
        std::iter::once(KUBECONFIG)
            .chain(self.clouds.keys().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_into_kubeconfigs_and_clouds() {
        assert_eq!(
            ClusterRef::parse("kubeconfig:/tmp/kc.yaml#kind-dev"),
            Ok(ClusterRef::Kubeconfig {
                path: PathBuf::from("/tmp/kc.yaml"),
                context: Some("kind-dev".into())
            })
        );
        assert_eq!(
            ClusterRef::parse("kubeconfig:/tmp/kc.yaml#"),
            Ok(ClusterRef::Kubeconfig {
                path: PathBuf::from("/tmp/kc.yaml"),
                context: None
            })
        );
        assert_eq!(
            ClusterRef::parse("gke:projects/p/locations/r/clusters/c"),
            Ok(ClusterRef::Cloud {
                cloud: "gke".into(),
                id: "projects/p/locations/r/clusters/c".into()
            })
        );
        for bad in [
            "",
            "nothing",
            ":x",
            "eks:",
            "kubeconfig:",
            "kubeconfig:#ctx",
        ] {
            let err = ClusterRef::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("expected `kubeconfig:"), "{err}");
        }
    }

    #[test]
    fn a_tilde_is_the_home_directory() {
        let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
            return;
        };
        assert_eq!(expand_home("~/.kube/config"), home.join(".kube/config"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("/a/~/b"), PathBuf::from("/a/~/b"));
    }

    /// The error of a reference the connector must refuse.
    #[allow(clippy::panic)]
    async fn refused(connector: &Connector, reference: &str) -> ProviderError {
        match connector.client(reference).await {
            Ok(_) => panic!("{reference} was accepted"),
            Err(e) => e,
        }
    }

    #[derive(Debug)]
    struct Fixed(String);

    #[async_trait]
    impl Clusters for Fixed {
        async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError> {
            let url = format!("{}/{cluster_id}", self.0);
            let uri = url
                .parse()
                .map_err(|_| ProviderError::Invalid(format!("bad url {url}")))?;
            Ok(kube::Config::new(uri))
        }
    }

    #[tokio::test]
    async fn clients_come_from_the_registered_cloud_and_are_reused() {
        let mut connector = Connector::default();
        connector.register("eks", Arc::new(Fixed("http://127.0.0.1:1".into())));
        let a = connector.client("eks:c1").await;
        assert!(a.is_ok(), "{:?}", a.err());
        assert_eq!(connector.clients.lock().await.len(), 1);
        let again = connector.client("eks:c1").await;
        assert!(again.is_ok());
        assert_eq!(connector.clients.lock().await.len(), 1);
        let err = refused(&connector, "gke:x").await;
        assert!(err.to_string().contains("known: kubeconfig, eks"), "{err}");
    }

    #[tokio::test]
    #[allow(clippy::panic)]
    async fn a_cloud_describes_its_cluster_by_endpoint_ca_and_token() {
        use base64::Engine as _;
        let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n";
        let ca = base64::engine::general_purpose::STANDARD.encode(pem);
        let config = bearer_config("https://10.0.0.1:443", &ca, "k8s-aws-v1.token")
            .await
            .map_err(|e| e.to_string());
        let Ok(config) = config else {
            panic!("{config:?}")
        };
        assert_eq!(config.cluster_url.host(), Some("10.0.0.1"));
        assert_eq!(config.root_cert, Some(vec![vec![0, 1, 2, 3, 4]]));
        assert!(config.auth_info.token.is_some());
        let plain = bearer_config("http://127.0.0.1:8080", "", "t").await;
        assert!(plain.is_ok_and(|c| c.root_cert.is_none()));
        let bad = kubeconfig_text_config("clusters: [ {token: hunter2", None).await;
        assert!(bad.is_err_and(|e| !e.to_string().contains("hunter2")));
    }

    #[tokio::test]
    async fn a_broken_kubeconfig_never_shows_its_text() {
        let dir = std::env::temp_dir().join(format!("ss-kobj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("broken.yaml");
        std::fs::write(&path, "users: [ {name: u, user: {token: hunter2-token\n").expect("write");
        let err = refused(
            &Connector::default(),
            &format!("kubeconfig:{}", path.display()),
        )
        .await;
        assert!(
            err.to_string().contains("is not a valid kubeconfig"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let missing = refused(
            &Connector::default(),
            "kubeconfig:/nonexistent/ss/kubeconfig",
        )
        .await;
        assert!(
            missing.to_string().contains("cannot read the kubeconfig"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
