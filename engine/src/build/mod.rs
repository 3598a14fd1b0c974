//! Building a strategy, in one place: from whatever an author points at to a module the
//! sandbox loads.
//!
//! A strategy source is a crate directory, a single `.rs` file (written against the SDK, or in
//! the Prop AMM Challenge's form), a `.wasm` or a `.wat`. [`Source::classify`] decides which
//! once, and [`Source::build`] builds it; `run`, `validate`, `tune`, receipts and the service
//! all go through it, so they cannot disagree about what a path is or how it is built.
//!
//! The files, each a layer over the ones before it (no file reaches one that reaches it back,
//! and nothing outside `build` that `build` uses reaches `build`; `crate::layers` checks both):
//! * [`error`]: [`BuildError`], one error type for every kind of source.
//! * [`screen`](mod@screen): the single-file screen, a lexer and the rules a single file must pass.
//! * [`compiler`]: running cargo on unreviewed code, under [`CompilerLimits`].
//! * [`diagnostics`]: cargo's JSON messages; compiler errors told in the author's file and lines.
//! * [`options`]: [`BuildOptions`] and [`SourceOptions`], with the safe defaults.
//! * [`cargo`]: building an author's crate.
//! * [`prop_amm`]: the Prop AMM Challenge form: recognition, its extra rules, its glue.
//! * [`constants`]: a single file's `const` literals, rewritten per `tune` candidate.
//! * [`single_file`]: screened single files built offline in a content-addressed cache.
//! * [`source`]: the classification, and building any source.

pub mod cargo;
pub mod compiler;
pub mod constants;
pub mod diagnostics;
pub mod error;
pub mod options;
pub mod prop_amm;
pub mod screen;
pub mod single_file;
pub mod source;

pub use cargo::{ALLOWED_TARGETS, WASM_TARGET, build_crate};
pub use compiler::{CompilerLimits, STRATEGY_RUSTFLAGS};
pub use diagnostics::map_paths;
pub use error::BuildError;
pub use options::{BuildOptions, DEFAULT_BUILD_TIMEOUT_SECS, MAX_MODULE_BYTES, MAX_SOURCE_BYTES, SourceOptions};
pub use screen::{Refusal, screen};
pub use single_file::{Built, Form, Screened, build_source, build_source_text, content_address, is_source_file};
pub use source::{Module, Origin, Source, read_module, resolve_module};
