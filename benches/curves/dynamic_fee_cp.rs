// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: constant product with a dynamic fee (volatility EMA), stateful.
// Formula: out = R_out * x' / (R_in + x'),  x' = x * (1 - fee),  fee from storage (30 bps until
//   the first trade). After every trade, after_swap measures the pool's own price move since
//   the previous trade, r = |P - P_last| / P_last with P = R_y/R_x, keeps an EMA of it
//   (weight 1/8 per trade, in ppm) and sets  fee = clamp(20 + ema_ppm / 150, 20, 120) bps.
//   For a fixed storage the quote is plain constant product: concave and increasing, < R_out.
// Integer math: u128; x' = floor(x * (10000 - fee) / 10000), out = floor(R_out x' / (R_in + x')),
//   capped at R_out - 1. Prices in u64 fixed point (1e9 = 1 Y per X), EMA in ppm (u64).
// State: storage (little-endian u64 words) [0] fee in bps, [1] last price P (1e9 fixed point),
//   [2] EMA of |return| in ppm; written in place by after_swap (and passed to set_storage by the
//   BPF dispatcher). Quotes only read it.
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64, set_storage};

const NAME: &str = "Curve: dynamic-fee CP";
const MODEL_USED: &str = "Claude";
const DEFAULT_FEE_BPS: u64 = 30;
const MIN_FEE_BPS: u64 = 20;
const MAX_FEE_BPS: u64 = 120;
/// ppm of EMA per bps of fee.
const PPM_PER_BPS: u64 = 150;
const STORAGE_SIZE: usize = 1024;
const AFTER_SWAP_STORAGE_AT: usize = 42;

const SLOT_FEE: usize = 0;
const SLOT_LAST_PRICE: usize = 1;
const SLOT_EMA: usize = 2;

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
    _side: u8,
    _input_amount: u64,
    _output_amount: u64,
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
    let stored = word(&quote.storage, SLOT_FEE);
    let fee = if stored == 0 { DEFAULT_FEE_BPS } else { stored.min(MAX_FEE_BPS) } as u128;
    let net = quote.input_amount as u128 * (10_000 - fee) / 10_000;
    let out = r_out * net / (r_in + net);
    out.min(r_out - 1) as u64
}

pub fn after_swap(data: &[u8], storage: &mut [u8]) {
    let Ok(trade) = wincode::deserialize::<Trade>(data) else {
        return;
    };
    if trade.reserve_x == 0 || storage.len() < 24 {
        return;
    }
    let price = (trade.reserve_y as u128 * 1_000_000_000 / trade.reserve_x as u128).min(u64::MAX as u128) as u64;
    let last = word(storage, SLOT_LAST_PRICE);
    let mut ema = word(storage, SLOT_EMA);
    if last != 0 {
        let ret = (price.abs_diff(last) as u128 * 1_000_000 / last as u128).min(1_000_000) as u64;
        ema = ema - ema / 8 + ret / 8;
    }
    let fee = (MIN_FEE_BPS + ema / PPM_PER_BPS).min(MAX_FEE_BPS);
    set_word(storage, SLOT_FEE, fee);
    set_word(storage, SLOT_LAST_PRICE, price.max(1));
    set_word(storage, SLOT_EMA, ema);
}
