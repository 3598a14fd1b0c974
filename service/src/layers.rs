//! A test that keeps the service's files in layers: no file reaches, through `crate::` or
//! `super::` paths or a parent's child modules, a file that reaches it back. A cycle is how a
//! service becomes one module in several files (pages calling handlers calling pages).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a file under `src/` (`api/mod.rs` → `api`, `lib.rs` → ``).
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    if rel == "lib" { String::new() } else { rel.replace('/', "::") }
}

/// The longest known module that `path` (a `::` path from the crate root) names.
fn resolve(modules: &BTreeSet<String>, path: &[&str]) -> String {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m)).unwrap_or_default()
}

/// `::`-separated identifiers at the start of `text`.
fn path_at(text: &str) -> Vec<&str> {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    text[..end].split("::").filter(|s| !s.is_empty()).collect()
}

/// Every module each module's own (non-test) code refers to.
fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).map(|p| p.to_string_lossy().replace('\\', "/")).unwrap_or_default();
                files.push((module_of(&rel), std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges = BTreeMap::new();
    for (module, text) in &files {
        let code: String = text
            .split("#[cfg(test)]\nmod ")
            .next()
            .unwrap_or_default()
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let mut to = BTreeSet::new();
        let mut refer = |base: &[&str], rest: &str| {
            // `use x::{a, b::c}` names several paths.
            let head = path_at(rest);
            let after =
                &rest[rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len())..];
            let groups: Vec<Vec<&str>> =
                if rest.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_' || c == ':').starts_with('{')
                    || after.starts_with('{')
                {
                    let inner = after.trim_start_matches('{').split('}').next().unwrap_or_default();
                    inner.split(',').map(|item| path_at(item.trim())).collect()
                } else {
                    vec![Vec::new()]
                };
            for g in groups {
                let full: Vec<&str> = base.iter().chain(head.iter()).chain(g.iter()).copied().collect();
                to.insert(resolve(&modules, &full));
            }
        };
        for (at, _) in code.match_indices("crate::") {
            refer(&[], &code[at + "crate::".len()..]);
        }
        for (at, _) in code.match_indices("super::") {
            refer(parent, &code[at + "super::".len()..]);
        }
        // A parent's own children, named without a prefix (`api::router`, `layout::page`).
        for (at, _) in code.match_indices("::") {
            let start = code[..at].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            if start > 0 && code[..start].ends_with(':') {
                continue;
            }
            let child: Vec<&str> = own.iter().copied().chain(std::iter::once(&code[start..at])).collect();
            if modules.contains(&child.join("::")) {
                to.insert(child.join("::"));
            }
        }
        to.remove(module);
        edges.insert(module.clone(), to);
    }
    edges
}

/// A cycle through `edges`, if any, as the modules along it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            return Some(path[at..].iter().cloned().chain(std::iter::once(m.to_string())).collect());
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|m| visit(m, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_import_cycle_among_the_service_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(edges.len() > 20 && edges["views"].contains("db"), "the scan found the modules: {edges:?}");
    // Files in folders are modules of their own: `db/jobs.rs` is `db::jobs`; `db/mod.rs`
    // re-exports its files' types, and they never reach it back.
    for file in ["db::pool", "db::jobs", "db::submissions", "db::rounds", "db::board", "db::tokens", "db::admin"] {
        assert!(edges.contains_key(file), "the scan found {file}: {:?}", edges.keys());
        assert!(!edges[file].contains("db"), "{file} reaches db/mod.rs: {:?}", edges[file]);
        // The database is under the rounds logic, not beside it (`rounds` ⇄ `db` was a cycle).
        assert!(!edges[file].contains("rounds"), "{file} reaches rounds: {:?}", edges[file]);
    }
    assert!(edges["rounds"].contains("db") && edges["db::jobs"].contains("db::pool"), "{edges:#?}");
    assert_eq!(cycle(&edges), None, "{edges:#?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut edges = BTreeMap::new();
    edges.insert("api".to_string(), BTreeSet::from(["web".to_string()]));
    edges.insert("web".to_string(), BTreeSet::from(["views".to_string(), "api".to_string()]));
    edges.insert("views".to_string(), BTreeSet::new());
    assert_eq!(cycle(&edges), Some(vec!["api".into(), "web".into(), "api".into()]));
}
