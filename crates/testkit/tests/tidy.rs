//! Tidy checks that keep the house honest, read from the repository itself: the
//! crate dependencies are exactly those ARCHITECTURE.md allows, its code map names
//! every source file and no other, no crate declares a dependency it never uses,
//! both store engines carry the same migrations, and every Rust file opens with its
//! `//!` paragraph.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata answers JSON")
}

fn packages(metadata: &Value) -> &Vec<Value> {
    metadata["packages"].as_array().expect("packages")
}

/// The package's dependencies of one kind (`None`: normal, `Some("dev")`).
fn dependencies<'a>(package: &'a Value, kind: Option<&str>) -> impl Iterator<Item = &'a Value> + 'a {
    let kind = kind.map(str::to_string);
    package["dependencies"].as_array().into_iter().flatten().filter(move |d| d["kind"].as_str().map(str::to_string) == kind)
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Whether `text` names `ident` as a whole word.
fn names(text: &str, ident: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(ident).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + ident.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// The table under "## Dependencies" in ARCHITECTURE.md: crate → the workspace
/// crates it may depend on.
fn allowed_edges() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text.split("\n## Dependencies").nth(1).expect("ARCHITECTURE.md has a section \"## Dependencies\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut edges = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let crate_name = cells[0].trim_matches('`').to_string();
        let allowed = cells.get(1).map_or("", |c| c).split(',').map(|d| d.trim().trim_matches('`').to_string()).filter(|d| !d.is_empty() && d != "—");
        edges.insert(crate_name, allowed.collect());
    }
    assert!(!edges.is_empty(), "the Dependencies table of ARCHITECTURE.md lists no crate");
    edges
}

#[test]
fn crates_depend_on_exactly_what_architecture_allows() {
    let metadata = metadata();
    let ours: BTreeSet<String> = packages(&metadata).iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    let actual: BTreeMap<String, BTreeSet<String>> = packages(&metadata)
        .iter()
        .map(|p| {
            let deps = dependencies(p, None).filter_map(|d| d["name"].as_str()).filter(|d| ours.contains(*d)).map(str::to_string).collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect();
    let allowed = allowed_edges();
    let mut wrong = Vec::new();
    for (name, deps) in &actual {
        let Some(may) = allowed.get(name) else {
            wrong.push(format!("{name} is not in ARCHITECTURE.md's Dependencies table"));
            continue;
        };
        for dep in deps.difference(may) {
            wrong.push(format!("{name} depends on {dep}, which ARCHITECTURE.md does not allow"));
        }
        for dep in may.difference(deps) {
            wrong.push(format!("ARCHITECTURE.md says {name} depends on {dep}, but it does not: correct the table"));
        }
    }
    for name in allowed.keys().filter(|name| !actual.contains_key(*name)) {
        wrong.push(format!("ARCHITECTURE.md lists {name}, which is no crate of the workspace"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The code map of ARCHITECTURE.md: each crate's folder (`### \`crates/app\``) and
/// the files its table names (`| \`core.rs\` | ...`, several in one cell allowed).
fn code_map() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text.split("\n## Code map").nth(1).expect("ARCHITECTURE.md has a section \"## Code map\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in section.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            current = Some(heading.trim().trim_matches('`').to_string());
        } else if let (Some(folder), true) = (&current, line.starts_with("| `")) {
            let cell = line.trim_start_matches('|').split('|').next().unwrap_or("");
            let files = cell.split(',').map(|f| f.trim().trim_matches('`').to_string()).filter(|f| !f.is_empty());
            map.entry(folder.clone()).or_default().extend(files);
        }
    }
    map
}

#[test]
fn the_code_map_names_every_source_file_and_no_other() {
    let root = workspace();
    let map = code_map();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join("crates")).expect("crates").flatten().map(|e| e.path()).collect();
    folders.extend([root.join("bench"), root.join("examples/echo-bot")]);
    let mut wrong = Vec::new();
    for folder in folders.into_iter().filter(|f| f.join("src").is_dir()) {
        let name = folder.strip_prefix(&root).unwrap().display().to_string();
        let src = folder.join("src");
        let files: BTreeSet<String> = rust_files(&src).iter().map(|f| f.strip_prefix(&src).unwrap().display().to_string()).collect();
        let named = map.get(&name).cloned().unwrap_or_default();
        for file in files.difference(&named) {
            wrong.push(format!("{name}/src/{file} is missing from ARCHITECTURE.md's code map"));
        }
        for file in named.difference(&files) {
            wrong.push(format!("ARCHITECTURE.md's code map names {name}/src/{file}, which does not exist"));
        }
    }
    assert!(!map.is_empty(), "the code map lists no crate");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_crate_declares_a_dependency_it_does_not_use() {
    let metadata = metadata();
    let mut unused = Vec::new();
    for package in packages(&metadata) {
        let root = Path::new(package["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf();
        let read = |dirs: &[&str]| dirs.iter().flat_map(|d| rust_files(&root.join(d))).map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect::<String>();
        let sources = read(&["src"]);
        let with_tests = sources.clone() + &read(&["tests", "benches", "examples"]);
        for (kind, text) in [(None, &sources), (Some("dev"), &with_tests)] {
            for dependency in dependencies(package, kind) {
                let name = dependency["rename"].as_str().or(dependency["name"].as_str()).unwrap();
                if !names(text, &name.replace('-', "_")) {
                    unused.push(format!("{} declares {}{name} but never names it", package["name"].as_str().unwrap(), if kind.is_some() { "the dev-dependency " } else { "" }));
                }
            }
        }
    }
    assert!(unused.is_empty(), "{}", unused.join("\n"));
}

#[test]
fn both_engines_carry_the_same_migrations() {
    let names = |engine: &str| -> BTreeSet<String> {
        let dir = workspace().join("crates").join(engine).join("migrations");
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    };
    let (sqlite, postgres) = (names("store-sqlite"), names("store-postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "the engines' migrations differ by name");
}

#[test]
fn every_rust_file_opens_with_its_module_paragraph() {
    let root = workspace();
    let mut missing = Vec::new();
    for dir in ["crates", "bench", "examples"] {
        for file in rust_files(&root.join(dir)).into_iter().filter(|f| !f.components().any(|c| c.as_os_str() == "target")) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if !text.starts_with("//!") {
                missing.push(file.strip_prefix(&root).unwrap_or(&file).display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "files without a //! paragraph at the top:\n{}", missing.join("\n"));
}

#[test]
fn the_word_check_sees_whole_names_only() {
    assert!(names("use tokio::sync;", "tokio"));
    assert!(!names("use tokio_util::sync;", "tokio"));
    assert!(!names("my_tokio", "tokio"));
}
