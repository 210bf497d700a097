//! The crate graph is the one ARCHITECTURE.md draws.
//!
//! ARCHITECTURE.md's code map lists the crates in dependency order, each
//! with a **Depends on** line. This test reads that list and `cargo
//! metadata` and fails when they disagree: an edge in a `Cargo.toml` that
//! the map does not name (say, health reaching into the engine), an edge
//! the map names that no longer exists (the doc would lie), a crate that
//! depends on one listed below it, or a crate missing from the map. It
//! also checks the two edges to the outside world that the architecture
//! rests on: only `rebound-fetch` builds on `reqwest`, and only the
//! storage backends on `sqlx`. Dev-dependencies are not checked: tests
//! may wire any real part.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each crate of the code map, in its order, with the crates its
/// **Depends on** line names.
fn code_map(text: &str) -> Vec<(String, BTreeSet<String>)> {
    let start = text
        .find("## Code map")
        .expect("ARCHITECTURE.md has a `## Code map`");
    let section = &text[start + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut crates: Vec<(Vec<String>, Option<BTreeSet<String>>)> = Vec::new();
    for line in section.lines() {
        if line.starts_with("- `rebound-") {
            let names = line
                .split(" — ")
                .next()
                .expect("split yields at least one part");
            crates.push((backticked(names), None));
        } else if let Some(at) = line.find("**Depends on:**") {
            let (_, deps) = crates
                .last_mut()
                .unwrap_or_else(|| panic!("a Depends on line before any crate: {line}"));
            assert!(deps.is_none(), "two Depends on lines in one bullet: {line}");
            *deps = Some(backticked(&line[at..]).into_iter().collect());
        }
    }
    crates
        .into_iter()
        .flat_map(|(names, deps)| {
            let deps = deps.unwrap_or_else(|| panic!("{names:?} has no **Depends on** line"));
            names.into_iter().map(move |n| (n, deps.clone()))
        })
        .collect()
}

/// The `rebound-*` names in backticks in `text`.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("rebound-"))
        .map(str::to_owned)
        .collect()
}

/// Each workspace crate → its normal (not dev, not build) dependencies.
fn workspace_deps(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut deps = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name").to_owned();
        let normal = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("dependency name").to_owned())
            .collect();
        deps.insert(name, normal);
    }
    deps
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root is two folders up")
}

/// Every way the map and the manifests disagree, in words.
fn problems(
    map: &[(String, BTreeSet<String>)],
    deps: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = map.iter().map(|(n, _)| n.as_str()).collect();
    for name in deps.keys() {
        if !listed.contains(name.as_str()) {
            problems.push(format!(
                "{name} is a workspace crate but not in the code map"
            ));
        }
    }
    let mut above: BTreeSet<&str> = BTreeSet::new();
    for (name, allowed) in map {
        let Some(actual) = deps.get(name) else {
            problems.push(format!(
                "the code map lists {name}, which is not a workspace crate"
            ));
            continue;
        };
        let actual: BTreeSet<&String> = actual
            .iter()
            .filter(|d| d.starts_with("rebound-"))
            .collect();
        for dep in &actual {
            if !allowed.contains(*dep) {
                problems.push(format!(
                    "{name} depends on {dep}, which its Depends on line does not allow"
                ));
            }
        }
        for dep in allowed {
            if !actual.contains(dep) {
                problems.push(format!(
                    "{name}'s Depends on line names {dep}, which its Cargo.toml does not use"
                ));
            }
            if !above.contains(dep.as_str()) {
                problems.push(format!(
                    "{name} depends on {dep}, which is not listed above it"
                ));
            }
        }
        above.insert(name);
    }
    for (name, deps) in deps {
        if deps.contains("reqwest") && name != "rebound-fetch" {
            problems.push(format!("{name} depends on reqwest: only rebound-fetch may"));
        }
        let backend = name == "rebound-storage-sqlite" || name == "rebound-storage-postgres";
        if deps.contains("sqlx") && !backend {
            problems.push(format!(
                "{name} depends on sqlx: only the storage backends may"
            ));
        }
    }
    problems
}

#[test]
fn the_crate_graph_is_the_one_architecture_md_draws() {
    let text =
        std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let found = problems(&code_map(&text), &workspace_deps(root()));
    assert!(
        found.is_empty(),
        "layering broken:\n  {}",
        found.join("\n  ")
    );
}

const SAMPLE: &str = "intro
## Code map

- `rebound-a` — first.
  **Depends on:** nothing in the workspace.
- `rebound-b`, `rebound-c` — two at once,
  using `rebound-a` in text.
  **Depends on:** `rebound-a`.

## Invariants
- `rebound-z` — not in the map
";

fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    edges
        .iter()
        .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn the_code_map_parser_reads_names_deps_and_order() {
    let map = code_map(SAMPLE);
    let names: Vec<&str> = map.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rebound-a", "rebound-b", "rebound-c"]);
    assert!(map[0].1.is_empty());
    assert_eq!(map[2].1.iter().collect::<Vec<_>>(), ["rebound-a"]);
}

#[test]
fn each_kind_of_disagreement_is_reported() {
    let map = code_map(SAMPLE);
    let agreeing = graph(&[
        ("rebound-a", &["serde"]),
        ("rebound-b", &["rebound-a"]),
        ("rebound-c", &["rebound-a"]),
    ]);
    assert_eq!(problems(&map, &agreeing), Vec::<String>::new());

    // An edge the map does not allow, and one upward.
    let upward = graph(&[
        ("rebound-a", &["rebound-c"]),
        ("rebound-b", &["rebound-a"]),
        ("rebound-c", &["rebound-a", "reqwest", "sqlx"]),
        ("rebound-new", &[]),
    ]);
    assert_eq!(
        problems(&map, &upward),
        [
            "rebound-new is a workspace crate but not in the code map",
            "rebound-a depends on rebound-c, which its Depends on line does not allow",
            "rebound-c depends on reqwest: only rebound-fetch may",
            "rebound-c depends on sqlx: only the storage backends may",
        ]
    );

    // An edge the map names that the manifest no longer has.
    let stale = graph(&[
        ("rebound-a", &[]),
        ("rebound-b", &[]),
        ("rebound-c", &["rebound-a"]),
    ]);
    assert_eq!(
        problems(&map, &stale),
        ["rebound-b's Depends on line names rebound-a, which its Cargo.toml does not use"]
    );

    // A crate that names one listed below it.
    let reordered = code_map(&SAMPLE.replace(
        "**Depends on:** nothing in the workspace.",
        "**Depends on:** `rebound-b`.",
    ));
    let both = graph(&[
        ("rebound-a", &["rebound-b"]),
        ("rebound-b", &["rebound-a"]),
        ("rebound-c", &["rebound-a"]),
    ]);
    assert_eq!(
        problems(&reordered, &both),
        ["rebound-a depends on rebound-b, which is not listed above it"]
    );
}
