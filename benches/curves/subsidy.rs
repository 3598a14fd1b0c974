// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: subsidised curve (negative fee for small trades, a fee for large ones).
// Formula: constant product on an effective input e(x):
//     e(x) = x * (1 + 5 bps)                                for x <= T,
//     e(x) = T * (1 + 5 bps) + (x - T) * (1 - 60 bps)      for x >  T,   T = R_in / 2000,
//     out  = R_out * e / (R_in + e).
//   The first 0.05 % of the input reserve (0.05 X or 5 Y at the start) is paid a 5 bps bonus;
//   every unit beyond pays a 60 bps fee, so the average fee goes from -5 bps towards 60 bps.
//   e is concave (slopes 1.0005 then 0.994) and increasing, and constant product is concave and
//   increasing, so their composition is concave and increasing. Capped at R_out - 1.
// Integer math: u128; e = floor((x * 10005) / 10000) below T, else
//   floor((T * 10005 + (x - T) * 9940) / 10000); out = floor(R_out * e / (R_in + e)).
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: subsidy -5/+60 bps";
const MODEL_USED: &str = "Claude";
const BONUS_BPS: u128 = 5;
const FEE_BPS: u128 = 60;
/// The subsidised band: the first 1/THRESHOLD_DIV of the input reserve.
const THRESHOLD_DIV: u128 = 2_000;

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
    let x = quote.input_amount as u128;
    let threshold = r_in / THRESHOLD_DIV;
    let effective = if x <= threshold {
        x * (10_000 + BONUS_BPS) / 10_000
    } else {
        (threshold * (10_000 + BONUS_BPS) + (x - threshold) * (10_000 - FEE_BPS)) / 10_000
    };
    let out = r_out * effective / (r_in + effective);
    out.min(r_out - 1) as u64
}
