//! Prop AMM Challenge sources, built unchanged through a compatibility layer.
//!
//! A file in that challenge's form — `pub fn compute_swap(data: &[u8]) -> u64`, optionally
//! `pub fn after_swap(data: &[u8], storage: &mut [u8])`, `const NAME: &str`,
//! `const MODEL_USED: &str`, the `prop_amm_submission_sdk` calls and the `pinocchio` /
//! `wincode` dependencies — is recognised by [`recognise`] and built with a fixed manifest
//! ([`MANIFEST`], locked by [`LOCK`]): the real `pinocchio` 0.7 and `wincode` 0.4 from the
//! registry, amm-engine's own `prop-amm-submission-sdk` (embedded in the binary, written for
//! amm-engine) and the SDK. The feature `no-entrypoint` is on, so the file's Solana entrypoint
//! is not compiled. [`glue`] is appended to the file: a [`Strategy`](amm_strategy_sdk) whose
//! name and model are the file's `NAME` and `MODEL_USED`, whose quote hands the file the
//! payload unchanged (the challenge's quote layout is ABI v1's), and whose `after_swap` writes
//! the challenge's layout — tag 2, side, input, output, post-trade reserve_x, reserve_y, step
//! (u64, little-endian), then the 1,024-byte storage — and keeps what the file writes into its
//! `storage` argument, then what it passed to `set_storage`.
//!
//! The registry crates are fetched by `cargo fetch --locked` of the fixed manifest before the
//! offline build, so the user's code has no part in what is downloaded.

use super::Token;

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
amm-strategy-sdk = { path = "sdk", default-features = false }
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

/// What the compatibility glue needs to know about a recognised file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    /// The file defines `fn after_swap`.
    pub has_after_swap: bool,
    /// The file defines `const NAME`.
    pub has_name: bool,
    /// The file defines `const MODEL_USED` (else the model is `"None"`).
    pub has_model: bool,
}

/// Recognises the Prop AMM Challenge form in a screened source's tokens: a function
/// `compute_swap` whose first parameter is `&[u8]`, and no `export_strategy!` (an SDK strategy).
pub(super) fn recognise(tokens: &[(usize, Token)]) -> Option<Form> {
    let ident = |k: usize| match tokens.get(k) {
        Some((_, Token::Ident(s))) => Some(s.as_str()),
        _ => None,
    };
    let punct = |k: usize| match tokens.get(k) {
        Some((_, Token::Punct(c))) => Some(*c),
        _ => None,
    };
    let defines =
        |keyword: &str, name: &str| (0..tokens.len()).any(|k| ident(k) == Some(keyword) && ident(k + 1) == Some(name));
    let byte_slice_fn = |name: &str| {
        (0..tokens.len()).any(|k| {
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
    if !byte_slice_fn("compute_swap") || (0..tokens.len()).any(|k| ident(k) == Some("export_strategy")) {
        return None;
    }
    Some(Form {
        has_after_swap: defines("fn", "after_swap"),
        has_name: defines("const", "NAME"),
        has_model: defines("const", "MODEL_USED"),
    })
}

/// Attributes that edition 2024 (the SDK form's) accepts only as `unsafe(…)` — which the screen
/// refuses — but edition 2021 (a Prop AMM file's) takes bare: refused in a Prop AMM file too.
const UNSAFE_ATTRIBUTES: &[&str] = &["no_mangle", "export_name", "link_section"];

/// The Prop AMM form's screen on top of the common one: [`UNSAFE_ATTRIBUTES`], with the line —
/// in an attribute, or anywhere in a file that defines macros (one could put a name passed to
/// it into an attribute: `#[$m]`).
pub(super) fn screen(tokens: &[(usize, Token)]) -> Result<(), super::Refusal> {
    let has_macros = super::defines_macros(tokens);
    for (k, (line, token)) in tokens.iter().enumerate() {
        if let Token::Ident(name) = token
            && UNSAFE_ATTRIBUTES.contains(&name.as_str())
            && (has_macros || super::in_attribute(tokens, k))
        {
            return Err(super::Refusal {
                line: *line,
                what: format!("`#[{name}]` is not allowed in a single-file strategy (it is an unsafe attribute)"),
            });
        }
    }
    Ok(())
}

/// The glue appended to a recognised file: ABI v1 exports (through the SDK's
/// `export_strategy!`) translating amm-engine's payloads to the file's layouts.
pub fn glue(form: Form) -> String {
    let model = if form.has_model { "MODEL_USED" } else { "\"None\"" };
    let after_swap = if form.has_after_swap {
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
        after_swap(&data, &mut next);
        if let Some(written) = prop_amm_submission_sdk::__amm_engine_hook_end() {
            next[..written.len()].copy_from_slice(&written);
        }
        *storage.as_bytes_mut() = next;
    }
"#
    } else {
        ""
    };
    format!(
        r#"

// ---- Appended by amm-engine: the Prop AMM Challenge compatibility glue (not part of your file). ----
#[doc(hidden)]
pub struct __AmmEnginePropAmm;

impl amm_strategy_sdk::Strategy for __AmmEnginePropAmm {{
    const NAME: &'static str = NAME;
    const MODEL: &'static str = {model};

    fn compute_swap(quote: &amm_strategy_sdk::QuoteRequest<'_>) -> u64 {{
        // The challenge's quote layout is ABI v1's: side, input, reserves, storage.
        let mut data = [0u8; 25 + 1024];
        quote.encode_into(&mut data);
        compute_swap(&data)
    }}
{after_swap}}}

amm_strategy_sdk::export_strategy!(__AmmEnginePropAmm);
"#
    )
}

#[cfg(test)]
mod tests {
    use super::super::tokenize;
    use super::*;

    fn form(source: &str) -> Option<Form> {
        recognise(&tokenize(source).unwrap())
    }

    #[test]
    fn the_challenge_form_is_recognised() {
        let source = "use prop_amm_submission_sdk::set_storage;\nconst NAME: &str = \"x\";\n\
                      pub fn compute_swap(data: &[u8]) -> u64 { data.len() as u64 }\n\
                      pub fn after_swap(_data: &[u8], _storage: &mut [u8]) {}";
        assert_eq!(form(source), Some(Form { has_after_swap: true, has_name: true, has_model: false }));
        let quote_only = "const NAME: &str = \"x\"; const MODEL_USED: &str = \"None\";\n\
                          fn compute_swap(d: &[u8]) -> u64 { 0 }";
        assert_eq!(form(quote_only), Some(Form { has_after_swap: false, has_name: true, has_model: true }));
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
