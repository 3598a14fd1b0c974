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
//! φ = [rule, 1, vol / 0.001, flow, weight · n, epoch_step / 1000, 100 · deviation]
//! ```
//!
//! with one weight vector for the bid (the pool buys X) and one for the ask. The fourteen
//! weights are declared parameters (`amm.params`), so `amm-engine tune` learns them by policy
//! search with CMA-ES — an evolution strategy, no gradients — under common random numbers:
//!
//! ```sh
//! amm-engine tune strategies/linear-policy configs/default.toml
//! ```
//!
//! **A residual policy.** The first feature, `rule`, is the fee of a hand-written rule (the
//! starter's, at its tuned values, for the same side): with weight 1 on it and 0 elsewhere the
//! policy *is* that rule, quote for quote, and the search learns corrections to it. Learning a
//! residual over a good controller rather than a policy from nothing is residual policy
//! learning (Silver et al. 2018, "Residual Policy Learning"; Johannink et al. 2019, "Residual
//! Reinforcement Learning for Robot Control"): the search starts where the rule is and can only
//! be kept if it does better on held-out seeds. Set `bid_rule = ask_rule = 0` to learn a plain
//! linear policy from the other features.
//!
//! Features, computed in storage by the hooks:
//! * `rule`: the starter's fee for this side (volatility × flow × capital factors, skewed by the
//!   price deviation, clamped), from its own EMAs at the starter's tuned rates;
//! * `vol`: that EMA of |ln(p_t / p_{t−1})| of this pool's spot price between trades;
//! * `flow`: that EMA of this pool's share of each retail order (`flow_captured`);
//! * `weight · n`: capital weight times the number of strategies (1 = an equal share);
//! * `epoch_step / 1000`: progress through the epoch (the default epoch is 1,000 steps);
//! * `deviation`: (this price − mean of the others) / mean of the others, positive when X is
//!   dearer here (arbitrageurs would sell X to this pool).
//!
//! The weights ship trained (`amm-engine tune` with the default market's fixed-fee field,
//! 24,000 simulations; BENCHMARKS.md, *Learned policy*): on 1,000 held-out seeds it is level with
//! the tuned starter it wraps (+2.9 ± 3.2 Y per simulation, paired) and beats every fixed-fee
//! example by 11 standard errors or more.
//!
//! To learn a different policy, change φ (keep each feature O(1) to O(100) in scale), declare
//! its weights the same way, and tune.
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
/// Most recent capital weight.
pub const CAPITAL_WEIGHT: Slot<f64> = Slot::new(5);

/// Number of features in φ.
pub const FEATURES: usize = 7;
/// Smallest fee, bps.
pub const MIN_FEE_BPS: f64 = 0.5;
/// Largest fee, bps.
pub const MAX_FEE_BPS: f64 = 1_000.0;

/// The rule feature: the starter's fee rule at its tuned values (`strategies/starter`, whose
/// defaults `amm-engine tune` chose). Plain constants here: the policy learns around them.
mod rule {
    pub const BASE_FEE_BPS: f64 = 1.02045;
    pub const VOL_TO_FEE_BPS: f64 = 6234.3;
    pub const VOL_ALPHA: f64 = 0.257133;
    pub const FLOW_ALPHA: f64 = 0.139077;
    pub const LOW_FLOW_FACTOR: f64 = 0.8843;
    pub const HIGH_FLOW_FACTOR: f64 = 1.44501;
    pub const UNDERWEIGHT_FACTOR: f64 = 1.07729;
    pub const SKEW_GAIN: f64 = 139.328;
    pub const SKEW_CAP: f64 = 0.595133;
    pub const MIN_FEE_BPS: f64 = 19.5052;
    pub const MAX_FEE_BPS: f64 = 192.506;
}

macro_rules! weights {
    ($($name:ident = $key:literal @ $slot:literal : $default:literal in $lo:literal .. $hi:literal;)*) => {
        $(
            #[doc = concat!("Policy weight `", $key, "` (bps per unit of its feature).")]
            pub const $name: Param<f64> = Param::<f64>::new($key, $slot, $default, $lo, $hi);
        )*
    };
}

weights! {
    BID_RULE = "bid_rule" @ 16: 1.1953059685267424 in 0.0 .. 3.0;
    BID_BIAS = "bid_bias" @ 17: 53.30287131269543 in -100.0 .. 100.0;
    BID_VOL = "bid_vol" @ 18: -10.288183612209096 in -100.0 .. 100.0;
    BID_FLOW = "bid_flow" @ 19: -6.224847169447045 in -100.0 .. 100.0;
    BID_WEIGHT = "bid_weight" @ 20: -2.520590707491394 in -100.0 .. 100.0;
    BID_EPOCH = "bid_epoch" @ 21: -13.395769321790183 in -100.0 .. 100.0;
    BID_DEVIATION = "bid_deviation" @ 22: 1.4142875098819445 in -100.0 .. 100.0;
    ASK_RULE = "ask_rule" @ 23: 0.6126053063492536 in 0.0 .. 3.0;
    ASK_BIAS = "ask_bias" @ 24: -17.066030805824056 in -100.0 .. 100.0;
    ASK_VOL = "ask_vol" @ 25: -28.278716044002635 in -100.0 .. 100.0;
    ASK_FLOW = "ask_flow" @ 26: 17.428999808170346 in -100.0 .. 100.0;
    ASK_WEIGHT = "ask_weight" @ 27: 0.612197553613882 in -100.0 .. 100.0;
    ASK_EPOCH = "ask_epoch" @ 28: -20.666342659290592 in -100.0 .. 100.0;
    ASK_DEVIATION = "ask_deviation" @ 29: 47.30056777989685 in -100.0 .. 100.0;
}

amm_strategy_sdk::export_params!(
    BID_RULE,
    BID_BIAS,
    BID_VOL,
    BID_FLOW,
    BID_WEIGHT,
    BID_EPOCH,
    BID_DEVIATION,
    ASK_RULE,
    ASK_BIAS,
    ASK_VOL,
    ASK_FLOW,
    ASK_WEIGHT,
    ASK_EPOCH,
    ASK_DEVIATION,
);

const BID: [Param<f64>; FEATURES] = [BID_RULE, BID_BIAS, BID_VOL, BID_FLOW, BID_WEIGHT, BID_EPOCH, BID_DEVIATION];
const ASK: [Param<f64>; FEATURES] = [ASK_RULE, ASK_BIAS, ASK_VOL, ASK_FLOW, ASK_WEIGHT, ASK_EPOCH, ASK_DEVIATION];

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
            // Before the first trade: the policy at the neutral state (the rule's base fee).
            0 => {
                let head = if quote.side == Side::BuyX { &ASK } else { &BID };
                let mut phi = [0.0; FEATURES];
                (phi[0], phi[1]) = (rule::BASE_FEE_BPS, 1.0);
                wad(policy(head, &phi, quote.storage))
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
            storage.set(VOL, vol + rule::VOL_ALPHA * (change - vol));
        }
        storage.set(LAST_PRICE, price);
        if !trade.is_arbitrage() {
            let flow = storage.get(FLOW);
            storage.set(FLOW, flow + rule::FLOW_ALPHA * (f64::from(trade.flow_captured) - flow));
        }
        storage.set(CAPITAL_WEIGHT, f64::from(trade.capital_weight));
        let (mut sum, mut count) = (0.0, 0.0);
        for p in trade.competitors() {
            sum += f64::from(p);
            count += 1.0;
        }
        let reference = if count > 0.0 { sum / count } else { price };
        let deviation = if reference > 0.0 { (price - reference) / reference } else { 0.0 };
        let n = trade.n_pools.saturating_sub(1).max(1);
        let (rule_bid, rule_ask) = rule_fees(storage, deviation, n);
        let mut phi = [
            rule_bid,
            1.0,
            storage.get(VOL) / 0.001,
            storage.get(FLOW),
            f64::from(trade.capital_weight) * f64::from(n),
            f64::from(trade.epoch_step) / 1_000.0,
            100.0 * deviation,
        ];
        storage.set(BID_FEE_WAD, wad(policy(&BID, &phi, storage)));
        phi[0] = rule_ask;
        storage.set(ASK_FEE_WAD, wad(policy(&ASK, &phi, storage)));
    }

    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        storage.set(CAPITAL_WEIGHT, f64::from(epoch.capital_weight));
        // Rebalancing scales both reserves and keeps the price.
        storage.set(LAST_PRICE, epoch.spot_price());
    }
}

/// The rule's bid and ask fees (bps) from the state in storage: the starter's rule.
fn rule_fees(storage: &Storage, deviation: f64, n_strategies: u8) -> (f64, f64) {
    let mut fee_bps = rule::BASE_FEE_BPS + rule::VOL_TO_FEE_BPS * storage.get(VOL);
    let flow = storage.get(FLOW);
    if flow < 0.15 {
        fee_bps *= rule::LOW_FLOW_FACTOR;
    } else if flow > 0.5 {
        fee_bps *= rule::HIGH_FLOW_FACTOR;
    }
    let weight = storage.get(CAPITAL_WEIGHT);
    if weight > 0.0 && weight < 1.0 / f64::from(n_strategies) {
        fee_bps *= rule::UNDERWEIGHT_FACTOR;
    }
    let skew = (deviation * rule::SKEW_GAIN).clamp(-rule::SKEW_CAP, rule::SKEW_CAP);
    let (lo, hi) = (rule::MIN_FEE_BPS, rule::MAX_FEE_BPS);
    ((fee_bps * (1.0 + skew)).clamp(lo, hi), (fee_bps * (1.0 - skew)).clamp(lo, hi))
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

    /// The rule alone: weight 1 on the rule feature, no corrections.
    fn rule_only() -> Storage {
        let mut storage = Storage::zeroed();
        amm_strategy_sdk::params::write_defaults(PARAMS, &mut storage);
        for head in [&BID, &ASK] {
            for (k, w) in head.iter().enumerate() {
                amm_strategy_sdk::params::write_value(&w.decl(), if k == 0 { 1.0 } else { 0.0 }, &mut storage);
            }
        }
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
    fn unit_rule_weight_and_no_corrections_are_the_rule() {
        let mut storage = rule_only();
        for i in 0..20 {
            LinearPolicy::after_swap(&trade(100.0 + (i % 3) as f64, 0.4), &mut storage);
        }
        let (bid, ask) = rule_fees(&storage, 0.0, 2);
        assert!(storage.get(VOL) > 0.0 && bid > rule::MIN_FEE_BPS, "the rule is above its floor here: {bid}");
        assert_eq!(storage.get(BID_FEE_WAD), wad(bid));
        assert_eq!(storage.get(ASK_FEE_WAD), wad(ask));
    }

    #[test]
    fn each_weight_moves_its_fee_with_its_feature() {
        let mut storage = rule_only();
        amm_strategy_sdk::params::write_value(&BID_VOL.decl(), 50.0, &mut storage);
        amm_strategy_sdk::params::write_value(&ASK_EPOCH.decl(), -20.0, &mut storage);
        amm_strategy_sdk::params::write_value(&ASK_RULE.decl(), 0.5, &mut storage);
        LinearPolicy::after_swap(&trade(100.0, 0.4), &mut storage);
        LinearPolicy::after_swap(&trade(102.0, 0.4), &mut storage);
        let vol = storage.get(VOL);
        assert!(vol > 0.0);
        let (rule_bid, rule_ask) = rule_fees(&storage, 0.0, 2);
        let bid = rule_bid + 50.0 * vol / 0.001;
        assert_eq!(storage.get(BID_FEE_WAD), wad(bid.clamp(MIN_FEE_BPS, MAX_FEE_BPS)));
        assert_eq!(storage.get(ASK_FEE_WAD), wad((0.5 * rule_ask - 20.0 * 0.5).clamp(MIN_FEE_BPS, MAX_FEE_BPS)));
    }
}
