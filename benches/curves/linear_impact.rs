// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: linear price impact (the marginal price falls linearly with size).
// Formula: p = R_out / R_in (spot), c = 2 R_out / R_in^2 (the curvature of constant product at
//   x = 0), x' = x * (1 - 30 bps):
//     out = p x' - c x'^2 / 2 = R_out * x' (R_in - x') / R_in^2   for x' <= R_in / 2,
//   where the marginal p - c x' reaches 0; beyond, the output stays at R_out / 4.
//   Concave (a downward parabola, then flat), nondecreasing, at most R_out/4 (< R_out).
// Integer math: u128; x' = floor(x * 9970 / 10000), h = min(x', floor(R_in / 2)),
//   t = h (R_in - h), and an exact floor(t R_out / R_in^2) computed as
//   (floor(t / R_in) R_out + floor((t mod R_in) R_out / R_in)) / R_in without overflow.
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: linear impact";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 30;

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
    let h = net.min(r_in / 2);
    let t = h * (r_in - h);
    let (whole, rest) = (t / r_in, t % r_in);
    let out = (whole * r_out + rest * r_out / r_in) / r_in;
    out.min(r_out - 1) as u64
}
