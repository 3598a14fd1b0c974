//! The example strategies linked into the engine as native code.
//!
//! A native strategy is the same Rust crate as its `.wasm`, called as a plain function. It is the
//! yardstick for sandbox overhead (`--backend native`) and for wasm/native parity: both builds
//! must give identical quotes. Native code is trusted — it runs unsandboxed — so only the
//! strategies compiled into this binary can run natively; they are matched to a module by the
//! name in its `amm.name` section.

use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Storage, Strategy};

/// A strategy compiled into the engine.
#[derive(Clone, Copy)]
pub struct NativeStrategy {
    /// Display name (`Strategy::NAME`), also the key that matches a module's `amm.name`.
    pub name: &'static str,
    /// `Strategy::MODEL`.
    pub model: &'static str,
    /// `Strategy::compute_swap`.
    pub compute_swap: fn(&QuoteRequest<'_>) -> u64,
    /// `Strategy::after_swap`.
    pub after_swap: fn(&AfterSwap, &mut Storage),
    /// `Strategy::epoch_boundary`.
    pub epoch_boundary: fn(&EpochBoundary, &mut Storage),
}

impl std::fmt::Debug for NativeStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeStrategy").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NativeStrategy {
    /// The native entry points of strategy `S`.
    pub const fn of<S: Strategy>() -> Self {
        Self {
            name: S::NAME,
            model: S::MODEL,
            compute_swap: S::compute_swap,
            after_swap: S::after_swap,
            epoch_boundary: S::epoch_boundary,
        }
    }
}

/// Every strategy compiled into this binary.
pub static NATIVE_STRATEGIES: &[NativeStrategy] = &[
    NativeStrategy::of::<starter::Starter>(),
    NativeStrategy::of::<fixed_fee_0::FixedFee0>(),
    NativeStrategy::of::<fixed_fee_30::FixedFee30>(),
    NativeStrategy::of::<fixed_fee_100::FixedFee100>(),
    NativeStrategy::of::<fixed_fee_500::FixedFee500>(),
    NativeStrategy::of::<volatility_fee::VolatilityFee>(),
    NativeStrategy::of::<inventory_skew::InventorySkew>(),
    NativeStrategy::of::<competitor_match::CompetitorMatch>(),
];

/// The native strategy whose name is `name`.
pub fn find(name: &str) -> Option<&'static NativeStrategy> {
    NATIVE_STRATEGIES.iter().find(|s| s.name == name)
}

/// The names available natively, for error messages.
pub fn names() -> Vec<&'static str> {
    NATIVE_STRATEGIES.iter().map(|s| s.name).collect()
}
