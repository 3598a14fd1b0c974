// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: quadratic invariant (a constant-product / constant-sum hybrid), stateful.
// Formula: with u = p * X (X valued in Y at the pool's reference price p) and v = Y, the pool
//   keeps  Q(u, v) = u^2 + 8 u v + v^2  constant (an indefinite quadratic form: its level sets
//   are hyperbola branches, convex towards the origin, so the quote curve is concave). At u = v
//   the price is p; the curve reaches the axes where the price is 4p (X exhausted) or p/4
//   (Y exhausted), so liquidity is concentrated in [p/4, 4p]. A quote of input x (net of a
//   30 bps input fee) moves the input coordinate to in' and returns out - v', where v' is the
//   other coordinate that restores Q:  v' = (K - in'^2) / (4 in' + sqrt(15 in'^2 + K)),
//   K = Q(in, out) from the current reserves (0 once in'^2 >= K: the output side is drained).
// Integer math: u128 throughout; sqrt by an integer square root (f64 seed, Newton, exact
//   fix-up), then v' made canonical (the least v' with Q(in', v') >= K, by exact u128
//   comparisons), so the quote is exactly monotone. p is u64 fixed point (1e12 = 1 Y per X);
//   an output in X is floor(out_u * 1e12 / p). Capped at R_out - 1.
// State: storage word [0] = p, written once by the first after_swap (the pre-trade spot price
//   R_y/R_x; quotes before it use the current spot, which is the same number), so the invariant
//   stays fixed and trades are path-independent. Quotes only read it.
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64, set_storage};

const NAME: &str = "Curve: quadratic invariant";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 30;
/// Fixed point of the reference price.
const P_ONE: u128 = 1_000_000_000_000;
/// Normalised coordinates are capped here (keeps every square inside u128).
const CAP: u128 = 1 << 60;
const STORAGE_SIZE: usize = 1024;
const AFTER_SWAP_STORAGE_AT: usize = 42;
const SLOT_PRICE: usize = 0;

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

/// The invariant Q(u, v) = u^2 + 8uv + v^2 (symmetric).
fn invariant(u: u128, v: u128) -> u128 {
    u * u + 8 * u * v + v * v
}

/// The least v' with Q(in', v') >= Q(in, out), for in' >= in.
fn other_coordinate(input_old: u128, input_new: u128, out: u128) -> u128 {
    let k = invariant(input_old, out);
    let square = input_new * input_new;
    if square >= k {
        return 0;
    }
    let mut v = ((k - square) / (4 * input_new + isqrt(15 * square + k))).min(out);
    let mut guard = 0;
    while v < out && invariant(input_new, v) < k && guard < 64 {
        v += 1;
        guard += 1;
    }
    while v > 0 && invariant(input_new, v - 1) >= k && guard < 128 {
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
    let stored = word(&quote.storage, SLOT_PRICE) as u128;
    let p = if stored == 0 { spot(rx, ry) } else { stored };
    let net = quote.input_amount as u128 * (10_000 - FEE_BPS) / 10_000;
    let (input_old, input_new, out, r_out) = if quote.side == 1 {
        (rx * p / P_ONE, (rx + net) * p / P_ONE, ry, ry)
    } else {
        (ry, ry + net, rx * p / P_ONE, rx)
    };
    if input_old > CAP || out > CAP || out == 0 {
        return 0;
    }
    let v = other_coordinate(input_old, input_new.min(CAP), out);
    let taken = out - v;
    let amount = if quote.side == 1 { taken } else { taken * P_ONE / p };
    amount.min(r_out - 1) as u64
}

pub fn after_swap(data: &[u8], storage: &mut [u8]) {
    let Ok(trade) = wincode::deserialize::<Trade>(data) else {
        return;
    };
    if storage.len() < 8 || word(storage, SLOT_PRICE) != 0 {
        return;
    }
    // The reserves the first trade was quoted on.
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
    if rx == 0 || ry == 0 {
        return;
    }
    set_word(storage, SLOT_PRICE, spot(rx, ry) as u64);
}
