//! The provider registry: the only place that names concrete providers.

use std::path::Path;
use std::sync::Arc;

use planner::ProviderRegistry;
use provider_api::schema::Body;
use provider_api::{Attrs, Diagnostic, Provider};

pub struct Registry;

impl ProviderRegistry for Registry {
    fn names(&self) -> Vec<String> {
        let mut names = vec![sandbox::NAME.to_string()];
        #[cfg(feature = "ovh")]
        names.push(ovh::NAME.to_string());
        #[cfg(feature = "aws")]
        names.push(aws::NAME.to_string());
        #[cfg(feature = "gcp")]
        names.push(gcp::NAME.to_string());
        names
    }

    fn config_schema(&self, name: &str) -> Option<Body> {
        match name {
            sandbox::NAME => Some(sandbox::config_schema()),
            #[cfg(feature = "ovh")]
            ovh::NAME => Some(ovh::config_schema()),
            #[cfg(feature = "aws")]
            aws::NAME => Some(aws::config_schema()),
            #[cfg(feature = "gcp")]
            gcp::NAME => Some(gcp::config_schema()),
            _ => None,
        }
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
            #[cfg(feature = "ovh")]
            ovh::NAME => ovh::configure(config, dir).map(|p| Arc::new(p) as Arc<dyn Provider>),
            #[cfg(feature = "aws")]
            aws::NAME => aws::configure(config, dir).map(|p| Arc::new(p) as Arc<dyn Provider>),
            #[cfg(feature = "gcp")]
            gcp::NAME => gcp::configure(config, dir).map(|p| Arc::new(p) as Arc<dyn Provider>),
            other => Err(vec![Diagnostic::error(format!(
                "unknown provider `{other}`"
            ))]),
        }
    }
}
