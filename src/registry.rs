//! The provider registry: the only place that names concrete providers.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use provider_api::kit::Factory;

/// Every provider this build has (the cargo features choose the clouds), as factories: the
/// planner builds the providers a spec names from this list.
pub static REGISTRY: LazyLock<Vec<Factory>> = LazyLock::new(|| {
    let mut list = vec![sandbox::factory()];
    #[cfg(feature = "ovh")]
    list.push(ovh::factory());
    #[cfg(feature = "aws")]
    list.push(aws::factory());
    #[cfg(feature = "gcp")]
    list.push(gcp::factory());
    list
});

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
