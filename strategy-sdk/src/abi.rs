//! Byte layout of strategy ABI v1: every offset, length and tag the host and a strategy share.
//!
//! These constants are the single definition of the wire format. The host encodes payloads with
//! them and the SDK decodes with them; the engine's tests pin each one to the number written in
//! the specification, so a change here cannot go unnoticed.
//!
//! All integers are little-endian. Amounts and reserves are `u64` in nano units (1.0 = 1e9).

/// ABI version this SDK speaks.
pub const ABI_VERSION: u32 = 1;

/// Minimum size of the guest buffer returned by `amm_buffer()`.
pub const BUFFER_LEN: usize = 2048;

/// Size of the per-pool persistent storage, in bytes.
pub const STORAGE_LEN: usize = 1024;

/// Number of 8-byte slots in the storage.
pub const STORAGE_SLOTS: usize = STORAGE_LEN / 8;

/// One nano unit scale: 1.0 token = `NANO` units.
pub const NANO: u64 = 1_000_000_000;

/// Tag of an after-swap payload.
pub const TAG_AFTER_SWAP: u8 = 2;

/// Tag of an epoch-boundary payload.
pub const TAG_EPOCH_BOUNDARY: u8 = 5;

/// Quote payload (`compute_swap`): tag byte = side (0 or 1).
pub mod quote {
    /// `u8` side; doubles as the tag (0 = trader buys X, 1 = trader sells X).
    pub const SIDE: usize = 0;
    /// `u64` input amount, in the token the trader pays.
    pub const INPUT_AMOUNT: usize = 1;
    /// `u64` reserve of X.
    pub const RESERVE_X: usize = 9;
    /// `u64` reserve of Y.
    pub const RESERVE_Y: usize = 17;
    /// `[u8; 1024]` storage (read-only: the host re-supplies it on every quote).
    pub const STORAGE: usize = 25;
    /// Total payload length.
    pub const LEN: usize = 1049;
}

/// After-swap payload (`after_swap`), tag 2.
pub mod after_swap {
    /// `u8` tag, always 2.
    pub const TAG: usize = 0;
    /// `u8` side of the executed trade.
    pub const SIDE: usize = 1;
    /// `u64` input amount the trader paid.
    pub const INPUT_AMOUNT: usize = 2;
    /// `u64` output amount the trader received.
    pub const OUTPUT_AMOUNT: usize = 10;
    /// `u64` reserve of X after the trade.
    pub const RESERVE_X: usize = 18;
    /// `u64` reserve of Y after the trade.
    pub const RESERVE_Y: usize = 26;
    /// `u64` global simulation step.
    pub const SIM_STEP: usize = 34;
    /// `u32` step within the current epoch.
    pub const EPOCH_STEP: usize = 42;
    /// `u32` current epoch index (0-based).
    pub const EPOCH_NUMBER: usize = 46;
    /// `u8` number of pools, normalizer included.
    pub const N_POOLS: usize = 50;
    /// `u8` this pool's index.
    pub const POOL_INDEX: usize = 51;
    /// `f32` this pool's share of the retail order's input (0 for arbitrage).
    pub const FLOW_CAPTURED: usize = 52;
    /// `f32` this pool's capital weight.
    pub const CAPITAL_WEIGHT: usize = 56;
    /// `[f32; 8]` spot prices (Y per X) of the other pools, normalizer last, NaN when unused.
    pub const COMPETING_SPOT_PRICES: usize = 60;
    /// Number of competing spot price slots.
    pub const COMPETING_SLOTS: usize = 8;
    /// `[u8; 1024]` storage (read/write).
    pub const STORAGE: usize = 92;
    /// Total payload length.
    pub const LEN: usize = 1116;
}

/// Epoch-boundary payload (`epoch_boundary`), tag 5.
pub mod epoch_boundary {
    /// `u8` tag, always 5.
    pub const TAG: usize = 0;
    /// `u32` index of the epoch just completed.
    pub const EPOCH_NUMBER: usize = 1;
    /// `u64` reserve of X after rebalancing.
    pub const NEW_RESERVE_X: usize = 5;
    /// `u64` reserve of Y after rebalancing.
    pub const NEW_RESERVE_Y: usize = 13;
    /// `f64` edge earned in the epoch just completed (Y units, not nano).
    pub const EPOCH_EDGE: usize = 21;
    /// `f64` edge earned so far in this simulation.
    pub const CUMULATIVE_EDGE: usize = 29;
    /// `f32` the new capital weight.
    pub const CAPITAL_WEIGHT: usize = 37;
    /// `[u8; 1024]` storage (read/write).
    pub const STORAGE: usize = 41;
    /// Total payload length.
    pub const LEN: usize = 1065;
}

/// Names and wasm signatures of what a strategy module must export.
pub mod exports {
    /// Linear memory.
    pub const MEMORY: &str = "memory";
    /// `() -> i32`: address of the guest buffer.
    pub const AMM_BUFFER: &str = "amm_buffer";
    /// `(len: i32) -> i64`: quote, output amount as u64 bits.
    pub const COMPUTE_SWAP: &str = "compute_swap";
    /// `(len: i32)`: hook after every executed trade on the pool.
    pub const AFTER_SWAP: &str = "after_swap";
    /// `(len: i32)`: hook after each epoch's rebalancing.
    pub const EPOCH_BOUNDARY: &str = "epoch_boundary";
}

/// Names of the custom sections carrying metadata.
pub mod sections {
    /// UTF-8 display name.
    pub const NAME: &str = "amm.name";
    /// UTF-8 model used to write the strategy (`None` for human-written).
    pub const MODEL: &str = "amm.model";
    /// Declared tunable parameters (binary schema, see [`crate::params`]).
    pub const PARAMS: &str = "amm.params";
}
