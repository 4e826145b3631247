//! What every native resource type of the provider shares: the length of deterministic names
//! and the start of a schema. Each service module owns its types' names and schemas.
//!
//! Ids are the objects' resource names as the APIs write references to them
//! (`projects/P/global/networks/N`, `projects/P/locations/L/clusters/C`, …), so that one object's
//! id can be given to another as a reference without translation; Cloud SQL instances are
//! named by their instance name, users by `INSTANCE/USER`.

use provider_api::kit::schema::{s, with_id};
use provider_api::schema::{AttributeSchema as A, Body};

/// Length of deterministic names: GKE cluster and node pool names are at most 40 characters;
/// every other name here allows 63.
pub const NAME_LEN: usize = 40;

/// The `id` and `name` attributes of a named object.
pub fn base() -> Body {
    with_id("Resource name (the id other objects refer to)").attr(
        "name",
        A::computed(
            s(),
            "Deterministic name derived from the resource's identity",
        ),
    )
}
