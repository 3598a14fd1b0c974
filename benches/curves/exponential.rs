// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: exponential curve.
// Formula: out = c * R_out * (1 - exp(-x' / (c * R_in))),  x' = x * (1 - 40 bps),  c = 0.5.
//   Marginal output R_out/R_in * exp(-x'/(c R_in)): the spot price at x = 0, falling
//   exponentially: concave, increasing, bounded by c * R_out (half the output reserve).
//   c = 1/2 matches constant product to second order, and for every size the post-trade spot
//   price sits between the pre-trade spot and the last marginal price (no overshoot); c = 1
//   would overshoot (every arbitrage would leave the price on the far side of fair).
// Integer math: x' = floor(x * 9960 / 10000) in u128; the curve in f64 as
//   c * R_out * -expm1(-x' / (c R_in)), truncated to u64 and capped at R_out - 1.
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: exponential c=0.5";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 40;
const C: f64 = 0.5;

#[derive(wincode::SchemaRead)]
struct Quote {
    side: u8,
    input_amount: u64,
    reserve_x: u64,
    reserve_y: u64,
    _storage: [u8; 1024],
}

#[cfg(not(feature = "no-entrypoint"))]
entrypoint!(process_instruction);

/// The on-chain dispatcher (both engines call `compute_swap` directly; this is for BPF).
pub fn process_instruction(_program: &Pubkey, _accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    match data.first() {
        Some(0 | 1) => set_return_data_u64(compute_swap(data)),
        Some(3) => set_return_data_bytes(NAME.as_bytes()),
        Some(4) => set_return_data_bytes(get_model_used().as_bytes()),
        _ => {}
    }
    Ok(())
}

pub fn get_model_used() -> &'static str {
    MODEL_USED
}

pub fn compute_swap(data: &[u8]) -> u64 {
    let Ok(quote) = wincode::deserialize::<Quote>(data) else {
        return 0;
    };
    let (r_in, r_out) = match quote.side {
        0 => (quote.reserve_y, quote.reserve_x),
        1 => (quote.reserve_x, quote.reserve_y),
        _ => return 0,
    };
    if r_in == 0 || r_out == 0 {
        return 0;
    }
    let net = (quote.input_amount as u128 * (10_000 - FEE_BPS) / 10_000) as f64;
    let fraction = -(-net / (C * r_in as f64)).exp_m1();
    let out = (C * r_out as f64 * fraction) as u64; // truncation toward zero, saturating
    out.min(r_out - 1)
}
