//! Constant-product pool (x·y = k) charging a fixed 30 bps fee on the input.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::{QuoteRequest, Strategy};

/// Constant product, 30 bps fee, no state.
pub struct FixedFee30;

impl Strategy for FixedFee30 {
    const NAME: &'static str = "Fixed 30 bps";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        quote.cp_output_fee_bps(30)
    }
}

amm_strategy_sdk::export_strategy!(FixedFee30);
