// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: power curve (a Balancer-style weighted-pool curve with exponent k = 0.8).
// Formula: out = R_out * (1 - (k*R_in / (k*R_in + x')) ^ k),  x' = x * (1 - 40 bps),  k = 0.8.
//   This is R_out*(1 - (R_in'/(R_in' + x'))^k) with R_in' = k*R_in, so that the marginal price
//   at x = 0 is the pool's spot price R_out/R_in on both sides. Marginal output
//   R_out/R_in * (1 + x'/(k R_in))^(-k-1) falls with x: concave, increasing, bounded by R_out.
//   With k < 1 the post-trade spot price sits between the pre-trade spot and the last marginal
//   price (the curve never overshoots, so arbitrage does not oscillate).
// Integer math: x' = floor(x * 9960 / 10000) in u128; the curve in f64 as
//   R_out * -expm1(-k * ln_1p(x' / (k R_in))) (no cancellation for small x'), truncated to u64
//   and capped at R_out - 1.
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: power k=0.8";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 40;
const K: f64 = 0.8;

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
    let u = net / (K * r_in as f64);
    // 1 - (1 + u)^(-k), computed without cancellation.
    let fraction = -(-K * u.ln_1p()).exp_m1();
    let out = (r_out as f64 * fraction) as u64; // truncation toward zero, saturating
    out.min(r_out - 1)
}
