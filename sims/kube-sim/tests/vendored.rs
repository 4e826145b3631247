//! The Kubernetes OpenAPI definitions kube-sim validates against are the published ones: the
//! file must still have the sha256 its `SOURCES.md` records, so that nobody edits the contract
//! to make a request pass.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use sha2::{Digest, Sha256};

#[test]
fn vendored_definitions_are_the_published_ones() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../api-specs/kubernetes");
    let sources = std::fs::read_to_string(root.join("SOURCES.md")).unwrap();
    let recorded: Vec<(String, String)> = sources
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            let (hash, file) = (cells.get(1)?, cells.get(2)?);
            (hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| (hash.to_string(), file.to_string()))
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    for (hash, file) in &recorded {
        let bytes = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            &hex::encode(Sha256::digest(&bytes)),
            hash,
            "{file} was changed"
        );
    }
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "SOURCES.md" || recorded.iter().any(|(_, f)| *f == name),
            "{name} is not listed in SOURCES.md"
        );
    }
}
