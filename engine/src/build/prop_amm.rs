//! Prop AMM Challenge sources, built unchanged through a compatibility layer.
//!
//! A file in that challenge's form — `pub fn compute_swap(data: &[u8]) -> u64`, optionally
//! `pub fn after_swap(data: &[u8], storage: &mut [u8])`, `const NAME: &str`,
//! `const MODEL_USED: &str`, the `prop_amm_submission_sdk` calls and the `pinocchio` /
//! `wincode` dependencies — is recognised by `recognise` and built with a fixed manifest
//! ([`MANIFEST`], locked by [`LOCK`]): the real `pinocchio` 0.7 and `wincode` 0.4 from the
//! registry, amm-engine's own `prop-amm-submission-sdk` (embedded in the binary, written for
//! amm-engine) and the SDK. The feature `no-entrypoint` is on, so the file's Solana entrypoint
//! is not compiled. [`glue`] is a module of its own beside the file (declared by one line,
//! [`GLUE_DECLARATION`], after the file's last, so the file's lines keep their numbers and a
//! compiler error in the glue can be told as the author's line): a
//! [`Strategy`](amm_strategy_sdk) whose
//! name and model are the file's `NAME` and `MODEL_USED`, whose quote hands the file the
//! payload unchanged (the challenge's quote layout is ABI v1's), and whose `after_swap` writes
//! the challenge's layout — tag 2, side, input, output, post-trade reserve_x, reserve_y, step
//! (u64, little-endian), then the 1,024-byte storage — and keeps what the file writes into its
//! `storage` argument, then what it passed to `set_storage`.
//!
//! The registry crates are fetched by `cargo fetch --locked` of the fixed manifest before the
//! offline build, so the user's code has no part in what is downloaded.

use super::diagnostics::{GlueMap, GlueUse};
use super::screen::{Refusal, Token, defines_macros, ident_at, in_attribute, punct_at};

/// The fixed manifest of every Prop AMM build.
pub const MANIFEST: &str = r#"# Written by amm-engine for a Prop AMM Challenge file; fixed, whatever the source.
[package]
name = "single-file-strategy"
version = "0.1.0"
edition = "2021"
publish = false
build = false
autobins = false
autoexamples = false
autotests = false
autobenches = false

[lib]
path = "src/lib.rs"
crate-type = ["cdylib"]

[features]
default = ["no-entrypoint"]
no-entrypoint = []

[dependencies]
amm-strategy-sdk = { path = "sdk", default-features = false, features = ["wide-builtins"] }
prop-amm-submission-sdk = { path = "prop-amm-submission-sdk" }
pinocchio = "0.7"
wincode = { version = "0.4", default-features = false, features = ["derive"] }

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"

[workspace]
"#;

/// The lock file of [`MANIFEST`]: every registry dependency pinned, with its checksum.
pub const LOCK: &str = include_str!("prop_amm/compat.lock");

/// Directory of the shim crate inside a build directory.
pub const SHIM_DIR: &str = "prop-amm-submission-sdk";

/// The shim crate's manifest.
pub const SHIM_MANIFEST: &str = r#"# amm-engine's prop-amm-submission-sdk, written from the copy embedded in the binary.
[package]
name = "prop-amm-submission-sdk"
version = "0.1.0"
edition = "2021"
publish = false
build = false

[lib]
path = "src/lib.rs"
"#;

/// The shim crate's source (amm-engine's own).
pub const SHIM_SOURCE: &str = include_str!("prop_amm/shim.rs");

/// What the compatibility glue needs to know about a recognised file: the 1-based lines that
/// define the items it uses (so an error where the glue uses one names the author's line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    /// The line of `fn compute_swap`.
    pub compute_swap: usize,
    /// The line of `fn after_swap`, if the file defines it.
    pub after_swap: Option<usize>,
    /// The line of `const NAME`, if the file defines it (it must).
    pub name: Option<usize>,
    /// The line of `const MODEL_USED`, if the file defines it (else the model is `"None"`).
    pub model: Option<usize>,
}

/// The line after a Prop AMM file's last that declares the glue's module
/// ([`GlueMap::FILE`]).
pub const GLUE_DECLARATION: &str =
    "mod __amm_engine_glue; // amm-engine's Prop AMM Challenge glue (not part of your file)\n";

/// The glue of one file: its text and where it uses the file's items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glue {
    /// The module's source, written to [`GlueMap::FILE`].
    pub text: String,
    /// Its lines that use the file's items, with the file's lines defining them.
    pub map: GlueMap,
}

/// Recognises the Prop AMM Challenge form in a screened source's tokens: a function
/// `compute_swap` whose first parameter is `&[u8]`, and no `export_strategy!` (an SDK strategy).
pub(super) fn recognise(tokens: &[(usize, Token)]) -> Option<Form> {
    let ident = |k: usize| ident_at(tokens, k);
    let punct = |k: usize| punct_at(tokens, k);
    let line = |k: usize| tokens.get(k).map_or(0, |(line, _)| *line);
    let defines = |keyword: &str, name: &str| {
        (0..tokens.len()).find(|&k| ident(k) == Some(keyword) && ident(k + 1) == Some(name)).map(line)
    };
    let byte_slice_fn = |name: &str| {
        (0..tokens.len()).find(|&k| {
            ident(k) == Some("fn")
                && ident(k + 1) == Some(name)
                && punct(k + 2) == Some('(')
                && ident(k + 3).is_some()
                && punct(k + 4) == Some(':')
                && punct(k + 5) == Some('&')
                && punct(k + 6) == Some('[')
                && ident(k + 7) == Some("u8")
                && punct(k + 8) == Some(']')
        })
    };
    let compute_swap = byte_slice_fn("compute_swap").map(line)?;
    if (0..tokens.len()).any(|k| ident(k) == Some("export_strategy")) {
        return None;
    }
    Some(Form {
        compute_swap,
        after_swap: defines("fn", "after_swap"),
        name: defines("const", "NAME"),
        model: defines("const", "MODEL_USED"),
    })
}

/// Attributes that edition 2024 (the SDK form's) accepts only as `unsafe(…)` — which the screen
/// refuses — but edition 2021 (a Prop AMM file's) takes bare: refused in a Prop AMM file too.
const UNSAFE_ATTRIBUTES: &[&str] = &["no_mangle", "export_name", "link_section"];

/// The Prop AMM form's screen on top of the common one: [`UNSAFE_ATTRIBUTES`], with the line —
/// in an attribute, or anywhere in a file that defines macros (one could put a name passed to
/// it into an attribute: `#[$m]`).
pub(super) fn screen(tokens: &[(usize, Token)]) -> Result<(), Refusal> {
    let has_macros = defines_macros(tokens);
    for (k, (line, token)) in tokens.iter().enumerate() {
        if let Token::Ident(name) = token
            && UNSAFE_ATTRIBUTES.contains(&name.as_str())
            && (has_macros || in_attribute(tokens, k))
        {
            return Err(Refusal {
                line: *line,
                what: format!("`#[{name}]` is not allowed in a single-file strategy (it is an unsafe attribute)"),
            });
        }
    }
    Ok(())
}

/// The items of the file the glue uses, and the form each must have: how the glue uses it.
const USED: &[(&str, &str)] = &[
    ("compute_swap", "`pub fn compute_swap(data: &[u8]) -> u64`"),
    ("after_swap", "`pub fn after_swap(data: &[u8], storage: &mut [u8])`"),
    ("NAME", "`const NAME: &str`"),
    ("MODEL_USED", "`const MODEL_USED: &str`"),
];

/// The glue of a recognised file: a module (`src/__amm_engine_glue.rs`, a child of the file)
/// with ABI v1 exports (through the SDK's `export_strategy!`) translating amm-engine's payloads
/// to the file's layouts. It names the file's items as `super::ITEM`, each on one line, so
/// [`Glue::map`] knows which line uses which.
pub fn glue(form: Form) -> Glue {
    let model = if form.model.is_some() { "super::MODEL_USED" } else { "\"None\"" };
    let after_swap = if form.after_swap.is_some() {
        r#"
    fn after_swap(trade: &amm_strategy_sdk::AfterSwap, storage: &mut amm_strategy_sdk::Storage) {
        // The challenge's after_swap layout: tag 2, side, input, output, post-trade reserves,
        // step (u64 LE), then the storage.
        let mut data = [0u8; 42 + 1024];
        data[0] = 2;
        data[1] = trade.side as u8;
        data[2..10].copy_from_slice(&trade.input_amount.to_le_bytes());
        data[10..18].copy_from_slice(&trade.output_amount.to_le_bytes());
        data[18..26].copy_from_slice(&trade.reserve_x.to_le_bytes());
        data[26..34].copy_from_slice(&trade.reserve_y.to_le_bytes());
        data[34..42].copy_from_slice(&trade.sim_step.to_le_bytes());
        data[42..].copy_from_slice(storage.as_bytes());
        let mut next = *storage.as_bytes();
        prop_amm_submission_sdk::__amm_engine_hook_begin();
        super::after_swap(&data, &mut next);
        if let Some(written) = prop_amm_submission_sdk::__amm_engine_hook_end() {
            next[..written.len()].copy_from_slice(&written);
        }
        *storage.as_bytes_mut() = next;
    }
"#
    } else {
        ""
    };
    let text = format!(
        r#"//! amm-engine's Prop AMM Challenge compatibility glue (not part of your file): the ABI v1
//! exports, calling your file's items through `super::`.

#[doc(hidden)]
pub struct __AmmEnginePropAmm;

impl amm_strategy_sdk::Strategy for __AmmEnginePropAmm {{
    const NAME: &'static str = super::NAME;
    const MODEL: &'static str = {model};

    fn compute_swap(quote: &amm_strategy_sdk::QuoteRequest<'_>) -> u64 {{
        // The challenge's quote layout is ABI v1's: side, input, reserves, storage.
        let mut data = [0u8; 25 + 1024];
        quote.encode_into(&mut data);
        super::compute_swap(&data)
    }}
{after_swap}}}

amm_strategy_sdk::export_strategy!(__AmmEnginePropAmm);
"#
    );
    let defined = |item: &str| match item {
        "compute_swap" => Some(form.compute_swap),
        "after_swap" => form.after_swap,
        "NAME" => form.name,
        _ => form.model,
    };
    let mut uses = Vec::new();
    for (k, line) in text.lines().enumerate() {
        for &(item, expected) in USED {
            let used = line.match_indices("super::").any(|(at, _)| {
                let rest = &line[at + "super::".len()..];
                rest.strip_prefix(item)
                    .is_some_and(|after| !after.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric()))
            });
            if used {
                uses.push(GlueUse { glue_line: k + 1, item, author_line: defined(item), expected });
            }
        }
    }
    Glue { text, map: GlueMap { uses } }
}

#[cfg(test)]
mod tests {
    use super::super::screen::tokenize;
    use super::*;

    fn form(source: &str) -> Option<Form> {
        recognise(&tokenize(source).unwrap())
    }

    #[test]
    fn the_challenge_form_is_recognised() {
        let source = "use prop_amm_submission_sdk::set_storage;\nconst NAME: &str = \"x\";\n\
                      pub fn compute_swap(data: &[u8]) -> u64 { data.len() as u64 }\n\
                      pub fn after_swap(_data: &[u8], _storage: &mut [u8]) {}";
        assert_eq!(form(source), Some(Form { compute_swap: 3, after_swap: Some(4), name: Some(2), model: None }));
        let quote_only = "const NAME: &str = \"x\"; const MODEL_USED: &str = \"None\";\n\
                          fn compute_swap(d: &[u8]) -> u64 { 0 }";
        assert_eq!(form(quote_only), Some(Form { compute_swap: 2, after_swap: None, name: Some(1), model: Some(1) }));
    }

    #[test]
    fn unsafe_attributes_are_refused_at_their_line() {
        for (attribute, what) in [
            ("#[no_mangle]", "`#[no_mangle]`"),
            ("#[export_name = \"memcpy\"]", "`#[export_name]`"),
            ("#[link_section = \"amm.name\"]", "`#[link_section]`"),
        ] {
            let source =
                format!("const NAME: &str = \"x\";\n{attribute}\npub fn compute_swap(d: &[u8]) -> u64 {{ 0 }}");
            let refusal = screen(&tokenize(&source).unwrap()).unwrap_err();
            assert_eq!(refusal.line, 2, "{source}");
            assert!(refusal.what.contains(what), "{refusal:?}");
        }
        let plain = "const NAME: &str = \"no_mangle\";\npub fn compute_swap(no_mangle: &[u8]) -> u64 { 0 }";
        assert_eq!(screen(&tokenize(plain).unwrap()), Ok(()));
    }

    #[test]
    fn unsafe_attributes_through_a_macro_are_refused() {
        let source = "const NAME: &str = \"x\";\n\
                      macro_rules! a { ($n:meta) => { #[$n] pub extern \"C\" fn f() {} }; }\n\
                      a!(no_mangle);\npub fn compute_swap(d: &[u8]) -> u64 { 0 }";
        let tokens = tokenize(source).unwrap();
        let r = screen(&tokens).unwrap_err();
        assert!(r.what.contains("no_mangle"), "{r:?}");
        assert_eq!(r.line, 3, "{r:?}");
    }

    #[test]
    fn sdk_strategies_are_not_the_challenge_form() {
        let sdk = "impl Strategy for S { const NAME: &'static str = \"s\";\n\
                   fn compute_swap(quote: &QuoteRequest<'_>) -> u64 { 0 } }\nexport_strategy!(S);";
        assert_eq!(form(sdk), None);
        let mentions = "// fn compute_swap(data: &[u8])\nconst S: &str = \"fn compute_swap(data: &[u8])\";";
        assert_eq!(form(mentions), None);
    }

    #[test]
    fn the_glue_knows_which_of_its_lines_use_which_item_of_the_file() {
        let form = Form { compute_swap: 7, after_swap: Some(20), name: Some(3), model: None };
        let glue = glue(form);
        let lines: Vec<&str> = glue.text.lines().collect();
        let items: Vec<(&str, Option<usize>)> = glue.map.uses.iter().map(|u| (u.item, u.author_line)).collect();
        assert_eq!(items, [("NAME", Some(3)), ("compute_swap", Some(7)), ("after_swap", Some(20))]);
        for u in &glue.map.uses {
            assert!(lines[u.glue_line - 1].contains(&format!("super::{}", u.item)), "{u:?}");
        }
        // Without the optional items, the glue does not use them.
        let bare = super::glue(Form { after_swap: None, ..form });
        assert!(!bare.text.contains("super::after_swap") && !bare.text.contains("super::MODEL_USED"));
    }

    #[test]
    fn the_lock_pins_the_manifests_registry_dependencies_and_the_sdk_version() {
        let lock: toml::Table = LOCK.parse().unwrap();
        let packages = lock["package"].as_array().unwrap();
        let version =
            |name: &str| packages.iter().find(|p| p["name"].as_str() == Some(name)).and_then(|p| p["version"].as_str());
        assert_eq!(version("pinocchio").map(|v| v.starts_with("0.7.")), Some(true));
        assert_eq!(version("wincode").map(|v| v.starts_with("0.4.")), Some(true));
        assert_eq!(version("prop-amm-submission-sdk"), Some("0.1.0"));
        // A workspace version bump needs the lock regenerated (cargo generate-lockfile on MANIFEST).
        assert_eq!(version("amm-strategy-sdk"), Some(crate::scaffold::SDK_VERSION));
        assert!(packages.iter().filter(|p| p.get("source").is_some()).all(|p| p.get("checksum").is_some()));
    }
}
