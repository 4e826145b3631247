//! CloudFront: distributions (`cdn`).

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::schema::Body;
use provider_api::{Attrs, Diagnostic, Expansion, Identity, ProviderError};

use crate::expand::Settings;
use crate::service::{Obj, Service, Shared, unknown_type};
use crate::types::Module;

/// The native types of this module.
pub const TYPES: [&str; 0] = [];

pub const MODULE: Module = Module {
    types: &TYPES,
    schema,
    set_like,
};

fn schema(_type_name: &str) -> Option<(&'static str, Body)> {
    None
}

fn set_like(_type_name: &str) -> &'static [&'static str] {
    &[]
}

/// The provider's own checks of a `cdn`, on top of the portable ones.
pub fn validate(_settings: &Settings, _config: &Attrs) -> Vec<Diagnostic> {
    Vec::new()
}

/// Expands a `cdn` into native resources.
pub fn expand(_settings: &Settings, _config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    Err(vec![Diagnostic::error(
        "the aws provider cannot make a `cdn` yet",
    )])
}

#[derive(Debug)]
pub struct CloudFront {
    shared: Arc<Shared>,
}

impl CloudFront {
    pub fn new(shared: Arc<Shared>) -> CloudFront {
        CloudFront { shared }
    }
}

#[async_trait]
impl Service for CloudFront {
    fn types(&self) -> &'static [&'static str] {
        &TYPES
    }

    async fn find(
        &self,
        type_name: &str,
        _identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        Err(unknown_type(type_name))
    }

    async fn create(
        &self,
        type_name: &str,
        _identity: &Identity,
        _config: &Attrs,
        _salt: &str,
    ) -> Result<String, ProviderError> {
        Err(unknown_type(type_name))
    }

    async fn read_many(
        &self,
        type_name: &str,
        _ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        Err(unknown_type(type_name))
    }

    async fn converge(
        &self,
        type_name: &str,
        _current: &Obj,
        _config: &Attrs,
    ) -> Result<bool, ProviderError> {
        Err(unknown_type(type_name))
    }

    async fn delete(&self, type_name: &str, _id: &str) -> Result<(), ProviderError> {
        Err(unknown_type(type_name))
    }
}
