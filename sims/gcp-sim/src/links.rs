//! The lookups one API makes into another's objects (Cloud SQL needs a Service Networking
//! connection, Memorystore a service connection policy, Service Networking keeps a connection
//! a Cloud SQL instance uses): made here, on the world, so that the API modules never import
//! each other.

use serde_json::{Value, json};

use crate::api::network_ref;
use crate::discovery::Api;
use crate::world::{World, key};

/// The service class of Memorystore for Redis Cluster's service connection policies.
pub const SERVICE_CLASS: &str = "gcp-memorystore-redis";

/// Whether a policy of `service_class` exists for the network `network` (any form
/// [`network_ref`] reads) in `project`'s `region`: what a Memorystore cluster create needs.
pub fn has_policy(w: &World, project: &str, region: &str, network: &str, class: &str) -> bool {
    let Some(wanted) = network_ref(w, network) else {
        return false;
    };
    let prefix = key(
        Api::Networkconnectivity,
        &format!("projects/{project}/locations/{region}/serviceConnectionPolicies/"),
    );
    w.objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .any(|(_, o)| {
            !o.deleting
                && o.data["serviceClass"] == json!(class)
                && o.data["network"]
                    .as_str()
                    .and_then(|n| network_ref(w, n))
                    .is_some_and(|n| n == wanted)
        })
}

/// The key of the connection of a service to a network (one per pair, as in Google).
pub fn connection_key(service: &str, project: &str, network: &str) -> String {
    key(
        Api::Servicenetworking,
        &format!("services/{service}/networks/{project}/{network}"),
    )
}

/// The connection of `service` to `projects/P/global/networks/N` (P an id or a number), if
/// there is one: the object key lookup every prerequisite check uses.
pub fn connection<'w>(w: &'w World, network: &str) -> Option<&'w Value> {
    let (project, name) = network_ref(w, network)?;
    w.objects
        .get(&connection_key(
            "servicenetworking.googleapis.com",
            &project,
            &name,
        ))
        .map(|o| &o.data)
}

/// Whether a Cloud SQL instance of `project` has a private IP on the network `name` (what
/// keeps Service Networking from deleting the connection).
pub fn uses_network(w: &World, project: &str, name: &str) -> bool {
    let prefix = key(Api::Sqladmin, &format!("projects/{project}/instances/"));
    w.objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, o)| !k[prefix.len()..].contains('/') && !o.deleting)
        .any(|(_, o)| {
            o.data["settings"]["ipConfiguration"]["privateNetwork"]
                .as_str()
                .and_then(|n| network_ref(w, n))
                .is_some_and(|(p, n)| p == project && n == name)
        })
}
