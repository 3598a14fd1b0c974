//! What kind of source a strategy path is, decided once, and building it.
//!
//! Why one classification: `run`, `validate`, `tune`, receipts and the service each take a path
//! that may be a crate directory, a single `.rs` file (SDK or Prop AMM form), a `.wasm` or a
//! `.wat`, and each used to ask "is it a directory? a `.rs`?" again, with room to disagree (one
//! used default options, another its own). [`Source::classify`] asks once; a single file is
//! read and screened as part of it (its form is in its tokens), so a [`Source`] of a single file
//! is always a [`Screened`] one, and [`Source::build`] turns any source into a module.

use std::path::{Path, PathBuf};

use super::cargo::build_crate;
use super::error::BuildError;
use super::options::BuildOptions;
use super::single_file::{Form, Screened, is_source_file};

/// A strategy source, classified.
#[derive(Clone, Debug)]
pub enum Source {
    /// A strategy crate directory, built with cargo.
    Crate(PathBuf),
    /// A single `.rs` file written against the SDK, screened.
    SdkFile(Screened),
    /// A single `.rs` file in the Prop AMM Challenge's form, screened.
    PropAmmFile(Screened),
    /// A compiled module (`.wasm`, or any other file that is not one of the others).
    Wasm(PathBuf),
    /// WebAssembly text (`.wat`), assembled when read.
    Wat(PathBuf),
}

/// How a [`Module`] came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The source was a module file: nothing was built.
    Given,
    /// Cargo built it now.
    Built,
    /// A single file's module was found in the cache: no cargo ran.
    Cached,
}

impl Origin {
    /// `"built"` or `"cached"` (`"given"` for a module file), as `validate` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Given => "given",
            Origin::Built => "built",
            Origin::Cached => "cached",
        }
    }
}

/// The module a [`Source`] gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// The module file: a `.wasm`, or the `.wat` itself (assembled by [`read_module`]).
    pub path: PathBuf,
    /// How it came to be.
    pub origin: Origin,
}

impl Source {
    /// Classifies `path`: a directory is a crate; a `.rs` file is read and screened (a refusal,
    /// an oversized or unreadable file is an error here) and is an SDK or a Prop AMM file by its
    /// form; a `.wat` is WebAssembly text; anything else a module file, read when it is used.
    pub fn classify(path: &Path, options: &BuildOptions) -> Result<Self, BuildError> {
        if path.is_dir() {
            return Ok(Source::Crate(path.to_path_buf()));
        }
        if is_source_file(path) {
            let screened = Screened::read(path, &options.source)?;
            return Ok(Source::from(screened));
        }
        if path.extension().is_some_and(|e| e == "wat") {
            return Ok(Source::Wat(path.to_path_buf()));
        }
        Ok(Source::Wasm(path.to_path_buf()))
    }

    /// The path the source was classified from.
    pub fn path(&self) -> &Path {
        match self {
            Source::Crate(path) | Source::Wasm(path) | Source::Wat(path) => path,
            Source::SdkFile(file) | Source::PropAmmFile(file) => file.path(),
        }
    }

    /// True for a single `.rs` file (either form): its module is `strategy.wasm` in a cache
    /// directory, so it is named after the source file, not the module.
    pub fn is_single_file(&self) -> bool {
        matches!(self, Source::SdkFile(_) | Source::PropAmmFile(_))
    }

    /// Builds the source (crates with `options.target_dir`, single files with
    /// `options.source`); a module file is its own module.
    pub fn build(&self, options: &BuildOptions) -> Result<Module, BuildError> {
        match self {
            Source::Crate(dir) => Ok(Module { path: build_crate(dir, options)?, origin: Origin::Built }),
            Source::SdkFile(file) | Source::PropAmmFile(file) => {
                let built = file.build(&options.source)?;
                let origin = if built.cache_hit { Origin::Cached } else { Origin::Built };
                Ok(Module { path: built.wasm, origin })
            }
            Source::Wasm(path) | Source::Wat(path) => Ok(Module { path: path.clone(), origin: Origin::Given }),
        }
    }
}

impl From<Screened> for Source {
    /// A screened file is an SDK or a Prop AMM source by its form.
    fn from(file: Screened) -> Self {
        match file.form() {
            Form::Sdk => Source::SdkFile(file),
            Form::PropAmm(_) => Source::PropAmmFile(file),
        }
    }
}

/// A module's path: `path` itself for a module file, the built `.wasm` for a crate directory or
/// a single-file Rust strategy ([`Source::classify`], then [`Source::build`]).
pub fn resolve_module(path: &Path, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    Source::classify(path, options)?.build(options).map(|module| module.path)
}

/// Reads a module file; WebAssembly text (`.wat`) is assembled to binary first, so fixtures and
/// hand-written modules can be used as they are.
pub fn read_module(path: &Path) -> Result<Vec<u8>, BuildError> {
    let bytes =
        std::fs::read(path).map_err(|e| BuildError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    if path.extension().is_some_and(|e| e == "wat") {
        return wat::parse_bytes(&bytes).map(|b| b.into_owned()).map_err(|mut e| {
            // The assembler names the text `<anon>` unless told the file.
            e.set_path(path);
            BuildError::InvalidText { path: path.to_path_buf(), message: e.to_string() }
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_path_is_classified_once() {
        let dir = std::env::temp_dir().join(format!("amm-engine-classify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let sdk = write("sdk.rs", "use amm_strategy_sdk::Strategy;\nexport_strategy!(S);\n");
        let prop = write("prop.rs", "const NAME: &str = \"p\";\npub fn compute_swap(data: &[u8]) -> u64 { 0 }\n");
        let refused = write("refused.rs", "fn f() {\n  unsafe {}\n}\n");
        let options = BuildOptions::default();
        assert!(matches!(Source::classify(&dir, &options), Ok(Source::Crate(_))));
        assert!(matches!(Source::classify(&sdk, &options), Ok(Source::SdkFile(_))));
        let prop_source = Source::classify(&prop, &options).unwrap();
        assert!(matches!(prop_source, Source::PropAmmFile(_)) && prop_source.is_single_file());
        assert_eq!(prop_source.path(), prop);
        assert!(matches!(Source::classify(&refused, &options), Err(BuildError::Refused { line: Some(2), .. })));
        assert!(matches!(Source::classify(Path::new("m.wat"), &options), Ok(Source::Wat(_))));
        let module = Source::classify(Path::new("m.wasm"), &options).unwrap();
        assert!(!module.is_single_file());
        assert_eq!(module.build(&options).unwrap(), Module { path: PathBuf::from("m.wasm"), origin: Origin::Given });
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A `.wat` that does not assemble: the error points at the file itself, line and column
    /// (the assembler's message named `<anon>`, so with several `.wat` arguments the reader could
    /// not tell which one), and is said as invalid text, not as a file that cannot be read.
    #[test]
    fn invalid_wat_names_its_file_and_line() {
        let dir = std::env::temp_dir().join(format!("amm-engine-bad-wat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.wat");
        std::fs::write(&path, "(module\n  (func (result i32)\n    i32.const 1\n    i32.bogus)\n)\n").unwrap();
        let message = read_module(&path).unwrap_err().to_string();
        assert!(message.contains(&format!("{}:4:5", path.display())), "{message}");
        assert!(!message.contains("<anon>") && !message.contains("cannot read"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
