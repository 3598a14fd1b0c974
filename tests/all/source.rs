//! Single-file Rust strategies: screened, built offline in a content-addressed cache, with
//! compiler errors naming the user's file (tests/fixtures/source/).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use amm_engine::builder::BuildError;
use amm_engine::single_file::{MAX_SOURCE_BYTES, SourceOptions, build_source};

use crate::support::{Scratch, workspace};

fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures/source").join(name)
}

fn options(cache: &Path) -> SourceOptions {
    SourceOptions {
        cache_dir: cache.to_path_buf(),
        timeout: Duration::from_secs(300),
        max_source_bytes: MAX_SOURCE_BYTES,
    }
}

/// Every hostile fixture holds its refused construct on line 8.
const HOSTILE: &[(&str, &str)] = &[
    ("unsafe.rs", "`unsafe` is not allowed"),
    ("include.rs", "`include!` is not allowed"),
    ("include_str.rs", "`include_str!` is not allowed"),
    ("include_bytes.rs", "`include_bytes!` is not allowed"),
    ("env.rs", "`env!` is not allowed"),
    ("option_env.rs", "`option_env!` is not allowed"),
    ("path_attr.rs", "`#[path]` is not allowed"),
    ("extern_crate.rs", "`extern crate` is not allowed"),
    ("external_mod.rs", "`mod helpers;` (a module in another file) is not allowed"),
];

#[test]
fn every_hostile_fixture_is_refused_at_its_line_before_any_build() {
    let cache = Scratch::new();
    for (name, reason) in HOSTILE {
        let path = fixture(name);
        match build_source(&path, &options(cache.path())) {
            Err(e @ BuildError::Refused { line: Some(8), .. }) => {
                let text = e.to_string();
                assert!(text.contains("refused at line 8") && text.contains(reason), "{name}: {text}");
                assert!(text.contains(name), "names the file: {text}");
            }
            other => panic!("{name}: expected a refusal at line 8, got {other:?}"),
        }
    }
    let written = std::fs::read_dir(cache.path()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "nothing is written (no cargo runs) for a refused source");
}

#[test]
fn an_oversized_source_is_refused() {
    let dir = Scratch::new();
    let path = dir.path().join("big.rs");
    let mut source = std::fs::read_to_string(fixture("honest.rs")).unwrap();
    source.push_str(&"// padding padding padding padding padding padding padding padding\n".repeat(5000));
    assert!(source.len() > MAX_SOURCE_BYTES);
    std::fs::write(&path, &source).unwrap();
    let err = build_source(&path, &options(&dir.path().join("cache"))).unwrap_err();
    assert!(matches!(err, BuildError::Refused { line: None, .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("at most {MAX_SOURCE_BYTES} bytes")), "{err}");
}

#[test]
fn the_honest_file_builds_once_then_is_a_cache_hit() {
    let cache = Scratch::new();
    let first = build_source(&fixture("honest.rs"), &options(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!first.cache_hit);
    assert!(first.wasm.starts_with(cache.path()), "{}", first.wasm.display());
    let bytes = std::fs::read(&first.wasm).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
    // Content-addressed: the directory is the source's hash.
    let dir = first.wasm.parent().unwrap();
    let source = std::fs::read_to_string(fixture("honest.rs")).unwrap();
    assert_eq!(dir.file_name().unwrap().to_str(), Some(amm_engine::single_file::content_address(&source).as_str()));
    assert_eq!(std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(), source);

    // A copy elsewhere, same content: the same module, no cargo (a zero timeout would kill one).
    let copy = cache.path().join("elsewhere.rs");
    std::fs::copy(fixture("honest.rs"), &copy).unwrap();
    let mut instant = options(cache.path());
    instant.timeout = Duration::ZERO;
    let second = build_source(&copy, &instant).unwrap_or_else(|e| panic!("{e}"));
    assert!(second.cache_hit);
    assert_eq!(second.wasm, first.wasm);
}

#[test]
fn a_compile_error_names_the_users_file_and_line() {
    let cache = Scratch::new();
    let path = fixture("compile_error.rs");
    let err = build_source(&path, &options(cache.path())).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BuildError::Failed { .. }), "{text}");
    assert!(text.contains(&format!("--> {}:10:24", path.display())), "{text}");
    assert!(text.contains("E0308"), "{text}");
    assert!(!text.contains("src/lib.rs") && !text.contains(&cache.path().display().to_string()), "{text}");
}

#[test]
fn a_build_over_the_time_limit_is_stopped() {
    let cache = Scratch::new();
    let mut opts = options(cache.path());
    opts.timeout = Duration::from_millis(1);
    let started = Instant::now();
    let err = build_source(&fixture("honest.rs"), &opts).unwrap_err();
    assert!(matches!(err, BuildError::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("took longer than 0.001 s and was stopped"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped promptly");
    assert!(!err.to_string().is_empty());
    // Nothing half-built counts as a cache hit afterwards.
    let again = build_source(&fixture("honest.rs"), &options(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.cache_hit);
}

fn amm_engine(args: &[&str], cwd: &Path, cache: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(args)
        .current_dir(cwd)
        .env("AMM_ENGINE_CACHE", cache)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn validate_and_run_take_a_single_file() {
    let dir = Scratch::new();
    let cache = dir.path().join("cache");
    let honest = fixture("honest.rs");
    let (ok, out) = amm_engine(&["validate", honest.to_str().unwrap()], dir.path(), &cache);
    assert!(ok, "{out}");
    assert!(out.contains("build      PASS") && out.contains("(built)"), "{out}");
    assert!(out.contains("name \"Single file 30 bps\""), "{out}");
    let (ok, out) = amm_engine(&["validate", honest.to_str().unwrap()], dir.path(), &cache);
    assert!(ok && out.contains("(cached)"), "{out}");

    let (ok, out) = amm_engine(&["validate", fixture("unsafe.rs").to_str().unwrap()], dir.path(), &cache);
    assert!(!ok, "{out}");
    assert!(out.contains("build      FAIL") && out.contains("unsafe.rs: refused at line 8: `unsafe`"), "{out}");

    let args = ["run", honest.to_str().unwrap(), "--simulations", "2", "--steps", "200", "--epoch-len", "100"];
    let (ok, out) = amm_engine(&[&args[..], &["--quiet"]].concat(), dir.path(), &cache);
    assert!(ok, "{out}");
    assert!(out.contains("loaded    Single file 30 bps"), "{out}");
}

#[test]
fn the_readme_single_file_quick_start_works() {
    // The README's complete strategy, saved as my_strategy.rs, with the commands it shows.
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find("```rust\n").expect("a rust block in the README") + "```rust\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let source = &readme[start..end];
    assert!(source.contains("export_strategy!"), "{source}");
    let dir = Scratch::new();
    let cache = dir.path().join("cache");
    std::fs::write(dir.path().join("my_strategy.rs"), source).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("amm-engine ") && l.contains("my_strategy.rs"))
        .map(|l| l.split('#').next().unwrap_or(l).trim())
        .collect();
    assert!(commands.len() >= 2, "the README shows validate and run of my_strategy.rs: {commands:?}");
    for command in commands {
        let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
        if args[0] == "run" {
            args.extend(["--steps", "200", "--epoch-len", "100", "--quiet"]);
        }
        let (ok, out) = amm_engine(&args, dir.path(), &cache);
        assert!(ok, "{command}:\n{out}");
    }
}
