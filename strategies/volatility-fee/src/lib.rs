//! Volatility fee: a constant-product pool whose (symmetric) fee follows realised volatility.
//!
//! Arbitrageurs earn, and liquidity providers lose, roughly in proportion to how far the price
//! moves between trades. This strategy measures that directly: after every trade it updates an
//! exponential moving average of `|ln(p_now / p_last)|`, the absolute log change of the pool's
//! spot price since the previous trade, and charges
//!
//! ```text
//! fee = BASE_FEE_BPS + VOL_TO_FEE_BPS · EMA(|Δ ln p|),   clamped to [5, 400] bps
//! ```
//!
//! on both sides. Calm markets get a tight, competitive fee; bursts of large moves widen it until
//! the market settles again (the EMA decays geometrically on calm trades).
//!
//! The fee is computed in the hooks and kept in storage as a WAD fraction, so `compute_swap` is a
//! plain constant-product quote with that fee: pure, monotone and concave in the input. Fresh
//! (all-zero) storage quotes the base fee.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::math::{self, bps_to_wad};
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Slot, Storage, Strategy};

/// Fee (WAD fraction) charged on both sides; 0 in fresh storage means [`BASE_FEE_BPS`].
pub const FEE_WAD: Slot<u64> = Slot::new(0);
/// EMA of |ln(price change)| between consecutive trades.
pub const VOL_EMA: Slot<f64> = Slot::new(1);
/// Spot price (Y per X) after the last trade or epoch boundary; 0 before the first.
pub const LAST_PRICE: Slot<f64> = Slot::new(2);

/// Fee with no volatility observed (and in fresh storage).
pub const BASE_FEE_BPS: u64 = 25;
/// Lowest fee ever charged.
pub const MIN_FEE_BPS: u64 = 5;
/// Highest fee ever charged.
pub const MAX_FEE_BPS: u64 = 400;
/// Extra fee per unit of EMA volatility: moves of 0.2 % per trade add 30 bps.
pub const VOL_TO_FEE_BPS: f64 = 15_000.0;
/// Weight of the newest observation in the volatility EMA.
const VOL_ALPHA: f64 = 0.1;
/// A single trade's |Δ ln p| counts at most this much, so one outlier cannot pin the fee.
const MAX_MOVE: f64 = 0.25;

/// Symmetric fee = base + k · EMA of per-trade |log price change|.
pub struct VolatilityFee;

impl Strategy for VolatilityFee {
    const NAME: &'static str = "Volatility Fee";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let fee_wad = match quote.storage.get(FEE_WAD) {
            0 => bps_to_wad(BASE_FEE_BPS),
            fee => u128::from(fee).clamp(bps_to_wad(MIN_FEE_BPS), bps_to_wad(MAX_FEE_BPS)),
        };
        quote.cp_output_fee_wad(fee_wad)
    }

    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        let price = trade.spot_price();
        if !(price.is_finite() && price > 0.0) {
            return; // an empty side: nothing meaningful to learn
        }
        let last = storage.get(LAST_PRICE);
        if last > 0.0 {
            let mv = abs_ln(price / last).min(MAX_MOVE);
            let vol = storage.get(VOL_EMA);
            storage.set(VOL_EMA, vol + VOL_ALPHA * (mv - vol));
        }
        storage.set(LAST_PRICE, price);
        storage.set(FEE_WAD, fee_wad_for(storage.get(VOL_EMA)));
    }

    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        // Rebalancing scales both reserves at the same price: re-anchor so the next trade's move
        // is measured from here, and keep the learnt volatility.
        let price = epoch.spot_price();
        if price.is_finite() && price > 0.0 {
            storage.set(LAST_PRICE, price);
        }
    }
}

/// The fee (WAD) for a volatility estimate, clamped to [`MIN_FEE_BPS`, `MAX_FEE_BPS`].
pub fn fee_wad_for(vol: f64) -> u64 {
    let bps = (BASE_FEE_BPS as f64 + VOL_TO_FEE_BPS * vol).clamp(MIN_FEE_BPS as f64, MAX_FEE_BPS as f64);
    // 1 bp = 1e14 WAD, so whole bps convert exactly; ≤ 400 bps = 4e16 < u64::MAX.
    (bps * 1e14) as u64
}

/// |ln(r)|, with 0 for anything but a positive normal ratio.
fn abs_ln(r: f64) -> f64 {
    let l = math::ln(r);
    if l.is_nan() { 0.0 } else { l.abs() }
}

amm_strategy_sdk::export_strategy!(VolatilityFee);

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::Side;
    use amm_strategy_sdk::abi::NANO;

    fn trade(price_y_per_x: f64) -> AfterSwap {
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
            flow_captured: 0.3,
            capital_weight: 0.5,
            competing_spot_prices: [f32::NAN; 8],
        }
    }

    fn quote(storage: &Storage, side: Side) -> u64 {
        VolatilityFee::compute_swap(&QuoteRequest {
            side,
            input_amount: NANO,
            reserve_x: 100 * NANO,
            reserve_y: 10_000 * NANO,
            storage,
        })
    }

    fn fee_bps(storage: &Storage) -> f64 {
        storage.get(FEE_WAD) as f64 / 1e14
    }

    #[test]
    fn fresh_storage_quotes_the_base_fee() {
        let storage = Storage::zeroed();
        let expected = math::cp_output_fee_bps(NANO, 10_000 * NANO, 100 * NANO, BASE_FEE_BPS);
        assert_eq!(quote(&storage, Side::BuyX), expected);
        let expected = math::cp_output_fee_bps(NANO, 100 * NANO, 10_000 * NANO, BASE_FEE_BPS);
        assert_eq!(quote(&storage, Side::SellX), expected);
    }

    #[test]
    fn volatile_trades_raise_the_fee_and_calm_ones_bring_it_back() {
        let mut calm = Storage::zeroed();
        let mut wild = Storage::zeroed();
        for i in 0..50 {
            VolatilityFee::after_swap(&trade(100.0 + 0.01 * (i % 2) as f64), &mut calm);
            VolatilityFee::after_swap(&trade(100.0 + 1.0 * (i % 2) as f64), &mut wild);
        }
        assert!(wild.get(VOL_EMA) > 50.0 * calm.get(VOL_EMA));
        // ~1 % moves: 25 + 15000 · 0.00995 ≈ 174 bps once the EMA has converged.
        assert!(fee_bps(&wild) > 150.0, "wild fee {}", fee_bps(&wild));
        assert!(fee_bps(&calm) < 27.0, "calm fee {}", fee_bps(&calm));
        // Higher fee, smaller output, on both sides.
        assert!(quote(&wild, Side::BuyX) < quote(&calm, Side::BuyX));
        assert!(quote(&wild, Side::SellX) < quote(&calm, Side::SellX));

        let wild_fee = fee_bps(&wild);
        for _ in 0..60 {
            VolatilityFee::after_swap(&trade(100.0), &mut wild);
        }
        assert!(fee_bps(&wild) < 0.1 * wild_fee + BASE_FEE_BPS as f64);
    }

    #[test]
    fn fee_is_clamped_to_the_maximum() {
        let mut storage = Storage::zeroed();
        for i in 0..100 {
            VolatilityFee::after_swap(&trade(if i % 2 == 0 { 50.0 } else { 150.0 }), &mut storage);
        }
        assert_eq!(storage.get(FEE_WAD), bps_to_wad(MAX_FEE_BPS) as u64);
        let expected = math::cp_output_fee_bps(NANO, 10_000 * NANO, 100 * NANO, MAX_FEE_BPS);
        assert_eq!(quote(&storage, Side::BuyX), expected);
    }

    #[test]
    fn epoch_boundary_reanchors_the_price_without_a_spurious_move() {
        let mut storage = Storage::zeroed();
        VolatilityFee::after_swap(&trade(100.0), &mut storage);
        VolatilityFee::epoch_boundary(
            &EpochBoundary {
                epoch_number: 0,
                new_reserve_x: 10 * NANO,
                new_reserve_y: 1_200 * NANO,
                epoch_edge: 1.0,
                cumulative_edge: 1.0,
                capital_weight: 0.5,
            },
            &mut storage,
        );
        assert_eq!(storage.get(LAST_PRICE), 120.0);
        VolatilityFee::after_swap(&trade(120.0), &mut storage);
        assert_eq!(storage.get(VOL_EMA), 0.0);
        assert_eq!(storage.get(FEE_WAD), bps_to_wad(BASE_FEE_BPS) as u64);
    }

    #[test]
    fn quotes_are_monotone_and_within_reserves() {
        let mut storage = Storage::zeroed();
        for i in 0..20 {
            VolatilityFee::after_swap(&trade(100.0 + (i % 3) as f64), &mut storage);
        }
        let mut last = 0;
        for k in 0..60 {
            let input = (1.4f64.powi(k) * 1_000.0) as u64;
            let out = VolatilityFee::compute_swap(&QuoteRequest {
                side: Side::SellX,
                input_amount: input,
                reserve_x: 100 * NANO,
                reserve_y: 10_000 * NANO,
                storage: &storage,
            });
            assert!(out >= last && out < 10_000 * NANO);
            last = out;
        }
    }

    #[test]
    fn log_approximation_is_accurate() {
        for r in [1e-6, 0.01, 0.5, 0.8, 0.95, 0.999, 1.0, 1.001, 1.05, 1.2, 1.5, 3.0, 1e9] {
            let exact = f64::ln(r).abs();
            assert!((abs_ln(r) - exact).abs() < 1e-10 * exact.max(1.0), "r = {r}");
        }
        assert_eq!(abs_ln(0.0), 0.0);
        assert_eq!(abs_ln(f64::NAN), 0.0);
    }
}
