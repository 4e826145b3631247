//! Providers registered as values: a name, the schema of its `provider` block and how to build
//! one. The binary's registry is a list of these, and a test harness builds the same list with
//! its own constructors (a simulator's endpoints, a fixed environment).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::provider::{Attrs, Provider};
use crate::schema::Body;

type Configure =
    dyn Fn(&Attrs, &Path) -> Result<Arc<dyn Provider>, Vec<Diagnostic>> + Send + Sync + 'static;

/// How to make one provider.
#[derive(Clone)]
pub struct Factory {
    name: &'static str,
    config_schema: fn() -> Body,
    configure: Arc<Configure>,
}

impl fmt::Debug for Factory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Factory")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Factory {
    /// A factory from a provider's `configure(block, spec_dir)`.
    pub fn new<P, F>(name: &'static str, config_schema: fn() -> Body, configure: F) -> Factory
    where
        P: Provider + 'static,
        F: Fn(&Attrs, &Path) -> Result<P, Vec<Diagnostic>> + Send + Sync + 'static,
    {
        Factory {
            name,
            config_schema,
            configure: Arc::new(move |config, dir| {
                configure(config, dir).map(|p| Arc::new(p) as Arc<dyn Provider>)
            }),
        }
    }

    /// The name used in `provider "NAME" { … }`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The schema of the provider block.
    pub fn config_schema(&self) -> Body {
        (self.config_schema)()
    }

    /// Builds the provider from its evaluated block (empty when the spec has none).
    pub fn configure(
        &self,
        config: &Attrs,
        spec_dir: &Path,
    ) -> Result<Arc<dyn Provider>, Vec<Diagnostic>> {
        (self.configure)(config, spec_dir)
    }
}
