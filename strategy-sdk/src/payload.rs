//! Typed, bounds-checked views of the three payloads of ABI v1, and their encoders.
//!
//! The host encodes with `encode_into` and the strategy decodes with `decode`: both go through
//! the offsets in [`crate::abi`], so there is one definition of the wire format. Decoding checks
//! length, tag and side, so a strategy never reads past what the host wrote.

use crate::abi::{self, STORAGE_LEN};
use crate::storage::Storage;

/// Which way the trader trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// The trader buys X and pays Y (the pool receives Y).
    BuyX = 0,
    /// The trader sells X and receives Y (the pool receives X).
    SellX = 1,
}

impl Side {
    /// Both sides, in wire order.
    pub const BOTH: [Side; 2] = [Side::BuyX, Side::SellX];

    /// Decodes the wire byte.
    pub fn from_u8(byte: u8) -> Result<Self, PayloadError> {
        match byte {
            0 => Ok(Side::BuyX),
            1 => Ok(Side::SellX),
            other => Err(PayloadError::BadSide(other)),
        }
    }

    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Side::BuyX => Side::SellX,
            Side::SellX => Side::BuyX,
        }
    }
}

/// Why a payload could not be decoded. The host never sends such a payload; seeing one means the
/// strategy was called by something other than amm-engine's ABI v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Fewer bytes than the payload's fixed length.
    TooShort {
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The tag byte is not this payload's.
    BadTag {
        /// Tag required.
        expected: u8,
        /// Tag found.
        found: u8,
    },
    /// A side byte other than 0 or 1.
    BadSide(u8),
}

impl core::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PayloadError::TooShort { expected, actual } => {
                write!(f, "payload is {actual} bytes, expected at least {expected}")
            }
            PayloadError::BadTag { expected, found } => {
                write!(f, "payload tag is {found}, expected {expected}")
            }
            PayloadError::BadSide(side) => write!(f, "side byte is {side}, expected 0 or 1"),
        }
    }
}

fn check_len(payload: &[u8], expected: usize) -> Result<(), PayloadError> {
    if payload.len() < expected {
        return Err(PayloadError::TooShort { expected, actual: payload.len() });
    }
    Ok(())
}

fn check_tag(payload: &[u8], expected: u8) -> Result<(), PayloadError> {
    match payload[0] {
        found if found == expected => Ok(()),
        found => Err(PayloadError::BadTag { expected, found }),
    }
}

fn read_u64(payload: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&payload[at..at + 8]);
    u64::from_le_bytes(raw)
}

fn read_u32(payload: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&payload[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn read_f32(payload: &[u8], at: usize) -> f32 {
    f32::from_bits(read_u32(payload, at))
}

fn read_f64(payload: &[u8], at: usize) -> f64 {
    f64::from_bits(read_u64(payload, at))
}

fn storage_at(payload: &[u8], at: usize) -> &Storage {
    let bytes: &[u8; STORAGE_LEN] = payload[at..at + STORAGE_LEN].try_into().expect("length checked by the caller");
    Storage::from_bytes(bytes)
}

fn storage_at_mut(payload: &mut [u8], at: usize) -> &mut Storage {
    let bytes: &mut [u8; STORAGE_LEN] =
        (&mut payload[at..at + STORAGE_LEN]).try_into().expect("length checked by the caller");
    Storage::from_bytes_mut(bytes)
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A quote request (`compute_swap`): how much of the other token would `input_amount` buy?
///
/// Quotes are pure: the answer must depend only on these fields. The storage is the pool's
/// storage as the last hook left it; it is read-only here.
#[derive(Clone, Copy, Debug)]
pub struct QuoteRequest<'a> {
    /// Direction of the trade.
    pub side: Side,
    /// Amount the trader pays, in nano units of the input token (Y for `BuyX`, X for `SellX`).
    pub input_amount: u64,
    /// Pool reserve of X, nano units.
    pub reserve_x: u64,
    /// Pool reserve of Y, nano units.
    pub reserve_y: u64,
    /// The pool's storage.
    pub storage: &'a Storage,
}

impl<'a> QuoteRequest<'a> {
    /// Decodes a quote payload (at least 1049 bytes).
    pub fn decode(payload: &'a [u8]) -> Result<Self, PayloadError> {
        use abi::quote::*;
        check_len(payload, LEN)?;
        Ok(Self {
            side: Side::from_u8(payload[SIDE])?,
            input_amount: read_u64(payload, INPUT_AMOUNT),
            reserve_x: read_u64(payload, RESERVE_X),
            reserve_y: read_u64(payload, RESERVE_Y),
            storage: storage_at(payload, STORAGE),
        })
    }

    /// Encodes into `out[..1049]`. Panics if `out` is shorter.
    pub fn encode_into(&self, out: &mut [u8]) {
        use abi::quote::*;
        Self::encode_header_into(self.side, self.input_amount, self.reserve_x, self.reserve_y, out);
        put(out, STORAGE, self.storage.as_bytes());
    }

    /// Encodes only the 25-byte header (side, input, reserves) into `out[..25]`.
    pub fn encode_header_into(side: Side, input: u64, reserve_x: u64, reserve_y: u64, out: &mut [u8]) {
        use abi::quote::*;
        out[SIDE] = side as u8;
        put(out, INPUT_AMOUNT, &input.to_le_bytes());
        put(out, RESERVE_X, &reserve_x.to_le_bytes());
        put(out, RESERVE_Y, &reserve_y.to_le_bytes());
    }

    /// Reserves as (input-side, output-side) for this request's direction.
    pub fn reserves_in_out(&self) -> (u64, u64) {
        match self.side {
            Side::BuyX => (self.reserve_y, self.reserve_x),
            Side::SellX => (self.reserve_x, self.reserve_y),
        }
    }

    /// Spot price, Y per X (`reserve_y / reserve_x`); 0 for an empty pool.
    pub fn spot_price(&self) -> f64 {
        spot_price(self.reserve_x, self.reserve_y)
    }
    /// The constant-product quote for this request with a fee in basis points taken from the
    /// input: [`crate::math::cp_output_fee_bps`] on this side's reserves.
    pub fn cp_output_fee_bps(&self, fee_bps: u64) -> u64 {
        let (reserve_in, reserve_out) = self.reserves_in_out();
        crate::math::cp_output_fee_bps(self.input_amount, reserve_in, reserve_out, fee_bps)
    }

    /// The constant-product quote for this request with a WAD fee taken from the input.
    pub fn cp_output_fee_wad(&self, fee_wad: u128) -> u64 {
        let (reserve_in, reserve_out) = self.reserves_in_out();
        crate::math::cp_output_fee_wad(self.input_amount, reserve_in, reserve_out, fee_wad)
    }
}

/// Spot price `reserve_y / reserve_x` (Y per X); 0 when `reserve_x` is 0.
pub fn spot_price(reserve_x: u64, reserve_y: u64) -> f64 {
    if reserve_x == 0 { 0.0 } else { reserve_y as f64 / reserve_x as f64 }
}

/// An executed trade on this pool (`after_swap`): arbitrage or routed retail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AfterSwap {
    /// Direction of the trade.
    pub side: Side,
    /// Amount the trader paid, nano units.
    pub input_amount: u64,
    /// Amount the trader received, nano units.
    pub output_amount: u64,
    /// Reserve of X after the trade.
    pub reserve_x: u64,
    /// Reserve of Y after the trade.
    pub reserve_y: u64,
    /// Global simulation step (0-based).
    pub sim_step: u64,
    /// Step within the current epoch (0-based, resets each epoch).
    pub epoch_step: u32,
    /// Current epoch index (0-based).
    pub epoch_number: u32,
    /// Number of pools in the market, normalizer included.
    pub n_pools: u8,
    /// This pool's index (strategies in config order, then the normalizer).
    pub pool_index: u8,
    /// This pool's share of the retail order's input; 0 for an arbitrage trade.
    pub flow_captured: f32,
    /// This pool's current share of the strategies' capital.
    pub capital_weight: f32,
    /// Spot prices (Y per X) of the other strategy pools in index order, then the normalizer;
    /// first 8 only; NaN in unused slots.
    pub competing_spot_prices: [f32; abi::after_swap::COMPETING_SLOTS],
}

impl AfterSwap {
    /// Decodes an after-swap payload and returns it with its (mutable) storage.
    pub fn decode(payload: &mut [u8]) -> Result<(Self, &mut Storage), PayloadError> {
        use abi::after_swap::*;
        check_len(payload, LEN)?;
        check_tag(payload, abi::TAG_AFTER_SWAP)?;
        let header = Self::decode_header(payload)?;
        Ok((header, storage_at_mut(payload, STORAGE)))
    }

    fn decode_header(payload: &[u8]) -> Result<Self, PayloadError> {
        use abi::after_swap::*;
        let mut competing_spot_prices = [f32::NAN; COMPETING_SLOTS];
        for (i, price) in competing_spot_prices.iter_mut().enumerate() {
            *price = read_f32(payload, COMPETING_SPOT_PRICES + 4 * i);
        }
        Ok(Self {
            side: Side::from_u8(payload[SIDE])?,
            input_amount: read_u64(payload, INPUT_AMOUNT),
            output_amount: read_u64(payload, OUTPUT_AMOUNT),
            reserve_x: read_u64(payload, RESERVE_X),
            reserve_y: read_u64(payload, RESERVE_Y),
            sim_step: read_u64(payload, SIM_STEP),
            epoch_step: read_u32(payload, EPOCH_STEP),
            epoch_number: read_u32(payload, EPOCH_NUMBER),
            n_pools: payload[N_POOLS],
            pool_index: payload[POOL_INDEX],
            flow_captured: read_f32(payload, FLOW_CAPTURED),
            capital_weight: read_f32(payload, CAPITAL_WEIGHT),
            competing_spot_prices,
        })
    }

    /// Encodes the header (everything but the storage) into `out[..92]`. Panics if shorter.
    pub fn encode_header_into(&self, out: &mut [u8]) {
        use abi::after_swap::*;
        out[TAG] = abi::TAG_AFTER_SWAP;
        out[SIDE] = self.side as u8;
        put(out, INPUT_AMOUNT, &self.input_amount.to_le_bytes());
        put(out, OUTPUT_AMOUNT, &self.output_amount.to_le_bytes());
        put(out, RESERVE_X, &self.reserve_x.to_le_bytes());
        put(out, RESERVE_Y, &self.reserve_y.to_le_bytes());
        put(out, SIM_STEP, &self.sim_step.to_le_bytes());
        put(out, EPOCH_STEP, &self.epoch_step.to_le_bytes());
        put(out, EPOCH_NUMBER, &self.epoch_number.to_le_bytes());
        out[N_POOLS] = self.n_pools;
        out[POOL_INDEX] = self.pool_index;
        put(out, FLOW_CAPTURED, &self.flow_captured.to_le_bytes());
        put(out, CAPITAL_WEIGHT, &self.capital_weight.to_le_bytes());
        for (i, price) in self.competing_spot_prices.iter().enumerate() {
            put(out, COMPETING_SPOT_PRICES + 4 * i, &price.to_le_bytes());
        }
    }

    /// Encodes header and storage into `out[..1116]`. Panics if shorter.
    pub fn encode_into(&self, storage: &Storage, out: &mut [u8]) {
        self.encode_header_into(out);
        put(out, abi::after_swap::STORAGE, storage.as_bytes());
    }

    /// True for an arbitrage trade (no retail flow captured).
    pub fn is_arbitrage(&self) -> bool {
        self.flow_captured == 0.0
    }

    /// Spot price after the trade, Y per X.
    pub fn spot_price(&self) -> f64 {
        spot_price(self.reserve_x, self.reserve_y)
    }

    /// The competing spot prices actually in use (finite and positive).
    pub fn competitors(&self) -> impl Iterator<Item = f32> + '_ {
        self.competing_spot_prices.iter().copied().filter(|p| p.is_finite() && *p > 0.0)
    }
}

/// The end of an epoch (`epoch_boundary`), sent after capital has been rebalanced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochBoundary {
    /// Index of the epoch just completed (0-based).
    pub epoch_number: u32,
    /// Reserve of X after rebalancing.
    pub new_reserve_x: u64,
    /// Reserve of Y after rebalancing.
    pub new_reserve_y: u64,
    /// Edge this pool earned in the epoch, in Y (not nano units).
    pub epoch_edge: f64,
    /// Edge this pool earned so far in the simulation, in Y.
    pub cumulative_edge: f64,
    /// This pool's new capital weight.
    pub capital_weight: f32,
}

impl EpochBoundary {
    /// Decodes an epoch-boundary payload and returns it with its (mutable) storage.
    pub fn decode(payload: &mut [u8]) -> Result<(Self, &mut Storage), PayloadError> {
        use abi::epoch_boundary::*;
        check_len(payload, LEN)?;
        check_tag(payload, abi::TAG_EPOCH_BOUNDARY)?;
        let header = Self {
            epoch_number: read_u32(payload, EPOCH_NUMBER),
            new_reserve_x: read_u64(payload, NEW_RESERVE_X),
            new_reserve_y: read_u64(payload, NEW_RESERVE_Y),
            epoch_edge: read_f64(payload, EPOCH_EDGE),
            cumulative_edge: read_f64(payload, CUMULATIVE_EDGE),
            capital_weight: read_f32(payload, CAPITAL_WEIGHT),
        };
        Ok((header, storage_at_mut(payload, STORAGE)))
    }

    /// Encodes the header (everything but the storage) into `out[..41]`. Panics if shorter.
    pub fn encode_header_into(&self, out: &mut [u8]) {
        use abi::epoch_boundary::*;
        out[TAG] = abi::TAG_EPOCH_BOUNDARY;
        put(out, EPOCH_NUMBER, &self.epoch_number.to_le_bytes());
        put(out, NEW_RESERVE_X, &self.new_reserve_x.to_le_bytes());
        put(out, NEW_RESERVE_Y, &self.new_reserve_y.to_le_bytes());
        put(out, EPOCH_EDGE, &self.epoch_edge.to_le_bytes());
        put(out, CUMULATIVE_EDGE, &self.cumulative_edge.to_le_bytes());
        put(out, CAPITAL_WEIGHT, &self.capital_weight.to_le_bytes());
    }

    /// Encodes header and storage into `out[..1065]`. Panics if shorter.
    pub fn encode_into(&self, storage: &Storage, out: &mut [u8]) {
        self.encode_header_into(out);
        put(out, abi::epoch_boundary::STORAGE, storage.as_bytes());
    }

    /// Spot price after rebalancing (unchanged by it), Y per X.
    pub fn spot_price(&self) -> f64 {
        spot_price(self.new_reserve_x, self.new_reserve_y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_reject_short_payloads_wrong_tags_and_sides() {
        let mut buf = [0u8; 2048];
        assert_eq!(
            QuoteRequest::decode(&buf[..1048]).unwrap_err(),
            PayloadError::TooShort { expected: 1049, actual: 1048 }
        );
        buf[0] = 7;
        assert_eq!(QuoteRequest::decode(&buf).unwrap_err(), PayloadError::BadSide(7));
        assert_eq!(AfterSwap::decode(&mut buf).unwrap_err(), PayloadError::BadTag { expected: 2, found: 7 });
        assert_eq!(
            EpochBoundary::decode(&mut buf[..1064]).unwrap_err(),
            PayloadError::TooShort { expected: 1065, actual: 1064 }
        );
        buf[0] = 2;
        buf[1] = 9;
        assert_eq!(AfterSwap::decode(&mut buf).unwrap_err(), PayloadError::BadSide(9));
    }

    #[test]
    fn competitors_skip_unused_slots() {
        let mut trade = AfterSwap {
            side: Side::BuyX,
            input_amount: 1,
            output_amount: 1,
            reserve_x: 1,
            reserve_y: 1,
            sim_step: 0,
            epoch_step: 0,
            epoch_number: 0,
            n_pools: 3,
            pool_index: 0,
            flow_captured: 0.0,
            capital_weight: 0.5,
            competing_spot_prices: [f32::NAN; 8],
        };
        trade.competing_spot_prices[0] = 99.0;
        trade.competing_spot_prices[1] = 101.0;
        let mut sum = 0.0;
        let mut count = 0;
        for p in trade.competitors() {
            sum += p;
            count += 1;
        }
        assert_eq!((count, sum), (2, 200.0));
        assert!(trade.is_arbitrage());
    }
}
