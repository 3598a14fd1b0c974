//! The winner as a ready submission: the same module with its `amm.params` defaults replaced
//! by the tuned values.
//!
//! Only the custom section changes: code, exports and the other sections are copied byte for
//! byte, so the module behaves exactly as the study's winner did under `run` without any
//! `--param`, and `validate`, `submit` and `verify` treat it as any other module.

use amm_engine::params::{ParamSchema, ParamValues};
use wasmparser::{Parser, Payload};

/// A module that could not be rewritten.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WinnerError {
    /// The bytes are not a module the parser reads.
    #[error("cannot read the module: {0}")]
    Malformed(String),
    /// The module declares no parameters.
    #[error("the module has no amm.params section to rewrite")]
    NoParams,
}

/// `module` with the defaults in its `amm.params` section set to `values`.
pub fn with_defaults(module: &[u8], schema: &ParamSchema, values: &ParamValues) -> Result<Vec<u8>, WinnerError> {
    let mut out = wasm_encoder::Module::new();
    let mut replaced = false;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| WinnerError::Malformed(e.to_string()))?;
        if let Payload::CustomSection(reader) = &payload
            && reader.name() == amm_strategy_sdk::abi::sections::PARAMS
        {
            let data = schema.encode(values);
            out.section(&wasm_encoder::CustomSection { name: reader.name().into(), data: data.into() });
            replaced = true;
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.section(&wasm_encoder::RawSection { id, data: &module[range] });
        }
    }
    if !replaced {
        return Err(WinnerError::NoParams);
    }
    Ok(out.finish())
}
