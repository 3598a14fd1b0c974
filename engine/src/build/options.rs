//! What a build may use: where single files are built and cached, how long and how large a
//! build may be, and where crates put their target directories.
//!
//! The defaults are the safe ones (every limit on, the shared cache of this machine), so a
//! caller that says nothing — `amm-engine run my.rs`, a config naming a crate — gets the
//! hardened builder; a server narrows them (its own cache directory), `tune` shares one target
//! directory among the candidates of one source.

use std::path::PathBuf;
use std::time::Duration;

use super::compiler::CompilerLimits;

/// Largest accepted source file, in bytes (256 KiB).
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Default limit on one build's wall time, in seconds (override with
/// `$AMM_ENGINE_BUILD_TIMEOUT`, in seconds).
pub const DEFAULT_BUILD_TIMEOUT_SECS: u64 = 120;

/// Default largest built module, in bytes (4 MiB, the sandbox's default `max_module_bytes`).
pub const MAX_MODULE_BYTES: u64 = 4 << 20;

/// How any source is built: [`BuildOptions::target_dir`] for crates, [`BuildOptions::source`]
/// for single files.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Cargo target directory of crate builds; default: the crate's own.
    pub target_dir: Option<PathBuf>,
    /// How single files are screened, built and cached.
    pub source: SourceOptions,
}

/// How single-file builds are done.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Root of the content-addressed build directories (`<cache_dir>/<sha256>/`).
    pub cache_dir: PathBuf,
    /// Wall-time limit of one build; cargo and the compilers it started are killed after it.
    pub timeout: Duration,
    /// Largest accepted source, in bytes.
    pub max_source_bytes: usize,
    /// Largest accepted built module, in bytes; a larger one is refused (and not cached).
    pub max_module_bytes: u64,
    /// Resource limits on cargo and the compilers it starts.
    pub limits: CompilerLimits,
    /// A cargo target directory shared by several builds, so their common dependencies
    /// (the Prop AMM form's `pinocchio` and `wincode`) are compiled once: what `tune` uses for
    /// the candidates of one source. `None` (the default): each build has its own, removed
    /// afterwards. Share it only among builds of one author's sources.
    pub shared_target: Option<PathBuf>,
}

impl Default for SourceOptions {
    /// `$AMM_ENGINE_CACHE/src` (else the default cache directory's `src`, else the temporary
    /// directory's `amm-engine-src`), `$AMM_ENGINE_BUILD_TIMEOUT` seconds (else 120 s),
    /// [`MAX_SOURCE_BYTES`], [`MAX_MODULE_BYTES`], the default [`CompilerLimits`].
    fn default() -> Self {
        let cache_dir = crate::sandbox::default_cache_dir()
            .map_or_else(|| std::env::temp_dir().join("amm-engine-src"), |dir| dir.join("src"));
        let timeout = std::env::var("AMM_ENGINE_BUILD_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_BUILD_TIMEOUT_SECS);
        Self {
            cache_dir,
            timeout: Duration::from_secs(timeout),
            max_source_bytes: MAX_SOURCE_BYTES,
            max_module_bytes: MAX_MODULE_BYTES,
            limits: CompilerLimits::default(),
            shared_target: None,
        }
    }
}
