//! The backend-neutral strategy interface the market calls.
//!
//! A [`StrategyProgram`] is something that can be instantiated — a checked wasm module or a
//! native strategy — and a [`StrategyInstance`] is one live copy of it for one pool in one
//! simulation. Dispatch is a `match`, not a trait object: the market calls `quote` hundreds of
//! thousands of times per simulation.

use std::path::PathBuf;

use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Storage};
use serde::Serialize;

use crate::native::NativeStrategy;
use crate::sandbox::{Fault, LoadError, SandboxLimits, StrategyModule, WasmInstance};

/// Which implementation runs a strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The `.wasm` module in its Wasmtime sandbox (the default, and the only choice for
    /// untrusted code).
    #[default]
    Wasm,
    /// The same strategy compiled into the engine (example strategies only): the yardstick for
    /// sandbox overhead.
    Native,
}

/// Identity of a strategy, as results and receipts record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StrategyMeta {
    /// Display name (config `name`, else `amm.name`, else the file stem).
    pub name: String,
    /// The model that wrote it (`amm.model`), `None` when not given.
    pub model: String,
    /// Hex SHA-256 of the `.wasm` bytes.
    pub sha256: String,
    /// Where the module came from.
    pub path: PathBuf,
}

/// A strategy ready to instantiate.
#[derive(Clone, Debug)]
pub enum StrategyProgram {
    /// A sandboxed wasm module.
    Wasm(StrategyModule),
    /// A strategy compiled into the engine.
    Native(&'static NativeStrategy),
}

impl StrategyProgram {
    /// A fresh instance. `wasi_seed` seeds a WASI module's random streams.
    pub fn instantiate(&self, limits: &SandboxLimits, wasi_seed: u64) -> Result<StrategyInstance, LoadError> {
        match self {
            StrategyProgram::Wasm(module) => {
                Ok(StrategyInstance::Wasm(Box::new(module.instantiate(limits, wasi_seed)?)))
            }
            StrategyProgram::Native(native) => Ok(StrategyInstance::Native(native)),
        }
    }
}

/// One live strategy for one pool.
pub enum StrategyInstance {
    /// A Wasmtime instance.
    Wasm(Box<WasmInstance>),
    /// Native code (stateless: all state is in the host-held storage).
    Native(&'static NativeStrategy),
}

impl StrategyInstance {
    /// How much of the other token the request's input buys (`compute_swap`). The request is
    /// the ABI's payload, built once by the pool that asks and passed down unchanged: a native
    /// strategy reads it as it is, a wasm one gets it encoded into its buffer.
    #[inline]
    pub fn quote(&mut self, request: &QuoteRequest<'_>) -> Result<u64, Fault> {
        match self {
            StrategyInstance::Wasm(instance) => instance.quote(request),
            StrategyInstance::Native(native) => Ok((native.compute_swap)(request)),
        }
    }

    /// Tells the strategy about an executed trade; updates `storage` on success only.
    pub fn after_swap(&mut self, trade: &AfterSwap, storage: &mut Storage) -> Result<(), Fault> {
        match self {
            StrategyInstance::Wasm(instance) => instance.after_swap(trade, storage),
            StrategyInstance::Native(native) => {
                (native.after_swap)(trade, storage);
                Ok(())
            }
        }
    }

    /// Tells the strategy an epoch ended; updates `storage` on success only.
    pub fn epoch_boundary(&mut self, epoch: &EpochBoundary, storage: &mut Storage) -> Result<(), Fault> {
        match self {
            StrategyInstance::Wasm(instance) => instance.epoch_boundary(epoch, storage),
            StrategyInstance::Native(native) => {
                (native.epoch_boundary)(epoch, storage);
                Ok(())
            }
        }
    }

    /// What a WASI module printed (kept bytes, dropped count); `None` otherwise.
    pub fn log(&self) -> Option<(Vec<u8>, u64)> {
        match self {
            StrategyInstance::Wasm(instance) => instance.log(),
            StrategyInstance::Native(_) => None,
        }
    }

    /// Fuel used by all wasm calls of this instance so far, units (`None` for native code,
    /// which is not metered).
    pub fn fuel_used(&self) -> Option<u64> {
        match self {
            StrategyInstance::Wasm(instance) => Some(instance.fuel_used()),
            StrategyInstance::Native(_) => None,
        }
    }

    /// Fuel left after the last wasm call (`None` for native code).
    pub fn fuel_left(&self) -> Option<u64> {
        match self {
            StrategyInstance::Wasm(instance) => Some(instance.fuel_left()),
            StrategyInstance::Native(_) => None,
        }
    }
}
