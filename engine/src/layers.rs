//! A test that keeps `build` a layer: no file of `engine/src/build/` reaches, through `crate::`
//! or `super::` paths or a parent's child modules, a file that reaches it back, and nothing
//! outside `build` that `build` uses reaches `build`. Building sits on the sandbox, the SDK and
//! the scaffold, and `run`, `validate` and receipts sit on it; a cycle is how two modules become
//! one in two files (as `builder.rs` and `single_file.rs` were).
//!
//! The scanner is the service's (`service/src/layers.rs`), applied to the engine's files.

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

/// `text` as code only: comments left out and literals emptied (the Prop AMM glue is Rust in a
/// string, `super::NAME` included, which is no reference of the file holding it), through the
/// screen's lexer; one space between adjacent words, none around punctuation, so paths read
/// `a::b::{c, d}` as written.
fn code_of(text: &str) -> String {
    use crate::build::screen::{Token, tokenize};
    let Ok(tokens) = tokenize(text) else {
        return text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    };
    let mut code = String::with_capacity(text.len());
    let mut word_before = false;
    for (_, token) in tokens {
        let (piece, word) = match &token {
            Token::Ident(name) => (name.clone(), true),
            Token::Literal => ("0".to_string(), true),
            Token::Punct(c) => (c.to_string(), false),
        };
        if word && word_before {
            code.push(' ');
        }
        code.push_str(&piece);
        word_before = word;
    }
    code
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
            } else if path.extension().is_some_and(|e| e == "rs") && path != src.join("layers.rs") {
                let rel = path.strip_prefix(src).map(|p| p.to_string_lossy().replace('\\', "/")).unwrap_or_default();
                files.push((module_of(&rel), std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges = BTreeMap::new();
    for (module, text) in &files {
        let code = code_of(text.split("#[cfg(test)]\nmod ").next().unwrap_or_default());
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

/// A cycle through `edges` that passes a module under `prefix`, if any: the modules along it.
fn cycle_through(edges: &BTreeMap<String, BTreeSet<String>>, prefix: &str) -> Option<Vec<String>> {
    let inside = |m: &str| m == prefix || m.starts_with(&format!("{prefix}::"));
    // Every module reachable from `start`, with the path to it.
    let reach = |start: &str| {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack = vec![vec![start.to_string()]];
        while let Some(path) = stack.pop() {
            let Some(last) = path.last() else { continue };
            for next in edges.get(last).into_iter().flatten() {
                if !seen.contains_key(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    seen.insert(next.clone(), longer.clone());
                    stack.push(longer);
                }
            }
        }
        seen
    };
    edges.keys().filter(|m| inside(m)).find_map(|m| reach(m).remove(m))
}

#[test]
fn build_is_a_layer_without_cycles() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(
        edges.len() > 30 && edges["build::single_file"].contains("build::screen") && edges["run"].contains("build"),
        "the scan found the modules: {edges:#?}"
    );
    // Among build's own files.
    let own: BTreeMap<String, BTreeSet<String>> = edges
        .iter()
        .filter(|(m, _)| m.starts_with("build"))
        .map(|(m, to)| (m.clone(), to.iter().filter(|t| t.starts_with("build")).cloned().collect()))
        .collect();
    assert_eq!(cycle(&own), None, "{own:#?}");
    // Through the rest of the engine: nothing build uses reaches build back.
    assert_eq!(cycle_through(&edges, "build"), None);
}

#[test]
fn the_cycle_finders_find_cycles() {
    let mut edges = BTreeMap::new();
    edges.insert("build::a".to_string(), BTreeSet::from(["sandbox".to_string()]));
    edges.insert("sandbox".to_string(), BTreeSet::from(["run".to_string()]));
    edges.insert("run".to_string(), BTreeSet::from(["build".to_string()]));
    edges.insert("build".to_string(), BTreeSet::from(["build::a".to_string()]));
    assert_eq!(cycle_through(&edges, "build").map(|c| c.len()), Some(5));
    assert!(cycle(&edges).is_some());
    edges.insert("sandbox".to_string(), BTreeSet::new());
    assert_eq!(cycle_through(&edges, "build"), None);
}
