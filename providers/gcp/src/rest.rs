//! JSON over HTTP for the two APIs the network's prerequisites need and that have no client
//! crate here: `servicenetworking` v1 (Google publishes no Rust client for it) and
//! `networkconnectivity` v1 (four calls, which do not justify compiling a whole client crate;
//! see the crate docs). Requests carry the headers the credentials give (the same credentials
//! as the client crates), and are retried as the client crates' requests are (`clients.rs`):
//! a 429 always, a 5xx or a transport failure only when the request is idempotent (reads, and
//! mutations that carry a `requestId`), up to 8 attempts, 100 ms doubling to 5 s. Their
//! long-running operations (`google.longrunning.Operation`: `name`, `done`, `error`,
//! `response`) are polled with the provider's backoff until `done`.

use std::time::Duration;

use provider_api::ProviderError;
use provider_api::kit::pages;
use reqwest::Method;
use serde_json::Value as Json;

use crate::api::Api;
use crate::clients::Clients;

const ATTEMPTS: u32 = 8;

/// A failed call: the HTTP status (none for a transport failure) and the service's message.
#[derive(Debug)]
pub struct Failure {
    pub status: Option<u16>,
    /// `error.status` of the body (`FAILED_PRECONDITION`, …), when the service gives one.
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Another object still uses this one, or another operation runs on it: worth waiting.
    pub fn is_busy(&self) -> bool {
        matches!(self.status, Some(409))
            || (self.status == Some(400) && self.code == "FAILED_PRECONDITION")
    }

    pub fn into_error(self, what: &str) -> ProviderError {
        let text = match self.status {
            Some(s) if self.code.is_empty() => format!("{what}: {s}: {}", self.message),
            Some(s) => format!("{what}: {s} {}: {}", self.code, self.message),
            None => format!("{what}: {}", self.message),
        };
        match self.status {
            Some(404) => ProviderError::NotFound(text),
            Some(429) => ProviderError::Throttled(text),
            Some(409 | 500..=599) | None => ProviderError::Transient(text),
            Some(_) if self.is_busy() => ProviderError::Transient(text),
            Some(_) => ProviderError::Invalid(text),
        }
    }
}

fn failure(status: u16, body: &Json) -> Failure {
    let e = &body["error"];
    Failure {
        status: Some(status),
        code: e["status"].as_str().unwrap_or_default().to_string(),
        message: e["message"]
            .as_str()
            .map_or_else(|| format!("HTTP {status}"), str::to_string),
    }
}

impl Api {
    /// One call with retries; the answer's JSON body (`{}` when empty).
    pub(crate) async fn rest(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        idempotent: bool,
    ) -> Result<Json, Failure> {
        let c = self.clients().await.map_err(|e| Failure {
            status: None,
            code: String::new(),
            message: e.to_string(),
        })?;
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let result = self.rest_once(c, method.clone(), url, body).await;
            let retry = match &result {
                Ok(_) => false,
                Err(f) => match f.status {
                    Some(429) => true,
                    Some(500..=599) | None => idempotent,
                    _ => false,
                },
            };
            if !retry || attempt >= ATTEMPTS {
                return result;
            }
            tracing::debug!(%method, url, attempt, "retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            attempt += 1;
        }
    }

    async fn rest_once(
        &self,
        c: &Clients,
        method: Method,
        url: &str,
        body: Option<&Json>,
    ) -> Result<Json, Failure> {
        let transport = |message: String| Failure {
            status: None,
            code: String::new(),
            message,
        };
        let headers = match c.creds.headers(http::Extensions::new()).await {
            Ok(google_cloud_auth::credentials::CacheableResource::New { data, .. }) => data,
            Ok(google_cloud_auth::credentials::CacheableResource::NotModified) => {
                return Err(transport("the credentials gave no headers".into()));
            }
            Err(e) => {
                return Err(Failure {
                    // An authentication failure is not retried unless the credentials say so.
                    status: (!e.is_transient()).then_some(401),
                    code: String::new(),
                    message: format!("cannot authenticate: {e}"),
                });
            }
        };
        let mut req = c.http.request(method, url).headers(headers);
        if let Some(b) = body {
            req = req.json(b);
        }
        let answer = req.send().await.map_err(|e| transport(format!("{e}")))?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(|e| transport(format!("{e}")))?;
        let json: Json = if text.trim().is_empty() {
            Json::Object(Default::default())
        } else {
            serde_json::from_str(&text).unwrap_or(Json::Null)
        };
        if (200..300).contains(&status) {
            Ok(json)
        } else {
            Err(failure(status, &json))
        }
    }

    /// The object at `url`; `None` when there is none (404). `what` names it in errors.
    pub(crate) async fn rest_get(
        &self,
        url: &str,
        what: &str,
    ) -> Result<Option<Json>, ProviderError> {
        match self.rest(Method::GET, url, None, true).await {
            Ok(o) => Ok(Some(o)),
            Err(f) if f.is_not_found() => Ok(None),
            Err(f) => Err(f.into_error(what)),
        }
    }

    /// Every object of the collection at `url`, page after page (`pageToken`), from each
    /// page's `field`.
    pub(crate) async fn rest_list(
        &self,
        url: &str,
        field: &str,
        what: &str,
    ) -> Result<Vec<Json>, ProviderError> {
        pages::collect(|token| async move {
            let page_url = match token.filter(|t| !t.is_empty()) {
                Some(token) => format!("{url}?pageToken={token}"),
                None => url.to_string(),
            };
            let page = self
                .rest(Method::GET, &page_url, None, true)
                .await
                .map_err(|f| f.into_error(what))?;
            let items = page[field].as_array().cloned().unwrap_or_default();
            Ok((items, page["nextPageToken"].as_str().map(str::to_string)))
        })
        .await
    }

    /// Polls a long-running operation of the API at `base` until it is done; the done
    /// operation (its `error` or `response`).
    pub(crate) async fn rest_poll(
        &self,
        what: &str,
        base: &str,
        op: Json,
    ) -> Result<Json, ProviderError> {
        let name = op["name"].as_str().unwrap_or_default().to_string();
        if op["done"].as_bool() == Some(true) || name.is_empty() {
            return Ok(op);
        }
        let url = format!("{base}/v1/{name}");
        self.wait_for(what, || async {
            let o = self
                .rest(Method::GET, &url, None, true)
                .await
                .map_err(|f| f.into_error(what))?;
            Ok((o["done"].as_bool() == Some(true)).then_some(o))
        })
        .await
    }

    /// [`Api::rest_poll`], a failed operation as an error; the operation's `response`.
    pub(crate) async fn rest_wait(
        &self,
        what: &str,
        base: &str,
        op: Json,
    ) -> Result<Json, ProviderError> {
        let done = self.rest_poll(what, base, op).await?;
        match op_error(&done) {
            Some(e) => Err(ProviderError::Invalid(format!(
                "{what}: operation failed: {}",
                e["message"].as_str().unwrap_or_default()
            ))),
            None => Ok(done["response"].clone()),
        }
    }
}

/// The `error` (a `google.rpc.Status`) of a done operation, if it failed.
pub fn op_error(done: &Json) -> Option<&Json> {
    done.get("error").filter(|e| !e.is_null())
}
