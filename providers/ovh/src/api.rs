//! The project's view of the API: the signed client with the project, region and CDN service
//! filled into every path, OVH's asynchronous operations, and the routes of each native type.

use std::time::Duration;

use provider_api::ProviderError;
use provider_api::kit::wait::{Poll, until};
use serde_json::Value as Json;

use crate::client::Client;
use crate::json::{id_text, js, list, not_found_is_none, split_id};
use crate::routes::{OPERATION_GET, Route};
use crate::settings::Settings;

/// What a call answers, or why it failed.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// The client, the project and the provider block's settings, shared by every service.
#[derive(Debug)]
pub struct Api {
    pub client: Client,
    pub project: String,
    pub settings: Settings,
    pub ready_timeout: Duration,
}

/// The routes of one native type by verb (`put` where the API can change an object in place),
/// and the path parameters its id fills: one, or a parent's and a child's for a
/// `PARENT/CHILD` id.
#[derive(Clone, Copy, Debug)]
pub struct TypeRoutes {
    pub list: Route,
    pub create: Route,
    pub get: Route,
    pub put: Option<Route>,
    pub delete: Route,
    pub id_params: &'static [&'static str],
}

/// Path parameters by name (`{kubeId}` → the id).
pub type Params<'a> = Vec<(&'static str, &'a str)>;

impl TypeRoutes {
    /// The path parameters `id` fills.
    pub fn params<'a>(&self, id: &'a str) -> Result<Params<'a>> {
        Ok(match self.id_params {
            &[parent, child] => {
                let (p, c) = split_id(id)?;
                vec![(parent, p), (child, c)]
            }
            keys => keys.iter().map(|&k| (k, id)).collect(),
        })
    }
}

impl Api {
    pub fn region(&self) -> &str {
        &self.settings.region
    }

    fn cdn_service(&self) -> Result<&str> {
        self.settings.cdn_service.as_deref().ok_or_else(|| {
            ProviderError::Invalid("`cdn_service` is not set in the provider block".into())
        })
    }

    /// Sends one request; the project (or, under `/cdn/`, the CDN service) and the region
    /// fill their path parameters, `extra` the others.
    pub async fn call(
        &self,
        route: Route,
        extra: &[(&str, &str)],
        body: Option<&Json>,
    ) -> Result<Json> {
        let mut params: Vec<(&str, &str)> = vec![
            ("serviceName", self.project.as_str()),
            ("regionName", self.region()),
        ];
        if route.path.starts_with("/cdn/") {
            params[0] = ("serviceName", self.cdn_service()?);
        }
        params.extend_from_slice(extra);
        self.client.call(route, &params, &[], body).await
    }

    /// The ids a list answers; `None` when the list itself is not found.
    pub async fn list_ids(
        &self,
        route: Route,
        extra: &[(&str, &str)],
    ) -> Result<Option<Vec<String>>> {
        Ok(not_found_is_none(self.call(route, extra, None).await)?
            .map(|l| list(l).iter().filter_map(id_text).collect()))
    }

    /// Waits for an OVH operation to complete; answers its `resourceId`.
    pub async fn wait_operation(&self, op: &Json) -> Result<Option<String>> {
        let Some(id) = js(op, "id").map(str::to_string) else {
            return Ok(js(op, "resourceId").map(str::to_string));
        };
        // The create's answer is the operation's first state; later ones are asked for.
        let mut first = Some(op.clone());
        let what = format!("operation {id} not completed");
        until(self.ready_timeout, &what, || {
            let known = first.take();
            let id = id.as_str();
            async move {
                let current = match known {
                    Some(j) => j,
                    None => {
                        self.call(OPERATION_GET, &[("operationId", id)], None)
                            .await?
                    }
                };
                match js(&current, "status").unwrap_or("") {
                    "completed" => Ok(Poll::Ready(js(&current, "resourceId").map(str::to_string))),
                    s @ ("in-error" | "canceled") => Err(ProviderError::Other(format!(
                        "operation {id} ({}) ended {s}",
                        js(&current, "action").unwrap_or("?")
                    ))),
                    _ => Ok(Poll::Pending),
                }
            }
        })
        .await
    }
}
