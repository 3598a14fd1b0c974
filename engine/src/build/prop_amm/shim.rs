//! `prop-amm-submission-sdk` as amm-engine provides it to Prop AMM Challenge sources.
//!
//! Written for amm-engine (it shares no code with the challenge's own crate): the same calls,
//! so a challenge file builds unchanged, with amm-engine's meaning:
//!
//! * [`set_return_data_u64`] / [`set_return_data_bytes`] answer the challenge's
//!   `process_instruction` dispatcher, which amm-engine never calls (it calls `compute_swap`
//!   and `after_swap` directly and takes their results); the data is dropped.
//! * [`set_storage`] inside `after_swap` replaces the start of the pool's storage with the
//!   bytes given, after `after_swap` returns (on top of whatever it wrote into its `storage`
//!   argument). Anywhere else it has no effect.

use std::cell::RefCell;

/// Bytes of a pool's storage.
pub const STORAGE_SIZE: usize = 1024;

/// Why [`set_storage`] refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StorageError {
    /// More than [`STORAGE_SIZE`] bytes were given.
    TooLarge,
}

thread_local! {
    /// The bytes the running `after_swap` handed to `set_storage`, if any (`None` outside a hook).
    static WRITTEN: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    /// True while amm-engine runs the strategy's `after_swap`.
    static IN_HOOK: RefCell<bool> = const { RefCell::new(false) };
}

/// Sets the `u64` answer of an instruction (little-endian); dropped by amm-engine.
#[inline]
pub fn set_return_data_u64(value: u64) {
    set_return_data_bytes(&value.to_le_bytes());
}

/// Sets the byte answer of an instruction; dropped by amm-engine.
#[inline]
pub fn set_return_data_bytes(bytes: &[u8]) {
    let _ = bytes;
}

/// During `after_swap`: the pool's new storage starts with `storage` (at most
/// [`STORAGE_SIZE`] bytes; the rest is kept). A later call replaces an earlier one.
pub fn set_storage(storage: &[u8]) -> Result<(), StorageError> {
    if storage.len() > STORAGE_SIZE {
        return Err(StorageError::TooLarge);
    }
    if IN_HOOK.with(|h| *h.borrow()) {
        WRITTEN.with(|w| *w.borrow_mut() = Some(storage.to_vec()));
    }
    Ok(())
}

/// amm-engine's glue: `after_swap` starts (forgets any earlier `set_storage`).
#[doc(hidden)]
pub fn __amm_engine_hook_begin() {
    WRITTEN.with(|w| *w.borrow_mut() = None);
    IN_HOOK.with(|h| *h.borrow_mut() = true);
}

/// amm-engine's glue: `after_swap` ended; the bytes of its last `set_storage`, if any.
#[doc(hidden)]
pub fn __amm_engine_hook_end() -> Option<Vec<u8>> {
    IN_HOOK.with(|h| *h.borrow_mut() = false);
    WRITTEN.with(|w| w.borrow_mut().take())
}
