//! The starter strategy: a constant-product pool whose bid and ask fees adapt to what the pool
//! observes after each trade.
//!
//! * **Volatility**: an EMA of the absolute log change of the pool's spot price between trades.
//!   Arbitrageurs profit from price moves, so the fee rises with volatility.
//! * **Flow captured**: an EMA of this pool's share of retail orders. A small share means the
//!   fee is too high to win flow, so it comes down; a large share lets it go up.
//! * **Competitors' prices**: when this pool's price is above the others', arbitrageurs will sell
//!   X to it, so the bid (pool buys X) fee goes up and the ask fee down, and vice versa.
//! * **Capital weight**: below an equal share, the pool is losing the capital contest and turns
//!   more defensive.
//!
//! Storage slots 0–7 follow the reference challenge's starter; slots 16–26 hold the tunable
//! parameters (`amm.params`: the engine writes them before the first call); the rest are free.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::math;
use amm_strategy_sdk::params::Param;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Slot, Storage, Strategy};

/// Fee (WAD) charged when the pool buys X (the trader sells X).
pub const BID_FEE_WAD: Slot<u64> = Slot::new(0);
/// Fee (WAD) charged when the pool sells X (the trader buys X).
pub const ASK_FEE_WAD: Slot<u64> = Slot::new(1);
/// EMA of |ln(price change)| between consecutive trades.
pub const VOL_ESTIMATE: Slot<f64> = Slot::new(2);
/// Spot price after the last trade (Y per X).
pub const LAST_PRICE: Slot<f64> = Slot::new(3);
/// EMA of `flow_captured` over retail trades.
pub const FLOW_EMA: Slot<f64> = Slot::new(4);
/// Trades seen this epoch.
pub const TRADE_COUNT: Slot<u64> = Slot::new(5);
/// Most recent capital weight.
pub const CAPITAL_WEIGHT: Slot<f64> = Slot::new(6);
/// Current epoch index.
pub const EPOCH_NUMBER: Slot<u64> = Slot::new(7);

// The defaults are tuned: `amm-engine tune strategies/starter configs/default.toml --budget 40000`
// (objective: mean edge against the default market's field; README, *Parameters and tuning*).

/// Fee (bps) before anything is observed, and the base every later fee starts from.
pub const BASE_FEE_BPS: Param<f64> = Param::<f64>::new("base_fee_bps", 16, 1.02045, 1.0, 300.0).log();
/// Fee added per unit of per-trade volatility, bps: 8,000 turns 0.002 (20 bps moves) into 16 bps.
pub const VOL_TO_FEE_BPS: Param<f64> = Param::<f64>::new("vol_to_fee_bps", 17, 6234.3, 0.0, 50_000.0);
/// Weight of the newest trade in the volatility EMA.
pub const VOL_ALPHA: Param<f64> = Param::<f64>::new("vol_alpha", 18, 0.257133, 0.005, 0.5).log();
/// Weight of the newest retail trade in the flow-captured EMA.
pub const FLOW_ALPHA: Param<f64> = Param::<f64>::new("flow_alpha", 19, 0.139077, 0.005, 0.5).log();
/// Fee multiplier while this pool captures little flow (EMA below 0.15).
pub const LOW_FLOW_FACTOR: Param<f64> = Param::<f64>::new("low_flow_factor", 20, 0.8843, 0.3, 1.5);
/// Fee multiplier while this pool captures much flow (EMA above 0.5).
pub const HIGH_FLOW_FACTOR: Param<f64> = Param::<f64>::new("high_flow_factor", 21, 1.44501, 0.5, 3.0);
/// Fee multiplier while this pool holds less than an equal share of the capital.
pub const UNDERWEIGHT_FACTOR: Param<f64> = Param::<f64>::new("underweight_factor", 22, 1.07729, 0.5, 2.0);
/// Fee skew per unit of relative price deviation from the other pools.
pub const SKEW_GAIN: Param<f64> = Param::<f64>::new("skew_gain", 23, 139.328, 0.0, 500.0);
/// Largest skew, as a fraction of the fee.
pub const SKEW_CAP: Param<f64> = Param::<f64>::new("skew_cap", 24, 0.595133, 0.0, 0.95);
/// Smallest fee, bps.
pub const MIN_FEE_BPS: Param<f64> = Param::<f64>::new("min_fee_bps", 25, 19.5052, 0.0, 100.0);
/// Largest fee, bps.
pub const MAX_FEE_BPS: Param<f64> = Param::<f64>::new("max_fee_bps", 26, 192.506, 10.0, 1_000.0).log();

amm_strategy_sdk::export_params!(
    BASE_FEE_BPS,
    VOL_TO_FEE_BPS,
    VOL_ALPHA,
    FLOW_ALPHA,
    LOW_FLOW_FACTOR,
    HIGH_FLOW_FACTOR,
    UNDERWEIGHT_FACTOR,
    SKEW_GAIN,
    SKEW_CAP,
    MIN_FEE_BPS,
    MAX_FEE_BPS,
);

/// The adaptive starter strategy.
pub struct Starter;

impl Strategy for Starter {
    const NAME: &'static str = "Adaptive Starter";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let slot = match quote.side {
            Side::BuyX => ASK_FEE_WAD,
            Side::SellX => BID_FEE_WAD,
        };
        let fee_wad = match quote.storage.get(slot) {
            0 => u128::from(bps_f64_to_wad(BASE_FEE_BPS.get(quote.storage))),
            fee => u128::from(fee),
        };
        quote.cp_output_fee_wad(fee_wad)
    }

    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        let price = trade.spot_price();
        let last = storage.get(LAST_PRICE);
        if last > 0.0 && price > 0.0 {
            let change = libm_abs_ln(price / last);
            let vol = storage.get(VOL_ESTIMATE);
            storage.set(VOL_ESTIMATE, vol + VOL_ALPHA.get(storage) * (change - vol));
        }
        storage.set(LAST_PRICE, price);
        if !trade.is_arbitrage() {
            let flow = storage.get(FLOW_EMA);
            let captured = f64::from(trade.flow_captured);
            storage.set(FLOW_EMA, flow + FLOW_ALPHA.get(storage) * (captured - flow));
        }
        storage.set(TRADE_COUNT, storage.get(TRADE_COUNT) + 1);
        storage.set(CAPITAL_WEIGHT, f64::from(trade.capital_weight));

        let mut competitors = 0.0;
        let mut count = 0.0;
        for p in trade.competitors() {
            competitors += f64::from(p);
            count += 1.0;
        }
        let reference = if count > 0.0 { competitors / count } else { price };
        let n_strategies = trade.n_pools.saturating_sub(1).max(1);
        set_fees(storage, price, reference, n_strategies);
    }

    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        storage.set(TRADE_COUNT, 0);
        storage.set(EPOCH_NUMBER, u64::from(epoch.epoch_number) + 1);
        storage.set(CAPITAL_WEIGHT, f64::from(epoch.capital_weight));
        // Rebalancing scales both reserves, keeping the price: nothing to re-learn there.
        storage.set(LAST_PRICE, epoch.spot_price());
    }
}

/// Recomputes both fees from the state in storage.
fn set_fees(storage: &mut Storage, price: f64, reference: f64, n_strategies: u8) {
    let mut fee_bps = BASE_FEE_BPS.get(storage) + VOL_TO_FEE_BPS.get(storage) * storage.get(VOL_ESTIMATE);

    let flow = storage.get(FLOW_EMA);
    if flow < 0.15 {
        fee_bps *= LOW_FLOW_FACTOR.get(storage);
    } else if flow > 0.5 {
        fee_bps *= HIGH_FLOW_FACTOR.get(storage);
    }

    let weight = storage.get(CAPITAL_WEIGHT);
    if weight > 0.0 && weight < 1.0 / f64::from(n_strategies) {
        fee_bps *= UNDERWEIGHT_FACTOR.get(storage);
    }

    // Positive when X is dearer here than elsewhere: arbitrageurs would sell X to this pool.
    let deviation = if reference > 0.0 { (price - reference) / reference } else { 0.0 };
    let cap = SKEW_CAP.get(storage);
    let skew = (deviation * SKEW_GAIN.get(storage)).clamp(-cap, cap);
    let (lo, hi) = (MIN_FEE_BPS.get(storage), MAX_FEE_BPS.get(storage).max(MIN_FEE_BPS.get(storage)));
    let bid = (fee_bps * (1.0 + skew)).clamp(lo, hi);
    let ask = (fee_bps * (1.0 - skew)).clamp(lo, hi);
    storage.set(BID_FEE_WAD, bps_f64_to_wad(bid));
    storage.set(ASK_FEE_WAD, bps_f64_to_wad(ask));
}

fn bps_f64_to_wad(bps: f64) -> u64 {
    // ≤ 1,000 bps × the largest skew = 1.95e17 < u64::MAX.
    math::fraction_to_wad(bps / 10_000.0) as u64
}

/// |ln(r)| (the SDK's `ln`: `no_std` strategies have no `f64::ln`).
fn libm_abs_ln(r: f64) -> f64 {
    math::ln(r).abs()
}

amm_strategy_sdk::export_strategy!(Starter);

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::abi::NANO;

    /// Storage as the engine hands it over: the declared defaults written in.
    fn fresh() -> Storage {
        let mut storage = Storage::zeroed();
        amm_strategy_sdk::params::write_defaults(PARAMS, &mut storage);
        storage
    }

    fn trade(price_y_per_x: f64, flow: f32) -> AfterSwap {
        AfterSwap {
            side: Side::BuyX,
            input_amount: NANO,
            output_amount: NANO / 100,
            reserve_x: 100 * NANO,
            reserve_y: (price_y_per_x * 100.0 * NANO as f64) as u64,
            sim_step: 1,
            epoch_step: 1,
            epoch_number: 0,
            n_pools: 3,
            pool_index: 0,
            flow_captured: flow,
            capital_weight: 0.5,
            competing_spot_prices: [f32::NAN; 8],
        }
    }

    #[test]
    fn fresh_storage_quotes_the_base_fee() {
        let storage = fresh();
        let quote = QuoteRequest {
            side: Side::SellX,
            input_amount: NANO,
            reserve_x: 100 * NANO,
            reserve_y: 10_000 * NANO,
            storage: &storage,
        };
        // The declared base fee, 1.02045 bps: between the 1 and 2 bps constant-product quotes.
        let quoted = Starter::compute_swap(&quote);
        assert!(quoted < math::cp_output_fee_bps(NANO, 100 * NANO, 10_000 * NANO, 1), "{quoted}");
        assert!(quoted > math::cp_output_fee_bps(NANO, 100 * NANO, 10_000 * NANO, 2), "{quoted}");
    }

    #[test]
    fn volatility_raises_fees() {
        let mut calm = fresh();
        let mut wild = fresh();
        for i in 0..50 {
            Starter::after_swap(&trade(100.0 + 0.01 * (i % 2) as f64, 0.3), &mut calm);
            Starter::after_swap(&trade(100.0 + 2.0 * (i % 2) as f64, 0.3), &mut wild);
        }
        assert!(wild.get(VOL_ESTIMATE) > 10.0 * calm.get(VOL_ESTIMATE));
        assert!(wild.get(BID_FEE_WAD) > calm.get(BID_FEE_WAD));
        assert!(wild.get(ASK_FEE_WAD) > calm.get(ASK_FEE_WAD));
    }

    #[test]
    fn dear_price_skews_fees_towards_bid() {
        // A base fee well above the floor, so the skew is not clamped away.
        let mut storage = fresh();
        amm_strategy_sdk::params::write_value(&BASE_FEE_BPS.decl(), 60.0, &mut storage);
        let mut t = trade(101.0, 0.3);
        t.competing_spot_prices[0] = 100.0;
        t.competing_spot_prices[1] = 100.0;
        Starter::after_swap(&t, &mut storage);
        assert!(storage.get(BID_FEE_WAD) > storage.get(ASK_FEE_WAD));
    }

    #[test]
    fn log_approximation_is_close() {
        for r in [0.8, 0.95, 0.999, 1.0, 1.001, 1.05, 1.2] {
            let exact = f64::ln(r).abs();
            assert!((libm_abs_ln(r) - exact).abs() < 1e-6, "r = {r}");
        }
    }
}
