//! `amm-engine new NAME`: a strategy crate, copied from the starter, that builds and validates
//! as is — from an installed binary anywhere, with no checkout of the engine.
//!
//! The SDK's sources are embedded in the binary and written, versioned, into the new crate at
//! `NAME/.amm-sdk/<version>/`; the crate depends on that copy by a relative path, so it builds
//! offline (the SDK has no dependencies) and can be moved or shared as a whole.
//!
//! `amm-engine new --single-file NAME.rs` writes the starter as one file instead, for
//! `amm-engine validate NAME.rs` (see [`crate::build::single_file`]).

use std::path::{Path, PathBuf};

/// The starter's source, the template for new strategies.
const STARTER_SOURCE: &str = include_str!("../../strategies/starter/src/lib.rs");

/// The SDK version embedded in this binary (the workspace's version).
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The compiler flags every strategy the engine builds from source gets — single files and Prop
/// AMM files, through [`crate::build`]; an author's crate gets them from the `.cargo/config.toml`
/// written beside its manifest ([`cargo_config`]): the WebAssembly wide-arithmetic instructions
/// (`i64.mul_wide_u`, `i64.add128`, …).
///
/// Why: wasm has no 64×64→128-bit multiply, so without them every `u128` multiplication — the
/// staple of fixed-point AMM math — is a call to a software routine doing four 32-bit
/// multiplications; with them Cranelift emits the machine's own wide multiply. The curve
/// benchmark's u128-heavy blend runs its quotes in half the CPU time (BENCHMARKS.md), with
/// results byte-identical: the instructions are exact integer arithmetic, the same on every
/// machine. The sandbox enables the proposal ([`crate::sandbox`]). rustc still calls the target
/// feature unstable and says so once per crate built (the crate builder leaves that notice out of
/// a failed build's report); should a toolchain ever refuse it, this constant is the one place to
/// change.
pub const STRATEGY_RUSTFLAGS: &str = "-Ctarget-feature=+wide-arithmetic";

/// The `.cargo/config.toml` of a new crate: [`STRATEGY_RUSTFLAGS`] for both wasm targets, so
/// `cargo build` in the crate and `amm-engine run` on it build the same module.
pub fn cargo_config() -> String {
    // (Both targets a crate may build for: `build::ALLOWED_TARGETS`, which sits above this
    // module; the test below keeps the two lists the same.)
    let targets: String = ["wasm32-unknown-unknown", "wasm32-wasip1"]
        .iter()
        .map(|target| format!("\n[target.{target}]\nrustflags = [{STRATEGY_RUSTFLAGS:?}]\n"))
        .collect();
    format!(
        "# Written by `amm-engine new`. The WebAssembly wide-arithmetic instructions: u128\n\
         # multiplication (the staple of fixed-point curves) runs on the machine's wide multiply in\n\
         # amm-engine's sandbox, with exactly the same results. amm-engine builds single-file strategies\n\
         # with the same flag. (rustc notes the target feature is unstable: harmless. A RUSTFLAGS\n\
         # variable replaces this file, as it replaces any cargo config.)\n{targets}"
    )
}

/// Where, inside a new crate, the embedded SDK is written (relative to the crate).
pub fn sdk_dir() -> PathBuf {
    PathBuf::from(".amm-sdk").join(SDK_VERSION)
}

/// The SDK's manifest as in the source tree (it inherits from the workspace's).
const SDK_MANIFEST: &str = include_str!("../../strategy-sdk/Cargo.toml");

/// The workspace manifest, whose `[workspace.package]` the SDK's manifest inherits.
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");

/// The SDK's source files, relative to its directory (every file of `strategy-sdk/src`; a test
/// checks none is missing).
pub const SDK_SOURCES: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../strategy-sdk/src/lib.rs")),
    ("src/abi.rs", include_str!("../../strategy-sdk/src/abi.rs")),
    ("src/math.rs", include_str!("../../strategy-sdk/src/math.rs")),
    ("src/params.rs", include_str!("../../strategy-sdk/src/params.rs")),
    ("src/payload.rs", include_str!("../../strategy-sdk/src/payload.rs")),
    ("src/storage.rs", include_str!("../../strategy-sdk/src/storage.rs")),
    ("src/wide.rs", include_str!("../../strategy-sdk/src/wide.rs")),
];

/// Why a crate could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid crate name.
    #[error("{0:?} is not a valid crate name: use letters, digits, '-' and '_', starting with a letter")]
    BadName(String),
    /// A single-file strategy's name does not end in `.rs`.
    #[error("{0} is not a .rs file name: `new --single-file` writes one Rust source, e.g. my_strategy.rs")]
    NotRs(PathBuf),
    /// The file exists already.
    #[error("{0} already exists; choose another name or remove it")]
    FileExists(PathBuf),
    /// The directory exists and is not empty.
    #[error("{0} already exists and is not empty; choose another name or remove it")]
    Exists(PathBuf),
    /// The SDK given with `--sdk` could not be found.
    #[error(
        "cannot find amm-strategy-sdk at {0}; pass the strategy-sdk directory of an amm-engine checkout, or omit --sdk to use the SDK embedded in this binary"
    )]
    NoSdk(PathBuf),
    /// The embedded SDK manifest could not be made standalone (a defect of this build).
    #[error("the embedded SDK manifest cannot be made standalone: {0}")]
    EmbeddedSdk(String),
    /// Writing failed.
    #[error("could not write {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause: part of the message, deliberately not a `source()`, so a reader that
        /// prints the chain (`{:#}`) says it once.
        cause: std::io::Error,
    },
}

/// The embedded SDK's manifest made standalone: every `key.workspace = true` of `[package]`
/// replaced by the workspace's value, and the workspace lints dropped.
pub fn standalone_sdk_manifest() -> Result<String, ScaffoldError> {
    let bad = |what: &str| ScaffoldError::EmbeddedSdk(what.to_string());
    let mut manifest: toml::Table = SDK_MANIFEST.parse().map_err(|e: toml::de::Error| bad(&e.to_string()))?;
    let workspace: toml::Table = WORKSPACE_MANIFEST.parse().map_err(|e: toml::de::Error| bad(&e.to_string()))?;
    let inherited = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.as_table())
        .ok_or_else(|| bad("the workspace has no [workspace.package]"))?;
    let package = manifest
        .get_mut("package")
        .and_then(|p| p.as_table_mut())
        .ok_or_else(|| bad("the SDK manifest has no [package]"))?;
    let keys: Vec<String> = package.keys().cloned().collect();
    for key in keys {
        let inherits =
            package.get(&key).and_then(|v| v.get("workspace")).and_then(toml::Value::as_bool).unwrap_or(false);
        if inherits {
            match inherited.get(&key) {
                Some(value) => {
                    package.insert(key, value.clone());
                }
                None => {
                    package.remove(&key);
                }
            }
        }
    }
    package.insert("publish".into(), toml::Value::Boolean(false));
    manifest.remove("lints");
    let text = toml::to_string(&manifest).map_err(|e| bad(&e.to_string()))?;
    Ok(format!(
        "# amm-strategy-sdk {SDK_VERSION}, written by `amm-engine new` from the copy embedded in the binary.\n{text}"
    ))
}

fn write_file(path: &Path, contents: &str) -> Result<(), ScaffoldError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|cause| ScaffoldError::Io { path: parent.to_path_buf(), cause })?;
    }
    std::fs::write(path, contents).map_err(|cause| ScaffoldError::Io { path: path.to_path_buf(), cause })
}

/// Writes the embedded SDK into `dir` (its manifest and sources); returns the files written.
pub fn materialise_sdk(dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let mut written = Vec::new();
    let manifest = dir.join("Cargo.toml");
    write_file(&manifest, &standalone_sdk_manifest()?)?;
    written.push(manifest);
    for (relative, contents) in SDK_SOURCES {
        let path = dir.join(relative);
        write_file(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}

/// Creates crate `dir` (its last component is the crate name). With `sdk`, the crate depends on
/// the SDK at that path; without, on the SDK embedded in this binary, written into
/// `dir/.amm-sdk/<version>/`. Returns the files written.
pub fn new_strategy(dir: &Path, sdk: Option<&Path>) -> Result<Vec<PathBuf>, ScaffoldError> {
    let name =
        dir.file_name().and_then(|n| n.to_str()).ok_or_else(|| ScaffoldError::BadName(dir.display().to_string()))?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let dependency = match sdk {
        Some(sdk) => {
            let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.to_path_buf()))?;
            if !sdk.join("Cargo.toml").is_file() {
                return Err(ScaffoldError::NoSdk(sdk));
            }
            sdk
        }
        None => sdk_dir(),
    };
    // Checked before anything is written.
    if sdk.is_none() {
        standalone_sdk_manifest()?;
    }

    let display_name = name.replace(['-', '_'], " ");
    let source = STARTER_SOURCE.replace(
        "const NAME: &'static str = \"Adaptive Starter\";",
        &format!("const NAME: &'static str = {display_name:?};"),
    );
    let files = [
        ("Cargo.toml", cargo_toml(name, &dependency)),
        ("src/lib.rs", source),
        (".gitignore", "/target\n".to_string()),
        (".cargo/config.toml", cargo_config()),
        ("README.md", readme(name)),
    ];
    let mut written = Vec::new();
    for (relative, contents) in files {
        let path = dir.join(relative);
        write_file(&path, &contents)?;
        written.push(path);
    }
    if sdk.is_none() {
        written.extend(materialise_sdk(&dir.join(sdk_dir()))?);
    }
    Ok(written)
}

/// Writes the starter as a single-file strategy at `path` (a new `.rs` file), named after the
/// file's stem; `amm-engine validate path` builds it against the embedded SDK. Returns `path`.
pub fn new_single_file(path: &Path) -> Result<PathBuf, ScaffoldError> {
    if path.extension().is_none_or(|e| e != "rs") {
        return Err(ScaffoldError::NotRs(path.to_path_buf()));
    }
    let stem = path.file_stem().and_then(|n| n.to_str()).ok_or_else(|| ScaffoldError::NotRs(path.to_path_buf()))?;
    if path.exists() {
        return Err(ScaffoldError::FileExists(path.to_path_buf()));
    }
    let display_name = stem.replace(['-', '_'], " ");
    let file = path.file_name().map_or_else(|| stem.to_string(), |f| f.to_string_lossy().into_owned());
    let header = format!(
        "// A single-file amm-engine strategy, written by `amm-engine new --single-file` from the\n\
         // adaptive starter. `amm-engine validate {file}` builds it against the SDK embedded in\n\
         // the binary and applies every check; `amm-engine run {file}` races it.\n"
    );
    let source = STARTER_SOURCE.replace(
        "const NAME: &'static str = \"Adaptive Starter\";",
        &format!("const NAME: &'static str = {display_name:?};"),
    );
    write_file(path, &format!("{header}{source}"))?;
    Ok(path.to_path_buf())
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    let sdk = sdk.display().to_string().replace('\\', "/");
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the .wasm you submit; rlib: so `cargo test` can run it natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
amm-strategy-sdk = {{ path = "{sdk}" }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"

# A standalone crate, even when created inside another workspace.
[workspace]
"#
    )
}

fn readme(name: &str) -> String {
    let file = name.replace('-', "_");
    format!(
        r#"# {name}

An amm-engine strategy, scaffolded from the adaptive starter.

```sh
cargo test                                                      # unit tests, natively
cargo build --release --target wasm32-unknown-unknown           # the module to submit
amm-engine validate .                                           # every check the engine applies
```

The module is `target/wasm32-unknown-unknown/release/{file}.wasm`. The SDK the crate builds
against is in `.amm-sdk/` (written by `amm-engine new`; keep it with the crate).
`.cargo/config.toml` builds it with the WebAssembly wide-arithmetic instructions, which make
u128 multiplication fast in amm-engine's sandbox with the same results (rustc notes that the
target feature is unstable: harmless); cargo applies it when run in this directory and no
`RUSTFLAGS` variable is set.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_source_file_is_embedded() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategy-sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| format!("src/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = SDK_SOURCES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add new SDK files to SDK_SOURCES");
    }

    #[test]
    fn a_single_file_strategy_passes_the_screen_and_is_named_after_the_file() {
        let dir = std::env::temp_dir().join(format!("amm-scaffold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("my_fee-strategy.rs");
        new_single_file(&path).unwrap();
        let source = std::fs::read_to_string(&path).unwrap();
        assert!(source.contains("const NAME: &'static str = \"my fee strategy\";"), "{source}");
        assert_eq!(crate::build::screen(&source), Ok(()));
        assert!(matches!(new_single_file(&path), Err(ScaffoldError::FileExists(_))));
        assert!(matches!(new_single_file(&dir.join("x.txt")), Err(ScaffoldError::NotRs(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_crate_builds_with_the_flags_single_files_get() {
        // The new crate's config, and the workspace's for the example strategies.
        for text in [cargo_config().as_str(), include_str!("../../.cargo/config.toml")] {
            let config: toml::Table = text.parse().unwrap();
            for target in crate::build::ALLOWED_TARGETS {
                let flags = config["target"][*target]["rustflags"].as_array().unwrap();
                let flags: Vec<&str> = flags.iter().map(|f| f.as_str().unwrap()).collect();
                assert_eq!(flags, [STRATEGY_RUSTFLAGS], "{target} in\n{text}");
            }
        }
    }

    #[test]
    fn the_materialised_sdk_manifest_stands_alone() {
        let text = standalone_sdk_manifest().unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        assert!(!text.contains("workspace"), "{text}");
        let package = manifest["package"].as_table().unwrap();
        assert_eq!(package["name"].as_str(), Some("amm-strategy-sdk"));
        assert_eq!(package["version"].as_str(), Some(SDK_VERSION));
        assert_eq!(package["edition"].as_str(), Some("2024"));
        assert!(manifest["features"]["default"].as_array().is_some_and(|d| !d.is_empty()), "{text}");
        assert!(manifest.get("lints").is_none());
    }
}
