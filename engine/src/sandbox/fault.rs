//! What can go wrong inside one call into a strategy, as a typed enum.
//!
//! Wasmtime reports failures as an opaque error; its message text is not a stable interface.
//! [`Fault::from_wasmtime`] classifies by downcasting instead: to [`wasmtime::Trap`], to our own
//! [`LimitExceeded`], to our WASI's [`HostFuelExhausted`] or to a WASI exit. Every fault is
//! deterministic except [`Fault::Deadline`], the wall-clock backstop, which exists only for what
//! fuel cannot bound.

use serde::Serialize;

use super::wasi::{GuestExit, HostFuelExhausted};

/// Which strategy entry point was running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// Instantiation, including the module's start function and `amm_buffer()`.
    Instantiate,
    /// `compute_swap`.
    Quote,
    /// `after_swap`.
    AfterSwap,
    /// `epoch_boundary`.
    EpochBoundary,
}

impl CallKind {
    /// Every call, in declaration order (documents list the serialized names from it).
    pub const ALL: [Self; 4] = [Self::Instantiate, Self::Quote, Self::AfterSwap, Self::EpochBoundary];
}

impl std::fmt::Display for CallKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallKind::Instantiate => "instantiation",
            CallKind::Quote => "compute_swap",
            CallKind::AfterSwap => "after_swap",
            CallKind::EpochBoundary => "epoch_boundary",
        })
    }
}

/// A call into a strategy that did not complete normally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The call used up its fuel budget (e.g. an infinite loop, or bulk memory over a large range).
    #[error("out of fuel: used the whole budget of {budget} units")]
    OutOfFuel {
        /// The budget the call had.
        budget: u64,
    },
    /// A WASI call's host work (a fixed cost plus a cost per byte it handles) needed more fuel
    /// than the call had left.
    #[error(
        "out of fuel in host work: wasi {function} needed {cost} fuel for {bytes} bytes, only {left} of the call's budget of {budget} units left"
    )]
    HostWorkOverFuel {
        /// The WASI function.
        function: &'static str,
        /// Bytes of guest memory it was asked to read or write.
        bytes: u64,
        /// Fuel it needed, units.
        cost: u64,
        /// Fuel the call had left when it asked, units.
        left: u64,
        /// The call's budget, units.
        budget: u64,
    },
    /// The wall-clock backstop fired: the call ran longer than the configured limit.
    #[error("wall-clock backstop: the call ran longer than {limit_ms} ms")]
    Deadline {
        /// The backstop, in milliseconds.
        limit_ms: u64,
    },
    /// The wasm stack exceeded `max_wasm_stack` (e.g. unbounded recursion).
    #[error("stack overflow: the call exceeded the wasm stack limit")]
    StackOverflow,
    /// A memory grew (or was declared) beyond the sandbox's memory limit.
    #[error("memory limit: grew to {requested} bytes, limit is {limit} bytes")]
    MemoryLimit {
        /// Size the module asked for, in bytes.
        requested: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A table grew (or was declared) beyond the sandbox's table limit.
    #[error("table limit: grew to {requested} elements, limit is {limit}")]
    TableLimit {
        /// Elements the module asked for.
        requested: u64,
        /// The limit.
        limit: u64,
    },
    /// A wasm trap.
    #[error("trap: {trap}")]
    Trap {
        /// Which trap.
        trap: TrapKind,
    },
    /// A WASI module called `proc_exit`.
    #[error("the module exited with code {code}")]
    Exit {
        /// The exit code.
        code: i32,
    },
    /// Anything else Wasmtime reported.
    #[error("{message}")]
    Other {
        /// Wasmtime's description.
        message: String,
    },
}

/// The kind of a wasm trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrapKind {
    /// `unreachable` executed (a Rust panic, on wasm).
    Unreachable,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Integer overflow (e.g. `i32::MIN / -1`).
    IntegerOverflow,
    /// Float to integer conversion out of range.
    BadConversionToInteger,
    /// Memory access out of bounds.
    MemoryOutOfBounds,
    /// Table access out of bounds.
    TableOutOfBounds,
    /// `call_indirect` to a null table entry.
    IndirectCallToNull,
    /// `call_indirect` with the wrong signature.
    BadSignature,
    /// Misaligned atomic access.
    HeapMisaligned,
    /// A trap of another kind.
    Other,
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable executed (a panic?)",
            TrapKind::IntegerDivisionByZero => "integer division by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "invalid float to integer conversion",
            TrapKind::MemoryOutOfBounds => "out-of-bounds memory access",
            TrapKind::TableOutOfBounds => "out-of-bounds table access",
            TrapKind::IndirectCallToNull => "indirect call to a null table entry",
            TrapKind::BadSignature => "indirect call with the wrong signature",
            TrapKind::HeapMisaligned => "misaligned atomic access",
            TrapKind::Other => "other trap",
        })
    }
}

/// The error our resource limiter raises: growth past a sandbox limit traps with this, so the
/// fault names the resource and the sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// Linear memory.
    #[error("memory grew to {requested} bytes, limit {limit}")]
    Memory {
        /// Requested size in bytes.
        requested: u64,
        /// Limit in bytes.
        limit: u64,
    },
    /// Table.
    #[error("table grew to {requested} elements, limit {limit}")]
    Table {
        /// Requested elements.
        requested: u64,
        /// Limit.
        limit: u64,
    },
}

impl Fault {
    /// Classifies an error returned by a Wasmtime call made with `fuel_budget` fuel and a
    /// `backstop_ms` wall-clock deadline.
    pub fn from_wasmtime(error: &wasmtime::Error, fuel_budget: u64, backstop_ms: u64) -> Fault {
        if let Some(limit) = error.downcast_ref::<LimitExceeded>() {
            return match *limit {
                LimitExceeded::Memory { requested, limit } => Fault::MemoryLimit { requested, limit },
                LimitExceeded::Table { requested, limit } => Fault::TableLimit { requested, limit },
            };
        }
        if let Some(exit) = error.downcast_ref::<GuestExit>() {
            return Fault::Exit { code: exit.0 };
        }
        if let Some(host) = error.downcast_ref::<HostFuelExhausted>() {
            return Fault::HostWorkOverFuel {
                function: host.function,
                bytes: host.bytes,
                cost: host.cost,
                left: host.left,
                budget: fuel_budget,
            };
        }
        let Some(trap) = error.downcast_ref::<wasmtime::Trap>() else {
            return Fault::Other { message: format!("{error:#}") };
        };
        use wasmtime::Trap as T;
        let kind = match trap {
            T::OutOfFuel => return Fault::OutOfFuel { budget: fuel_budget },
            T::Interrupt => return Fault::Deadline { limit_ms: backstop_ms },
            T::StackOverflow => return Fault::StackOverflow,
            T::UnreachableCodeReached => TrapKind::Unreachable,
            T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            T::IntegerOverflow => TrapKind::IntegerOverflow,
            T::BadConversionToInteger => TrapKind::BadConversionToInteger,
            T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            T::TableOutOfBounds => TrapKind::TableOutOfBounds,
            T::IndirectCallToNull => TrapKind::IndirectCallToNull,
            T::BadSignature => TrapKind::BadSignature,
            T::HeapMisaligned => TrapKind::HeapMisaligned,
            _ => TrapKind::Other,
        };
        Fault::Trap { trap: kind }
    }

    /// True for the only fault that depends on wall time rather than on the module alone.
    pub fn is_nondeterministic(&self) -> bool {
        matches!(self, Fault::Deadline { .. })
    }
}
