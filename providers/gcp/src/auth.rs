//! Credentials: Application Default Credentials, resolved the way Google's libraries do, with
//! the lookup made explicit so that a failure names every place ss looked.
//!
//! 1. `GOOGLE_APPLICATION_CREDENTIALS`: a JSON credentials file (service account key, gcloud
//!    user credentials, impersonation, workload identity federation);
//! 2. gcloud's ADC file: `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
//!    `$HOME/.config/gcloud/application_default_credentials.json`;
//! 3. the metadata server (`GCE_METADATA_HOST`, else `metadata.google.internal`).
//!
//! Each is built with `google-cloud-auth`. One case it cannot do: **exchanging a service
//! account key for an access token at a token endpoint of our choosing**. Its service-account
//! credentials never call `token_uri`: they mint a self-signed JWT locally and send that as
//! the bearer token (`ServiceAccountTokenProvider::token` in google-cloud-auth 1.19), which
//! Google accepts but a simulator cannot check. So when `endpoint_overrides.token` is set, a
//! service-account key is used for the RFC 7523 JWT-bearer grant at that URL
//! ([`TokenEndpointCredentials`]): the assertion is signed by google-cloud-auth's
//! [`Signer`] (the key never leaves it), and the one form POST is made with `reqwest`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag, external_account, impersonated,
    mds, service_account, user_account,
};
use google_cloud_auth::errors::CredentialsError;
use google_cloud_auth::signer::Signer;
use http::{Extensions, HeaderMap, HeaderValue};
use tokio::sync::Mutex;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where credentials come from, resolved without contacting anything.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "cannot read the Google credentials file {path} (from GOOGLE_APPLICATION_CREDENTIALS): {reason}"
    )]
    Unreadable { path: String, reason: String },
    #[error("the Google credentials file {path} is not usable: {reason}")]
    Invalid { path: String, reason: String },
}

/// No credentials anywhere: the explanation naming every place looked at.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NoCredentials(String);

/// Every place the lookup went through, for the message when nothing worked.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub env_var: Option<String>,
    pub well_known: Option<PathBuf>,
    pub metadata: String,
}

impl Lookup {
    pub fn explain(&self, failure: &str) -> String {
        let env = match &self.env_var {
            Some(p) => format!("GOOGLE_APPLICATION_CREDENTIALS={p}"),
            None => "GOOGLE_APPLICATION_CREDENTIALS is not set".to_string(),
        };
        let file = match &self.well_known {
            Some(p) => format!("{} does not exist", p.display()),
            None => "no gcloud ADC file (neither CLOUDSDK_CONFIG nor HOME is set)".to_string(),
        };
        format!(
            "no Google Cloud credentials found: {env}; {file}; the metadata server at {} \
             did not give a token ({failure}). Run `gcloud auth application-default login` or \
             set GOOGLE_APPLICATION_CREDENTIALS to a service account key file",
            self.metadata
        )
    }
}

/// Resolves Application Default Credentials. `token_url`: the overridden token endpoint.
pub fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    token_url: Option<&str>,
) -> Result<Credentials, AuthError> {
    let from_env = env("GOOGLE_APPLICATION_CREDENTIALS").filter(|s| !s.trim().is_empty());
    if let Some(path) = &from_env {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Unreadable {
            path: path.clone(),
            reason: e.kind().to_string(),
        })?;
        return from_json(path, &text, token_url);
    }
    let well_known = env("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")))
        .map(|d| d.join("application_default_credentials.json"));
    if let Some(path) = &well_known
        && let Ok(text) = std::fs::read_to_string(path)
    {
        return from_json(&path.display().to_string(), &text, token_url);
    }
    let metadata = match env("GCE_METADATA_HOST") {
        Some(host) => format!("http://{host}"),
        None => "http://metadata.google.internal".to_string(),
    };
    let lookup = Lookup {
        env_var: from_env,
        well_known,
        metadata: metadata.clone(),
    };
    let inner = mds::Builder::default()
        .with_endpoint(metadata.clone())
        .with_scopes([SCOPE])
        .with_retry_policy(google_cloud_gax::retry_policy::NeverRetry)
        .build()
        .map_err(|e| AuthError::Invalid {
            path: metadata,
            reason: e.to_string(),
        })?;
    Ok(Credentials::from(Explained { inner, lookup }))
}

fn from_json(path: &str, text: &str, token_url: Option<&str>) -> Result<Credentials, AuthError> {
    let invalid = |reason: String| AuthError::Invalid {
        path: path.to_string(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not JSON ({e})")))?;
    let kind = json["type"].as_str().unwrap_or_default().to_string();
    let built = match kind.as_str() {
        "service_account" => match token_url {
            Some(url) => {
                let email = json["client_email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if email.is_empty() {
                    return Err(invalid("no client_email".into()));
                }
                let signer = service_account::Builder::new(json)
                    .build_signer()
                    .map_err(|e| invalid(e.to_string()))?;
                return Ok(Credentials::from(TokenEndpointCredentials::new(
                    url, email, signer,
                )));
            }
            None => service_account::Builder::new(json)
                .with_access_specifier(service_account::AccessSpecifier::from_scopes([SCOPE]))
                .build(),
        },
        "authorized_user" => user_account::Builder::new(json).build(),
        "impersonated_service_account" => impersonated::Builder::new(json).build(),
        "external_account" => external_account::Builder::new(json).build(),
        other => {
            return Err(invalid(format!("unsupported credentials type {other:?}")));
        }
    };
    built.map_err(|e| invalid(e.to_string()))
}

/// The metadata server's credentials, whose failure names every place the lookup went through.
#[derive(Debug)]
struct Explained {
    inner: Credentials,
    lookup: Lookup,
}

impl CredentialsProvider for Explained {
    async fn headers(
        &self,
        extensions: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        self.inner.headers(extensions).await.map_err(|e| {
            // The innermost cause: the outer layers' texts end in google-cloud-auth's "but
            // future attempts may succeed", which would contradict the explanation.
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = s.to_string();
                source = s.source();
            }
            // As the source, not the message: a `CredentialsError`'s own text ends in "and
            // future attempts will not succeed"; the provider reports the innermost cause.
            CredentialsError::from_source(false, NoCredentials(self.lookup.explain(&why)))
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        self.inner.universe_domain().await
    }
}

/// A service account key exchanged at a token endpoint (RFC 7523 JWT-bearer grant).
pub struct TokenEndpointCredentials {
    url: String,
    email: String,
    signer: Signer,
    http: reqwest::Client,
    cached: Arc<Mutex<Option<(HeaderValue, Instant, EntityTag)>>>,
}

impl std::fmt::Debug for TokenEndpointCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpointCredentials")
            .field("url", &self.url)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TokenEndpointCredentials {
    pub fn new(url: &str, email: String, signer: Signer) -> Self {
        TokenEndpointCredentials {
            url: url.to_string(),
            email,
            signer,
            http: reqwest::Client::new(),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    async fn fetch(&self) -> Result<(HeaderValue, Instant), CredentialsError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.email, "scope": SCOPE, "aud": self.url,
            "iat": now, "exp": now + 3600,
        });
        let unsigned = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signature = self
            .signer
            .sign(unsigned.as_bytes())
            .await
            .map_err(|e| CredentialsError::from_msg(false, format!("cannot sign: {e}")))?;
        let assertion = format!("{unsigned}.{}", b64(&signature));
        let response = self
            .http
            .post(&self.url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                CredentialsError::from_msg(true, format!("token endpoint {}: {e}", self.url))
            })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or_default();
            return Err(CredentialsError::from_msg(
                status.is_server_error() || status.as_u16() == 429,
                format!("token endpoint {} answered {status}: {why}", self.url),
            ));
        }
        let token = body["access_token"].as_str().unwrap_or_default();
        let expires_in = body["expires_in"].as_u64().unwrap_or(3600);
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            CredentialsError::from_msg(false, "the token endpoint gave an unusable token")
        })?;
        value.set_sensitive(true);
        let valid_until =
            Instant::now() + Duration::from_secs(expires_in.saturating_sub(60).max(1));
        Ok((value, valid_until))
    }
}

impl CredentialsProvider for TokenEndpointCredentials {
    async fn headers(
        &self,
        _extensions: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        let mut cached = self.cached.lock().await;
        let fresh = matches!(&*cached, Some((_, until, _)) if *until > Instant::now());
        if !fresh {
            let (value, until) = self.fetch().await?;
            *cached = Some((value, until, EntityTag::new()));
        }
        let Some((value, _, tag)) = cached.as_ref() else {
            return Err(CredentialsError::from_msg(true, "no token"));
        };
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.clone());
        Ok(CacheableResource::New {
            entity_tag: tag.clone(),
            data: headers,
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        Some("googleapis.com".to_string())
    }
}
