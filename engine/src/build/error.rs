//! Why a strategy could not be built: one error type for every kind of source.
//!
//! A crate, a single file and a module file fail in different ways (cargo missing, a refused
//! construct, a compile error, a limit broken, an unreadable file), but every caller — `run`,
//! `validate`, `tune`, the service — reports them the same way, so they share one enum whose
//! messages name the author's file (and line, when there is one) and never the build directory.

use std::path::PathBuf;

/// Why a strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The directory has no Cargo.toml. (The message does not repeat the path: whoever reports
    /// it names the entry already.)
    #[error(
        "not a strategy crate: the directory has no Cargo.toml; pass a .wasm, .wat or single-file .rs strategy, or a crate directory"
    )]
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
    /// A module file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        message: String,
    },
    /// A `.wat` file does not assemble. (The message names the file, line and column once, in
    /// the assembler's `--> FILE:LINE:COL` form.)
    #[error("not valid WebAssembly text: {message}")]
    InvalidText {
        /// The file.
        path: PathBuf,
        /// The assembler's error, with the file, line and column.
        message: String,
    },
    /// A single-file strategy was refused before building (see [`super::screen::screen`]).
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
