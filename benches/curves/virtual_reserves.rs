// Curve benchmark (amm-engine benches/curves), Prop AMM Challenge single-file form.
// Family: constant product on virtual reserves (concentrated liquidity), stateful.
// Formula: virtual reserves V = R + A, where the offsets A = (c - 1) * R_first (c = 3) are fixed
//   at the first trade: at the start the virtual reserves are c x the real ones (3x the depth
//   of the same capital), and afterwards they move one for one with the real reserves
//   (Uniswap-v3 style), so the pool is path-independent and its price range is
//   [P0 (c-1)^2/c^2, P0 c^2/(c-1)^2] = [0.44 P0, 2.25 P0]:
//     out = min(V_out * x' / (V_in + x'),  R_out - 1),  x' = x * (1 - 30 bps).
//   Constant product on V is concave and increasing; the cap at the real reserve keeps it so.
// Integer math: u128; x' = floor(x * 9970 / 10000), out = floor(V_out x' / (V_in + x')).
// State: storage words [0] A_x, [1] A_y (nano units), written once by the first after_swap
//   from the reserves that trade was quoted on (quotes before it use (c - 1) x the current
//   reserves, the same numbers). Quotes only read them.
use pinocchio::{account_info::AccountInfo, entrypoint, pubkey::Pubkey, ProgramResult};
use prop_amm_submission_sdk::{set_return_data_bytes, set_return_data_u64, set_storage};

const NAME: &str = "Curve: virtual reserves c=3";
const MODEL_USED: &str = "Claude";
const FEE_BPS: u128 = 30;
/// Concentration factor c.
const CONCENTRATION: u128 = 3;
const STORAGE_SIZE: usize = 1024;
const AFTER_SWAP_STORAGE_AT: usize = 42;
const SLOT_OFFSET_X: usize = 0;
const SLOT_OFFSET_Y: usize = 1;

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

pub fn compute_swap(data: &[u8]) -> u64 {
    let Ok(quote) = wincode::deserialize::<Quote>(data) else {
        return 0;
    };
    let (rx, ry) = (quote.reserve_x as u128, quote.reserve_y as u128);
    if rx == 0 || ry == 0 {
        return 0;
    }
    let (stored_x, stored_y) =
        (word(&quote.storage, SLOT_OFFSET_X) as u128, word(&quote.storage, SLOT_OFFSET_Y) as u128);
    let (offset_x, offset_y) = if stored_x == 0 || stored_y == 0 {
        ((CONCENTRATION - 1) * rx, (CONCENTRATION - 1) * ry)
    } else {
        (stored_x, stored_y)
    };
    let (v_in, v_out, r_out) = match quote.side {
        0 => (ry + offset_y, rx + offset_x, rx),
        1 => (rx + offset_x, ry + offset_y, ry),
        _ => return 0,
    };
    let net = quote.input_amount as u128 * (10_000 - FEE_BPS) / 10_000;
    let out = v_out * net / (v_in + net);
    out.min(r_out - 1) as u64
}

pub fn after_swap(data: &[u8], storage: &mut [u8]) {
    let Ok(trade) = wincode::deserialize::<Trade>(data) else {
        return;
    };
    if storage.len() < 16 || word(storage, SLOT_OFFSET_X) != 0 {
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
    let clamp = |v: u128| v.min(u64::MAX as u128) as u64;
    set_word(storage, SLOT_OFFSET_X, clamp((CONCENTRATION - 1) * rx));
    set_word(storage, SLOT_OFFSET_Y, clamp((CONCENTRATION - 1) * ry));
}
