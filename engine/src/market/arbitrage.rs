//! The arbitrageur: trades each pool toward the fair price when that pays at least
//! `min_arb_profit`.
//!
//! For one side, with the pool's curve `f` (output for input) and `λ` the input's price in
//! output units (`1/P` when buying X with Y, `P` when selling X for Y), the profit in output
//! units is the surplus `f(x) − λ·x`: concave, zero at zero. Three facts keep this cheap:
//!
//! * **Exact pruning.** Let `δ` be an input worth exactly `min_arb_profit`. If the surplus at
//!   `δ` is not positive, no trade pays: concavity makes every larger input worse, and any
//!   smaller one returns less than `δ` is worth. Most steps cost one quote per side.
//! * **Closed form.** For a constant-product model `b·x/(a+x)` the optimum is `√(ab/λ) − a`.
//!   The normalizer is such a pool exactly; a strategy pool gets a model from its pruning quote
//!   and the reserves, and a second quote at the model's optimum confirms it.
//! * **A certificate** when the model does not fit (see [`super::curve`]): refine until the
//!   concavity upper bound is within tolerance of the best surplus found.
//!
//! The trade executes at the quote it was chosen on; nothing is re-quoted.

use super::curve::{Curve, Fit, Samples, refit};

/// Most quotes one side's search may spend after pruning.
const MAX_ROUNDS: usize = 60;

/// The chosen trade on one side of one pool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArbTrade {
    /// Input the arbitrageur pays, nano units of the input token.
    pub input: u64,
    /// Output the pool gives, nano units of the output token.
    pub output: u64,
    /// Surplus `output − λ·input`, in output nano units.
    pub surplus: f64,
}

/// Searches one side of one pool: the surplus-maximising input, if any input has surplus
/// worth at least `min_surplus`. `delta` is the pruning input (worth `min_surplus`).
pub fn best_trade<C: Curve>(curve: &mut C, lambda: f64, delta: u64, min_surplus: f64, samples: &mut Samples) -> Search {
    samples.clear();
    let reserve_out = curve.reserve_out() as f64;
    let x_max = (reserve_out / lambda).min(u64::MAX as f64 / 4.0);
    let delta = delta.max(1);
    if (delta as f64) >= x_max {
        return Search::default();
    }
    let faulted = Search { trade: None, faulted: true };
    let surplus_at = |x: u64, y: u64| y as f64 - lambda * x as f64;
    // A model confirmed for this very pool state decides without the pruning quote when the
    // decision is clear of rounding, and names the optimum, quoted once to trade at.
    if let Some(known) = curve.known_fit() {
        let predicted = known.model.output(delta as f64) - lambda * delta as f64;
        let margin = known.tolerance(delta);
        if predicted + margin <= 0.0 {
            return Search::default();
        }
        if predicted - margin > 0.0 {
            let x = known.model.demand(lambda).clamp(delta as f64, x_max).round() as u64;
            let Some(y) = curve.quote(x) else { return faulted };
            samples.insert(x, y);
            if known.holds(x, y) {
                let trade = ArbTrade { input: x, output: y, surplus: surplus_at(x, y) };
                return Search { trade: (trade.surplus >= min_surplus).then_some(trade), faulted: false };
            }
            // The model failed (it cannot, for a pure strategy): search as if it never was.
        }
    }
    let Some(y_delta) = curve.quote(delta) else { return faulted };
    samples.insert(delta, y_delta);
    if surplus_at(delta, y_delta) <= 0.0 {
        return Search::default();
    }
    let mut best = ArbTrade { input: delta, output: y_delta, surplus: surplus_at(delta, y_delta) };

    let exact = curve.exact_model();
    let mut fit = exact.map(Fit::exact).or_else(|| Fit::one((delta, y_delta), reserve_out));
    let mut previous = delta;
    for _ in 0..MAX_ROUNDS {
        let target = match fit {
            Some(f) => f.model.demand(lambda),
            None => samples.envelope_max(lambda, x_max).1,
        };
        let mut x = target.clamp(delta as f64, x_max).round() as u64;
        if samples.get(x).is_some() {
            // The model points at a known sample: sample where the bound is loosest instead.
            x = samples.envelope_max(lambda, x_max).1.round() as u64;
            if x == 0 || samples.get(x).is_some() {
                break;
            }
        }
        let Some(y) = curve.quote(x) else { return faulted };
        samples.insert(x, y);
        if surplus_at(x, y) > best.surplus {
            best = ArbTrade { input: x, output: y, surplus: surplus_at(x, y) };
        }
        if exact.is_some() {
            break;
        }
        if let Some(f) = fit
            && f.predicts(x, y)
        {
            curve.remember_fit(f);
            break; // the model is right: its optimum is the optimum
        }
        let stable = fit.is_some_and(|f| f.is_secant() && f.points.contains(&previous))
            && x.abs_diff(previous) <= (x / 1_000_000_000).max(1);
        let (bound, _) = samples.envelope_max(lambda, x_max);
        if stable || bound - best.surplus <= (1e-7 * best.surplus).max(1.0) {
            break;
        }
        previous = x;
        // Refit near the best point: through it alone first (precise, assumes the reserve),
        // then through the samples on either side of it.
        fit = match fit {
            Some(f) if f.points == [delta, 0] => Fit::one((best.input, best.output), reserve_out),
            _ => None,
        }
        .or_else(|| refit(samples, x, lambda, reserve_out * 1e3, x_max));
    }
    let trade = (best.surplus >= min_surplus).then_some(best);
    Search { trade, faulted: false }
}

/// Result of [`best_trade`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Search {
    /// The trade, if one pays.
    pub trade: Option<ArbTrade>,
    /// A quote faulted during the search (the pool offers nothing this step).
    pub faulted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::math::cp_output_fee_bps;

    use crate::market::curve::testing::TestCurve;

    fn brute_force(f: &mut dyn FnMut(u64) -> u64, lambda: f64, x_max: u64) -> f64 {
        // Dense geometric grid, then a fine linear scan around the best grid point.
        let mut best = (0.0, 0u64);
        let mut x = 1.0f64;
        while x < x_max as f64 {
            let xi = x as u64;
            let s = f(xi) as f64 - lambda * xi as f64;
            if s > best.0 {
                best = (s, xi);
            }
            x *= 1.001;
        }
        let (lo, hi) = ((best.1 as f64 * 0.998) as u64, (best.1 as f64 * 1.002) as u64);
        let step = ((hi - lo) / 20_000).max(1);
        let mut xi = lo;
        while xi <= hi {
            let s = f(xi) as f64 - lambda * xi as f64;
            best.0 = f64::max(best.0, s);
            xi += step;
        }
        best.0
    }

    #[test]
    fn constant_product_arbitrage_matches_brute_force_in_two_quotes() {
        let nano = 1_000_000_000u64;
        let (rx, ry) = (100 * nano, 10_000 * nano);
        for (fair_price, fee) in [(103.0, 30u64), (97.0, 30), (120.0, 100), (100.2, 0), (150.0, 500)] {
            // Buy X with Y: λ = 1/P; surplus in X.
            let f = move |y: u64| cp_output_fee_bps(y, ry, rx, fee);
            let lambda = 1.0 / fair_price;
            let delta = (0.01 * nano as f64) as u64;
            let mut curve = TestCurve::new(f, rx);
            let mut samples = Samples::default();
            let search = best_trade(&mut curve, lambda, delta, 0.0, &mut samples);
            let brute = brute_force(&mut { f }, lambda, (rx as f64 / lambda) as u64);
            if fair_price > 100.0 * 1.0 / (1.0 - fee as f64 / 1e4) {
                let trade = search.trade.expect("profitable");
                assert!(trade.surplus >= brute * (1.0 - 1e-6) - 10.0, "P={fair_price}: {} vs {brute}", trade.surplus);
                assert!(curve.quotes <= 3, "P={fair_price}: {} quotes", curve.quotes);
            } else {
                assert_eq!(search.trade, None, "P={fair_price}");
                assert_eq!(curve.quotes, 1, "pruned with one quote");
            }
        }
    }

    #[test]
    fn a_remembered_model_saves_the_quotes_a_search_does_not_need() {
        let nano = 1_000_000_000u64;
        let (rx, ry) = (100 * nano, 10_000 * nano);
        let f = move |y: u64| cp_output_fee_bps(y, ry, rx, 30);
        let mut curve = TestCurve::new(f, rx);
        let mut samples = Samples::default();
        let delta = nano / 100;
        // A profitable search confirms and remembers the model...
        let first = best_trade(&mut curve, 1.0 / 103.0, delta, 0.0, &mut samples).trade.unwrap();
        assert!(curve.known.is_some(), "confirmed models are remembered");
        // ...so the same state needs one quote to trade (at the optimum) and none to prune.
        curve.quotes = 0;
        let again = best_trade(&mut curve, 1.0 / 103.0, delta, 0.0, &mut samples).trade.unwrap();
        assert_eq!((curve.quotes, again), (1, first));
        curve.quotes = 0;
        assert_eq!(best_trade(&mut curve, 1.0 / 99.0, delta, 0.0, &mut samples).trade, None);
        assert_eq!(curve.quotes, 0, "pruned from the model alone");
    }

    #[test]
    fn non_constant_product_curves_match_brute_force() {
        let nano = 1_000_000_000u64;
        type Named = (&'static str, Box<dyn Fn(u64) -> u64>);
        let curves: Vec<Named> = vec![
            ("sqrt", Box::new(|x: u64| (3.0e4 * (x as f64).sqrt()) as u64)),
            ("log", Box::new(|x: u64| (5e9 * (1.0 + x as f64 / 1e11).ln()) as u64)),
            ("capped linear", Box::new(move |x: u64| (0.012 * x as f64).min(40.0 * nano as f64) as u64)),
            ("virtual reserves", Box::new(move |x: u64| cp_output_fee_bps(x, 29_400 * nano, 300 * nano, 5))),
            (
                "two-tier",
                Box::new(|x: u64| {
                    let x = x as f64;
                    (if x < 2e12 { 0.011 * x } else { 0.011 * 2e12 + 0.009 * (x - 2e12) }).min(9e10) as u64
                }),
            ),
        ];
        for (name, f) in curves {
            let f: std::rc::Rc<dyn Fn(u64) -> u64> = f.into();
            let g = f.clone();
            let lambda = 1.0 / 100.0;
            let reserve_out = 100 * nano;
            let mut curve = TestCurve::new(move |x| g(x), reserve_out);
            let mut samples = Samples::default();
            let search = best_trade(&mut curve, lambda, 10_000_000, 0.0, &mut samples);
            let brute = brute_force(
                &mut |x| if f(x) >= reserve_out { 0 } else { f(x) },
                lambda,
                (reserve_out as f64 / lambda) as u64,
            );
            let trade = search.trade.unwrap_or_else(|| panic!("{name}: no trade"));
            assert!(
                trade.surplus >= brute * (1.0 - 1e-6) - 2.0,
                "{name}: surplus {} vs brute force {brute} ({} quotes)",
                trade.surplus,
                curve.quotes
            );
            assert!(curve.quotes as usize <= MAX_ROUNDS + 1, "{name}: {} quotes", curve.quotes);
        }
    }
}
