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
    /// Wasm stack per call, in bytes; deeper recursion is a stack-overflow fault. Default 512 KiB,
    /// at most 1 MiB ([`MAX_WASM_STACK_BYTES`]: wasm runs on the host threads' 2 MiB stacks).
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
    /// Default 0.001. On top of this sample, in every epoch the first hook call after a step
    /// drawn (salted) per strategy is always replayed, so a strategy whose every hook leaks is
    /// caught in its first epoch, and one that leaks from some step on is caught in
    /// proportion; the sample catches one that leaks rarely. 0 turns hook audits off.
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
            hook_audit_rate: 0.001,
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

/// The accepted range of one integer `[sandbox]` key.
#[derive(Clone, Copy)]
pub(crate) struct Range {
    /// The key.
    pub key: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// The range in words, for the error message.
    pub expected: &'static str,
    /// Reads the key.
    pub get: fn(&SandboxLimits) -> u64,
    /// Sets the key (tests use it to try each end of the range).
    #[cfg_attr(not(test), allow(dead_code))]
    pub set: fn(&mut SandboxLimits, u64),
}

/// Largest `max_wasm_stack_bytes`: 1 MiB. Wasm runs on the calling thread's own stack (the run's
/// worker threads, a test's thread), and Rust gives new threads 2 MiB; a wasm stack limit near
/// or above the thread's stack would let deep recursion overflow the host thread, aborting the
/// process, instead of faulting the call. 1 MiB leaves the other half for the host's frames.
pub const MAX_WASM_STACK_BYTES: u64 = 1 << 20;

/// Every integer key [`SandboxLimits::check`] bounds, with its range. One table, so tests can
/// build the engine at both ends of every range.
pub(crate) const RANGES: &[Range] = &[
    Range {
        key: "quote_fuel",
        min: 1_000,
        max: 1 << 40,
        expected: "1,000 to 2^40",
        get: |l| l.quote_fuel,
        set: |l, v| l.quote_fuel = v,
    },
    Range {
        key: "hook_fuel",
        min: 1_000,
        max: 1 << 40,
        expected: "1,000 to 2^40",
        get: |l| l.hook_fuel,
        set: |l, v| l.hook_fuel = v,
    },
    Range {
        key: "instantiate_fuel",
        min: 1_000,
        max: 1 << 40,
        expected: "1,000 to 2^40",
        get: |l| l.instantiate_fuel,
        set: |l, v| l.instantiate_fuel = v,
    },
    Range {
        key: "max_memory_bytes",
        min: 65_536,
        max: 1 << 30,
        expected: "64 KiB to 1 GiB",
        get: |l| l.max_memory_bytes,
        set: |l, v| l.max_memory_bytes = v,
    },
    Range {
        key: "max_table_elements",
        min: 0,
        max: 10_000_000,
        expected: "0 to 10,000,000",
        get: |l| l.max_table_elements,
        set: |l, v| l.max_table_elements = v,
    },
    Range {
        key: "max_module_bytes",
        min: 1_024,
        max: 256 << 20,
        expected: "1 KiB to 256 MiB",
        get: |l| l.max_module_bytes,
        set: |l, v| l.max_module_bytes = v,
    },
    Range {
        key: "max_function_bytes",
        min: 1_024,
        max: 256 << 20,
        expected: "1 KiB to 256 MiB",
        get: |l| l.max_function_bytes,
        set: |l, v| l.max_function_bytes = v,
    },
    Range {
        key: "max_wasm_stack_bytes",
        min: 64 << 10,
        max: MAX_WASM_STACK_BYTES,
        expected: "64 KiB to 1 MiB (wasm runs on the host threads' 2 MiB stacks)",
        get: |l| l.max_wasm_stack_bytes,
        set: |l, v| l.max_wasm_stack_bytes = v,
    },
    Range {
        key: "backstop_ms",
        min: 10,
        max: 3_600_000,
        expected: "10 ms to 1 hour",
        get: |l| l.backstop_ms,
        set: |l, v| l.backstop_ms = v,
    },
    Range {
        key: "max_log_bytes",
        min: 0,
        max: 64 << 20,
        expected: "0 to 64 MiB",
        get: |l| l.max_log_bytes,
        set: |l, v| l.max_log_bytes = v,
    },
    Range {
        key: "max_faults",
        min: 1,
        max: 1_000_000,
        expected: "1 to 1,000,000",
        get: |l| u64::from(l.max_faults),
        set: |l, v| l.max_faults = u32::try_from(v).unwrap_or(u32::MAX),
    },
];

impl SandboxLimits {
    /// Checks every limit is in a range the sandbox can honour.
    pub fn check(&self) -> Result<(), LimitError> {
        for range in RANGES {
            let value = (range.get)(self);
            if value < range.min || value > range.max {
                return Err(LimitError { key: range.key, value: value.to_string(), expected: range.expected });
            }
        }
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
