//! Single-file Rust strategies: `amm-engine validate my_strategy.rs`, built safely.
//!
//! A single `.rs` file — written against the SDK (`use amm_strategy_sdk::…; …
//! export_strategy!(…)`) or in the Prop AMM Challenge's form — is first *screened*
//! ([`screen`](mod@super::screen): everything that could reach outside the file at compile
//! time is refused, with its line), which is the only way to make a [`Screened`] file, and then
//! built in a content-addressed directory, `<cache>/src/<sha256>/`, whose manifest is fixed: the
//! SDK embedded in this binary (materialised beside it) is the only dependency, so there is no
//! build script and no procedural macro (a Prop AMM file also gets the pinned, checksummed
//! `pinocchio` and `wincode` with its derive macro, see [`super::prop_amm`]); the build is
//! offline, for `wasm32-unknown-unknown`, and killed after a time limit. A second build of the
//! same source (and SDK) is a cache hit: no cargo.
//!
//! The author's file is `src/lib.rs` of the build directory, unchanged, so the compiler's lines
//! are the author's lines; a Prop AMM file's glue is a module file of its own, declared by one
//! line after the file's last, and an error the compiler reports in it is led by the author's
//! line of the item the glue uses there ([`super::diagnostics`]).
//!
//! Cargo and every compiler it starts run under
//! [`CompilerLimits`](super::compiler::CompilerLimits) (address space, CPU time per process,
//! file size, processes; see [`super::compiler`]), and a built module larger than
//! [`SourceOptions::max_module_bytes`] is refused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::cargo::WASM_TARGET;
use super::compiler::{Finished, STRATEGY_RUSTFLAGS, broken_limit, cargo_command, run_limited};
use super::diagnostics::{GlueMap, artifact_files, failure_text, rendered_diagnostics, target_missing};
use super::error::BuildError;
use super::options::SourceOptions;
use super::prop_amm;
use super::screen::{Refusal, screen_tokens, tokenize};
use crate::scaffold;

/// Name of the module file kept in a build directory once built (its presence is the cache hit).
const MODULE_FILE: &str = "strategy.wasm";

/// The fixed manifest of every single-file build: the embedded SDK only, no build script.
const MANIFEST: &str = r#"# Written by amm-engine for a single-file strategy; fixed, whatever the source.
[package]
name = "single-file-strategy"
version = "0.1.0"
edition = "2024"
publish = false
build = false
autobins = false
autoexamples = false
autotests = false
autobenches = false

[lib]
path = "src/lib.rs"
crate-type = ["cdylib"]

[dependencies]
amm-strategy-sdk = { path = "sdk" }

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"

[workspace]
"#;

/// The form a screened single file is written in, which decides how it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Written against the SDK (`export_strategy!`): compiled as it is.
    Sdk,
    /// The Prop AMM Challenge's form: compiled with the engine's glue ([`prop_amm::glue`]).
    PropAmm(prop_amm::Form),
}

/// A single-file strategy that passed the screen (and, in the Prop AMM form, that form's own
/// rules): the only thing [`Screened::build`] compiles, so nothing unscreened reaches cargo.
#[derive(Clone, Debug)]
pub struct Screened {
    path: PathBuf,
    text: String,
    form: Form,
}

/// A built single-file strategy.
#[derive(Clone, Debug)]
pub struct Built {
    /// The module (`<cache_dir>/<sha256>/strategy.wasm`).
    pub wasm: PathBuf,
    /// True when the module was already built (no cargo was run).
    pub cache_hit: bool,
}

/// True when `path` names a single-file Rust strategy (a `.rs` file).
pub fn is_source_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("rs")) && !path.is_dir()
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> BuildError {
    BuildError::Read { path: path.to_path_buf(), message: e.to_string() }
}

fn too_large(path: &Path, size: u64, options: &SourceOptions) -> BuildError {
    BuildError::Refused {
        path: path.to_path_buf(),
        line: None,
        what: format!(
            "the source is {size} bytes; a single-file strategy may have at most {} bytes",
            options.max_source_bytes
        ),
    }
}

impl Screened {
    /// Reads the file at `path` (at most [`SourceOptions::max_source_bytes`], UTF-8) and
    /// screens it.
    pub fn read(path: &Path, options: &SourceOptions) -> Result<Self, BuildError> {
        let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
        if metadata.len() > options.max_source_bytes as u64 {
            return Err(too_large(path, metadata.len(), options));
        }
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| io_error(path, "not UTF-8 text"))?;
        Self::new(path, &text, options)
    }

    /// Screens `text`, standing for the file `path` (messages name it and its lines), and
    /// recognises its form. `tune` screens each candidate of a source this way.
    pub fn new(path: &Path, text: &str, options: &SourceOptions) -> Result<Self, BuildError> {
        if text.len() > options.max_source_bytes {
            return Err(too_large(path, text.len() as u64, options));
        }
        let refused = |r: Refusal| BuildError::Refused { path: path.to_path_buf(), line: Some(r.line), what: r.what };
        // Tokenized once: the common screen, recognition and the Prop AMM screen share the tokens.
        let tokens = tokenize(text).map_err(refused)?;
        screen_tokens(&tokens).map_err(refused)?;
        let form = match prop_amm::recognise(&tokens) {
            None => Form::Sdk,
            Some(form) => {
                prop_amm::screen(&tokens).map_err(refused)?;
                if form.name.is_none() {
                    return Err(BuildError::Refused {
                        path: path.to_path_buf(),
                        line: None,
                        what: "a Prop AMM Challenge file must define `const NAME: &str` (its display name)".into(),
                    });
                }
                Form::PropAmm(form)
            }
        };
        Ok(Self { path: path.to_path_buf(), text: text.to_string(), form })
    }

    /// The file it stands for.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its text, as screened.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The form it is written in.
    pub fn form(&self) -> Form {
        self.form
    }

    /// Builds it (or finds it built) and returns the `.wasm`. Compiler errors name the file
    /// and the author's lines.
    pub fn build(&self, options: &SourceOptions) -> Result<Built, BuildError> {
        let dir = options.cache_dir.join(content_address(&self.text));
        let wasm = dir.join(MODULE_FILE);
        if wasm.is_file() {
            return Ok(Built { wasm, cache_hit: true });
        }
        let write = |relative: &str, contents: &str| -> Result<(), BuildError> {
            let file = dir.join(relative);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            std::fs::write(&file, contents).map_err(|e| io_error(&file, e))
        };
        scaffold::materialise_sdk(&dir.join("sdk")).map_err(|e| io_error(&dir.join("sdk"), e))?;
        let glue = match self.form {
            Form::Sdk => {
                write("Cargo.toml", MANIFEST)?;
                write("src/lib.rs", &self.text)?;
                None
            }
            Form::PropAmm(form) => {
                write("Cargo.toml", prop_amm::MANIFEST)?;
                write("Cargo.lock", prop_amm::LOCK)?;
                write(&format!("{}/Cargo.toml", prop_amm::SHIM_DIR), prop_amm::SHIM_MANIFEST)?;
                write(&format!("{}/src/lib.rs", prop_amm::SHIM_DIR), prop_amm::SHIM_SOURCE)?;
                // The file first and unchanged, so its lines keep their numbers; the glue in a
                // module file of its own, declared after the file's last line.
                let glue = prop_amm::glue(form);
                write("src/lib.rs", &format!("{}\n{}", self.text, prop_amm::GLUE_DECLARATION))?;
                write(GlueMap::FILE, &glue.text)?;
                Some(glue.map)
            }
        };
        let built = compile(&dir, &self.path, options, glue.as_ref(), &wasm);
        // Nothing in `target/` is ever used again (another source is another directory): only
        // the module stays, so the cache grows by kilobytes per source, not megabytes.
        let _ = std::fs::remove_dir_all(dir.join("target"));
        built.map(|()| Built { wasm, cache_hit: false })
    }
}

/// Screens and builds the single-file strategy at `path` — written against the SDK or in the
/// Prop AMM Challenge's form — and returns the `.wasm`. Refusals and compiler errors name
/// `path` and the line.
pub fn build_source(path: &Path, options: &SourceOptions) -> Result<Built, BuildError> {
    Screened::read(path, options)?.build(options)
}

/// Screens and builds `source` as [`build_source`] does; `path` is the file it stands for
/// (messages name it and its lines). `tune` builds each candidate of a source this way.
pub fn build_source_text(path: &Path, source: &str, options: &SourceOptions) -> Result<Built, BuildError> {
    Screened::new(path, source, options)?.build(options)
}

/// The content address of a build: the source, the SDK embedded in this binary, the fixed
/// manifests, the Prop AMM compatibility layer and the compiler flags
/// ([`STRATEGY_RUSTFLAGS`]), hashed with SHA-256 (hex).
pub fn content_address(source: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"amm-engine single-file v3\0");
    hasher.update(scaffold::SDK_VERSION.as_bytes());
    hasher.update([0]);
    hasher.update(STRATEGY_RUSTFLAGS.as_bytes());
    hasher.update([0]);
    // The SDK manifest as materialised (workspace values filled in), so a change there without
    // a version bump cannot reuse a stale module.
    if let Ok(manifest) = scaffold::standalone_sdk_manifest() {
        hasher.update(manifest.as_bytes());
    }
    // The glue as generated (with and without the optional parts).
    let all = prop_amm::Form { compute_swap: 1, after_swap: Some(1), name: Some(1), model: Some(1) };
    let none = prop_amm::Form { compute_swap: 1, after_swap: None, name: Some(1), model: None };
    let (glue_all, glue_none) = (prop_amm::glue(all).text, prop_amm::glue(none).text);
    let fixed = [
        ("prop-amm/glue-all.rs", glue_all.as_str()),
        ("prop-amm/glue-none.rs", glue_none.as_str()),
        ("prop-amm/glue-declaration.rs", prop_amm::GLUE_DECLARATION),
        ("Cargo.toml", MANIFEST),
        ("prop-amm/Cargo.toml", prop_amm::MANIFEST),
        ("prop-amm/Cargo.lock", prop_amm::LOCK),
        ("prop-amm/shim/Cargo.toml", prop_amm::SHIM_MANIFEST),
        ("prop-amm/shim/lib.rs", prop_amm::SHIM_SOURCE),
    ];
    for (path, contents) in scaffold::SDK_SOURCES.iter().chain(fixed.iter()) {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(contents.as_bytes());
    }
    hasher.update((source.len() as u64).to_le_bytes());
    hasher.update(source.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Fetches (Prop AMM form) and builds the prepared directory `dir`, leaving the module at `wasm`.
fn compile(
    dir: &Path,
    path: &Path,
    options: &SourceOptions,
    glue: Option<&GlueMap>,
    wasm: &Path,
) -> Result<(), BuildError> {
    let started = Instant::now();
    if glue.is_some() {
        // The registry dependencies of the fixed, locked manifest: the source has no say in them.
        fetch_locked(dir, path, options, started)?;
    }
    let produced = run_cargo(dir, path, options, started, glue)?;
    let size = std::fs::metadata(&produced).map_err(|e| io_error(&produced, e))?.len();
    if size > options.max_module_bytes {
        return Err(BuildError::OverLimit {
            path: path.to_path_buf(),
            limit: format!(
                "the module-size limit: the built module is {size} bytes, over {} bytes",
                options.max_module_bytes
            ),
        });
    }
    // Written atomically (a temporary unique per call, then renamed), so a half-written module
    // is never a cache hit, even with two builds of one source at once.
    let bytes = std::fs::read(&produced).map_err(|e| io_error(&produced, e))?;
    crate::files::write_atomically(wasm, &bytes, false).map_err(|e| io_error(wasm, e))
}

/// `cargo fetch --locked` of a Prop AMM build directory's fixed manifest (network allowed; the
/// registry crates land in cargo's cache for the offline build).
fn fetch_locked(dir: &Path, user_path: &Path, options: &SourceOptions, started: Instant) -> Result<(), BuildError> {
    let mut command = cargo_command(dir, &options.limits)?;
    command.args(["fetch", "--locked", "--manifest-path"]).arg(dir.join("Cargo.toml"));
    let finished = run_limited(command, user_path, started, options.timeout)?;
    if finished.status.success() {
        return Ok(());
    }
    let lines: Vec<&str> = finished.stderr.lines().collect();
    Err(BuildError::Failed {
        crate_dir: user_path.to_path_buf(),
        diagnostics: format!(
            "fetching the Prop AMM Challenge dependencies (pinocchio 0.7, wincode 0.4) failed:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        ),
    })
}

/// Runs the offline cargo build in `dir`, killed once the build's time limit has passed since
/// `started`; returns the produced `.wasm`. Diagnostics name `user_path` instead of the copied
/// `src/lib.rs`, and lead an error in the glue (a Prop AMM build: `glue`, whose manifest is
/// also locked) with the author's line.
fn run_cargo(
    dir: &Path,
    user_path: &Path,
    options: &SourceOptions,
    started: Instant,
    glue: Option<&GlueMap>,
) -> Result<PathBuf, BuildError> {
    let mut command = cargo_command(dir, &options.limits)?;
    command
        .args(["build", "--release", "--lib", "--offline", "--target", WASM_TARGET])
        // Plain JSON: each diagnostic with its spans, so the glue's can be mapped to the author's line.
        .args(["--message-format=json"])
        .args(glue.is_some().then_some("--locked"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(options.shared_target.clone().unwrap_or_else(|| dir.join("target")))
        .env("CARGO_NET_OFFLINE", "true");
    let finished = run_limited(command, user_path, started, options.timeout)?;
    if !finished.status.success() {
        // The compiler's own reports are JSON on stdout now, cargo's on stderr: the missing
        // target and the broken limits are judged on both, as they were on the rendered text.
        let judged = Finished {
            status: finished.status,
            stdout: String::new(),
            stderr: format!("{}\n{}", finished.stderr, rendered_diagnostics(&finished.stdout).join("\n")),
        };
        if target_missing(&judged.stderr) {
            return Err(BuildError::TargetMissing(WASM_TARGET.into()));
        }
        if let Some(limit) = broken_limit(&judged, &options.limits) {
            return Err(BuildError::OverLimit { path: user_path.to_path_buf(), limit });
        }
        return Err(BuildError::Failed {
            crate_dir: user_path.to_path_buf(),
            diagnostics: failure_text(&finished.stdout, &finished.stderr, dir, user_path, glue),
        });
    }
    artifact_files(&finished.stdout, None)
        .find(|file| file.file_name().is_some_and(|n| n == "single_file_strategy.wasm"))
        .ok_or_else(|| BuildError::NoArtifact(user_path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_address_depends_on_the_source() {
        assert_ne!(content_address("a"), content_address("b"));
        assert_eq!(content_address("a"), content_address("a"));
        assert_eq!(content_address("a").len(), 64);
    }
}
