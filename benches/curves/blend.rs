// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: blend of constant product and a cubic (Solidly-style) invariant, stateful.
// Formula: with u = p * X (X valued in Y at the pool's reference price p) and v = Y, the pool
//   keeps the degree-4 invariant
//     phi(u, v) = w * (u v)^2 + (1 - w) * (u^3 v + u v^3) / 2
//   constant: w = 1 is constant product ((uv)^2), w = 0 the stable-swap cubic u^3 v + u v^3
//   (flat around u = v, where the price is p). w = 0.5 and the fee are read from storage.
//   A quote of input x (net of the fee) moves the input coordinate to in' and returns
//   out - v', where v' solves phi(in', v') = phi(in, out). phi is increasing in each
//   coordinate and its level sets are convex, so the quote is concave and increasing, and
//   v' > 0 (the output reserve is never reached). An output in X is out_u / p.
// Integer math: phi is evaluated exactly in 256 bits (two u128 halves:
//   2 w (u^2 v^2) + (10000 - w)(u^2 (uv) + (uv) v^2), w in bps); v' by Newton's method on the
//   cubic: first in f64 from the constant-product root v = out * in / in' (to within a small
//   fraction of a nano unit), then integer steps on the exact 256-bit residual
//   phi(in', v) - phi(in, out) (converted to f64 only to size the step); then made canonical
//   (the least v' with phi(in', v') >= phi(in, out)) by exact comparisons, so the quote is
//   exactly monotone. p is u64 fixed point (1e12 = 1 Y per X). Capped at R_out - 1.
// State: storage (little-endian u64 words) [0] fee in bps (30 until the first trade),
//   [1] blend weight w in bps (5000), [2] p (set once, at the first trade, to the spot price it
//   was quoted on, so the invariant stays fixed), [3] last spot price (1e9 fixed point),
//   [4] EMA of the pool's |price move| between trades in ppm; after_swap updates the EMA and
//   sets fee = clamp(20 + ema_ppm / 150, 20, 120) bps. Quotes only read storage.
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64, set_storage};

const NAME: &str = "Curve: CP + cubic blend";
const MODEL_USED: &str = "Claude";
const DEFAULT_FEE_BPS: u64 = 30;
const MIN_FEE_BPS: u64 = 20;
const MAX_FEE_BPS: u64 = 120;
const PPM_PER_BPS: u64 = 150;
const DEFAULT_WEIGHT_BPS: u64 = 5_000;
/// Fixed point of the reference price.
const P_ONE: u128 = 1_000_000_000_000;
/// Normalised coordinates are capped here (keeps phi inside 256 bits).
const CAP: u128 = 100_000_000_000_000_000;
const STORAGE_SIZE: usize = 1024;
const AFTER_SWAP_STORAGE_AT: usize = 42;

const SLOT_FEE: usize = 0;
const SLOT_WEIGHT: usize = 1;
const SLOT_PRICE: usize = 2;
const SLOT_LAST_PRICE: usize = 3;
const SLOT_EMA: usize = 4;

#[derive(wincode::SchemaRead)]
struct Quote {
    side: u8,
    input_amount: u64,
    reserve_x: u64,
    reserve_y: u64,
    storage: [u8; STORAGE_SIZE],
}

#[derive(wincode::SchemaRead)]
struct Trade {
    _tag: u8,
    side: u8,
    input_amount: u64,
    output_amount: u64,
    reserve_x: u64,
    reserve_y: u64,
    _step: u64,
    _storage: [u8; STORAGE_SIZE],
}

#[cfg(not(feature = "no-entrypoint"))]
entrypoint!(process_instruction);

/// The on-chain dispatcher (both engines call `compute_swap` / `after_swap` directly; this is
/// for BPF, where storage persists only through set_storage).
pub fn process_instruction(_program: &Pubkey, _accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    match data.first() {
        Some(0 | 1) => set_return_data_u64(compute_swap(data)),
        Some(2) => {
            if data.len() >= AFTER_SWAP_STORAGE_AT + STORAGE_SIZE {
                let mut storage = [0u8; STORAGE_SIZE];
                storage.copy_from_slice(&data[AFTER_SWAP_STORAGE_AT..AFTER_SWAP_STORAGE_AT + STORAGE_SIZE]);
                after_swap(data, &mut storage);
                let _ = set_storage(&storage);
            }
        }
        Some(3) => set_return_data_bytes(NAME.as_bytes()),
        Some(4) => set_return_data_bytes(get_model_used().as_bytes()),
        _ => {}
    }
    Ok(())
}

pub fn get_model_used() -> &'static str {
    MODEL_USED
}

fn word(storage: &[u8], slot: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&storage[8 * slot..8 * slot + 8]);
    u64::from_le_bytes(bytes)
}

fn set_word(storage: &mut [u8], slot: usize, value: u64) {
    storage[8 * slot..8 * slot + 8].copy_from_slice(&value.to_le_bytes());
}

/// Y per X in P_ONE fixed point, at least 1.
fn spot(reserve_x: u128, reserve_y: u128) -> u128 {
    (reserve_y * P_ONE / reserve_x).clamp(1, u64::MAX as u128)
}

// --- 256-bit unsigned integers as (high, low) u128 halves; tuples compare in order. ---
type Wide = (u128, u128);
const LOW64: u128 = (1 << 64) - 1;

fn mul_wide(a: u128, b: u128) -> Wide {
    let (a1, a0) = (a >> 64, a & LOW64);
    let (b1, b0) = (b >> 64, b & LOW64);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LOW64) + (p10 & LOW64);
    (p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (p00 & LOW64) | (mid << 64))
}

fn add_wide(a: Wide, b: Wide) -> Wide {
    let (low, carry) = a.1.overflowing_add(b.1);
    (a.0 + b.0 + carry as u128, low)
}

/// a - b for a >= b.
fn sub_wide(a: Wide, b: Wide) -> Wide {
    let (low, borrow) = a.1.overflowing_sub(b.1);
    (a.0 - b.0 - borrow as u128, low)
}

/// a * m for m < 2^64 (no overflow within the caps used here).
fn scale_wide(a: Wide, m: u128) -> Wide {
    let (high, low) = mul_wide(a.1, m);
    (a.0 * m + high, low)
}

fn wide_to_f64(a: Wide) -> f64 {
    a.0 as f64 * 340_282_366_920_938_463_463_374_607_431_768_211_456.0 + a.1 as f64
}

/// 20000 * phi(u, v) = 2 w (uv)^2 + (10000 - w)(u^3 v + u v^3), exactly.
fn phi(u: u128, v: u128, weight: u128) -> Wide {
    let (uu, uv, vv) = (u * u, u * v, v * v);
    let product = scale_wide(mul_wide(uu, vv), 2 * weight);
    let cubic = scale_wide(add_wide(mul_wide(uu, uv), mul_wide(uv, vv)), 10_000 - weight);
    add_wide(product, cubic)
}

/// The least v' with phi(in', v') >= phi(in, out), for in' >= in.
fn other_coordinate(input_old: u128, input_new: u128, out: u128, weight: u128) -> u128 {
    let (u, w) = (input_new as f64, weight as f64);
    let cubic = |a: f64, b: f64| 2.0 * w * a * a * b * b + (10_000.0 - w) * (a * a * a * b + a * b * b * b);
    let slope = |v: f64| 4.0 * w * u * u * v + (10_000.0 - w) * (u * u * u + 3.0 * u * v * v);
    // Newton on the cubic in f64 (convex in v: after the first step it converges from above,
    // monotonically), starting from the constant-product root, until a step is under 1/4 nano.
    let target_f64 = cubic(input_old as f64, out as f64);
    let mut vf = out as f64 * input_old as f64 / u;
    for _ in 0..60 {
        let step = (cubic(u, vf) - target_f64) / slope(vf);
        let next = (vf - step).clamp(0.0, out as f64);
        let done = (next - vf).abs() < 0.25;
        vf = next;
        if done {
            break;
        }
    }
    // Integer Newton steps on the exact 256-bit residual, then the canonical answer by exact
    // comparisons (each loop normally runs at most once).
    let target = phi(input_old, out, weight);
    let mut v = (vf as u128).min(out);
    for _ in 0..4 {
        let value = phi(input_new, v, weight);
        let residual =
            if value >= target { wide_to_f64(sub_wide(value, target)) } else { -wide_to_f64(sub_wide(target, value)) };
        let step = (residual / slope(v as f64)).trunc();
        if step.abs() < 1.0 {
            break;
        }
        let next = ((v as f64 - step).clamp(0.0, out as f64)) as u128;
        if next == v {
            break;
        }
        v = next;
    }
    let mut guard = 0;
    while v < out && phi(input_new, v, weight) < target && guard < 64 {
        v += 1;
        guard += 1;
    }
    while v > 0 && phi(input_new, v - 1, weight) >= target && guard < 128 {
        v -= 1;
        guard += 1;
    }
    v
}

pub fn compute_swap(data: &[u8]) -> u64 {
    let Ok(quote) = wincode::deserialize::<Quote>(data) else {
        return 0;
    };
    let (rx, ry) = (quote.reserve_x as u128, quote.reserve_y as u128);
    if rx == 0 || ry == 0 || quote.side > 1 {
        return 0;
    }
    let storage = &quote.storage;
    let fee = match word(storage, SLOT_FEE) {
        0 => DEFAULT_FEE_BPS,
        stored => stored.min(MAX_FEE_BPS),
    } as u128;
    let weight = match word(storage, SLOT_WEIGHT) {
        0 => DEFAULT_WEIGHT_BPS,
        stored => stored.min(10_000),
    } as u128;
    let p = match word(storage, SLOT_PRICE) {
        0 => spot(rx, ry),
        stored => stored as u128,
    };
    let net = quote.input_amount as u128 * (10_000 - fee) / 10_000;
    let (input_old, input_new, out, r_out) = if quote.side == 1 {
        (rx * p / P_ONE, (rx + net) * p / P_ONE, ry, ry)
    } else {
        (ry, ry + net, rx * p / P_ONE, rx)
    };
    if input_old == 0 || input_old > CAP || out > CAP || out == 0 {
        return 0;
    }
    let v = other_coordinate(input_old, input_new.min(CAP), out, weight);
    let taken = out - v;
    let amount = if quote.side == 1 { taken } else { taken * P_ONE / p };
    amount.min(r_out - 1) as u64
}

pub fn after_swap(data: &[u8], storage: &mut [u8]) {
    let Ok(trade) = wincode::deserialize::<Trade>(data) else {
        return;
    };
    if trade.reserve_x == 0 || storage.len() < 40 {
        return;
    }
    if word(storage, SLOT_PRICE) == 0 {
        // The reserves the first trade was quoted on fix the reference price.
        let (rx, ry) = if trade.side == 0 {
            (
                trade.reserve_x as u128 + trade.output_amount as u128,
                (trade.reserve_y - trade.input_amount.min(trade.reserve_y)) as u128,
            )
        } else {
            (
                (trade.reserve_x - trade.input_amount.min(trade.reserve_x)) as u128,
                trade.reserve_y as u128 + trade.output_amount as u128,
            )
        };
        if rx > 0 && ry > 0 {
            set_word(storage, SLOT_PRICE, spot(rx, ry) as u64);
        }
    }
    if word(storage, SLOT_WEIGHT) == 0 {
        set_word(storage, SLOT_WEIGHT, DEFAULT_WEIGHT_BPS);
    }
    let price = (trade.reserve_y as u128 * 1_000_000_000 / trade.reserve_x as u128).min(u64::MAX as u128) as u64;
    let last = word(storage, SLOT_LAST_PRICE);
    let mut ema = word(storage, SLOT_EMA);
    if last != 0 {
        let ret = (price.abs_diff(last) as u128 * 1_000_000 / last as u128).min(1_000_000) as u64;
        ema = ema - ema / 8 + ret / 8;
    }
    set_word(storage, SLOT_FEE, (MIN_FEE_BPS + ema / PPM_PER_BPS).min(MAX_FEE_BPS));
    set_word(storage, SLOT_LAST_PRICE, price.max(1));
    set_word(storage, SLOT_EMA, ema);
}
