//! The API descriptions both simulators (and the OVH provider's tests) read are vendored under
//! `sims/api-specs/`, copied unmodified from `../shared/api-specs/`: every file must still have
//! the sha256 that `SOURCES.md` records for it, so that nobody edits the contract to make a
//! request pass.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use sha2::{Digest, Sha256};

#[test]
fn vendored_descriptions_are_the_published_ones() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../api-specs");
    let sources = std::fs::read_to_string(root.join("SOURCES.md")).unwrap();
    let recorded: Vec<(String, String)> = sources
        .lines()
        .filter_map(|line| {
            let (hash, file) = line.split_once("  ")?;
            (hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| (hash.to_string(), file.trim().to_string()))
        })
        .collect();
    assert_eq!(recorded.len(), 9, "SOURCES.md lists 9 files: {recorded:?}");
    for (hash, file) in &recorded {
        let bytes = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let actual = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            &actual, hash,
            "{file} differs from the published description"
        );
    }
    // And nothing else is there to be loaded by mistake.
    for dir in ["ovh", "gcp"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                recorded.iter().any(|(_, f)| *f == name),
                "{name} is not listed in SOURCES.md"
            );
        }
    }
}
