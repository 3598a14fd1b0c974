//! A cache of compiled modules on disk, so repeated runs skip compilation.
//!
//! Entries are keyed by the module's SHA-256 and the engine's compatibility hash (Wasmtime's
//! own, covering its version and every code-generation setting), and hold Wasmtime's serialised
//! native code. Loading serialised code is `unsafe` in Wasmtime for a reason: a forged entry
//! would be native code run unsandboxed. So each entry carries an HMAC-SHA256 over the module
//! hash, the engine hash and the code, keyed by a random secret created with the cache (mode
//! 0600, in a directory of mode 0700). An entry that fails the check — corrupted, truncated,
//! swapped for another module's, or edited by anyone without the key — is ignored, deleted and
//! rebuilt from the module. The cache is then as trustworthy as the user's own files.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"AMMCACH1";
const KEY_LEN: usize = 32;
const MAC_LEN: usize = 32;

/// Why the cache could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("module cache at {path}: {message}")]
pub struct CacheError {
    /// The cache directory.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// An on-disk cache of compiled modules.
#[derive(Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for ModuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleCache").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// The default cache directory: `$AMM_ENGINE_CACHE`, else `$XDG_CACHE_HOME/amm-engine`, else
/// `~/.cache/amm-engine`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AMM_ENGINE_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("amm-engine"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/amm-engine"))
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl ModuleCache {
    /// Opens (creating if needed) the cache in `dir`.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let fail = |message: String| CacheError { path: dir.to_path_buf(), message };
        private_dir(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
        let key_path = dir.join("key");
        let key = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == KEY_LEN => {
                let mut key = [0u8; KEY_LEN];
                key.copy_from_slice(&bytes);
                key
            }
            _ => {
                use rand::RngExt;
                let key: [u8; KEY_LEN] = rand::rng().random();
                crate::files::write_atomically(&key_path, &key, true)
                    .map_err(|e| fail(format!("cannot write the key: {e}")))?;
                key
            }
        };
        Ok(Self { dir: dir.to_path_buf(), key, hits: Default::default() })
    }

    /// Modules served from the cache so far (by this handle and its clones).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, sha256: &str, engine: &Engine) -> (PathBuf, String) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());
        (self.dir.join(format!("{sha256}-{engine_hash}.bin")), engine_hash)
    }

    fn mac(&self, sha256: &str, engine_hash: &str, code: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(engine_hash.as_bytes());
        mac.update(b"\0");
        mac.update(code);
        mac
    }

    /// The compiled module for `sha256`, if a valid entry exists. Invalid entries are deleted.
    pub fn get(&self, engine: &Engine, sha256: &str) -> Option<Module> {
        let (path, engine_hash) = self.entry(sha256, engine);
        let bytes = std::fs::read(&path).ok()?;
        let valid = bytes.len() > MAGIC.len() + MAC_LEN && &bytes[..MAGIC.len()] == MAGIC && {
            let (tag, code) = bytes[MAGIC.len()..].split_at(MAC_LEN);
            self.mac(sha256, &engine_hash, code).verify_slice(tag).is_ok()
        };
        if !valid {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        let code = &bytes[MAGIC.len() + MAC_LEN..];
        // SAFETY: `code` is exactly what `put` wrote from `Module::serialize` for this module
        // hash and engine: the HMAC under our private key proves it, so it is code this engine
        // produced, not attacker-supplied bytes.
        match unsafe { Module::deserialize(engine, code) } {
            Ok(module) => {
                self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(module)
            }
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `module` (compiled from the module hashing to `sha256`). Failures are ignored:
    /// the cache only ever saves time.
    pub fn put(&self, engine: &Engine, sha256: &str, module: &Module) {
        let Ok(code) = module.serialize() else { return };
        let (path, engine_hash) = self.entry(sha256, engine);
        let tag = self.mac(sha256, &engine_hash, &code).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(MAGIC.len() + MAC_LEN + code.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&tag);
        bytes.extend_from_slice(&code);
        let _ = crate::files::write_atomically(&path, &bytes, true);
    }
}
