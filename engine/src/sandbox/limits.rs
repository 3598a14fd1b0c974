//! The sandbox's knobs, each with a safe default, and the resource limiter that enforces the
//! memory and table limits at run time.

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

use super::fault::LimitExceeded;

/// Limits applied to every strategy. Loaded from a config's `[sandbox]` table; every field is
/// optional there and defaults to the value documented on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxLimits {
    /// Fuel for one `compute_swap` call. Default 100,000 (a constant-product quote uses ~650).
    pub quote_fuel: u64,
    /// Fuel for one `after_swap` or `epoch_boundary` call. Default 1,000,000.
    pub hook_fuel: u64,
    /// Fuel for instantiation: the start function, data initialisation and `amm_buffer()`.
    /// Default 10,000,000.
    pub instantiate_fuel: u64,
    /// Largest linear memory, in bytes, declared or grown. Default 16 MiB. A Rust strategy
    /// needs at least 17 pages (1.06 MiB) for its default 1 MiB stack.
    pub max_memory_bytes: u64,
    /// Largest table, in elements, declared or grown. Default 10,000.
    pub max_table_elements: u64,
    /// Largest module file, in bytes, checked before compiling. Default 4 MiB.
    pub max_module_bytes: u64,
    /// Largest single function body, in bytes, checked before compiling (bounds compile time).
    /// Default 512 KiB.
    pub max_function_bytes: u64,
    /// Wasm stack per call, in bytes; deeper recursion is a stack-overflow fault. Default 512 KiB.
    pub max_wasm_stack_bytes: u64,
    /// Wall-clock backstop per call, in milliseconds, for what fuel cannot bound (e.g. time in
    /// host functions). Fuel, not this, decides faults in normal operation. Default 1,000 ms.
    pub backstop_ms: u64,
    /// Bytes of stdout/stderr kept per strategy instance (WASI modules); the rest is dropped.
    /// Default 64 KiB.
    pub max_log_bytes: u64,
    /// Faults after which a strategy is disqualified for the rest of a simulation. Default 1.
    pub max_faults: u32,
    /// Fraction of quotes replayed on a pristine instance to audit purity. Default 0.001.
    pub audit_rate: f64,
    /// Fraction of `after_swap` / `epoch_boundary` calls replayed on a pristine instance, whose
    /// storage must come out the same (hooks may depend only on their payload and storage).
    /// Default 0.002. On top of this sample, one of each epoch's first 64 hook calls (drawn
    /// per strategy from the seed) is always replayed, so a strategy whose every hook leaks is
    /// caught in its first epoch; the sample catches one that waits. 0 turns hook audits off.
    /// See BENCHMARKS.md for the measured calls and cost.
    pub hook_audit_rate: f64,
    /// Whether `wasm32-wasip1` modules (importing `wasi_snapshot_preview1`) are accepted.
    /// Default true; they get no files, environment or network, fixed clocks and seeded random.
    pub allow_wasi: bool,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            quote_fuel: 100_000,
            hook_fuel: 1_000_000,
            instantiate_fuel: 10_000_000,
            max_memory_bytes: 16 << 20,
            max_table_elements: 10_000,
            max_module_bytes: 4 << 20,
            max_function_bytes: 512 << 10,
            max_wasm_stack_bytes: 512 << 10,
            backstop_ms: 1_000,
            max_log_bytes: 64 << 10,
            max_faults: 1,
            audit_rate: 0.001,
            hook_audit_rate: 0.002,
            allow_wasi: true,
        }
    }
}

/// A limit outside the range the sandbox can honour.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("sandbox.{key} = {value} is out of range: {expected}")]
pub struct LimitError {
    /// The offending key.
    pub key: &'static str,
    /// Its value, as written.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

impl SandboxLimits {
    /// Checks every limit is in a range the sandbox can honour.
    pub fn check(&self) -> Result<(), LimitError> {
        fn range(key: &'static str, v: u64, lo: u64, hi: u64, expected: &'static str) -> Result<(), LimitError> {
            if v < lo || v > hi {
                return Err(LimitError { key, value: v.to_string(), expected });
            }
            Ok(())
        }
        range("quote_fuel", self.quote_fuel, 1_000, 1 << 40, "1,000 to 2^40")?;
        range("hook_fuel", self.hook_fuel, 1_000, 1 << 40, "1,000 to 2^40")?;
        range("instantiate_fuel", self.instantiate_fuel, 1_000, 1 << 40, "1,000 to 2^40")?;
        range("max_memory_bytes", self.max_memory_bytes, 65_536, 1 << 30, "64 KiB to 1 GiB")?;
        range("max_table_elements", self.max_table_elements, 0, 10_000_000, "0 to 10,000,000")?;
        range("max_module_bytes", self.max_module_bytes, 1_024, 256 << 20, "1 KiB to 256 MiB")?;
        range("max_function_bytes", self.max_function_bytes, 1_024, 256 << 20, "1 KiB to 256 MiB")?;
        range("max_wasm_stack_bytes", self.max_wasm_stack_bytes, 64 << 10, 64 << 20, "64 KiB to 64 MiB")?;
        range("backstop_ms", self.backstop_ms, 10, 3_600_000, "10 ms to 1 hour")?;
        range("max_log_bytes", self.max_log_bytes, 0, 64 << 20, "0 to 64 MiB")?;
        range("max_faults", u64::from(self.max_faults), 1, 1_000_000, "1 to 1,000,000")?;
        for (key, rate) in [("audit_rate", self.audit_rate), ("hook_audit_rate", self.hook_audit_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(LimitError { key, value: rate.to_string(), expected: "a fraction from 0 to 1" });
            }
        }
        Ok(())
    }
}

/// Per-store resource limiter: growth past a limit traps with [`LimitExceeded`], so the fault
/// names the resource (rather than `memory.grow` quietly returning -1 to a module that will
/// then loop or abort without saying why).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreLimiter {
    pub max_memory_bytes: u64,
    pub max_table_elements: u64,
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let requested = desired as u64;
        if requested > self.max_memory_bytes {
            return Err(LimitExceeded::Memory { requested, limit: self.max_memory_bytes }.into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let requested = desired as u64;
        if requested > self.max_table_elements {
            return Err(LimitExceeded::Table { requested, limit: self.max_table_elements }.into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}
