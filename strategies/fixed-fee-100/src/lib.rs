//! Constant-product pool (x·y = k) charging a fixed 100 bps fee on the input.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::{QuoteRequest, Strategy};

/// Constant product, 100 bps fee, no state.
pub struct FixedFee100;

impl Strategy for FixedFee100 {
    const NAME: &'static str = "Fixed 100 bps";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        quote.cp_output_fee_bps(100)
    }
}

amm_strategy_sdk::export_strategy!(FixedFee100);
