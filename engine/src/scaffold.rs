//! `amm-engine new NAME`: a strategy crate, copied from the starter, that builds and validates
//! as is.

use std::path::{Path, PathBuf};

/// The starter's source, the template for new strategies.
const STARTER_SOURCE: &str = include_str!("../../strategies/starter/src/lib.rs");

/// Where the SDK lives in this checkout (used when `--sdk` is not given).
pub const DEFAULT_SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../strategy-sdk");

/// Why a crate could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid crate name.
    #[error("{0:?} is not a valid crate name: use letters, digits, '-' and '_', starting with a letter")]
    BadName(String),
    /// The directory exists and is not empty.
    #[error("{0} already exists and is not empty; choose another name or remove it")]
    Exists(PathBuf),
    /// The SDK could not be found.
    #[error(
        "cannot find amm-strategy-sdk at {0}; pass --sdk PATH to the strategy-sdk directory of an amm-engine checkout"
    )]
    NoSdk(PathBuf),
    /// Writing failed.
    #[error("could not write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Creates crate `dir` (its last component is the crate name) depending on the SDK at `sdk`.
pub fn new_strategy(dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
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
    let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.to_path_buf()))?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::NoSdk(sdk));
    }

    let display_name = name.replace(['-', '_'], " ");
    let source = STARTER_SOURCE.replace(
        "const NAME: &'static str = \"Adaptive Starter\";",
        &format!("const NAME: &'static str = {display_name:?};"),
    );
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("src/lib.rs", source),
        (".gitignore", "/target\n".to_string()),
        ("README.md", readme(name)),
    ];
    let mut written = Vec::new();
    for (relative, contents) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| ScaffoldError::Io { path: parent.to_path_buf(), source })?;
        }
        std::fs::write(&path, contents).map_err(|source| ScaffoldError::Io { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
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

The module is `target/wasm32-unknown-unknown/release/{file}.wasm`.
"#
    )
}
