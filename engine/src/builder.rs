//! Building a strategy crate into a `.wasm` on demand.
//!
//! Authors point `validate`, `run` and configs at a crate directory as readily as at a `.wasm`;
//! the engine runs `cargo build --release --target wasm32-unknown-unknown` for them (or the
//! target the crate names in `[package.metadata.amm-engine]`) and picks the produced module out
//! of cargo's JSON messages, so workspace layouts and custom target directories just work.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target strategies are built for, unless the crate asks for another with
/// `[package.metadata.amm-engine] target = "wasm32-wasip1"` (a `std` strategy that prints).
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Targets a crate may ask for.
pub const ALLOWED_TARGETS: &[&str] = &[WASM_TARGET, "wasm32-wasip1"];

/// The target a crate's manifest asks for (`[package.metadata.amm-engine] target`).
fn crate_target(manifest: &Path) -> Result<String, BuildError> {
    let text = std::fs::read_to_string(manifest).map_err(|_| BuildError::NotACrate(manifest.to_path_buf()))?;
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| BuildError::Manifest {
        manifest: manifest.to_path_buf(),
        message: e.to_string(),
    })?;
    let target = value
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("amm-engine"))
        .and_then(|a| a.get("target"))
        .and_then(|t| t.as_str())
        .unwrap_or(WASM_TARGET);
    if !ALLOWED_TARGETS.contains(&target) {
        return Err(BuildError::Manifest {
            manifest: manifest.to_path_buf(),
            message: format!("package.metadata.amm-engine.target = {target:?}: use one of {ALLOWED_TARGETS:?}"),
        });
    }
    Ok(target.to_string())
}

/// Why a strategy crate could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The directory has no Cargo.toml.
    #[error("{0} is not a strategy crate: it has no Cargo.toml (pass a .wasm file or a crate directory)")]
    NotACrate(PathBuf),
    /// Cargo could not be started.
    #[error("could not run cargo ({0}); is the Rust toolchain installed and on PATH?")]
    Spawn(std::io::Error),
    /// The wasm target is missing.
    #[error("the {0} target is not installed: run `rustup target add {0}`")]
    TargetMissing(String),
    /// The manifest cannot be read or asks for an unsupported target.
    #[error("{manifest}: {message}")]
    Manifest {
        /// The Cargo.toml.
        manifest: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Compilation failed.
    #[error("building {crate_dir} failed:\n{diagnostics}")]
    Failed {
        /// The crate.
        crate_dir: PathBuf,
        /// Cargo's error output (last lines).
        diagnostics: String,
    },
    /// A module file could not be read (or, for `.wat`, assembled).
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        message: String,
    },
    /// A single-file strategy was refused before building (see [`crate::single_file::screen`]).
    #[error("{}: refused{}: {what}", path.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Refused {
        /// The source file.
        path: PathBuf,
        /// 1-based line of the refused construct, when it is one.
        line: Option<usize>,
        /// What was refused and why.
        what: String,
    },
    /// A build ran longer than its time limit and was killed.
    #[error("building {} took longer than {seconds} s and was stopped (limit: $AMM_ENGINE_BUILD_TIMEOUT seconds)", path.display())]
    TimedOut {
        /// The source file.
        path: PathBuf,
        /// The limit, in seconds.
        seconds: f64,
    },
    /// A single-file build broke a resource limit (compiler CPU time, address space, file size,
    /// processes, or the built module's size) and was refused.
    #[error("building {} was refused: it exceeded {limit}", path.display())]
    OverLimit {
        /// The source file.
        path: PathBuf,
        /// The limit broken, named with its value.
        limit: String,
    },
    /// Cargo succeeded but produced no `.wasm` for this crate.
    #[error("building {0} produced no .wasm: give the crate `[lib] crate-type = [\"cdylib\", \"rlib\"]`")]
    NoArtifact(PathBuf),
}

/// Options for [`build_crate`].
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Cargo target directory; default: the crate's own.
    pub target_dir: Option<PathBuf>,
}

/// True when `path` looks like a crate directory rather than a module file.
pub fn is_crate_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Builds the crate at `crate_dir` for wasm32 in release mode and returns the `.wasm` path.
pub fn build_crate(crate_dir: &Path, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    let manifest = manifest.canonicalize().map_err(|_| BuildError::NotACrate(crate_dir.to_path_buf()))?;
    let target = crate_target(&manifest)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--lib", "--target", &target, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest);
    if let Some(dir) = &options.target_dir {
        command.arg("--target-dir").arg(dir);
    }
    let output = command.output().map_err(BuildError::Spawn)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if target_missing(&stderr) {
            return Err(BuildError::TargetMissing(target));
        }
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        let rendered = rendered_diagnostics(&String::from_utf8_lossy(&output.stdout));
        let diagnostics = if rendered.is_empty() { tail } else { rendered.join("\n") };
        return Err(BuildError::Failed { crate_dir: crate_dir.to_path_buf(), diagnostics });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let manifest_str = manifest.to_string_lossy();
    artifact_files(&stdout, Some(&manifest_str))
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| BuildError::NoArtifact(crate_dir.to_path_buf()))
}

/// Whether cargo's stderr says the wasm target's standard library is not installed.
pub(crate) fn target_missing(stderr: &str) -> bool {
    stderr.contains("target may not be installed") || stderr.contains("can't find crate for `core`")
}

/// Cargo's JSON messages (`--message-format=json-…`, one per line of `stdout`) with this `reason`.
fn cargo_messages<'a>(stdout: &'a str, reason: &'a str) -> impl Iterator<Item = serde_json::Value> + 'a {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(move |msg| msg["reason"] == reason)
}

/// The rendered compiler diagnostics in cargo's JSON `stdout`, in order.
pub(crate) fn rendered_diagnostics(stdout: &str) -> Vec<String> {
    cargo_messages(stdout, "compiler-message")
        .filter_map(|msg| msg["message"]["rendered"].as_str().map(str::to_string))
        .collect()
}

/// The files of the artifacts in cargo's JSON `stdout`; with `manifest`, only that package's.
pub(crate) fn artifact_files<'a>(stdout: &'a str, manifest: Option<&'a str>) -> impl Iterator<Item = PathBuf> + 'a {
    cargo_messages(stdout, "compiler-artifact")
        .filter(move |msg| manifest.is_none_or(|m| msg["manifest_path"] == m))
        .flat_map(|msg| {
            msg["filenames"]
                .as_array()
                .map(|files| files.iter().filter_map(|f| f.as_str().map(PathBuf::from)).collect::<Vec<_>>())
                .unwrap_or_default()
        })
}

/// Reads a module file; WebAssembly text (`.wat`) is assembled to binary first, so fixtures and
/// hand-written modules can be used as they are.
pub fn read_module(path: &Path) -> Result<Vec<u8>, BuildError> {
    let bytes =
        std::fs::read(path).map_err(|e| BuildError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    if path.extension().is_some_and(|e| e == "wat") {
        return wat::parse_bytes(&bytes).map(|b| b.into_owned()).map_err(|e| BuildError::Read {
            path: path.to_path_buf(),
            message: format!("not valid WebAssembly text: {e}"),
        });
    }
    Ok(bytes)
}

/// A module's path: `path` itself for a module file, the built `.wasm` for a crate directory or
/// a single-file Rust strategy (`.rs`, screened and built by [`crate::single_file`] with its
/// default options).
pub fn resolve_module(path: &Path, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    if is_crate_dir(path) {
        build_crate(path, options)
    } else if crate::single_file::is_source_file(path) {
        crate::single_file::build_source(path, &crate::single_file::SourceOptions::default()).map(|b| b.wasm)
    } else {
        Ok(path.to_path_buf())
    }
}
