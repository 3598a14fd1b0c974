//! Single-file Rust strategies: `amm-engine validate my_strategy.rs`, built safely.
//!
//! A single `.rs` file written against the SDK (`use amm_strategy_sdk::…; …
//! export_strategy!(…)`) is first *screened* — a small lexer that skips comments and string
//! literals refuses, with the line named, everything that could reach outside the file at
//! compile time (`unsafe`, `include!`, `include_str!`, `include_bytes!`, `env!`, `option_env!`,
//! `#[path]`, `#[debugger_visualizer]`, `extern crate`, an external `mod name;`, a macro invoked
//! through a metavariable, `env` in a file that defines macros, non-ASCII code, `#[link]` and
//! `extern` blocks) —
//! and then built in a content-addressed directory, `<cache>/src/<sha256>/`, whose manifest is
//! fixed: the SDK embedded in this binary (materialised beside it) is the only dependency, so
//! there is no build script and no procedural macro (a Prop AMM file, below, also gets the
//! pinned, checksummed `pinocchio` and `wincode` with its derive macro); the build is offline, for
//! `wasm32-unknown-unknown`, and killed after a time limit. Compiler diagnostics name the
//! user's file and line. A second build of the same source (and SDK) is a cache hit: no cargo.
//!
//! A file in the Prop AMM Challenge's form (`fn compute_swap(data: &[u8]) -> u64`, …) is
//! recognised after screening and built unchanged through the compatibility layer of
//! [`prop_amm`]: the same screen, a fixed and locked manifest with that challenge's
//! dependencies, and glue translating the payloads.
//!
//! Cargo and every compiler it starts run under [`CompilerLimits`] (address space, CPU time per
//! process, file size, processes; set with util-linux `prlimit`), and a built module larger
//! than [`SourceOptions::max_module_bytes`] is refused.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::builder::{self, BuildError, WASM_TARGET};
use crate::scaffold;

pub mod constants;
pub mod prop_amm;

/// Largest accepted source file, in bytes (256 KiB).
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Default limit on one build's wall time, in seconds (override with
/// `$AMM_ENGINE_BUILD_TIMEOUT`, in seconds).
pub const DEFAULT_BUILD_TIMEOUT_SECS: u64 = 120;

/// Default largest built module, in bytes (4 MiB, the sandbox's default `max_module_bytes`).
pub const MAX_MODULE_BYTES: u64 = 4 << 20;

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

/// Resource limits on cargo and every process it starts (rustc, linker), applied per process
/// with util-linux `prlimit` (Linux only; elsewhere builds run without them). A build that
/// breaks one is refused with [`BuildError::OverLimit`] naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompilerLimits {
    /// Virtual address space of each process, in bytes (`RLIMIT_AS`; default 4 GiB).
    pub address_space_bytes: u64,
    /// CPU time of each process, in seconds (`RLIMIT_CPU`; default 300 s). The soft limit sends
    /// SIGXCPU, a hard limit one second later SIGKILL.
    pub cpu_seconds: u64,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`; default 1 GiB).
    pub file_size_bytes: u64,
    /// Processes and threads of the building user (`RLIMIT_NPROC`; default 4096; the kernel
    /// does not apply it to root).
    pub processes: u64,
}

impl Default for CompilerLimits {
    fn default() -> Self {
        Self { address_space_bytes: 4 << 30, cpu_seconds: 300, file_size_bytes: 1 << 30, processes: 4096 }
    }
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

/// A construct refused in a single-file strategy, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 1-based line of the source.
    pub line: usize,
    /// What was found and why it is refused.
    pub what: String,
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

/// Lexical token kinds the screen needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// An identifier or keyword (a raw identifier `r#x` is `x`).
    Ident(String),
    /// One punctuation character.
    Punct(char),
    /// A literal (string, char, number); its contents are never inspected.
    Literal,
}

/// Splits `source` into tokens with their lines, skipping comments (nested block comments
/// included) and the contents of string, byte-string, raw-string and char literals.
fn tokenize(source: &str) -> Result<Vec<(usize, Token)>, Refusal> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    let is_ident_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let is_ident_char = |c: char| c == '_' || c.is_ascii_alphanumeric();
    // Skips a quoted literal whose opening quote is at `i`; returns the index after it.
    let skip_quoted = |mut i: usize, line: &mut usize, quote: char| -> Result<usize, Refusal> {
        let start = *line;
        i += 1;
        while let Some(c) = chars.get(i).copied() {
            match c {
                '\\' => {
                    if chars.get(i + 1) == Some(&'\n') {
                        *line += 1;
                    }
                    i += 2;
                }
                '\n' => {
                    *line += 1;
                    i += 1;
                }
                c if c == quote => return Ok(i + 1),
                _ => i += 1,
            }
        }
        Err(Refusal { line: start, what: "an unterminated literal".into() })
    };
    // Skips a raw string `r#…#"…"#…#` whose `r` is at `i`; returns the index after it.
    let skip_raw = |mut i: usize, line: &mut usize| -> Result<usize, Refusal> {
        let start = *line;
        i += 1;
        let mut hashes = 0;
        while chars.get(i) == Some(&'#') {
            hashes += 1;
            i += 1;
        }
        if chars.get(i) != Some(&'"') {
            return Err(Refusal { line: start, what: "a malformed raw string".into() });
        }
        i += 1;
        while let Some(c) = chars.get(i).copied() {
            if c == '\n' {
                *line += 1;
            }
            if c == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                return Ok(i + 1 + hashes);
            }
            i += 1;
        }
        Err(Refusal { line: start, what: "an unterminated raw string".into() })
    };
    while let Some(c) = at(i) {
        match c {
            // A byte-order mark at the start, which rustc skips too.
            '\u{feff}' if i == 0 => i += 1,
            // Outside comments and literals, rustc's lexer and this one must agree on every
            // character; they differ on non-ASCII ones (rustc splits `a²b` into `a`, an error
            // it recovers from, and `b`, and skips U+200E as whitespace), so none is accepted.
            c if !c.is_ascii() => {
                return Err(Refusal {
                    line,
                    what: format!(
                        "the non-ASCII character U+{:04X} is not allowed outside comments and string literals in a single-file strategy (names must be ASCII)",
                        c as u32
                    ),
                });
            }
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                let start = line;
                let mut depth = 0usize;
                loop {
                    match (at(i), at(i + 1)) {
                        (Some('/'), Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some('\n'), _) => {
                            line += 1;
                            i += 1;
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => {
                            return Err(Refusal { line: start, what: "an unterminated block comment".into() });
                        }
                    }
                }
            }
            '"' => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i, &mut line, '"')?;
            }
            // Byte and C strings: b"…", c"…"; raw forms: r"…", r#"…"#, br"…", cr#"…"#.
            'b' | 'c' if at(i + 1) == Some('"') => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i + 1, &mut line, '"')?;
            }
            'b' if at(i + 1) == Some('\'') => {
                tokens.push((line, Token::Literal));
                i = skip_quoted(i + 1, &mut line, '\'')?;
            }
            'b' | 'c' if at(i + 1) == Some('r') && matches!(at(i + 2), Some('"' | '#')) => {
                tokens.push((line, Token::Literal));
                i = skip_raw(i + 1, &mut line)?;
            }
            'r' if at(i + 1) == Some('"') || (at(i + 1) == Some('#') && matches!(at(i + 2), Some('"' | '#'))) => {
                tokens.push((line, Token::Literal));
                i = skip_raw(i, &mut line)?;
            }
            '\'' => {
                // A char literal ('a', '\n', '\u{..}') or a lifetime / label ('a).
                if at(i + 1) == Some('\\') || (at(i + 2) == Some('\'') && at(i + 1) != Some('\'')) {
                    tokens.push((line, Token::Literal));
                    i = skip_quoted(i, &mut line, '\'')?;
                } else {
                    tokens.push((line, Token::Punct('\'')));
                    i += 1;
                    while at(i).is_some_and(is_ident_char) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() => {
                tokens.push((line, Token::Literal));
                while at(i)
                    .is_some_and(|c| is_ident_char(c) || c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
                {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                // A raw identifier r#name is the identifier name.
                if c == 'r' && at(i + 1) == Some('#') && at(i + 2).is_some_and(is_ident_start) {
                    i += 2;
                }
                let start = i;
                while at(i).is_some_and(is_ident_char) {
                    i += 1;
                }
                tokens.push((line, Token::Ident(chars[start..i].iter().collect())));
            }
            c => {
                tokens.push((line, Token::Punct(c)));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Macros that read files or the build environment at compile time.
const FORBIDDEN_MACROS: &[&str] = &["include", "include_str", "include_bytes", "env", "option_env"];

/// Checks `source` for everything a single-file strategy may not use; the first refusal, in
/// source order, with its line.
pub fn screen(source: &str) -> Result<(), Refusal> {
    screen_tokens(&tokenize(source)?)
}

/// [`screen`] on a source already split by [`tokenize`].
fn screen_tokens(tokens: &[(usize, Token)]) -> Result<(), Refusal> {
    let ident = |k: usize| match tokens.get(k) {
        Some((_, Token::Ident(s))) => Some(s.as_str()),
        _ => None,
    };
    let punct = |k: usize| match tokens.get(k) {
        Some((_, Token::Punct(c))) => Some(*c),
        _ => None,
    };
    let mut in_use = false;
    let has_macros = defines_macros(tokens);
    for (k, (line, token)) in tokens.iter().enumerate() {
        let refuse = |what: String| Err(Refusal { line: *line, what });
        match token {
            Token::Ident(name) => {
                let name = name.as_str();
                let after_dollar = punct(k.wrapping_sub(1)) == Some('$') && k > 0;
                if name == "unsafe" {
                    return refuse("`unsafe` is not allowed in a single-file strategy".into());
                }
                if FORBIDDEN_MACROS.contains(&name) && !after_dollar {
                    // `env!(…)`, `core::include_str!(…)`, and any mention of these macros in a
                    // `use` (renaming) or as a macro argument (`call!(include_str)`).
                    let invoked = punct(k + 1) == Some('!');
                    let renamed = in_use || punct(k.wrapping_sub(1)) == Some(':');
                    let named = name != "env";
                    if name == "env" && has_macros && !invoked && !renamed {
                        // A macro can join `env` and a `!` passed apart into `env!(…)`.
                        return refuse(
                            "`env` is not allowed in a single-file strategy that defines macros (a macro could invoke `env!` through it, which reads the build environment); rename it".into(),
                        );
                    }
                    if invoked || renamed || named {
                        return refuse(format!(
                            "`{name}!` is not allowed in a single-file strategy (it reads files or the build environment)"
                        ));
                    }
                }
                if after_dollar && punct(k + 1) == Some('!') {
                    return refuse(format!(
                        "`${name}!` (a macro invoked through a metavariable) is not allowed in a single-file strategy"
                    ));
                }
                if name == "extern" && ident(k + 1) == Some("crate") {
                    return refuse("`extern crate` is not allowed in a single-file strategy".into());
                }
                if name == "mod" && ident(k + 1).is_some() && punct(k + 2) == Some(';') {
                    let module = ident(k + 1).unwrap_or_default();
                    return refuse(format!(
                        "`mod {module};` (a module in another file) is not allowed in a single-file strategy; write `mod {module} {{ … }}` inline"
                    ));
                }
                if name == "debugger_visualizer" {
                    return refuse(
                        "`#[debugger_visualizer]` is not allowed in a single-file strategy (it reads a file at compile time)"
                            .into(),
                    );
                }
                if ["link", "link_name", "link_ordinal"].contains(&name) && in_attribute(tokens, k) {
                    return refuse(format!(
                        "`#[{name}]` is not allowed in a single-file strategy (it asks the linker for outside code)"
                    ));
                }
                let literal_next = matches!(tokens.get(k + 1), Some((_, Token::Literal)));
                if name == "extern" && (punct(k + 1) == Some('{') || (literal_next && punct(k + 2) == Some('{'))) {
                    return refuse(
                        "an `extern` block (foreign functions) is not allowed in a single-file strategy".into(),
                    );
                }
                if name == "path" && in_attribute(tokens, k) {
                    return refuse("`#[path]` is not allowed in a single-file strategy".into());
                }
                if name == "use" {
                    in_use = true;
                }
            }
            Token::Punct(';') => in_use = false,
            _ => {}
        }
    }
    Ok(())
}

/// True when the source defines macros (`macro_rules!`): the only way it can rearrange tokens,
/// e.g. join an identifier and a `!` passed apart into a macro invocation.
fn defines_macros(tokens: &[(usize, Token)]) -> bool {
    tokens.iter().any(|(_, token)| matches!(token, Token::Ident(s) if s == "macro_rules"))
}

/// True when the identifier at `k` is the path of an attribute: `#[path`, `#![path`, or inside
/// `#[cfg_attr(…, path …)]`.
fn in_attribute(tokens: &[(usize, Token)], k: usize) -> bool {
    let punct = |k: usize| match tokens.get(k) {
        Some((_, Token::Punct(c))) => Some(*c),
        _ => None,
    };
    if k >= 2 && punct(k - 1) == Some('[') {
        let outer = punct(k - 2) == Some('#');
        let inner = k >= 3 && punct(k - 2) == Some('!') && punct(k - 3) == Some('#');
        if outer || inner {
            return true;
        }
    }
    // Inside cfg_attr(...): walk back to an unmatched '(' preceded by `cfg_attr`.
    let mut depth = 0usize;
    let mut j = k;
    while j > 0 {
        j -= 1;
        match &tokens[j].1 {
            Token::Punct(')') => depth += 1,
            Token::Punct('(') if depth == 0 => {
                return matches!(tokens.get(j.wrapping_sub(1)), Some((_, Token::Ident(s))) if s == "cfg_attr");
            }
            Token::Punct('(') => depth -= 1,
            Token::Punct(';' | '{' | '}') => return false,
            _ => {}
        }
    }
    false
}

/// The content address of a build: the source, the SDK embedded in this binary, the fixed
/// manifests and the Prop AMM compatibility layer, hashed with SHA-256 (hex).
pub fn content_address(source: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"amm-engine single-file v2\0");
    hasher.update(scaffold::SDK_VERSION.as_bytes());
    hasher.update([0]);
    // The SDK manifest as materialised (workspace values filled in), so a change there without
    // a version bump cannot reuse a stale module.
    if let Ok(manifest) = scaffold::standalone_sdk_manifest() {
        hasher.update(manifest.as_bytes());
    }
    // The glue as generated (with and without the optional parts).
    let all = prop_amm::Form { has_after_swap: true, has_name: true, has_model: true };
    let none = prop_amm::Form { has_after_swap: false, has_name: true, has_model: false };
    let (glue_all, glue_none) = (prop_amm::glue(all), prop_amm::glue(none));
    let fixed = [
        ("prop-amm/glue-all.rs", glue_all.as_str()),
        ("prop-amm/glue-none.rs", glue_none.as_str()),
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

fn io_error(path: &Path, e: impl std::fmt::Display) -> BuildError {
    BuildError::Read { path: path.to_path_buf(), message: e.to_string() }
}

/// Screens and builds the single-file strategy at `path` — written against the SDK or in the
/// Prop AMM Challenge's form — and returns the `.wasm`. Refusals and compiler errors name
/// `path` and the line.
pub fn build_source(path: &Path, options: &SourceOptions) -> Result<Built, BuildError> {
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if metadata.len() > options.max_source_bytes as u64 {
        return Err(too_large(path, metadata.len(), options));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let source = String::from_utf8(bytes).map_err(|_| io_error(path, "not UTF-8 text"))?;
    build_source_text(path, &source, options)
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

/// Screens and builds `source` as [`build_source`] does; `path` is the file it stands for
/// (messages name it and its lines). `tune` builds each candidate of a source this way.
pub fn build_source_text(path: &Path, source: &str, options: &SourceOptions) -> Result<Built, BuildError> {
    if source.len() > options.max_source_bytes {
        return Err(too_large(path, source.len() as u64, options));
    }
    let source = source.to_string();
    let refused = |r: Refusal| BuildError::Refused { path: path.to_path_buf(), line: Some(r.line), what: r.what };
    // Tokenized once: the common screen, recognition and the Prop AMM screen share the tokens.
    let tokens = tokenize(&source).map_err(refused)?;
    screen_tokens(&tokens).map_err(refused)?;
    let form = prop_amm::recognise(&tokens);
    if form.is_some() {
        prop_amm::screen(&tokens).map_err(refused)?;
    }
    if form.is_some_and(|f| !f.has_name) {
        return Err(BuildError::Refused {
            path: path.to_path_buf(),
            line: None,
            what: "a Prop AMM Challenge file must define `const NAME: &str` (its display name)".into(),
        });
    }

    let dir = options.cache_dir.join(content_address(&source));
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
    match form {
        None => {
            write("Cargo.toml", MANIFEST)?;
            write("src/lib.rs", &source)?;
        }
        Some(form) => {
            write("Cargo.toml", prop_amm::MANIFEST)?;
            write("Cargo.lock", prop_amm::LOCK)?;
            write(&format!("{}/Cargo.toml", prop_amm::SHIM_DIR), prop_amm::SHIM_MANIFEST)?;
            write(&format!("{}/src/lib.rs", prop_amm::SHIM_DIR), prop_amm::SHIM_SOURCE)?;
            // The glue follows the file, so the file's lines keep their numbers.
            write("src/lib.rs", &format!("{source}{}", prop_amm::glue(form)))?;
        }
    }

    let built = compile(&dir, path, options, form.is_some(), &wasm);
    // Nothing in `target/` is ever used again (another source is another directory): only the
    // module stays, so the cache grows by kilobytes per source, not megabytes.
    let _ = std::fs::remove_dir_all(dir.join("target"));
    built.map(|()| Built { wasm, cache_hit: false })
}

/// Fetches (Prop AMM form) and builds the prepared directory `dir`, leaving the module at `wasm`.
fn compile(dir: &Path, path: &Path, options: &SourceOptions, prop_amm: bool, wasm: &Path) -> Result<(), BuildError> {
    let started = Instant::now();
    if prop_amm {
        // The registry dependencies of the fixed, locked manifest: the source has no say in them.
        fetch_locked(dir, path, options, started)?;
    }
    let produced = run_cargo(dir, path, options, started, prop_amm)?;
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
    // Copied under a temporary name and renamed, so a half-written module is never a cache hit.
    let partial = dir.join(format!("{MODULE_FILE}.{}.partial", std::process::id()));
    std::fs::copy(&produced, &partial).map_err(|e| io_error(&produced, e))?;
    std::fs::rename(&partial, wasm).map_err(|e| io_error(wasm, e))
}

/// Finds `program` on `$PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A cargo command in `dir`, under `limits` (through `prlimit` on Linux), with the build
/// environment cleared of flags and wrappers.
fn cargo_command(dir: &Path, limits: &CompilerLimits) -> Result<Command, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = if cfg!(target_os = "linux") {
        let prlimit = on_path("prlimit").ok_or_else(|| {
            BuildError::Spawn(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "prlimit (util-linux) is not on PATH; it is needed to limit the compiler's resources",
            ))
        })?;
        let mut command = Command::new(prlimit);
        command
            .arg(format!("--as={}", limits.address_space_bytes))
            .arg(format!("--cpu={}:{}", limits.cpu_seconds, limits.cpu_seconds.saturating_add(1)))
            .arg(format!("--fsize={}", limits.file_size_bytes))
            .arg(format!("--nproc={}", limits.processes))
            .arg("--")
            .arg(cargo);
        command
    } else {
        Command::new(cargo)
    };
    command
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout kills the compilers cargo started too.
        command.process_group(0);
    }
    Ok(command)
}

/// What a finished cargo run left.
struct Finished {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command`, killed (with its process group) once `timeout` has passed since `started`.
fn run_limited(
    mut command: Command,
    user_path: &Path,
    started: Instant,
    timeout: Duration,
) -> Result<Finished, BuildError> {
    let mut child = command.spawn().map_err(BuildError::Spawn)?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait().map_err(BuildError::Spawn)? {
            Some(status) => break status,
            None if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(BuildError::TimedOut { path: user_path.to_path_buf(), seconds: timeout.as_secs_f64() });
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ok(Finished { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() })
}

/// The [`CompilerLimits`] a failed build broke, named with its value, judged from how cargo
/// or a compiler ended (SIGXCPU / SIGKILL after the CPU limit, SIGXFSZ, an allocation failure).
fn broken_limit(finished: &Finished, limits: &CompilerLimits) -> Option<String> {
    let text = &finished.stderr;
    #[cfg(unix)]
    let own_signal = {
        use std::os::unix::process::ExitStatusExt;
        finished.status.signal()
    };
    #[cfg(not(unix))]
    let own_signal: Option<i32> = None;
    // Cargo reports a compiler's signal as "(signal: 24)" or "(signal: 24, SIGXCPU: …)".
    let signalled = |number: i32| {
        own_signal == Some(number)
            || text.contains(&format!("(signal: {number})"))
            || text.contains(&format!("(signal: {number},"))
    };
    if signalled(24) || signalled(9) {
        return Some(format!("the CPU-time limit of {} s per compiler process", limits.cpu_seconds));
    }
    if signalled(25) || text.contains("File too large") {
        return Some(format!("the file-size limit of {} bytes per file written", limits.file_size_bytes));
    }
    if text.contains("memory allocation of")
        || text.contains("out of memory")
        || text.contains("Cannot allocate memory")
    {
        return Some(format!("the address-space limit of {} bytes per compiler process", limits.address_space_bytes));
    }
    if text.contains("Resource temporarily unavailable") {
        return Some(format!("the process limit of {} processes", limits.processes));
    }
    None
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
/// `src/lib.rs`.
fn run_cargo(
    dir: &Path,
    user_path: &Path,
    options: &SourceOptions,
    started: Instant,
    locked: bool,
) -> Result<PathBuf, BuildError> {
    let mut command = cargo_command(dir, &options.limits)?;
    command
        .args(["build", "--release", "--lib", "--offline", "--target", WASM_TARGET])
        .args(["--message-format=json-render-diagnostics"])
        .args(locked.then_some("--locked"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(options.shared_target.clone().unwrap_or_else(|| dir.join("target")))
        .env("CARGO_NET_OFFLINE", "true");
    let finished = run_limited(command, user_path, started, options.timeout)?;
    if !finished.status.success() {
        if builder::target_missing(&finished.stderr) {
            return Err(BuildError::TargetMissing(WASM_TARGET.into()));
        }
        if let Some(limit) = broken_limit(&finished, &options.limits) {
            return Err(BuildError::OverLimit { path: user_path.to_path_buf(), limit });
        }
        let rendered = builder::rendered_diagnostics(&finished.stdout);
        let diagnostics = if rendered.is_empty() {
            // Cargo's progress lines name the build directory, not the user's file: left out.
            let lines: Vec<&str> = finished
                .stderr
                .lines()
                .filter(|l| !["Compiling ", "Locking ", "Adding "].iter().any(|p| l.trim_start().starts_with(p)))
                .collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        } else {
            rendered.join("\n")
        };
        return Err(BuildError::Failed {
            crate_dir: user_path.to_path_buf(),
            diagnostics: map_paths(&diagnostics, dir, user_path),
        });
    }
    builder::artifact_files(&finished.stdout, None)
        .find(|file| file.file_name().is_some_and(|n| n == "single_file_strategy.wasm"))
        .ok_or_else(|| BuildError::NoArtifact(user_path.to_path_buf()))
}

/// Rewrites the build directory's `src/lib.rs` (absolute or relative) to `user_path` in
/// compiler output, so `--> src/lib.rs:12:5` reads `--> my_strategy.rs:12:5`, and any other
/// mention of the build directory (a linker's command line) to `<build>`: on a server it lies
/// in the data directory, which submitters need not learn.
pub fn map_paths(diagnostics: &str, dir: &Path, user_path: &Path) -> String {
    let user = user_path.display().to_string();
    let absolute = dir.join("src/lib.rs").display().to_string();
    diagnostics
        .replace(&absolute, &user)
        .replace("--> src/lib.rs", &format!("--> {user}"))
        .replace(&dir.display().to_string(), "<build>")
}

/// Kills `child` and, on Unix, every process of its group (the compilers cargo started).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(source: &str) -> Refusal {
        match screen(source) {
            Err(r) => r,
            Ok(()) => panic!("not refused:\n{source}"),
        }
    }

    #[test]
    fn comments_and_literals_are_not_screened() {
        let source = r##"
// unsafe { include!("x") } mod a;
/* unsafe /* nested env!("HOME") */ extern crate x; */
const A: &str = "unsafe { include_str!(\"/etc/passwd\") }";
const B: &str = r#"mod x; "unsafe""#;
const C: &[u8] = b"unsafe";
const D: char = '"';
fn f<'a>(x: &'a str) -> &'a str { let env = 1; let _ = env; x }
mod inline { pub fn path() {} }
"##;
        assert_eq!(screen(source), Ok(()));
    }

    #[test]
    fn each_forbidden_construct_is_refused_at_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("fn f() {\n  unsafe { }\n}", 2, "`unsafe`"),
            ("\n\nconst X: &str = include_str!(\"/etc/passwd\");", 3, "`include_str!`"),
            ("\nconst X: &[u8] = core::include_bytes!(\"a\");", 2, "`include_bytes!`"),
            ("\ninclude!(\"a.rs\");", 2, "`include!`"),
            ("\nconst X: &str = env!(\"HOME\");", 2, "`env!`"),
            ("\nconst X: Option<&str> = option_env!(\"HOME\");", 2, "`option_env!`"),
            ("\nuse core::env as e;", 2, "`env!`"),
            ("\nuse core::{include_str as s};", 2, "`include_str!`"),
            ("\nmacro_rules! m {\n ($x:ident) => { $x!(\"a\") } }", 3, "metavariable"),
            ("\n#[path = \"other.rs\"]\nmod other {}", 2, "`#[path]`"),
            ("#![path = \"other.rs\"]", 1, "`#[path]`"),
            ("\n\n#[cfg_attr(all(), path = \"x.rs\")]\nmod other {}", 3, "`#[path]`"),
            ("\nextern crate alloc;", 2, "`extern crate`"),
            ("\n\n\nmod helpers;", 4, "`mod helpers;`"),
            ("\nfn f() { r#unsafe {} }", 2, "`unsafe`"),
            // Reads any file at compile time (its existence shows in the diagnostics).
            ("\n#![debugger_visualizer(gdb_script_file = \"/etc/passwd\")]", 2, "`#[debugger_visualizer]`"),
            ("\n\n#[link(name = \"/etc/hostname\", kind = \"static\")]\nextern \"C\" {}", 3, "`#[link]`"),
            ("extern \"C\" { fn f(); }", 1, "an `extern` block"),
            ("extern { fn f(); }", 1, "an `extern` block"),
        ];
        for (source, line, what) in cases {
            let r = refused(source);
            assert!(r.what.contains(what), "{source}: {r:?}");
            assert_eq!(r.line, *line, "{source}: {r:?}");
        }
    }

    #[test]
    fn env_reached_through_a_macro_is_refused() {
        // `env` and `!` passed separately, joined by the expansion into `env!("HOME")`.
        let split = "macro_rules! call { ($m:ident, $bang:tt, $arg:literal) => { $m $bang ($arg) }; }\n\
                     const X: &str = call!(env, !, \"HOME\");";
        let r = refused(split);
        assert!(r.what.contains("`env`") && r.what.contains("macro"), "{r:?}");
        assert_eq!(r.line, 2, "{r:?}");
        // The `!` written after a repetition of the arguments.
        let repeated = "macro_rules! m { ($($t:tt)*) => { $($t)* ! (\"PATH\") }; }\nconst X: &str = m!(env);";
        assert_eq!(refused(repeated).line, 2);
        // Without macro_rules, `env` can only be an ordinary name.
        assert_eq!(screen("fn f() -> u32 { let env = 1; env }"), Ok(()));
    }

    #[test]
    fn non_ascii_code_is_refused_but_not_in_comments_or_literals() {
        // rustc splits `a²include_str` at `²` (not an identifier character), expanding
        // `include_str!` after the lexer error; the screen saw one identifier.
        let split = "macro_rules! m { ($x:ident $($t:tt)*) => { compile_error!(concat!($($t)*)) }; }\n\
                     const X: &str = m!(a\u{b2}include_str!(\"/etc/hostname\"));";
        let r = refused(split);
        assert!(r.what.contains("non-ASCII") && r.what.contains("U+00B2"), "{r:?}");
        assert_eq!(r.line, 2, "{r:?}");
        assert_eq!(refused("fn f() {}\n\u{2028}").line, 2);
        let fine =
            "\u{feff}// caf\u{e9} \u{b2}\n/* \u{e9} */ const A: &str = \"\u{e9}\u{b2}\"; const B: char = '\u{e9}';";
        assert_eq!(screen(fine), Ok(()));
    }

    #[test]
    fn ordinary_uses_of_the_words_pass() {
        let source = "fn path(path: &[u8]) -> usize { let v = [path.len()]; v[0] }\nfn g() { let x = [1]; let _ = x; }";
        assert_eq!(screen(source), Ok(()));
    }

    #[test]
    fn unterminated_literals_are_refused() {
        assert!(refused("const A: &str = \"open").what.contains("unterminated"));
        assert!(refused("/* open").what.contains("unterminated"));
    }

    #[test]
    fn content_address_depends_on_the_source() {
        assert_ne!(content_address("a"), content_address("b"));
        assert_eq!(content_address("a"), content_address("a"));
        assert_eq!(content_address("a").len(), 64);
    }

    #[test]
    fn diagnostics_name_the_users_file() {
        let dir = Path::new("/cache/src/abc");
        let text = "error: x\n --> src/lib.rs:3:5\n  |\n/cache/src/abc/src/lib.rs:4";
        let mapped = map_paths(text, dir, Path::new("my.rs"));
        assert!(mapped.contains("--> my.rs:3:5"), "{mapped}");
        assert!(mapped.contains("\nmy.rs:4"), "{mapped}");
        assert!(!mapped.contains("lib.rs"), "{mapped}");
        // A linker's command line names the build directory (on a server, inside its data
        // directory): replaced too.
        let linker = "note: \"rust-lld\" \"-o\" \"/cache/src/abc/target/wasm32-unknown-unknown/release/deps/x.wasm\"";
        let mapped = map_paths(linker, dir, Path::new("my.rs"));
        assert!(!mapped.contains("/cache/src/abc"), "{mapped}");
        assert!(mapped.contains("<build>/target/wasm32-unknown-unknown"), "{mapped}");
    }
}
