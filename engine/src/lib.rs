//! # amm-engine
//!
//! A sandboxed engine for AMM strategy competitions. Contestants submit pricing strategies as
//! WebAssembly modules (ABI v1, see `amm-strategy-sdk`); the engine runs seeded market
//! simulations in which the strategies and a constant-product normalizer compete for retail
//! flow while arbitrageurs trade against every pool, and calls each strategy through its own
//! fuel-metered Wasmtime instance.
//!
//! Layout, one concern per module:
//! * [`sandbox`]: Wasmtime engine, module checks, instances, faults, WASI.
//! * [`strategy`]: the backend-neutral strategy interface (wasm or native).
//! * [`params`]: the `amm.params` schema a strategy declares and the values a run gives it.
//! * [`native`]: the example strategies linked in as native code, the sandbox-overhead yardstick.
//! * [`build`]: building any strategy source (crate, single `.rs` file, `.wasm`, `.wat`) into
//!   a module, in one place; single files screened and built safely.
//! * [`validate`]: the checks behind `amm-engine validate`.
//! * [`scaffold`]: `amm-engine new`.

// Printing is the binary's business, and only through writers that cannot panic: a closed or
// full stdout/stderr must never turn a finished computation into a crash (`say!`/`note!` in the
// CLI). `println!`/`eprintln!` panic on a write error, so they are refused outside tests.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod build;
pub mod config;
pub mod files;
pub mod market;
pub mod names;
pub mod native;
pub mod params;
pub mod receipt;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod scaffold;
pub mod strategy;
pub mod validate;

#[cfg(test)]
mod layers;

/// The engine's version, as recorded in results and receipts.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
