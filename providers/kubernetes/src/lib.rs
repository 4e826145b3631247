//! What ss deploys into a Kubernetes cluster, written once for every cloud.
//!
//! - [`object`]: the `kubernetes_object` native type: one Kubernetes object, applied with
//!   server-side apply under the field manager `ss`, read back as the fields `ss` manages (so a
//!   change made behind ss's back shows as drift), deleted and waited for; and
//!   `kubernetes_manifest`, a cluster add-on (KEDA, metrics-server) from its release manifest.
//! - [`superset`]: the objects of the portable `superset` component and the generated
//!   `superset_config.py`, from the component's configuration and the stack's endpoints.
//!
//! - [`generated`]: the `generated_secret` native type (Superset's `SECRET_KEY`, made once and
//!   kept in the state).
//! - [`app`]: the `superset` component's expansion into those, the same on every provider.
//!
//! A cloud provider contributes only how to reach its clusters (credentials) and how its load
//! balancer reaches the web pods.

use provider_api::schema::ResourceSchema;

pub mod app;
pub mod generated;
pub mod object;
pub mod superset;

/// The native types this crate serves, for the schema of a provider that lists its services
/// (`object::Objects`, `generated::Generated`).
pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        object::schema(),
        object::manifest::schema(),
        generated::schema(),
    ]
}
