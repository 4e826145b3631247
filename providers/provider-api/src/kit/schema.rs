//! Shorthands for building schema tables: `s()` for a string, `list(s())` for a list of
//! strings, and so on.

use crate::schema::{AttrType, AttributeSchema, Body};

pub fn s() -> AttrType {
    AttrType::String
}

pub fn n() -> AttrType {
    AttrType::Number
}

pub fn b() -> AttrType {
    AttrType::Bool
}

pub fn list(t: AttrType) -> AttrType {
    AttrType::List(Box::new(t))
}

pub fn map(t: AttrType) -> AttrType {
    AttrType::Map(Box::new(t))
}

/// A body whose `id` attribute is the computed cloud id, described by `what`: the start of
/// every native resource schema.
pub fn with_id(what: &'static str) -> Body {
    Body::default().attr("id", AttributeSchema::computed(s(), what))
}
