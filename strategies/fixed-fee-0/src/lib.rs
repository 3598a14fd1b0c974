//! Constant-product pool (x·y = k) charging a fixed 0 bps fee on the input.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::{QuoteRequest, Strategy};

/// Constant product, 0 bps fee, no state.
pub struct FixedFee0;

impl Strategy for FixedFee0 {
    const NAME: &'static str = "Fixed 0 bps";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        quote.cp_output_fee_bps(0)
    }
}

amm_strategy_sdk::export_strategy!(FixedFee0);
