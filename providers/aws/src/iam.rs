//! IAM: roles with a trust policy and attached policies (EKS cluster and node roles, the RDS Proxy role).

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::schema::Body;
use provider_api::{Attrs, Identity, ProviderError};

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

#[derive(Debug)]
pub struct Iam {
    shared: Arc<Shared>,
}

impl Iam {
    pub fn new(shared: Arc<Shared>) -> Iam {
        Iam { shared }
    }
}

#[async_trait]
impl Service for Iam {
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
