//! A locked-down, metered WASI preview 1 for `wasm32-wasip1` strategies.
//!
//! A strategy built against `std` for `wasm32-wasip1` imports `wasi_snapshot_preview1` for its
//! runtime (printing, random numbers, clocks). The sandbox implements the few functions of
//! [`WASI_ALLOWED`](super::inspect::WASI_ALLOWED) itself, giving the module nothing to reach
//! outside itself and nothing that differs between runs: no files, preopens, environment,
//! arguments or network; stdin, stdout and stderr as character devices; clocks fixed at one
//! instant; random bytes from a seeded ChaCha stream; stdout and stderr captured into one bounded
//! log, truncated (never failing) when full, so printing cannot change a strategy's behaviour.
//!
//! **Host work is metered.** Every call charges the calling export's fuel *before* doing its
//! work: [`HOST_CALL_FUEL`] per call plus [`HOST_BYTE_FUEL`] per byte of guest memory it reads or
//! writes ([`RANDOM_BYTE_FUEL`] per byte for `random_get`). A call that needs more than the fuel
//! left fails with [`HostFuelExhausted`], which the caller reports as a fault
//! ([`Fault::HostWorkOverFuel`](super::Fault::HostWorkOverFuel)). So host work is bounded by the
//! same budget as the module's own instructions, and a loop of large `fd_write`s ends as quickly as a loop of `memory.fill`s.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use wasmtime::{Caller, Extern, Linker, Memory};

use super::inspect::WASI_MODULE;
use super::instance::HostState;

// How the prices were set: on the reference machine (2 shared cores, Wasmtime 48, release
// build) a wasm loop runs at 0.07-0.11 ns per fuel unit; a call from wasm into one of these
// functions and back took 12 ns (110-170 fuel's worth), `fd_write` 0.10-0.15 ns per byte
// appended to the log (1-2 fuel's worth) and `random_get` 0.37 ns per byte (3.4-5.3 fuel's
// worth). Each price below is that time, rounded up to at least 1.5x, so host work costs no
// less fuel than wasm work of the same duration.

/// Fuel every WASI call costs before any per-byte charge, units.
pub const HOST_CALL_FUEL: u64 = 200;

/// Fuel per byte of guest memory a WASI call reads or writes (`fd_write`'s iovecs and data,
/// result words), units. (Wasmtime charges `memory.copy` and `memory.fill` 1 per byte.)
pub const HOST_BYTE_FUEL: u64 = 2;

/// Fuel per byte `random_get` produces, units: a ChaCha12 byte costs more than a copied one.
pub const RANDOM_BYTE_FUEL: u64 = 8;

/// The fixed wall-clock time every strategy sees: 2024-01-01T00:00:00Z, in nanoseconds.
const FIXED_WALL_CLOCK_NS: u64 = 1_704_067_200_000_000_000;
/// The fixed monotonic clock, in nanoseconds.
const FIXED_MONOTONIC_NS: u64 = 0;
/// The resolution both clocks report, in nanoseconds (one second).
const CLOCK_RESOLUTION_NS: u64 = 1_000_000_000;

// WASI preview 1 errno values (the `errno` enum of wasi_snapshot_preview1.witx).
const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ESPIPE: i32 = 70;

// Clock ids.
const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;

// `fdstat` layout: filetype u8 at 0, flags u16 at 2, rights_base u64 at 8, rights_inheriting
// u64 at 16; 24 bytes.
const FDSTAT_LEN: usize = 24;
const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;

/// A WASI call needed more fuel for its host work than the running call had left. Raised as
/// the error of the host function (a trap), classified into a [`Fault`](super::Fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("wasi {function} needs {cost} fuel for {bytes} bytes of host work, {left} left")]
pub struct HostFuelExhausted {
    /// The WASI function.
    pub function: &'static str,
    /// Bytes of guest memory it was asked to handle.
    pub bytes: u64,
    /// The fuel this part of its work needed ([`HOST_CALL_FUEL`] and/or the per-byte charge).
    pub cost: u64,
    /// Fuel the running call had left (all of it is consumed by the failure).
    pub left: u64,
}

/// A WASI module called `proc_exit`: the error its host function raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("proc_exit({0})")]
pub struct GuestExit(pub i32);

/// Captured stdout + stderr of one instance, bounded: what does not fit is counted and dropped.
#[derive(Clone, Debug, Default)]
pub struct BoundedLog {
    bytes: Vec<u8>,
    dropped: u64,
    capacity: usize,
}

impl BoundedLog {
    /// An empty log keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self { bytes: Vec::new(), dropped: 0, capacity }
    }

    fn append(&mut self, data: &[u8]) {
        let room = self.capacity.saturating_sub(self.bytes.len());
        let kept = room.min(data.len());
        self.bytes.extend_from_slice(&data[..kept]);
        self.dropped += (data.len() - kept) as u64;
    }

    /// The bytes kept so far, and how many were dropped for lack of room.
    pub fn contents(&self) -> (Vec<u8>, u64) {
        (self.bytes.clone(), self.dropped)
    }
}

/// One instance's WASI state: deterministic given its seed.
pub(crate) struct WasiState {
    log: BoundedLog,
    random: ChaCha12Rng,
    /// Whether fds 0, 1 and 2 are still open (`fd_close` closes them).
    open: [bool; 3],
    /// The exported memory, once a call has looked it up.
    memory: Option<Memory>,
}

impl WasiState {
    /// A fresh state: random stream seeded by `seed`, a log of `log_capacity` bytes.
    pub(crate) fn new(seed: u64, log_capacity: usize) -> Self {
        Self {
            log: BoundedLog::new(log_capacity),
            random: ChaCha12Rng::seed_from_u64(seed),
            open: [true; 3],
            memory: None,
        }
    }

    /// The captured output.
    pub(crate) fn log(&self) -> &BoundedLog {
        &self.log
    }

    fn is_open(&self, fd: i32) -> bool {
        usize::try_from(fd).ok().and_then(|fd| self.open.get(fd)).copied().unwrap_or(false)
    }
}

/// Charges `HOST_CALL_FUEL + bytes × per_byte` to the running call, before the work.
fn charge(
    caller: &mut Caller<'_, HostState>,
    function: &'static str,
    bytes: u64,
    per_byte: u64,
) -> wasmtime::Result<()> {
    charge_fuel(caller, function, HOST_CALL_FUEL, bytes, per_byte)
}

/// Charges `fixed + bytes × per_byte`; fails, consuming all fuel left, when that is more.
fn charge_fuel(
    caller: &mut Caller<'_, HostState>,
    function: &'static str,
    fixed: u64,
    bytes: u64,
    per_byte: u64,
) -> wasmtime::Result<()> {
    let cost = fixed.saturating_add(bytes.saturating_mul(per_byte));
    let left = caller.get_fuel()?;
    if cost > left {
        caller.set_fuel(0)?;
        return Err(HostFuelExhausted { function, bytes, cost, left }.into());
    }
    caller.set_fuel(left - cost)?;
    Ok(())
}

/// The module's exported memory, looked up once per instance (a name lookup costs more than
/// the rest of a small call).
fn memory(caller: &mut Caller<'_, HostState>) -> Option<Memory> {
    if let Some(memory) = caller.data().wasi.as_ref().and_then(|w| w.memory) {
        return Some(memory);
    }
    let memory = match caller.get_export(amm_strategy_sdk::abi::exports::MEMORY) {
        Some(Extern::Memory(memory)) => memory,
        _ => return None,
    };
    if let Some(wasi) = caller.data_mut().wasi.as_mut() {
        wasi.memory = Some(memory);
    }
    Some(memory)
}

/// The guest range `[ptr, ptr + len)`, if it lies inside `data`.
fn span(data: &[u8], ptr: i32, len: u64) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= data.len()).then_some(start..end)
}

/// Writes little-endian words at guest addresses; `EFAULT` if any is out of bounds.
fn write_words(caller: &mut Caller<'_, HostState>, words: &[(i32, &[u8])]) -> i32 {
    let Some(memory) = memory(caller) else { return EFAULT };
    let data = memory.data_mut(caller);
    // All in bounds before any is written (no allocation: these calls are on the hot path).
    if words.iter().any(|(ptr, bytes)| span(data, *ptr, bytes.len() as u64).is_none()) {
        return EFAULT;
    }
    for (ptr, bytes) in words {
        if let Some(range) = span(data, *ptr, bytes.len() as u64) {
            data[range].copy_from_slice(bytes);
        }
    }
    ESUCCESS
}

fn fd_write(
    caller: &mut Caller<'_, HostState>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    const NAME: &str = "fd_write";
    let iovs_len = u64::from(iovs_len as u32);
    // First the iovec array (8 bytes each) and the result word.
    charge(caller, NAME, iovs_len * 8 + 4, HOST_BYTE_FUEL)?;
    let open = matches!(fd, 1 | 2) && caller.data().wasi.as_ref().is_some_and(|w| w.is_open(fd));
    if !open {
        return Ok(EBADF);
    }
    let Some(memory) = memory(caller) else { return Ok(EFAULT) };
    let read_iovec = |data: &[u8], k: u64| -> Option<(i32, u64)> {
        let at = span(data, iovs, (k + 1) * 8)?.end - 8;
        let word = |o: usize| data.get(at + o..at + o + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        Some((word(0)? as i32, u64::from(word(4)?)))
    };
    // Then the data, once its size is known.
    let mut total = 0u64;
    {
        let data = memory.data(&*caller);
        if span(data, nwritten, 4).is_none() {
            return Ok(EFAULT);
        }
        for k in 0..iovs_len {
            let Some((ptr, len)) = read_iovec(data, k) else { return Ok(EFAULT) };
            if span(data, ptr, len).is_none() {
                return Ok(EFAULT);
            }
            total = total.saturating_add(len);
        }
    }
    charge_fuel(caller, NAME, 0, total, HOST_BYTE_FUEL)?;
    // Only WASI-linked stores reach here, and those carry a WASI state.
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let Some(wasi) = state.wasi.as_mut() else { return Ok(EBADF) };
    for k in 0..iovs_len {
        let Some((ptr, len)) = read_iovec(data, k) else { return Ok(EFAULT) };
        let Some(range) = span(data, ptr, len) else { return Ok(EFAULT) };
        wasi.log.append(&data[range]);
    }
    // The count fits: `total` bytes are inside a memory of at most 4 GiB, but a guest may
    // repeat one range; report what fits in the u32 result.
    let written = u32::try_from(total).unwrap_or(u32::MAX).to_le_bytes();
    Ok(write_words(caller, &[(nwritten, &written)]))
}

fn random_get(caller: &mut Caller<'_, HostState>, buf: i32, len: i32) -> wasmtime::Result<i32> {
    let len = u64::from(len as u32);
    charge(caller, "random_get", len, RANDOM_BYTE_FUEL)?;
    let Some(memory) = memory(caller) else { return Ok(EFAULT) };
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let Some(range) = span(data, buf, len) else { return Ok(EFAULT) };
    let Some(wasi) = state.wasi.as_mut() else { return Ok(EBADF) };
    wasi.random.fill_bytes(&mut data[range]);
    Ok(ESUCCESS)
}

fn clock_value(id: i32, realtime: u64, monotonic: u64) -> Option<u64> {
    match id {
        CLOCK_REALTIME => Some(realtime),
        CLOCK_MONOTONIC => Some(monotonic),
        _ => None,
    }
}

/// Links every function of [`WASI_ALLOWED`](super::inspect::WASI_ALLOWED) into `linker`, each
/// metered as described in the module documentation.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let m = WASI_MODULE;
    // Arguments and environment: both empty.
    for (name, sizes) in
        [("args_sizes_get", true), ("environ_sizes_get", true), ("args_get", false), ("environ_get", false)]
    {
        if sizes {
            linker.func_wrap(m, name, move |mut caller: Caller<'_, HostState>, count: i32, buf_size: i32| {
                charge(&mut caller, name, 8, HOST_BYTE_FUEL)?;
                Ok(write_words(&mut caller, &[(count, &0u32.to_le_bytes()), (buf_size, &0u32.to_le_bytes())]))
            })?;
        } else {
            linker.func_wrap(m, name, move |mut caller: Caller<'_, HostState>, _list: i32, _buf: i32| {
                charge(&mut caller, name, 0, HOST_BYTE_FUEL)?;
                Ok(ESUCCESS)
            })?;
        }
    }
    linker.func_wrap(m, "clock_res_get", |mut caller: Caller<'_, HostState>, id: i32, out: i32| {
        charge(&mut caller, "clock_res_get", 8, HOST_BYTE_FUEL)?;
        Ok(match clock_value(id, CLOCK_RESOLUTION_NS, CLOCK_RESOLUTION_NS) {
            Some(ns) => write_words(&mut caller, &[(out, &ns.to_le_bytes())]),
            None => EINVAL,
        })
    })?;
    linker.func_wrap(
        m,
        "clock_time_get",
        |mut caller: Caller<'_, HostState>, id: i32, _precision: i64, out: i32| {
            charge(&mut caller, "clock_time_get", 8, HOST_BYTE_FUEL)?;
            Ok(match clock_value(id, FIXED_WALL_CLOCK_NS, FIXED_MONOTONIC_NS) {
                Some(ns) => write_words(&mut caller, &[(out, &ns.to_le_bytes())]),
                None => EINVAL,
            })
        },
    )?;
    linker.func_wrap(
        m,
        "fd_write",
        |mut caller: Caller<'_, HostState>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| {
            fd_write(&mut caller, fd, iovs, iovs_len, nwritten)
        },
    )?;
    linker.func_wrap(m, "fd_close", |mut caller: Caller<'_, HostState>, fd: i32| {
        charge(&mut caller, "fd_close", 0, HOST_BYTE_FUEL)?;
        let Some(wasi) = caller.data_mut().wasi.as_mut() else { return Ok(EBADF) };
        if !wasi.is_open(fd) {
            return Ok(EBADF);
        }
        wasi.open[fd as usize] = false;
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "fd_fdstat_get", |mut caller: Caller<'_, HostState>, fd: i32, out: i32| {
        charge(&mut caller, "fd_fdstat_get", FDSTAT_LEN as u64, HOST_BYTE_FUEL)?;
        if !caller.data().wasi.as_ref().is_some_and(|w| w.is_open(fd)) {
            return Ok(EBADF);
        }
        let mut stat = [0u8; FDSTAT_LEN];
        stat[0] = FILETYPE_CHARACTER_DEVICE;
        let rights = if fd == 0 { RIGHT_FD_READ } else { RIGHT_FD_WRITE };
        stat[8..16].copy_from_slice(&rights.to_le_bytes());
        Ok(write_words(&mut caller, &[(out, &stat)]))
    })?;
    // No preopened directories: every fd answers EBADF, which ends the runtime's scan.
    linker.func_wrap(m, "fd_prestat_get", |mut caller: Caller<'_, HostState>, _fd: i32, _out: i32| {
        charge(&mut caller, "fd_prestat_get", 0, HOST_BYTE_FUEL)?;
        Ok(EBADF)
    })?;
    linker.func_wrap(
        m,
        "fd_prestat_dir_name",
        |mut caller: Caller<'_, HostState>, _fd: i32, _path: i32, _len: i32| {
            charge(&mut caller, "fd_prestat_dir_name", 0, HOST_BYTE_FUEL)?;
            Ok(EBADF)
        },
    )?;
    linker.func_wrap(
        m,
        "fd_seek",
        |mut caller: Caller<'_, HostState>, fd: i32, _offset: i64, _whence: i32, _out: i32| {
            charge(&mut caller, "fd_seek", 0, HOST_BYTE_FUEL)?;
            let open = caller.data().wasi.as_ref().is_some_and(|w| w.is_open(fd));
            // The standard streams are character devices: not seekable.
            Ok(if open { ESPIPE } else { EBADF })
        },
    )?;
    linker.func_wrap(m, "proc_exit", |mut caller: Caller<'_, HostState>, code: i32| -> wasmtime::Result<()> {
        charge(&mut caller, "proc_exit", 0, HOST_BYTE_FUEL)?;
        Err(GuestExit(code).into())
    })?;
    linker.func_wrap(m, "random_get", |mut caller: Caller<'_, HostState>, buf: i32, len: i32| {
        random_get(&mut caller, buf, len)
    })?;
    linker.func_wrap(m, "sched_yield", |mut caller: Caller<'_, HostState>| {
        charge(&mut caller, "sched_yield", 0, HOST_BYTE_FUEL)?;
        Ok(ESUCCESS)
    })?;
    Ok(())
}
