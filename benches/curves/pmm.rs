// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: proactive market maker (DODO-style PMM), fee taken on the OUTPUT.
// Formula: the oracle price i is the pool's own spot price (no external feed) and the targets
//   are the current reserves (r0 on the input side, o0 on the output side, i = r0/o0 in input
//   per output). Taking t of the output side moves along the PMM marginal price
//     P(b) = i * (1 - k + k (o0/b)^2),   b = o0 - t,   k = 0.8,
//   so the input needed for t is  d(t) = i t (1 - k + k o0/(o0 - t)).  A quote inverts it: for an
//   input d, t solves the quadratic  (1-k) r0 tau^2 - (r0 + d) tau + d = 0,  tau = t / o0:
//     t = o0 * 2d / ((r0 + d) + sqrt((r0 + d)^2 - 4 (1-k) r0 d)),
//   then  out = t * (1 - 40 bps)  (the fee stays in the pool). d(t) is convex and increasing, so
//   its inverse t(d) is concave and increasing, with t < o0. k = 1 is constant product; k < 1
//   is deeper near the oracle (k = 0.8: 80 % of constant product's price impact).
// Integer math: u128 with an integer square root (f64 seed, Newton steps, exact fix-up) for
//   the estimate (r0 and d scaled to ~2^61 first, so it is good to ~1e-18); then t is made
//   canonical, the largest t with d(t) <= d, by exact comparisons
//   r0 t ((1-k)(o0-t) + k o0) <= d o0 (o0-t) (k in bps) in 256 bits (two u128 halves), so the
//   quote is exactly monotone. Fee: out = floor(t * 9960 / 10000), capped at R_out - 1.
// State: none (stateless; storage unused).
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64};

const NAME: &str = "Curve: PMM k=0.8 output fee";
const MODEL_USED: &str = "Claude";
/// Fee on the output, in bps.
const FEE_BPS: u128 = 40;
/// PMM liquidity parameter k, in bps (10000 = constant product).
const K_BPS: u128 = 8_000;
/// Inputs above this are treated as this (the output is then within 1e-6 of the reserve).
const MAX_INPUT: u128 = 1 << 60;

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

const LOW64: u128 = (1 << 64) - 1;

/// The full 256-bit product of two u128, as (high, low) halves (compare as a tuple).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & LOW64);
    let (b1, b0) = (b >> 64, b & LOW64);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LOW64) + (p10 & LOW64);
    (p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (p00 & LOW64) | (mid << 64))
}

/// floor(sqrt(n)): an f64 seed above the root, Newton steps down, then an exact fix-up.
fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = ((n as f64).sqrt() as u128).saturating_add(4096).min(u64::MAX as u128);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            break;
        }
        x = y;
    }
    while x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

/// Whether taking `t` of the output reserve `o0` costs at most `d` of input (input reserve `r0`).
fn affordable(t: u128, d: u128, r0: u128, o0: u128) -> bool {
    let left = mul_wide(r0, t * ((10_000 - K_BPS) * (o0 - t) + K_BPS * o0));
    let right = mul_wide(10_000 * d * o0, o0 - t);
    left <= right
}

/// The largest t < o0 that an input d pays for.
fn pmm_take(d: u128, r0: u128, o0: u128) -> u128 {
    // The estimate from the quadratic, with r0 and d scaled up to about 2^61 so that the
    // integer square root keeps ~18 digits (t depends only on their ratio).
    let bits = 128 - (r0 + d).leading_zeros();
    let shift = 61u32.saturating_sub(bits);
    let (r0s, ds) = (r0 << shift, d << shift);
    let s = r0s + ds;
    // 4 (1-k) r0 d, with k in bps (the estimate may round; the fix-up below is exact).
    let product = r0s * ds;
    let cross = (product / 10_000) * 4 * (10_000 - K_BPS) + (product % 10_000) * 4 * (10_000 - K_BPS) / 10_000;
    let root = isqrt(s * s - cross.min(s * s));
    let mut t = (o0 * 2 * ds / (s + root)).min(o0 - 1);
    let mut guard = 0;
    while t + 1 < o0 && affordable(t + 1, d, r0, o0) && guard < 64 {
        t += 1;
        guard += 1;
    }
    while t > 0 && !affordable(t, d, r0, o0) && guard < 128 {
        t -= 1;
        guard += 1;
    }
    t
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
    if r_in == 0 || r_out < 2 {
        return 0;
    }
    let d = (quote.input_amount as u128).min(MAX_INPUT);
    if d == 0 {
        return 0;
    }
    let taken = pmm_take(d, r_in, r_out);
    let out = taken * (10_000 - FEE_BPS) / 10_000;
    out.min(r_out - 1) as u64
}
