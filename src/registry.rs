//! The provider registry: the only place that names concrete providers.

use std::path::Path;
use std::sync::Arc;

use planner::ProviderRegistry;
use provider_api::schema::Body;
use provider_api::{Attrs, Diagnostic, Provider};

pub struct Registry;

impl ProviderRegistry for Registry {
    fn names(&self) -> Vec<String> {
        vec![sandbox::NAME.to_string()]
    }

    fn config_schema(&self, name: &str) -> Option<Body> {
        (name == sandbox::NAME).then(sandbox::config_schema)
    }

    fn configure(
        &self,
        name: &str,
        config: &Attrs,
        dir: &Path,
    ) -> Result<Arc<dyn Provider>, Vec<Diagnostic>> {
        match name {
            sandbox::NAME => {
                sandbox::configure(config, dir).map(|p| Arc::new(p) as Arc<dyn Provider>)
            }
            other => Err(vec![Diagnostic::error(format!(
                "unknown provider `{other}`"
            ))]),
        }
    }
}
