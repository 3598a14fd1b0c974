//! The Wasmtime sandbox every strategy runs in.
//!
//! Why it looks like this:
//! * **One [`SandboxEngine`] per process.** A Wasmtime `Engine` owns compiled code and the
//!   instance pool; modules compiled once are shared by every thread.
//! * **One store and instance per pool per simulation** ([`WasmInstance`]), from a pooling
//!   allocator, so a strategy's memory is its own and instantiation costs microseconds.
//! * **Fuel decides faults.** Every call gets a fresh fuel budget (quotes and hooks separately),
//!   instantiation included; bulk memory operations cost fuel per byte, and so does the host
//!   work of every WASI call. Each instance also has a fuel budget for the whole simulation
//!   (quotes and hooks together), so no strategy can slow a tournament down much. A wall-clock backstop
//!   (epoch interruption, ticked by a background thread) catches what fuel cannot bound.
//! * **Determinism.** NaN canonicalisation, deterministic relaxed SIMD, no threads or shared
//!   memory, fixed WASI clocks and seeded WASI randomness: the same module and inputs give the
//!   same outputs on any machine.
//! * **Typed failures.** Load problems are [`LoadError`]s naming the problem; call problems are
//!   [`Fault`]s naming the trap, limit or budget.

mod cache;
mod fault;
mod inspect;
mod instance;
mod limits;
#[cfg(test)]
mod tests;
mod wasi;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig};

pub use cache::{CacheError, ModuleCache, default_dir as default_cache_dir};
pub use fault::{CallKind, Fault, LimitExceeded, TrapKind};
pub use inspect::{
    EXPECTED_EXPORTS, ExpectedExport, ExportShape, LoadError, ModuleInfo, WASI_ALLOWED, WASI_MODULE, WasmType, inspect,
    sha256_hex,
};
pub use instance::{StrategyModule, WasmInstance};
pub use limits::{LimitError, MAX_WASM_STACK_BYTES, SandboxLimits};
pub use wasi::{BoundedLog, HOST_BYTE_FUEL, HOST_CALL_FUEL, RANDOM_BYTE_FUEL};

use instance::HostState;

/// Room above the wasm stack in the (unused) async stack size Wasmtime checks it against, bytes.
const ASYNC_STACK_FLOOR: usize = 2 << 20;

/// Bytes of a linear memory reset by `memset` when its instance is dropped, instead of being
/// handed back to the kernel (`madvise`) and faulted in again by the next instance: 2 MiB.
///
/// A simulation instantiates each strategy once and a pristine copy at each audit replay (an
/// epoch's), ~20 instances a simulation of the reference setting. Each `madvise` of a process
/// running on several cores flushes the other cores' TLBs, and the freed pages fault back in:
/// ~4 % of the reference setting's CPU went to the kernel so. A Rust-built strategy's memory is
/// 17 pages (1 MiB of stack and its data), so 2 MiB covers it with room; a larger memory is
/// zeroed up to this much and the rest returned to the kernel as before. Pages kept resident
/// stay so per pool slot, so resident memory grows by at most this much per live instance.
/// Results do not depend on it: either way a new instance sees its memory zeroed.
///
/// Within those 2 MiB only the pages the last instance dirtied are reset where the kernel can
/// say which ([`dirty_page_scan`]): a strategy touches a few pages of its stack and data per
/// call, and zeroing all 17 was ~10 % of a constant-product simulation's instructions.
/// Elsewhere the whole region is zeroed, as before.
const LINEAR_MEMORY_KEEP_RESIDENT: usize = 2 << 20;

/// Whether recycled pool slots are reset by the kernel's dirty-page scan (Linux 6.7+, the
/// `PAGEMAP_SCAN` ioctl: Wasmtime's `pagemap_scan`) rather than by zeroing their whole
/// resident region: only where no swap is active when the engine is created.
///
/// Why not with swap: the scan asks for dirty pages that are *present*. A dirty page the kernel
/// has swapped out is not, so Wasmtime 48 neither resets nor decommits it, and the next
/// instance in the slot would read what the last one wrote there (bytecodealliance/wasmtime
/// #14357, open) — a pristine audit copy that is not pristine, or one strategy reading another's
/// memory. Without a swap device no page can be swapped out. A host that turns swap on later
/// should restart a long-lived `amm-engine serve`, whose engine is created once.
fn dirty_page_scan() -> wasmtime::Enabled {
    match std::fs::read_to_string("/proc/swaps") {
        Ok(swaps) if !swap_active(&swaps) => wasmtime::Enabled::Auto,
        // (Swap on, or no way to tell: the full reset.)
        _ => wasmtime::Enabled::No,
    }
}

/// Whether `/proc/swaps` (its text) lists an active swap area: any line after the header.
fn swap_active(swaps: &str) -> bool {
    swaps.lines().skip(1).any(|line| !line.trim().is_empty())
}

/// The same for tables (function tables, 8 bytes an element): 64 KiB.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// How often the backstop clock ticks.
const TICK: Duration = Duration::from_millis(5);

/// Engine-wide settings: what must be fixed when the Wasmtime engine is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSettings {
    /// Wasm stack per call, bytes.
    pub max_wasm_stack_bytes: usize,
    /// Largest memory any store may use (the pool's slot size), bytes.
    pub max_memory_bytes: u64,
    /// Largest table any store may use, elements.
    pub max_table_elements: u64,
    /// Instances that may be live at once (the pool size).
    pub max_instances: u32,
}

impl EngineSettings {
    /// Settings covering `limits` with room for `max_instances` live instances.
    pub fn for_limits(limits: &SandboxLimits, max_instances: u32) -> Self {
        Self {
            max_wasm_stack_bytes: limits.max_wasm_stack_bytes as usize,
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
            max_instances: max_instances.max(4),
        }
    }

    /// Whether an engine with these settings can serve `limits`.
    pub fn covers(&self, limits: &SandboxLimits) -> bool {
        self.max_wasm_stack_bytes == limits.max_wasm_stack_bytes as usize
            && self.max_memory_bytes >= limits.max_memory_bytes
            && self.max_table_elements >= limits.max_table_elements
    }
}

/// The process's Wasmtime engine, configured for untrusted strategies. Cheap to clone.
#[derive(Clone)]
pub struct SandboxEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    cache: Option<ModuleCache>,
    plain_linker: Linker<HostState>,
    wasi_linker: Linker<HostState>,
    settings: EngineSettings,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// The engine could not be created (bad settings or an OS refusal).
#[derive(Debug, thiserror::Error)]
#[error("could not create the Wasmtime engine: {0}")]
pub struct EngineError(String);

impl SandboxEngine {
    /// Creates the engine (without a module cache) and starts its backstop clock.
    pub fn new(settings: EngineSettings) -> Result<Self, EngineError> {
        Self::with_cache(settings, None)
    }

    /// Creates the engine, compiling through `cache` when given.
    pub fn with_cache(settings: EngineSettings, cache: Option<ModuleCache>) -> Result<Self, EngineError> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(settings.max_instances)
            .total_memories(settings.max_instances)
            .total_tables(settings.max_instances)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(settings.max_memory_bytes as usize)
            .table_elements(settings.max_table_elements as usize)
            .total_component_instances(0)
            .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            .pagemap_scan(dirty_page_scan());

        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(settings.max_wasm_stack_bytes)
            // Wasmtime refuses a wasm stack larger than the async stack, even with async support
            // compiled out (as here: calls run on the calling thread's stack). Keep it above.
            .async_stack_size(settings.max_wasm_stack_bytes.saturating_add(ASYNC_STACK_FLOOR))
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .shared_memory(false)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            // 64×64→128-bit multiplies and 128-bit adds: exact integer arithmetic, so as
            // deterministic as the rest, and what makes a strategy's u128 math cheap (built with
            // `scaffold::STRATEGY_RUSTFLAGS`; wasm has no other wide multiply).
            .wasm_wide_arithmetic(true)
            // (The component model is compiled out: no Wasmtime feature enables it.)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

        let engine = Engine::new(&config).map_err(|e| EngineError(format!("{e:#}")))?;
        let plain_linker = Linker::new(&engine);
        let mut wasi_linker = Linker::new(&engine);
        wasi::add_to_linker(&mut wasi_linker).map_err(|e| EngineError(format!("{e:#}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), ticker_stop.clone()).map_err(|e| EngineError(e.to_string()))?;
        Ok(Self { inner: Arc::new(EngineInner { engine, cache, plain_linker, wasi_linker, settings, ticker_stop }) })
    }

    /// The settings the engine was created with.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Checks, compiles and trial-instantiates a module; on success it can be instantiated
    /// cheaply any number of times, from any thread.
    pub fn load(&self, bytes: &[u8], limits: &SandboxLimits) -> Result<StrategyModule, LoadError> {
        let info = inspect(bytes, limits)?;
        let cached = self.inner.cache.as_ref().and_then(|c| c.get(&self.inner.engine, &info.sha256));
        let module = match cached {
            Some(module) => module,
            None => {
                let module = Module::new(&self.inner.engine, bytes)
                    .map_err(|e| LoadError::Compile { message: format!("{e:#}") })?;
                if let Some(cache) = &self.inner.cache {
                    cache.put(&self.inner.engine, &info.sha256, &module);
                }
                module
            }
        };
        instance::check_exports(&module)?;
        let linker = if info.uses_wasi { &self.inner.wasi_linker } else { &self.inner.plain_linker };
        let pre = linker.instantiate_pre(&module).map_err(|e| LoadError::Compile { message: format!("{e:#}") })?;
        let loaded = StrategyModule::new(self.clone(), info, pre);
        // A trial instantiation runs the start function and checks amm_buffer() once, so a module
        // that cannot start is refused here rather than faulting in every simulation.
        loaded.instantiate(limits, 0)?;
        Ok(loaded)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new().name("amm-backstop".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            engine.increment_epoch();
        }
    })?;
    Ok(())
}

/// Backstop ticks for a deadline of `ms` milliseconds (rounded up, plus one for the partial
/// tick in progress).
fn backstop_ticks(ms: u64) -> u64 {
    ms.div_ceil(TICK.as_millis() as u64) + 1
}
