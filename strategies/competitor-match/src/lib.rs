//! Competitor match: a constant-product pool that prices itself against the other pools in the
//! market instead of against its own history.
//!
//! Two signals from every `after_swap`:
//!
//! * **Retail flow captured.** The router splits each retail order between the pools, mostly by
//!   price, so this pool's share (`flow_captured`) says how competitive its fee is. The pool keeps
//!   an EMA of that share over retail trades and compares it with an equal split (`1 / n_pools`):
//!   well below it, the fee is too high to win flow and the base fee steps down 3 % per retail
//!   trade (to at least 10 bps); well above it, there is room to charge more and it steps up 3 %
//!   (to at most 200 bps). Arbitrage trades (`flow_captured == 0`) say nothing about
//!   competitiveness and leave the base fee alone.
//! * **The competitors' median spot price.** With several pools quoting, their median is a
//!   robust estimate of the market price (one stale or manipulated pool cannot move it). When
//!   this pool's price is out of line by `gap`, a trade that pushes it back towards the median is
//!   an arbitrageur collecting the gap: the fee on that side is raised to at least the gap
//!   (up to 200 bps), so being stale does not turn into a free option. The other side, and both
//!   sides while the price is in line, charge the base fee.
//!
//! Fees live in storage as WAD fractions per side, so `compute_swap` is a plain
//! constant-product quote (pure, monotone, concave). Fresh (all-zero) storage quotes 30 bps.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::math::bps_to_wad;
use amm_strategy_sdk::{AfterSwap, QuoteRequest, Side, Slot, Storage, Strategy};

/// Fee (WAD) when the pool buys X (the trader sells X); 0 in fresh storage means 30 bps.
pub const BID_FEE_WAD: Slot<u64> = Slot::new(0);
/// Fee (WAD) when the pool sells X (the trader buys X); 0 in fresh storage means 30 bps.
pub const ASK_FEE_WAD: Slot<u64> = Slot::new(1);
/// Base fee in bps steered by flow captured; 0 in fresh storage means [`DEFAULT_FEE_BPS`].
pub const BASE_FEE_BPS: Slot<f64> = Slot::new(2);
/// EMA of `flow_captured` over retail trades.
pub const FLOW_EMA: Slot<f64> = Slot::new(3);
/// Retail trades seen (the first one seeds the EMA).
pub const RETAIL_TRADES: Slot<u64> = Slot::new(4);
/// Last relative deviation of this pool's price from the competitors' median (> 0: dearer here).
pub const DEVIATION: Slot<f64> = Slot::new(5);

/// Fee before anything has been observed.
pub const DEFAULT_FEE_BPS: u64 = 30;
/// Lowest fee ever charged.
pub const MIN_FEE_BPS: u64 = 10;
/// Highest fee ever charged.
pub const MAX_FEE_BPS: u64 = 200;
/// Weight of the newest retail trade in the flow EMA.
const FLOW_ALPHA: f64 = 0.2;
/// Flow below this fraction of an equal split lowers the fee.
const LOW_SHARE: f64 = 0.6;
/// Flow above this multiple of an equal split raises the fee.
const HIGH_SHARE: f64 = 1.4;
/// Multiplicative fee step per retail trade.
const STEP: f64 = 0.03;

/// Fee steered by retail flow captured, protected against the competitors' median price.
pub struct CompetitorMatch;

impl Strategy for CompetitorMatch {
    const NAME: &'static str = "Competitor Match";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let slot = match quote.side {
            Side::BuyX => ASK_FEE_WAD,
            Side::SellX => BID_FEE_WAD,
        };
        let fee_wad = match quote.storage.get(slot) {
            0 => bps_to_wad(DEFAULT_FEE_BPS),
            fee => u128::from(fee).clamp(bps_to_wad(MIN_FEE_BPS), bps_to_wad(MAX_FEE_BPS)),
        };
        quote.cp_output_fee_wad(fee_wad)
    }

    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        let stored = storage.get(BASE_FEE_BPS);
        let mut base = if stored > 0.0 { stored } else { DEFAULT_FEE_BPS as f64 };

        let flow = f64::from(trade.flow_captured);
        if flow.is_finite() && flow > 0.0 {
            let seen = storage.get(RETAIL_TRADES);
            let ema = if seen == 0 {
                flow
            } else {
                let ema = storage.get(FLOW_EMA);
                ema + FLOW_ALPHA * (flow - ema)
            };
            storage.set(FLOW_EMA, ema);
            storage.set(RETAIL_TRADES, seen.saturating_add(1));

            let fair = 1.0 / f64::from(trade.n_pools.max(1));
            if ema < LOW_SHARE * fair {
                base *= 1.0 - STEP;
            } else if ema > HIGH_SHARE * fair {
                base *= 1.0 + STEP;
            }
        }
        base = base.clamp(MIN_FEE_BPS as f64, MAX_FEE_BPS as f64);
        storage.set(BASE_FEE_BPS, base);

        let price = trade.spot_price();
        let deviation = match median(&trade.competing_spot_prices) {
            Some(reference) if price.is_finite() && price > 0.0 => (price - reference) / reference,
            _ => 0.0,
        };
        storage.set(DEVIATION, deviation);

        // Dearer here (deviation > 0): arbitrageurs sell X to the pool (the bid side) to bring the
        // price down to the others'. Cheaper here: they buy X (the ask side).
        let gap_bps = 10_000.0 * if deviation < 0.0 { -deviation } else { deviation };
        let guarded = if gap_bps > base { gap_bps } else { base };
        let (bid, ask) = if deviation > 0.0 { (guarded, base) } else { (base, guarded) };
        storage.set(BID_FEE_WAD, bps_f64_to_wad(bid));
        storage.set(ASK_FEE_WAD, bps_f64_to_wad(ask));
    }
}

/// Median of the finite, positive prices in `prices` (mean of the middle two for an even count);
/// `None` if there are none. Insertion sort on a copy: no allocation.
pub fn median(prices: &[f32; 8]) -> Option<f64> {
    let mut sorted = [0.0f64; 8];
    let mut n = 0;
    for &p in prices {
        if p.is_finite() && p > 0.0 {
            let p = f64::from(p);
            let mut i = n;
            while i > 0 && sorted[i - 1] > p {
                sorted[i] = sorted[i - 1];
                i -= 1;
            }
            sorted[i] = p;
            n += 1;
        }
    }
    match n {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some(0.5 * (sorted[n / 2 - 1] + sorted[n / 2])),
    }
}

fn bps_f64_to_wad(bps: f64) -> u64 {
    // 1 bp = 1e14 WAD; ≤ 200 bps = 2e16 < u64::MAX.
    (bps.clamp(MIN_FEE_BPS as f64, MAX_FEE_BPS as f64) * 1e14) as u64
}

amm_strategy_sdk::export_strategy!(CompetitorMatch);

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::abi::NANO;
    use amm_strategy_sdk::math;

    /// A trade leaving this pool at price 100, with competitors at `competitors`.
    fn trade(flow: f32, competitors: &[f32]) -> AfterSwap {
        let mut competing_spot_prices = [f32::NAN; 8];
        competing_spot_prices[..competitors.len()].copy_from_slice(competitors);
        AfterSwap {
            side: Side::BuyX,
            input_amount: NANO,
            output_amount: NANO / 100,
            reserve_x: 100 * NANO,
            reserve_y: 10_000 * NANO,
            sim_step: 1,
            epoch_step: 1,
            epoch_number: 0,
            n_pools: 3,
            pool_index: 0,
            flow_captured: flow,
            capital_weight: 0.5,
            competing_spot_prices,
        }
    }

    fn fees_bps(storage: &Storage) -> (f64, f64) {
        let bps = |slot| storage.get(slot) as f64 / 1e14;
        (bps(BID_FEE_WAD), bps(ASK_FEE_WAD))
    }

    fn quote(storage: &Storage, side: Side) -> u64 {
        CompetitorMatch::compute_swap(&QuoteRequest {
            side,
            input_amount: NANO,
            reserve_x: 100 * NANO,
            reserve_y: 10_000 * NANO,
            storage,
        })
    }

    #[test]
    fn fresh_storage_quotes_30_bps() {
        let storage = Storage::zeroed();
        assert_eq!(quote(&storage, Side::BuyX), math::cp_output_fee_bps(NANO, 10_000 * NANO, 100 * NANO, 30));
        assert_eq!(quote(&storage, Side::SellX), math::cp_output_fee_bps(NANO, 100 * NANO, 10_000 * NANO, 30));
    }

    #[test]
    fn little_flow_lowers_the_fee_to_the_floor() {
        let mut storage = Storage::zeroed();
        CompetitorMatch::after_swap(&trade(0.05, &[100.0, 100.0]), &mut storage);
        let (bid, ask) = fees_bps(&storage);
        assert!(bid < 30.0 && ask < 30.0, "bid {bid} ask {ask}");
        for _ in 0..100 {
            CompetitorMatch::after_swap(&trade(0.05, &[100.0, 100.0]), &mut storage);
        }
        assert_eq!(fees_bps(&storage), (10.0, 10.0));
        assert!(quote(&storage, Side::BuyX) > quote(&Storage::zeroed(), Side::BuyX));
    }

    #[test]
    fn much_flow_raises_the_fee_to_the_cap() {
        let mut storage = Storage::zeroed();
        CompetitorMatch::after_swap(&trade(0.9, &[100.0, 100.0]), &mut storage);
        let (bid, ask) = fees_bps(&storage);
        assert!(bid > 30.0 && ask > 30.0, "bid {bid} ask {ask}");
        for _ in 0..200 {
            CompetitorMatch::after_swap(&trade(0.9, &[100.0, 100.0]), &mut storage);
        }
        assert_eq!(fees_bps(&storage), (200.0, 200.0));
        assert!(quote(&storage, Side::SellX) < quote(&Storage::zeroed(), Side::SellX));
    }

    #[test]
    fn fair_share_and_arbitrage_leave_the_fee_alone() {
        let mut storage = Storage::zeroed();
        for i in 0..20 {
            // An equal split of three pools, and arbitrage trades in between.
            let flow = if i % 2 == 0 { 0.0 } else { 1.0 / 3.0 };
            CompetitorMatch::after_swap(&trade(flow, &[100.0, 100.0]), &mut storage);
        }
        assert_eq!(fees_bps(&storage), (30.0, 30.0));
    }

    #[test]
    fn price_out_of_line_guards_the_arbitrage_side() {
        // Competitors' median is 99.5 (one stale outlier ignored): this pool at 100 is ~50 bps
        // dear, so selling X to it (the bid side) costs at least the gap.
        let mut storage = Storage::zeroed();
        CompetitorMatch::after_swap(&trade(0.3, &[99.5, 99.4, 150.0, 99.6, 10.0]), &mut storage);
        let (bid, ask) = fees_bps(&storage);
        assert!((bid - 50.25).abs() < 0.01, "bid {bid}");
        assert!((ask - 30.0).abs() < 1e-9, "ask {ask}");

        // Cheap here: the ask side is guarded instead.
        CompetitorMatch::after_swap(&trade(0.3, &[101.0, 101.0]), &mut storage);
        let (bid, ask) = fees_bps(&storage);
        assert!(ask > 98.0 && (bid - 30.0).abs() < 1e-9, "bid {bid} ask {ask}");
        assert!(quote(&storage, Side::BuyX) < quote(&Storage::zeroed(), Side::BuyX));
    }

    #[test]
    fn median_ignores_unused_slots_and_outliers() {
        let nan = f32::NAN;
        assert_eq!(median(&[nan; 8]), None);
        assert_eq!(median(&[3.0, nan, 1.0, 1000.0, 2.0, nan, nan, nan]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0, nan, -1.0, nan, f32::INFINITY, nan]), Some(3.0));
    }
}
