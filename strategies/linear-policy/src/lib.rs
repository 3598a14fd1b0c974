//! A learned fee policy: the template for authors who want to learn a policy rather than
//! hand-write rules.
//!
//! The reference challenge states its problem as an MDP — state: a volatility estimate, the
//! flow captured, the capital weight, the step within the epoch, the number of strategies;
//! action: the bid and ask fees; reward: epoch edge − λ·max(0, −epoch edge). This strategy is a
//! policy for it: each fee is a linear function of the state's features,
//!
//! ```text
//! fee_bps = clamp(w · φ(state), MIN_FEE_BPS, MAX_FEE_BPS)
//! φ = [1, vol / 0.001, flow, weight · n, epoch_step / 1000, 1 / n, 100 · deviation]
//! ```
//!
//! with one weight vector for the bid (the pool buys X) and one for the ask. The fourteen
//! weights are declared parameters (`amm.params`), so `amm-engine tune` learns them by policy
//! search with CMA-ES — an evolution strategy, no gradients — under common random numbers:
//!
//! ```sh
//! amm-engine tune strategies/linear-policy configs/default.toml --objective reward
//! ```
//!
//! Features, computed in storage by the hooks:
//! * `vol`: EMA (α = 0.1) of |ln(p_t / p_{t−1})| of this pool's spot price between trades;
//! * `flow`: EMA (α = 0.1) of this pool's share of each retail order (`flow_captured`);
//! * `weight · n`: capital weight times the number of strategies (1 = an equal share);
//! * `epoch_step / 1000`: progress through the epoch (the default epoch is 1,000 steps);
//! * `1 / n`: one over the number of strategies;
//! * `deviation`: (this price − mean of the others) / mean of the others, positive when X is
//!   dearer here (arbitrageurs would sell X to this pool).
//!
//! The weights ship at their starting point (a fixed 30 bps pool: bias 30, every other weight
//! 0) until a study has trained them. To learn a different policy, change φ (keep it O(1) in
//! scale), declare its weights the same way, and tune.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::math;
use amm_strategy_sdk::params::Param;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Slot, Storage, Strategy};

/// Fee (WAD) charged when the pool buys X (the trader sells X).
pub const BID_FEE_WAD: Slot<u64> = Slot::new(0);
/// Fee (WAD) charged when the pool sells X (the trader buys X).
pub const ASK_FEE_WAD: Slot<u64> = Slot::new(1);
/// EMA of |ln(price change)| between trades.
pub const VOL: Slot<f64> = Slot::new(2);
/// Spot price after the last trade.
pub const LAST_PRICE: Slot<f64> = Slot::new(3);
/// EMA of the flow captured.
pub const FLOW: Slot<f64> = Slot::new(4);

/// Number of features in φ.
pub const FEATURES: usize = 7;
/// Smallest fee, bps.
pub const MIN_FEE_BPS: f64 = 0.5;
/// Largest fee, bps.
pub const MAX_FEE_BPS: f64 = 1_000.0;
const ALPHA: f64 = 0.1;

macro_rules! weights {
    ($($name:ident = $key:literal @ $slot:literal : $default:literal in $lo:literal .. $hi:literal;)*) => {
        $(
            #[doc = concat!("Policy weight `", $key, "` (bps per unit of its feature).")]
            pub const $name: Param<f64> = Param::<f64>::new($key, $slot, $default, $lo, $hi);
        )*
    };
}

weights! {
    BID_BIAS = "bid_bias" @ 16: 30.0 in 0.0 .. 300.0;
    BID_VOL = "bid_vol" @ 17: 0.0 in -100.0 .. 100.0;
    BID_FLOW = "bid_flow" @ 18: 0.0 in -100.0 .. 100.0;
    BID_WEIGHT = "bid_weight" @ 19: 0.0 in -100.0 .. 100.0;
    BID_EPOCH = "bid_epoch" @ 20: 0.0 in -100.0 .. 100.0;
    BID_FIELD = "bid_field" @ 21: 0.0 in -100.0 .. 100.0;
    BID_DEVIATION = "bid_deviation" @ 22: 0.0 in -100.0 .. 100.0;
    ASK_BIAS = "ask_bias" @ 23: 30.0 in 0.0 .. 300.0;
    ASK_VOL = "ask_vol" @ 24: 0.0 in -100.0 .. 100.0;
    ASK_FLOW = "ask_flow" @ 25: 0.0 in -100.0 .. 100.0;
    ASK_WEIGHT = "ask_weight" @ 26: 0.0 in -100.0 .. 100.0;
    ASK_EPOCH = "ask_epoch" @ 27: 0.0 in -100.0 .. 100.0;
    ASK_FIELD = "ask_field" @ 28: 0.0 in -100.0 .. 100.0;
    ASK_DEVIATION = "ask_deviation" @ 29: 0.0 in -100.0 .. 100.0;
}

amm_strategy_sdk::export_params!(
    BID_BIAS,
    BID_VOL,
    BID_FLOW,
    BID_WEIGHT,
    BID_EPOCH,
    BID_FIELD,
    BID_DEVIATION,
    ASK_BIAS,
    ASK_VOL,
    ASK_FLOW,
    ASK_WEIGHT,
    ASK_EPOCH,
    ASK_FIELD,
    ASK_DEVIATION,
);

const BID: [Param<f64>; FEATURES] = [BID_BIAS, BID_VOL, BID_FLOW, BID_WEIGHT, BID_EPOCH, BID_FIELD, BID_DEVIATION];
const ASK: [Param<f64>; FEATURES] = [ASK_BIAS, ASK_VOL, ASK_FLOW, ASK_WEIGHT, ASK_EPOCH, ASK_FIELD, ASK_DEVIATION];

/// The linear policy.
pub struct LinearPolicy;

impl Strategy for LinearPolicy {
    const NAME: &'static str = "Linear Policy";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let slot = match quote.side {
            Side::BuyX => ASK_FEE_WAD,
            Side::SellX => BID_FEE_WAD,
        };
        let fee_wad = match quote.storage.get(slot) {
            // Before the first trade: the policy at the neutral state (only the bias).
            0 => {
                let head = if quote.side == Side::BuyX { &ASK } else { &BID };
                wad(head[0].get(quote.storage).clamp(MIN_FEE_BPS, MAX_FEE_BPS))
            }
            fee => fee,
        };
        quote.cp_output_fee_wad(u128::from(fee_wad))
    }

    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        let price = trade.spot_price();
        let last = storage.get(LAST_PRICE);
        if last > 0.0 && price > 0.0 {
            let change = math::ln(price / last).abs();
            let vol = storage.get(VOL);
            storage.set(VOL, vol + ALPHA * (change - vol));
        }
        storage.set(LAST_PRICE, price);
        if !trade.is_arbitrage() {
            let flow = storage.get(FLOW);
            storage.set(FLOW, flow + ALPHA * (f64::from(trade.flow_captured) - flow));
        }
        let (mut sum, mut count) = (0.0, 0.0);
        for p in trade.competitors() {
            sum += f64::from(p);
            count += 1.0;
        }
        let deviation = if count > 0.0 && sum > 0.0 { (price - sum / count) / (sum / count) } else { 0.0 };
        let n = f64::from(trade.n_pools.saturating_sub(1).max(1));
        let phi = [
            1.0,
            storage.get(VOL) / 0.001,
            storage.get(FLOW),
            f64::from(trade.capital_weight) * n,
            f64::from(trade.epoch_step) / 1_000.0,
            1.0 / n,
            100.0 * deviation,
        ];
        storage.set(BID_FEE_WAD, wad(policy(&BID, &phi, storage)));
        storage.set(ASK_FEE_WAD, wad(policy(&ASK, &phi, storage)));
    }

    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        // Rebalancing scales both reserves and keeps the price.
        storage.set(LAST_PRICE, epoch.spot_price());
    }
}

/// `w · φ`, clamped to the fee range, bps.
fn policy(head: &[Param<f64>; FEATURES], phi: &[f64; FEATURES], storage: &Storage) -> f64 {
    let fee: f64 = head.iter().zip(phi).map(|(w, x)| w.get(storage) * x).sum();
    if fee.is_finite() { fee.clamp(MIN_FEE_BPS, MAX_FEE_BPS) } else { MAX_FEE_BPS }
}

/// bps as a WAD fraction (≤ 1,000 bps = 1e17 < u64::MAX).
fn wad(bps: f64) -> u64 {
    math::fraction_to_wad(bps / 10_000.0) as u64
}

amm_strategy_sdk::export_strategy!(LinearPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::abi::NANO;

    fn fresh() -> Storage {
        let mut storage = Storage::zeroed();
        amm_strategy_sdk::params::write_defaults(PARAMS, &mut storage);
        storage
    }

    fn trade(price: f64, flow: f32) -> AfterSwap {
        AfterSwap {
            side: Side::BuyX,
            input_amount: NANO,
            output_amount: NANO / 100,
            reserve_x: 100 * NANO,
            reserve_y: (price * 100.0 * NANO as f64) as u64,
            sim_step: 1,
            epoch_step: 500,
            epoch_number: 0,
            n_pools: 3,
            pool_index: 0,
            flow_captured: flow,
            capital_weight: 0.5,
            competing_spot_prices: [f32::NAN; 8],
        }
    }

    #[test]
    fn the_default_weights_are_a_fixed_30_bps_pool() {
        let mut storage = fresh();
        for i in 0..20 {
            LinearPolicy::after_swap(&trade(100.0 + (i % 3) as f64, 0.4), &mut storage);
        }
        assert_eq!(storage.get(BID_FEE_WAD), wad(30.0));
        assert_eq!(storage.get(ASK_FEE_WAD), wad(30.0));
    }

    #[test]
    fn each_weight_moves_its_fee_with_its_feature() {
        let mut storage = fresh();
        amm_strategy_sdk::params::write_value(&BID_VOL.decl(), 50.0, &mut storage);
        amm_strategy_sdk::params::write_value(&ASK_EPOCH.decl(), -20.0, &mut storage);
        LinearPolicy::after_swap(&trade(100.0, 0.4), &mut storage);
        LinearPolicy::after_swap(&trade(102.0, 0.4), &mut storage);
        let vol = storage.get(VOL);
        assert!(vol > 0.0);
        let bid = 30.0 + 50.0 * vol / 0.001;
        assert_eq!(storage.get(BID_FEE_WAD), wad(bid.clamp(MIN_FEE_BPS, MAX_FEE_BPS)));
        assert_eq!(storage.get(ASK_FEE_WAD), wad(30.0 - 20.0 * 0.5));
    }
}
