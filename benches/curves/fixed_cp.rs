// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: constant product, fixed fee (the baseline of the set).
// Formula: out = R_out * x' / (R_in + x'),  x' = x * (1 - 66 bps)  (fee taken on the input).
// Integer math: u128; x' = floor(x * 9934 / 10000), out = floor(R_out * x' / (R_in + x')),
//   capped at R_out - 1. Concave and nondecreasing (floor of a concave increasing rational).
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: fixed CP 66 bps";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 66;

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
        0 => (quote.reserve_y as u128, quote.reserve_x as u128),
        1 => (quote.reserve_x as u128, quote.reserve_y as u128),
        _ => return 0,
    };
    if r_in == 0 || r_out == 0 {
        return 0;
    }
    let net = quote.input_amount as u128 * (10_000 - FEE_BPS) / 10_000;
    let out = r_out * net / (r_in + net);
    out.min(r_out - 1) as u64
}
