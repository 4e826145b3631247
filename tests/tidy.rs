//! The house rules, checked by `cargo test`: ARCHITECTURE.md names every crate, top-level
//! folder and crates.io dependency; only the binary's `src/registry.rs` names a provider crate;
//! no function outside tests is longer than [`MAX_FN_LINES`] lines. Each check is its own test,
//! and its message says what to add where.
//!
//! The files checked are those git tracks (a new file counts once it is added); outside a git
//! checkout, every file under the root except `target/` and hidden ones.

#![allow(clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// The longest a function outside tests may be.
const MAX_FN_LINES: usize = 150;

/// Functions allowed to be longer: declarative tables (a schema is one `match` arm per type, each
/// a chain of `.attr(…)` calls), where splitting would only scatter one table over several
/// functions. Each entry is (file, function); an entry that is no longer over the limit fails
/// the check, so the list stays short.
const LONG_FN_ALLOWED: &[(&str, &str)] = &[
    // The portable components' schemas: a table of attributes and blocks, no logic.
    ("providers/provider-api/src/component.rs", "schema"),
];

/// The provider crates; only `src/registry.rs` may name them.
const PROVIDER_CRATES: [&str; 4] = ["sandbox", "ovh", "aws", "gcp"];

/// The folders whose files must not name a provider crate (besides the registry).
const PROVIDER_FREE: [&str; 3] = ["src/", "planner/", "state/"];

/// The one file that may name provider crates.
const REGISTRY: &str = "src/registry.rs";

/// Folders whose subfolders are units of their own (an example, a simulator, a provider), so
/// each subfolder must be in the codemap too.
const FOLDERS_OF_UNITS: [&str; 3] = ["examples", "sims", "providers"];

// ---------------------------------------------------------------------------------------------
// The checks.

#[test]
fn every_member_and_top_level_folder_is_in_the_codemap() {
    let codemap = section(&architecture(), "Codemap");
    let files = tracked_files();
    let mut folders: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.split_once('/').map(|(top, _)| top.to_string()))
        .collect();
    let units: BTreeSet<String> = files
        .iter()
        .filter_map(|f| {
            let mut parts = f.split('/');
            let (top, unit) = (parts.next()?, parts.next()?);
            // A unit is a folder: it has a path below it.
            parts.next()?;
            FOLDERS_OF_UNITS
                .contains(&top)
                .then(|| format!("{top}/{unit}"))
        })
        .collect();
    folders.extend(units);
    folders.extend(workspace_members());
    let missing: Vec<&String> = folders
        .iter()
        .filter(|f| !codemap.contains(&format!("`{f}/")) && !codemap.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's codemap (section \"## Codemap\") does not name {missing:?}: add a \
         line `- \\`FOLDER/\\` — what it is and holds` for each"
    );
}

#[test]
fn every_crates_io_dependency_is_in_the_dependency_table() {
    let table = dependency_table(&section(&architecture(), "Dependencies and why"));
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (manifest, name) in crates_io_dependencies() {
        let listed = table.iter().any(|entry| match entry.strip_suffix('*') {
            Some(family) => name.starts_with(family),
            None => *entry == name,
        });
        if !listed {
            missing.entry(name).or_default().insert(manifest);
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's table \"## Dependencies and why\" has no row for these crates.io \
         dependencies (crate → manifests naming it): {missing:#?}; add a row `| crate | used by \
         | why |` for each (one row may name several crates, or a family as `prefix-*`)"
    );
}

#[test]
fn only_the_registry_names_provider_crates() {
    let mut found = Vec::new();
    for file in rust_sources() {
        if file == REGISTRY || !PROVIDER_FREE.iter().any(|dir| file.starts_with(dir)) {
            continue;
        }
        let ast = parse(&file);
        let mut names = ProviderNames {
            local: locally_bound(&ast),
            found: Vec::new(),
        };
        names.visit_file(&ast);
        found.extend(
            names
                .found
                .into_iter()
                .map(|(name, line)| format!("{file}:{line} names `{name}`")),
        );
    }
    assert!(
        found.is_empty(),
        "only {REGISTRY} may name a provider crate (ARCHITECTURE.md, invariant 1); reach the \
         provider through the registry instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_function_outside_tests_is_over_the_limit() {
    let sources = rust_sources();
    let test_modules = test_module_paths(&sources);
    let mut long = Vec::new();
    let mut allowed_seen = BTreeSet::new();
    for file in &sources {
        if test_modules
            .iter()
            .any(|t| file == t || file.starts_with(&format!("{}/", t.trim_end_matches(".rs"))))
        {
            continue;
        }
        let mut fns = Functions {
            long: Vec::new(),
            allowed_seen: &mut allowed_seen,
            file,
        };
        fns.visit_file(&parse(file));
        long.extend(fns.long);
    }
    let stale: Vec<&(&str, &str)> = LONG_FN_ALLOWED
        .iter()
        .filter(|entry| !allowed_seen.contains(*entry))
        .collect();
    assert!(
        stale.is_empty(),
        "LONG_FN_ALLOWED in tests/tidy.rs names functions that are gone or no longer over \
         {MAX_FN_LINES} lines: remove {stale:?}"
    );
    assert!(
        long.is_empty(),
        "functions outside tests over {MAX_FN_LINES} lines (split them by concern; a purely \
         declarative table may instead be added, with a comment saying why, to \
         LONG_FN_ALLOWED in tests/tidy.rs):\n{}",
        long.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The repository.

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn architecture() -> String {
    read("ARCHITECTURE.md")
}

/// The files of the repository, relative to the root, with `/` separators.
fn tracked_files() -> Vec<String> {
    let git = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    match git {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|f| !f.is_empty())
            // A file deleted in the work tree but not yet in the index is not there.
            .filter(|f| root().join(f).exists())
            .map(str::to_string)
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(&root(), "", &mut files);
            files
        }
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || (prefix.is_empty() && name == "target") {
            continue;
        }
        let relative = format!("{prefix}{name}");
        if entry.path().is_dir() {
            walk(&entry.path(), &format!("{relative}/"), out);
        } else {
            out.push(relative);
        }
    }
}

/// Rust sources outside `tests/` and `benches/` folders.
fn rust_sources() -> Vec<String> {
    tracked_files()
        .into_iter()
        .filter(|f| f.ends_with(".rs"))
        .filter(|f| {
            !f.split('/')
                .any(|part| part == "tests" || part == "benches")
        })
        .collect()
}

fn parse(file: &str) -> syn::File {
    syn::parse_file(&read(file)).unwrap_or_else(|e| {
        let at = e.span().start();
        panic!("{file}:{}:{}: does not parse: {e}", at.line, at.column + 1)
    })
}

// ---------------------------------------------------------------------------------------------
// ARCHITECTURE.md.

/// The text of the section `## HEADING`, up to the next `## ` heading.
fn section(doc: &str, heading: &str) -> String {
    let start = format!("## {heading}\n");
    let Some(at) = doc.find(&start) else {
        panic!("ARCHITECTURE.md has no section \"## {heading}\"")
    };
    let body = &doc[at + start.len()..];
    body[..body.find("\n## ").unwrap_or(body.len())].to_string()
}

/// The crate names of the table's first column: each cell is a comma-separated list of names,
/// each maybe followed by a version or a parenthesised note (`reqwest 0.13 (form, json)`).
fn dependency_table(section: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cell = row.split('|').nth(1).unwrap_or_default();
        let mut depth = 0usize;
        let bare: String = cell
            .chars()
            .filter(|c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    _ => return depth == 0,
                }
                false
            })
            .collect();
        names.extend(
            bare.split(',')
                .filter_map(|n| n.split_whitespace().next())
                .map(|n| n.trim_matches('`').to_string()),
        );
    }
    names
}

// ---------------------------------------------------------------------------------------------
// Cargo manifests, read line by line: `[section]` headers and `key = value` entries (a value
// may run over several lines while its brackets are open). Enough for this workspace's
// manifests, which the checks below would fail loudly on if they grew a form it misreads.

struct Entry {
    section: String,
    key: String,
    value: String,
}

fn manifest(relative: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section = String::new();
    let mut open = 0i32;
    for line in read(relative).lines() {
        let line = strip_comment(line);
        let line = line.trim();
        if open > 0 {
            if let Some(last) = entries.last_mut() {
                last.value.push(' ');
                last.value.push_str(line);
            }
            open += brackets(line);
            continue;
        }
        if line.starts_with('[') && !line.contains('=') {
            section = line.trim_matches(['[', ']']).trim().to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            open = brackets(value);
            entries.push(Entry {
                section: section.clone(),
                key: key.trim().trim_matches('"').to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    entries
}

/// The line without a `#` comment (a `#` inside a string is kept).
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Opening minus closing brackets and braces.
fn brackets(text: &str) -> i32 {
    text.chars()
        .map(|c| match c {
            '[' | '{' => 1,
            ']' | '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The quoted strings of a value (`["a", "b"]` → a, b).
fn strings(value: &str) -> Vec<String> {
    value
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn workspace_members() -> Vec<String> {
    manifest("Cargo.toml")
        .into_iter()
        .filter(|e| e.section == "workspace" && e.key == "members")
        .flat_map(|e| strings(&e.value))
        .collect()
}

/// Whether a dependency's value is a path dependency (`{ path = … }`).
fn is_path(value: &str) -> bool {
    value.trim_matches(['{', '}']).split(',').any(|part| {
        part.split_once('=')
            .is_some_and(|(k, _)| k.trim() == "path")
    })
}

/// (manifest, crate) for every crates.io dependency of every workspace manifest.
fn crates_io_dependencies() -> Vec<(String, String)> {
    let root_manifest = manifest("Cargo.toml");
    let workspace_paths: BTreeSet<String> = root_manifest
        .iter()
        .filter(|e| e.section == "workspace.dependencies" && is_path(&e.value))
        .map(|e| e.key.clone())
        .collect();
    let is_dependency_section = |s: &str| {
        let last = s.rsplit('.').next().unwrap_or(s);
        matches!(
            last,
            "dependencies" | "dev-dependencies" | "build-dependencies"
        )
    };
    let mut out = Vec::new();
    let manifests = std::iter::once("Cargo.toml".to_string()).chain(
        workspace_members()
            .into_iter()
            .map(|m| format!("{m}/Cargo.toml")),
    );
    for path in manifests {
        for entry in manifest(&path) {
            if !is_dependency_section(&entry.section) {
                continue;
            }
            // `name.workspace = true` names the dependency before the dot.
            let (key, value) = match entry.key.split_once('.') {
                Some((name, field)) => (name.to_string(), format!("{field} = {}", entry.value)),
                None => (entry.key.clone(), entry.value.clone()),
            };
            let from_workspace = value.replace(' ', "").contains("workspace=true");
            if is_path(&value) || (from_workspace && workspace_paths.contains(&key)) {
                continue;
            }
            // `alias = { package = "real-name", … }` depends on `real-name`.
            let name = value
                .trim_matches(['{', '}'])
                .split(',')
                .find_map(|part| {
                    let (k, v) = part.split_once('=')?;
                    (k.trim() == "package").then(|| v.trim().trim_matches('"').to_string())
                })
                .unwrap_or(key);
            out.push((path.clone(), name));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rust sources.

/// Whether the attributes make the item test-only: `#[cfg(test)]`, `#[test]`,
/// `#[tokio::test]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        path.segments.last().is_some_and(|s| s.ident == "test")
            || (path.is_ident("cfg")
                && a.meta
                    .require_list()
                    .is_ok_and(|l| l.tokens.to_string() == "test"))
    })
}

/// Files of modules declared `#[cfg(test)] mod NAME;` (so `NAME.rs` and everything under
/// `NAME/` are tests), as `DIR/NAME.rs`.
fn test_module_paths(sources: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for file in sources {
        let (dir, stem) = match file.rsplit_once('/') {
            Some((dir, name)) => (dir, name.trim_end_matches(".rs")),
            None => ("", file.trim_end_matches(".rs")),
        };
        // `lib.rs`, `main.rs` and `mod.rs` own the modules of their folder; `foo.rs` those of
        // `foo/`.
        let base = if matches!(stem, "lib" | "main" | "mod") {
            dir.to_string()
        } else {
            format!("{dir}/{stem}")
        };
        for item in parse(file).items {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
                && is_test(&m.attrs)
            {
                let single = format!("{base}/{}.rs", m.ident);
                let nested = format!("{base}/{}/mod.rs", m.ident);
                out.push(if sources.contains(&nested) {
                    nested.trim_end_matches("/mod.rs").to_string() + ".rs"
                } else {
                    single
                });
            }
        }
    }
    out
}

/// Measures every function outside test modules, from `fn` to its closing brace.
struct Functions<'a> {
    file: &'a str,
    long: Vec<String>,
    /// The entries of [`LONG_FN_ALLOWED`] found over the limit.
    allowed_seen: &'a mut BTreeSet<(&'static str, &'static str)>,
}

impl Functions<'_> {
    fn measure(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) {
        let start = sig.fn_token.span.start().line;
        let end = block.brace_token.span.close().end().line;
        let lines = end + 1 - start;
        let name = sig.ident.to_string();
        if lines <= MAX_FN_LINES || is_test(attrs) {
            return;
        }
        match LONG_FN_ALLOWED
            .iter()
            .find(|(file, function)| *file == self.file && *function == name)
        {
            Some(entry) => {
                self.allowed_seen.insert(*entry);
            }
            None => self
                .long
                .push(format!("{}:{start}: `{name}` is {lines} lines", self.file)),
        }
    }
}

impl<'ast> Visit<'ast> for Functions<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.measure(&f.attrs, &f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.measure(&f.attrs, &f.sig, &f.block);
        visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.measure(&f.attrs, &f.sig, block);
        }
        visit::visit_trait_item_fn(self, f);
    }
}

/// Names a file binds itself (`mod sandbox;`, `use super::sandbox;`, `use x as aws;`): a path
/// starting with one of them is local, not the crate of that name.
fn locally_bound(ast: &syn::File) -> BTreeSet<String> {
    struct Bound(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Bound {
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            self.0.insert(m.ident.to_string());
            visit::visit_item_mod(self, m);
        }

        fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
            // `use sandbox;` and `use sandbox::x` name the crate, not a local binding.
            let mut leaves = Vec::new();
            use_leaves(&u.tree, &mut leaves);
            let root = use_root(&u.tree);
            self.0.extend(leaves.into_iter().filter(|leaf| {
                u.leading_colon.is_none() && Some(leaf.as_str()) != root.as_deref()
            }));
        }
    }
    let mut bound = Bound(BTreeSet::new());
    bound.visit_file(ast);
    bound.0
}

fn use_root(tree: &syn::UseTree) -> Option<String> {
    match tree {
        syn::UseTree::Path(p) => Some(p.ident.to_string()),
        syn::UseTree::Name(n) => Some(n.ident.to_string()),
        syn::UseTree::Rename(r) => Some(r.ident.to_string()),
        _ => None,
    }
}

fn use_leaves(tree: &syn::UseTree, out: &mut Vec<String>) {
    match tree {
        syn::UseTree::Path(p) => use_leaves(&p.tree, out),
        syn::UseTree::Name(n) => out.push(n.ident.to_string()),
        syn::UseTree::Rename(r) => out.push(r.rename.to_string()),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_leaves(t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

/// Paths (also inside `use`, and in macro arguments) whose first segment is a provider crate
/// the file does not bind itself.
struct ProviderNames {
    local: BTreeSet<String>,
    found: Vec<(String, usize)>,
}

impl ProviderNames {
    fn check(&mut self, ident: &proc_macro2::Ident, absolute: bool) {
        let name = ident.to_string();
        if PROVIDER_CRATES.contains(&name.as_str()) && (absolute || !self.local.contains(&name)) {
            self.found.push((name, ident.span().start().line));
        }
    }

    /// `NAME ::` in a macro's tokens, where `NAME` is not itself after `::`.
    fn check_tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                proc_macro2::TokenTree::Group(g) => self.check_tokens(g.stream()),
                proc_macro2::TokenTree::Ident(ident) => {
                    let colons = |at: usize| matches!(tokens.get(at), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ':');
                    let after_path = i >= 2 && colons(i - 1) && colons(i - 2);
                    if colons(i + 1) && colons(i + 2) && !after_path {
                        self.check(ident, false);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for ProviderNames {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            visit::visit_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        // A single-segment path (`aws`) is a variable or a type, not a crate.
        if path.segments.len() > 1
            && let Some(first) = path.segments.first()
        {
            self.check(&first.ident, path.leading_colon.is_some());
        }
        visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let ident = match &u.tree {
            syn::UseTree::Path(p) => Some(&p.ident),
            syn::UseTree::Name(n) => Some(&n.ident),
            syn::UseTree::Rename(r) => Some(&r.ident),
            _ => None,
        };
        if let Some(ident) = ident {
            // `use sandbox::x` and `use sandbox;` always name the crate.
            self.check(ident, true);
        }
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        self.check(&e.ident, true);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.check_tokens(m.tokens.clone());
        visit::visit_macro(self, m);
    }
}
