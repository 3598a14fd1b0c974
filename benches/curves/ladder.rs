// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: piecewise-linear ladder (an order book of fixed-depth price levels).
// Formula: level j = 0, 1, ..., L-1 (L = 400) accepts a fixed input depth D = R_in / (2L) at
//   the rate  r_j = (R_out / R_in) * (1 - 35 bps) * (1 - j / L),
//   i.e. levels every 25 bps below the pool's spot price, starting one fee below it. An input
//   x fills m = floor(x / D) whole levels and the remainder at level m:
//     out = (R_out/R_in)(1 - fee) * [ D * (m - m(m-1)/(2L)) + (x - m D) * (1 - m/L) ].
//   Slopes fall at each kink (every D of input): concave, nondecreasing; past the last level
//   (x >= L*D = R_in/2) the output stays at about R_out(1 - fee)/4. The ladder moves the
//   price by about 2x/R_in for an input x, like constant product, so the post-trade spot agrees
//   with the last level to first order. Capped at R_out - 1.
// Integer math: u128, one exact floor at the end:
//   out = floor( R_out * (10000 - 35) * [D (m L - m(m-1)/2) + rem (L - m)] / (R_in * 10000 * L) ).
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: ladder 25 bps levels";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 35;
/// Number of levels; level j sits j/LEVELS below the first one.
const LEVELS: u128 = 400;

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
    // Input depth of one level (at least one nano unit).
    let depth = (r_in / (2 * LEVELS)).max(1);
    let x = (quote.input_amount as u128).min(depth * LEVELS);
    let m = x / depth;
    let rem = x - m * depth;
    // Sum over the filled levels of (L - j), plus the partial level, in units of depth / L.
    let filled = depth * (m * LEVELS - m * (m.saturating_sub(1)) / 2) + rem * (LEVELS - m);
    let out = r_out * (10_000 - FEE_BPS) * filled / (r_in * 10_000 * LEVELS);
    out.min(r_out - 1) as u64
}
