//! What every native type of the provider shares: the entry each service module adds to the
//! registry in `lib.rs`, and the attributes every type has.

use provider_api::kit::schema::{s, with_id};
use provider_api::schema::{AttributeSchema as A, Body};

/// The native types, schemas and set-like attributes of one service module.
pub struct Module {
    pub types: &'static [&'static str],
    /// Description and body of one of `types`.
    pub schema: fn(&str) -> Option<(&'static str, Body)>,
    /// List attributes whose order carries no meaning (sorted by reads and plans alike).
    pub set_like: fn(&str) -> &'static [&'static str],
}

/// Length of deterministic names (the `Name` tag, security group names). EC2 accepts 255;
/// 64 keeps them readable in the console.
pub const NAME_LEN: usize = 64;

/// The attributes every type has: the computed `id` and `name`.
pub fn base() -> Body {
    with_id("Cloud id").attr(
        "name",
        A::computed(
            s(),
            "Deterministic name (the `Name` tag) derived from the resource's identity",
        ),
    )
}
