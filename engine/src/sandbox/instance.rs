//! Compiled strategy modules and their live instances: where the host writes payloads into guest
//! memory and calls the exports under fuel.

use amm_strategy_sdk::abi::{self, BUFFER_LEN, STORAGE_LEN};
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Storage};
use wasmtime::{ExternType, InstancePre, Memory, Module, Store, TypedFunc, ValType};

use super::fault::{CallKind, Fault};
use super::inspect::{EXPECTED_EXPORTS, ExportShape, LoadError, ModuleInfo, WasmType};
use super::limits::{SandboxLimits, StoreLimiter};
use super::wasi::WasiState;
use super::{SandboxEngine, backstop_ticks};

/// Per-store host data.
pub(crate) struct HostState {
    limiter: StoreLimiter,
    /// Present for modules that import WASI (the only ones linked with the WASI functions).
    pub(crate) wasi: Option<WasiState>,
}

/// Checks the compiled module's exports against [`EXPECTED_EXPORTS`].
pub(crate) fn check_exports(module: &Module) -> Result<(), LoadError> {
    for expected in EXPECTED_EXPORTS {
        let Some(found) = module.get_export(expected.name) else {
            return Err(LoadError::MissingExport { name: expected.name, expected: expected.shape });
        };
        let matches = match (&expected.shape, &found) {
            (ExportShape::Memory, ExternType::Memory(_)) => true,
            (ExportShape::Func { params, results }, ExternType::Func(ty)) => {
                same_types(ty.params(), params) && same_types(ty.results(), results)
            }
            _ => false,
        };
        if !matches {
            return Err(LoadError::MistypedExport {
                name: expected.name,
                expected: expected.shape,
                found: describe(&found),
            });
        }
    }
    Ok(())
}

fn same_types(actual: impl ExactSizeIterator<Item = ValType>, expected: &[WasmType]) -> bool {
    actual.len() == expected.len()
        && actual.zip(expected).all(|(a, e)| match e {
            WasmType::I32 => matches!(a, ValType::I32),
            WasmType::I64 => matches!(a, ValType::I64),
        })
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let list =
                |types: &mut dyn Iterator<Item = ValType>| types.map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
            let params = list(&mut f.params());
            let results = list(&mut f.results());
            if results.is_empty() { format!("func ({params})") } else { format!("func ({params}) -> {results}") }
        }
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

/// A compiled, checked strategy module, ready to instantiate from any thread.
#[derive(Clone)]
pub struct StrategyModule {
    engine: SandboxEngine,
    info: ModuleInfo,
    pre: InstancePre<HostState>,
}

impl std::fmt::Debug for StrategyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyModule").field("info", &self.info).finish_non_exhaustive()
    }
}

impl StrategyModule {
    pub(crate) fn new(engine: SandboxEngine, info: ModuleInfo, pre: InstancePre<HostState>) -> Self {
        Self { engine, info, pre }
    }

    /// What the static checks learned (name, model, hash, size).
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// A fresh instance with zeroed memory state, under `limits`. `wasi_seed` seeds the WASI
    /// random streams (ignored by modules that do not import WASI).
    pub fn instantiate(&self, limits: &SandboxLimits, wasi_seed: u64) -> Result<WasmInstance, LoadError> {
        let state = HostState {
            limiter: StoreLimiter {
                max_memory_bytes: limits.max_memory_bytes,
                max_table_elements: limits.max_table_elements,
            },
            wasi: self.info.uses_wasi.then(|| WasiState::new(wasi_seed, limits.max_log_bytes as usize)),
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        let fault = |e: wasmtime::Error| {
            // The host running out of instance slots is not the module's fault.
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                return LoadError::Resources { message: format!("{e:#}") };
            }
            LoadError::Instantiate(Fault::from_wasmtime(&e, limits.instantiate_fuel, limits.backstop_ms))
        };
        store.set_fuel(limits.instantiate_fuel).map_err(fault)?;
        store.set_epoch_deadline(backstop_ticks(limits.backstop_ms));
        let instance = self.pre.instantiate(&mut store).map_err(fault)?;

        // Exports were type-checked at load; these lookups cannot fail for a loaded module, but
        // report rather than panic if they ever do.
        let missing = |name: &'static str| LoadError::MissingExport {
            name,
            expected: EXPECTED_EXPORTS.iter().find(|e| e.name == name).map_or(ExportShape::Memory, |e| e.shape),
        };
        use amm_strategy_sdk::abi::exports as ex;
        let memory = instance.get_memory(&mut store, ex::MEMORY).ok_or_else(|| missing(ex::MEMORY))?;
        let amm_buffer =
            instance.get_typed_func::<(), i32>(&mut store, ex::AMM_BUFFER).map_err(|_| missing(ex::AMM_BUFFER))?;
        let compute_swap =
            instance.get_typed_func::<i32, i64>(&mut store, ex::COMPUTE_SWAP).map_err(|_| missing(ex::COMPUTE_SWAP))?;
        let after_swap =
            instance.get_typed_func::<i32, ()>(&mut store, ex::AFTER_SWAP).map_err(|_| missing(ex::AFTER_SWAP))?;
        let epoch_boundary = instance
            .get_typed_func::<i32, ()>(&mut store, ex::EPOCH_BOUNDARY)
            .map_err(|_| missing(ex::EPOCH_BOUNDARY))?;

        let address = amm_buffer.call(&mut store, ()).map_err(fault)? as u32;
        let memory_size = memory.data_size(&store) as u64;
        if u64::from(address) + BUFFER_LEN as u64 > memory_size {
            return Err(LoadError::BufferOutOfBounds { address, len: BUFFER_LEN, memory_size });
        }
        Ok(WasmInstance {
            store,
            memory,
            buffer: address as usize,
            compute_swap,
            after_swap,
            epoch_boundary,
            quote_fuel: limits.quote_fuel,
            hook_fuel: limits.hook_fuel,
            fuel_used: 0,
            backstop_ms: limits.backstop_ms,
            backstop_ticks: backstop_ticks(limits.backstop_ms),
        })
    }
}

/// A live strategy instance: its own store, memory and fuel.
///
/// Each call has its own budget (`quote_fuel`, `hook_fuel`), host work included, and nothing
/// else: a strategy never pays for the number of calls the engine chose to make (the engine
/// bounds those itself, per order and per pool-step). The fuel every call used is counted
/// ([`WasmInstance::fuel_used`]) so a run can report what each strategy cost.
pub struct WasmInstance {
    store: Store<HostState>,
    memory: Memory,
    buffer: usize,
    compute_swap: TypedFunc<i32, i64>,
    after_swap: TypedFunc<i32, ()>,
    epoch_boundary: TypedFunc<i32, ()>,
    quote_fuel: u64,
    hook_fuel: u64,
    fuel_used: u64,
    backstop_ms: u64,
    backstop_ticks: u64,
}

impl WasmInstance {
    /// The guest buffer. Checked to fit in memory at instantiation; memory never shrinks.
    fn buffer_mut(&mut self) -> &mut [u8] {
        let start = self.buffer;
        &mut self.memory.data_mut(&mut self.store)[start..start + BUFFER_LEN]
    }

    /// Arms the store for a call with budget `call_fuel`.
    fn arm(&mut self, call_fuel: u64, kind: CallKind) -> Result<(), Fault> {
        self.store
            .set_fuel(call_fuel)
            .map_err(|e| Fault::Other { message: format!("{kind}: could not set fuel: {e:#}") })?;
        self.store.set_epoch_deadline(self.backstop_ticks);
        Ok(())
    }

    /// Books the fuel a call armed with `call_fuel` used, and classifies its error.
    fn settle<T>(&mut self, call_fuel: u64, result: wasmtime::Result<T>) -> Result<T, Fault> {
        let left = self.store.get_fuel().unwrap_or(0).min(call_fuel);
        self.fuel_used = self.fuel_used.saturating_add(call_fuel - left);
        result.map_err(|e| Fault::from_wasmtime(&e, call_fuel, self.backstop_ms))
    }

    /// Calls `compute_swap` with `request` encoded as the quote payload (ABI v1: side, input
    /// and reserves in nano units, then the storage).
    pub fn quote(&mut self, request: &QuoteRequest<'_>) -> Result<u64, Fault> {
        request.encode_into(self.buffer_mut());
        self.arm(self.quote_fuel, CallKind::Quote)?;
        let result = self.compute_swap.call(&mut self.store, abi::quote::LEN as i32);
        self.settle(self.quote_fuel, result).map(|bits| bits as u64)
    }

    /// Calls `after_swap`; on success `storage` becomes what the strategy left in the buffer.
    pub fn after_swap(&mut self, trade: &AfterSwap, storage: &mut Storage) -> Result<(), Fault> {
        trade.encode_into(storage, self.buffer_mut());
        self.arm(self.hook_fuel, CallKind::AfterSwap)?;
        let result = self.after_swap.call(&mut self.store, abi::after_swap::LEN as i32);
        self.settle(self.hook_fuel, result)?;
        self.read_storage(abi::after_swap::STORAGE, storage);
        Ok(())
    }

    /// Calls `epoch_boundary`; on success `storage` becomes what the strategy left in the buffer.
    pub fn epoch_boundary(&mut self, epoch: &EpochBoundary, storage: &mut Storage) -> Result<(), Fault> {
        epoch.encode_into(storage, self.buffer_mut());
        self.arm(self.hook_fuel, CallKind::EpochBoundary)?;
        let result = self.epoch_boundary.call(&mut self.store, abi::epoch_boundary::LEN as i32);
        self.settle(self.hook_fuel, result)?;
        self.read_storage(abi::epoch_boundary::STORAGE, storage);
        Ok(())
    }

    fn read_storage(&mut self, offset: usize, storage: &mut Storage) {
        let buffer = self.buffer_mut();
        storage.as_bytes_mut().copy_from_slice(&buffer[offset..offset + STORAGE_LEN]);
    }

    /// Fuel left after the last call (its budget minus what it used), units.
    pub fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    /// Fuel used by every quote and hook call of this instance so far (host work included),
    /// units.
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    /// Current size of the instance's linear memory, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    /// Captured stdout/stderr (WASI modules only): kept bytes and the count dropped.
    pub fn log(&self) -> Option<(Vec<u8>, u64)> {
        self.store.data().wasi.as_ref().map(|wasi| wasi.log().contents())
    }
}
