//! The provider registry: the only place that names concrete providers.

use std::path::{Path, PathBuf};
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

/// The sandbox cloud's directory for `ss sandbox`: `dir`, else `$SS_SANDBOX_DIR`, else
/// `.ss/sandbox` of the working directory.
fn sandbox_dir(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    Ok(match dir {
        Some(d) => d.to_path_buf(),
        None => sandbox::resolve_dir(None, &cwd),
    })
}

/// Every object of the sandbox cloud (`ss sandbox list`).
pub fn sandbox_objects(dir: Option<&Path>) -> anyhow::Result<Vec<sandbox::CloudObject>> {
    Ok(sandbox::Cloud::open(&sandbox_dir(dir)?)?.list()?)
}

/// Changes attributes of a sandbox object behind ss's back (`ss sandbox set`): each value is
/// parsed as JSON when it is valid JSON, else taken as a string.
pub fn sandbox_set(
    dir: Option<&Path>,
    id: &str,
    assignments: &[(String, String)],
) -> anyhow::Result<()> {
    let cloud = sandbox::Cloud::open(&sandbox_dir(dir)?)?;
    for (key, text) in assignments {
        let value =
            serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.clone()));
        cloud.set(id, key, value)?;
    }
    Ok(())
}
