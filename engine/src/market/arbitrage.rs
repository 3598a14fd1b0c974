//! The arbitrageur: trades each pool toward the fair price when that pays at least
//! `min_arb_profit`.
//!
//! For one side, with the pool's curve `f` (output for input) and `λ` the input's price in
//! output units (`1/P` when buying X with Y, `P` when selling X for Y), the profit in output
//! units is the surplus `f(x) − λ·x`: concave, zero at zero. Three facts keep this cheap:
//!
//! * **Exact pruning.** Let `δ` be an input worth exactly `min_arb_profit`, and `d ≤ δ` the
//!   pruning input (the caller may draw it at random). If the curve's surplus at `d` is not
//!   positive, no trade pays: concavity makes every larger input worse, and any smaller one
//!   returns less than `δ` is worth. Quotes are integers, so the quote at `d` must show this
//!   with a margin of one output unit plus two input units at the price `λ`; a quote too small
//!   to decide (a floor near the rounding) leads to a search, never to a wrong prune. Most
//!   steps cost one quote per side.
//! * **Closed form.** For a constant-product model `b·x/(a+x)` the optimum is `√(ab/λ) − a`.
//!   The normalizer is such a pool exactly; a strategy pool gets a model from its pruning quote
//!   (or a larger probe, when that quote has too few output units) and the reserves, and a
//!   second quote at the model's optimum confirms it — if it also shows the model's curvature
//!   beyond rounding, since a straight stretch would "confirm" any model nearby.
//! * **A line search with a certificate** when the model does not fit (`market::line`, the
//!   search the router uses for one pool beside the normalizer): the concavity bound around
//!   the best sample (each sample allowed its rounding; O(1) closed forms per quote) says when
//!   the best surplus found is within tolerance of the best any input earns, or that none
//!   reaches the floor; Brent's steps (a parabola through the bracket, the constant-product
//!   model, the bound's peak, the golden section) say where to quote next.
//!
//! The trade executes at the quote it was chosen on; nothing is re-quoted.

use super::curve::{CpModel, Curve, Fit, Samples, rounding_error};
use super::line::{Price, Step, bracket_bound, kink_beside, reach};

/// Most search rounds of one side after pruning (the quote budget usually ends it first).
const MAX_ROUNDS: usize = 60;

/// Most quotes the arbitrageur asks of one pool in one step, both sides together: a pruning
/// quote per side, the rest for the side that may trade (and the occasional cross-check of a
/// pruned side). A strategy is never asked more, and the engine's work per pool-step is
/// bounded with it, whatever the curve. Most steps need one quote per side.
pub const MAX_QUOTES_PER_POOL_STEP: u32 = 64;

/// Most quotes one side may spend when the other side needs its pruning quote.
pub const MAX_QUOTES_PER_SIDE: u32 = MAX_QUOTES_PER_POOL_STEP - 1;

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
/// worth at least `min_surplus` (output nano units).
///
/// `lambda` is the input's price in output units; `delta` the pruning input (input nano units),
/// any size up to `δ = min_surplus / lambda` (the caller may draw it at random so a strategy
/// cannot recognise it). Quotes are integers, so the contract holds up to rounding: with `e`
/// = one output unit plus one input unit's worth at the local slope ([`rounding_error`]),
///
/// * a pruned side (no trade, after one quote) has no input with surplus `≥ min_surplus` more
///   than `e` above the curve the quotes round (for curves rounded down, none at all);
/// * a trade's surplus is at least `min_surplus`, and within `8e` at the slope `lambda` (or
///   `1e-7` relative, or [`FLOOR_TOLERANCE`] of `min_surplus`, whichever is largest) of the
///   best any input earns.
///
/// When the pruning quote is too small to decide (the floor is near the rounding), the side is
/// searched rather than pruned, so a lower floor never means fewer trades.
///
/// At most `budget` quotes are asked (the engine's work per side is bounded whatever the
/// curve): when it runs out, the best trade quoted so far is the answer, and with no quote
/// left for the pruning quote the side does not trade.
pub fn best_trade<C: Curve>(
    curve: &mut C,
    lambda: f64,
    delta: u64,
    min_surplus: f64,
    samples: &mut Samples,
    budget: u32,
) -> Search {
    samples.clear();
    if budget == 0 {
        return Search::default();
    }
    let mut budgeted = Budgeted { curve, left: budget };
    let mut search = search_side(&mut budgeted, lambda, delta, min_surplus, samples);
    search.quotes = budget - budgeted.left;
    search
}

/// The side pruned by its model alone, with no quote and no search: what [`best_trade`]
/// returns for it, or `None` when the search must run.
///
/// [`best_trade`] consults first the model confirmed for this very pool state (`known`), then
/// the exact curve's (`exact`, the normalizer's), and prunes when the model's surplus at `delta`
/// plus its margins is not positive. Concavity bounds the model's output by its initial slope,
/// `f(δ) ≤ f′(0)·δ = (b/a)·δ`, and its slope at `δ` by `f′(0)`, so the same test with those
/// upper bounds (multiplied through by `a`: no division, and a `10⁻⁹` relative margin for the
/// floats) prunes only what the search would prune, with the same [`Search`]. When that bound
/// is too loose (a side at the edge of its no-trade band, where arbitrage leaves a pool), the
/// search's own test runs here on the model's value at `delta`. Most pool-sides of a
/// constant-product market sit inside the fee's no-trade band and end here, for a few
/// multiplications instead of the search's set-up (the engine's arbitrage cost per pool-side
/// was ~25 ns against a closed form's ~4).
///
/// `lambda` and `delta` as for [`best_trade`]; `reserve_out` the pool's output reserve (nano
/// units); `budget` the quotes [`best_trade`] would be allowed.
pub fn pruned_by_model(
    known: Option<&Fit>,
    exact: Option<CpModel>,
    lambda: f64,
    delta: u64,
    reserve_out: u64,
    budget: u32,
) -> Option<Search> {
    // Inside [`search_side`]'s range (an input the reserve can pay for), with room for rounding.
    let d = delta.max(1) as f64;
    let worth = lambda * d;
    // (A NaN price or worth fails `is_finite` or the comparison and leaves it to the search.)
    if budget == 0 || !worth.is_finite() || worth >= 0.5 * reserve_out as f64 || delta >= 1 << 60 {
        return None;
    }
    let (model, slack, constant, pruned_at_probe) = slope_test(known, exact)?;
    let margin = constant + rounding_error(lambda);
    let (a, b) = (model.a, model.b);
    if a.is_nan() || b.is_nan() || a <= 0.0 || b < 0.0 {
        return None;
    }
    // A confirmed model's tolerance also allows twice its slope at δ (at most 2b/a).
    let slope_term = if pruned_at_probe { 0.0 } else { 2.0 * b };
    let pruned = b * d * (1.0 + slack) + margin * a + slope_term <= worth * a * (1.0 - 1e-9);
    // Near the edge of the no-trade band the slope bound is too loose (a pool that arbitrage
    // just moved sits there): the search's own test on the model's value at δ, one division
    // more, still without setting a search up.
    let pruned = pruned
        || match (known, exact) {
            (Some(fit), _) => known_prunes(fit, lambda, delta.max(1)),
            (None, Some(model)) => exact_prunes(model, lambda, delta.max(1)),
            (None, None) => false,
        };
    pruned.then_some(Search { pruned_at_probe, ..Search::default() })
}

/// Whether a quote `(x, y)` already taken of this very pool state at a pruning probe prunes
/// the side again at `lambda`, as a fresh probe quote at `x` would (a quote is a pure function
/// of the state): `y − λ·x + rounding_error(λ) ≤ 0` — [`best_trade`]'s pruning test — with the
/// probe still within the input `delta` worth the floor at this price. By concavity no input
/// above `x` earns anything, and every input below it returns less than `λ·x ≤ λ·δ`, the floor.
///
/// A pool the market leaves alone keeps its state for many steps; without a confirmed model
/// (a side pruned at its probe confirms none) each of them cost a quote per side. `delta`: the
/// input worth the floor at this price (nano input units; the probe's bound, not the probe);
/// `reserve_out`: the side's output reserve (nano units) — a probe at or beyond `reserve_out/λ`
/// is outside [`best_trade`]'s range (it would not have been quoted), so it decides nothing.
#[inline]
pub fn pruned_by_sample((x, y): (u64, u64), lambda: f64, delta: f64, reserve_out: u64) -> bool {
    x >= 1
        && x as f64 <= delta
        && lambda * (x as f64) < reserve_out as f64
        && y as f64 - lambda * x as f64 + rounding_error(lambda) <= 0.0
}

/// The terms of [`pruned_by_model`]'s slope test for one side, shared with [`pruning_band`]:
/// the model, its relative slack, the margin's constant beside the quote's rounding, and
/// whether the side is pruned at its probe (the exact curve's), or `None` without a model.
///
/// A confirmed fit: `predicted + tolerance(δ) + rounding_error(λ) ≤ 0` ([`Fit::tolerance`]:
/// its constant 2 beside the rounding, its output term as the slack; its slope term, at most
/// `2b/a`, is the caller's). The exact curve: `output(δ)·(1 + EXACT_SLACK) − λδ +
/// rounding_error(λ) ≤ 0`.
fn slope_test(known: Option<&Fit>, exact: Option<CpModel>) -> Option<(CpModel, f64, f64, bool)> {
    match (known, exact) {
        (Some(fit), _) => Some((fit.model, 4.0 * fit.precision + 1e-9, 2.0, false)),
        (None, Some(model)) => Some((model, EXACT_SLACK, 0.0, true)),
        (None, None) => None,
    }
}

/// The fair prices `[lo, hi]` (Y per X) at which [`pruned_by_model`] prunes **both** sides of a
/// pool whatever its probes: over that band a pool-step's arbitrage is decided by comparing the
/// price with two numbers, until the pool's state (or a model of it) changes. A pool left alone
/// by the market — most pools of a constant-product market, most steps — then costs no test
/// per side at all.
///
/// `models`, in [`Side::BOTH`](amm_strategy_sdk::Side::BOTH)'s order: the confirmed fit for
/// the pool's state, else the exact curve's model (what [`pruned_by_model`] is given); `spot`:
/// the pool's spot price (Y per X); `min_profit`: the floor (nano Y); `fraction_min`: the
/// probe's random fraction is above this (the probe buying X is `⌊fraction·min_profit⌋` nano
/// Y, selling X `⌊fraction·min_profit / max(spot, price)⌋` nano X, at least 1);
/// `reserve_out`: each side's output reserve (nano units).
///
/// **Why it is the same decision.** Per side the slope test is `λ·(d·A − 2a) ≥ d·B + C` (with
/// `A = a(1 − 10⁻⁹)`, `B = b(1 + slack)`, `C` the margin's constant part and the slope term;
/// `λ = 1/P` buying X, `P` selling): buying X, `d` does not depend on the price and the bound
/// `(d·A − 2a)/(d·B + C)` on `P` grows with `d`, so the smallest probe decides; selling X, the
/// test's left side less its right grows with `d` once it holds, and within
/// `[spot/SPOT_WINDOW, spot·SPOT_WINDOW]` the probe is at least
/// `⌊fraction_min·min_profit/(spot·SPOT_WINDOW)⌋`. The band is shrunk by `10⁻¹²` so the
/// floating-point test (with its own `10⁻⁹` margin) holds strictly inside it. `None` when a side
/// has no model or the band is empty.
pub fn pruning_band(
    models: [(Option<&Fit>, Option<CpModel>); 2],
    spot: f64,
    min_profit: f64,
    fraction_min: f64,
    reserve_out: [u64; 2],
) -> Option<(f64, f64)> {
    if !(spot.is_finite() && spot > 0.0 && min_profit.is_finite() && min_profit >= 0.0) {
        return None;
    }
    // Per side: (A, B, C, 2a) of the slope test, as [`pruned_by_model`] sets them up.
    // (`rounding_error(λ) = 1 + 2λ`: its constant joins the margin's, its `2λ·a` is the `2a`.)
    let terms = |(known, exact): (Option<&Fit>, Option<CpModel>)| -> Option<(f64, f64, f64, f64)> {
        let (model, slack, constant, pruned_at_probe) = slope_test(known, exact)?;
        let (a, b) = (model.a, model.b);
        let (constant, slope_term) = (constant + 1.0, if pruned_at_probe { 0.0 } else { 2.0 * b });
        (a > 0.0 && b >= 0.0 && a.is_finite() && b.is_finite()).then_some((
            a * (1.0 - 1e-9),
            b * (1.0 + slack),
            constant * a + slope_term,
            2.0 * a,
        ))
    };
    let (buy, sell) = (terms(models[0])?, terms(models[1])?);
    let floor_probe = |x: f64| x.floor().max(1.0);
    // Buying X: P ≤ (d·A − 2a)/(d·B + C) at the smallest probe; P > 2·d_max/reserve_out keeps
    // its worth below half the reserve (the test's range).
    let (a_, b_, c_, two_a) = buy;
    let d = floor_probe(fraction_min * min_profit);
    if d * a_ <= two_a {
        return None;
    }
    let hi_buy = (d * a_ - two_a) / (d * b_ + c_);
    let lo_buy = 2.0 * floor_probe(min_profit) / reserve_out[0] as f64;
    // Selling X: P ≥ (d·B + C)/(d·A − 2a) at the smallest probe within the window; its worth is
    // at most max(min_profit, P).
    let (a_, b_, c_, two_a) = sell;
    let d = floor_probe(fraction_min * min_profit / (spot * SPOT_WINDOW));
    if d * a_ <= two_a || min_profit.max(spot * SPOT_WINDOW) >= 0.5 * reserve_out[1] as f64 {
        return None;
    }
    let lo_sell = (d * b_ + c_) / (d * a_ - two_a);
    let lo = lo_buy.max(lo_sell).max(spot / SPOT_WINDOW) * (1.0 + 1e-12);
    let hi = hi_buy.min(spot * SPOT_WINDOW) * (1.0 - 1e-12);
    (lo.is_finite() && hi.is_finite() && lo < hi).then_some((lo, hi))
}

/// The prices [`pruning_band`] considers, as a factor either side of the spot price: wide
/// enough for any no-trade band up to a 9 % fee, narrow enough that the selling probe (valued at
/// the higher of the spot and the fair price) stays within a tenth of its size at the spot.
pub const SPOT_WINDOW: f64 = 1.1;

/// A model confirmed for the pool's state at `delta` (which the caller keeps at least 1): its
/// predicted surplus, and the margin (its tolerance and a quote's rounding) either way of it.
#[inline]
fn known_surplus(known: &Fit, lambda: f64, delta: u64) -> (f64, f64) {
    let predicted = known.model.output(delta as f64) - lambda * delta as f64;
    (predicted, known.tolerance(delta) + rounding_error(lambda))
}

/// Whether a confirmed model prunes the side at `delta`: even its surplus plus the margin is
/// not positive ([`known_surplus`]).
#[inline]
fn known_prunes(known: &Fit, lambda: f64, delta: u64) -> bool {
    let (predicted, margin) = known_surplus(known, lambda, delta);
    predicted + margin <= 0.0
}

/// Whether an exact curve's model prunes the side at `delta` (at least 1) as its quote
/// would: the quote is the model's value rounded down (the input's fee first, then the
/// output), so a model that prunes with the quote's margin to spare decides without it.
#[inline]
fn exact_prunes(model: CpModel, lambda: f64, delta: u64) -> bool {
    model.output(delta as f64) * (1.0 + EXACT_SLACK) - lambda * delta as f64 + rounding_error(lambda) <= 0.0
}

fn search_side<C: Curve>(
    curve: &mut Budgeted<'_, C>,
    lambda: f64,
    delta: u64,
    min_surplus: f64,
    samples: &mut Samples,
) -> Search {
    let reserve_out = curve.reserve_out() as f64;
    let x_max = (reserve_out / lambda).min(u64::MAX as f64 / 4.0);
    let delta = delta.max(1);
    if (delta as f64) >= x_max {
        return Search::default();
    }
    let faulted = Search { trade: None, faulted: true, ..Search::default() };
    let surplus_at = |x: u64, y: u64| y as f64 - lambda * x as f64;
    let trade_at = |x: u64, y: u64| ArbTrade { input: x, output: y, surplus: surplus_at(x, y) };
    // A model confirmed for this very pool state decides without the pruning quote when the
    // decision is clear of rounding, and names the optimum, quoted once to trade at. (This
    // pruning test and the exact curve's below are [`pruned_by_model`]'s too.)
    if let Some(known) = curve.known_fit() {
        let (predicted, margin) = known_surplus(&known, lambda, delta);
        if predicted + margin <= 0.0 {
            return Search::default(); // as `known_prunes` decides it
        }
        if predicted - margin > 0.0 {
            let x = known.model.demand(lambda).clamp(delta as f64, x_max).round() as u64;
            let Some(y) = curve.quote(x) else { return faulted };
            samples.insert(x, y);
            if known.holds(x, y) || curve.left == 0 {
                let trade = trade_at(x, y);
                return Search { trade: (trade.surplus >= min_surplus).then_some(trade), ..Search::default() };
            }
            // The model failed (it cannot, for a pure strategy): search as if it never was.
        }
    }
    if curve.left == 0 {
        return Search::default();
    }
    let pruned = Search { pruned_at_probe: true, ..Search::default() };
    if let Some(model) = curve.exact_model()
        && exact_prunes(model, lambda, delta)
    {
        // Decided without the quote.
        return pruned;
    }
    let Some(y_delta) = curve.quote(delta) else { return faulted };
    samples.insert(delta, y_delta);
    // The quote may sit `err` below the curve it rounds. Prune only when even the curve's
    // highest value at δ earns nothing: by concavity nothing larger earns either, and anything
    // smaller returns less than δ is worth (monotonicity), so nothing reaches the floor.
    // (Were the curve above λ·δ at δ, concavity through the origin would keep it above
    // λ·(δ − 1) an input unit lower, so the rounded quote could fall short of λ·δ only by the
    // rounding at the slope λ.)
    if surplus_at(delta, y_delta) + rounding_error(lambda) <= 0.0 {
        return pruned;
    }
    let mut best = trade_at(delta, y_delta);

    let exact = curve.exact_model();
    let mut fit = exact.map(Fit::exact).or_else(|| Fit::one((delta, y_delta), reserve_out));
    if exact.is_none() && fit.is_none_or(|f| f.precision > PRECISE) {
        // Too few output units at δ to fit a model (the floor is near the rounding): probe
        // where the output is large enough, and fit there.
        let x = (PROBE_OUTPUT / lambda).max(x_max * 1e-3).min(x_max / 4.0).max(delta as f64 * 2.0).min(x_max).round()
            as u64;
        if samples.get(x).is_none() && curve.left > 0 {
            let Some(y) = curve.quote(x) else { return faulted };
            samples.insert(x, y);
            best = best.or_better(trade_at(x, y));
            fit = Fit::one((x, y), reserve_out).or(fit);
        }
    }
    // How far a quote may exceed the curve near the optimum (the bound allows each sample its
    // rounding already).
    let above = rounding_error(lambda);
    if exact.is_some() {
        // The exact curve's optimum, quoted once.
        let x = fit.map_or(delta as f64, |f| f.model.demand(lambda)).clamp(delta as f64, x_max).round() as u64;
        if samples.get(x).is_none() && curve.left > 0 {
            let Some(y) = curve.quote(x) else { return faulted };
            samples.insert(x, y);
            best = best.or_better(trade_at(x, y));
        }
        let trade = (best.surplus >= min_surplus).then_some(best);
        return Search { trade, ..Search::default() };
    }
    let reserve = reserve_out as u64;
    let (mut last_move, mut before_last) = (u64::MAX, u64::MAX);
    let mut first = true;
    // The certificate's gap before the last two quotes, and how many quotes in a row moved the
    // best (with the gap not halving, the steps are creeping: [`Step::stalled`]).
    let (mut last_gap, mut gap_before) = (f64::INFINITY, f64::INFINITY);
    let mut moves = 0u32;
    for _ in 0..MAX_ROUNDS {
        if curve.left == 0 {
            break;
        }
        // Certificate: no input earns more than the bound (plus a quote's rounding).
        let (bound, peak) = bracket_bound(samples.points(), &Price(lambda), x_max, reserve, best.surplus);
        let bound = bound + above;
        if bound < min_surplus
            || bound - best.surplus
                <= (GAP_TOLERANCE * best.surplus).max(CERTIFIED * above).max(FLOOR_TOLERANCE * min_surplus)
        {
            break;
        }
        // The bracket: the samples (or the ends) either side of the best.
        let (below, upper) = samples.beside(best.input);
        // (The end of the search is the last whole input within `x_max`, or the best if a rounded
        // probe sits beyond it.)
        let (left, right) = (below.map_or(0, |p| p.0), upper.map_or((x_max as u64).max(best.input), |p| p.0));
        let fresh = |x: u64| x > 0 && (x as f64) <= x_max && samples.get(x).is_none();
        let inside = |x: u64| (x > left && x < right) || (x == right && upper.is_none());
        let curvature = fit.map_or(0.0, |f| f.model.curvature(best.input as f64));
        let tolerance = (CERTIFIED * above).max(FLOOR_TOLERANCE * min_surplus);
        let step = Step {
            best: (best.input, best.surplus),
            below: Some(below.map_or((0, 0.0), |(x, y)| (x, surplus_at(x, y)))),
            above: upper.map(|(x, y)| (x, surplus_at(x, y))),
            right,
            model: fit.map(|f| {
                let x = f.model.demand(lambda).clamp(delta as f64, x_max).round() as u64;
                if first && !f.is_secant() && f.points[0] != 0 && samples.get(x).is_some() {
                    // The model points at a known sample (its optimum is at δ or below: likely
                    // no trade): test it away from its fit point instead; confirmed, it decides.
                    let far = f.points[0].saturating_mul(4).min(x_max as u64);
                    if samples.get(far).is_some() { f.points[0] / 4 } else { far }
                } else if f.is_secant() && x as f64 > SECANT_REACH * best.input as f64 {
                    (SECANT_REACH * best.input as f64).round() as u64
                } else {
                    x
                }
            }),
            peak,
            reach: reach(tolerance, curvature),
            zero_test: 0.0,
            stalled: bound - best.surplus > 0.5 * last_gap && last_gap > 0.5 * gap_before && moves >= 2,
            kinked: kink_beside(samples.points(), best.input),
            previous: before_last,
            untested_model: first && fit.is_some_and(|f| !f.is_secant()),
        };
        first = false;
        gap_before = last_gap;
        last_gap = bound - best.surplus;
        let x = step.next(&fresh, &inside);
        before_last = last_move;
        last_move = x.abs_diff(best.input);
        if !fresh(x) {
            break;
        }
        let Some(y) = curve.quote(x) else { return faulted };
        samples.insert(x, y);
        let before = best;
        best = best.or_better(trade_at(x, y));
        moves = if best.input != before.input { moves + 1 } else { 0 };
        if let Some(f) = fit
            && !f.is_secant()
            && f.predicts(x, y)
        {
            // Confirmed: refit through the larger of the two points (more output units, so
            // less rounding), whose optimum is then the sharper.
            let f = match Fit::one((x, y), reserve_out) {
                Some(g) if g.precision < f.precision => g,
                _ => f,
            };
            curve.remember_fit(f);
            // The model is right: its optimum is the optimum. Trade there, if not yet sampled.
            let at = f.model.demand(lambda).clamp(delta as f64, x_max).round() as u64;
            let gain = |x: u64| f.model.output(x as f64) - lambda * x as f64;
            // (Only when the sharper optimum earns more than a quote's rounding.)
            if samples.get(at).is_none() && curve.left > 0 && gain(at) - gain(best.input) > rounding_error(lambda) {
                let Some(y) = curve.quote(at) else { return faulted };
                samples.insert(at, y);
                best = best.or_better(trade_at(at, y));
            }
            break;
        }
        // Refit through the best sample and its nearest useful neighbour.
        let centre = if best.input != before.input { x } else { before.input };
        if let Some((p, q)) = samples.secant_pair(centre) {
            fit = Fit::two(p, q, reserve_out * 1e3).or(fit);
        }
    }
    let trade = (best.surplus >= min_surplus).then_some(best);
    Search { trade, ..Search::default() }
}

/// The certificate's gap may also be this fraction of the floor `min_surplus`: the floor is the
/// smallest surplus an arbitrageur acts on, and a thousandth of it (10⁻⁵ Y at the default
/// 0.01 Y) is below any question of fairness — a few thousand trades per simulation could move
/// a pool's edge by at most a few hundredths of a Y, against a standard error of several Y
/// over a thousand seeds — while a curve whose rounded quotes cannot be pinned closer near a
/// kink (a linear tier, a fee band) would otherwise be searched to the quote budget.
pub const FLOOR_TOLERANCE: f64 = 1e-3;

/// A secant model's step goes at most this many times the best's input. Through two samples on
/// one straight stretch (a ladder's price level, or the origin and one sample) a
/// constant-product secant is nearly linear, and its optimum lies anywhere up to the end of the
/// search (traces on a ladder: quotes at 70 % of the input's whole range, then a walk back); a
/// bounded expansion finds the stretch's end without quoting far beyond it. (Ladder: 5.28 →
/// 4.94 arbitrage quotes per pool-step; a cap of 4 cost the virtual-reserves curve 3 %, 16 to
/// 64 none of the smooth families anything.)
const SECANT_REACH: f64 = 16.0;

/// Relative gap between the certificate's bound and the best surplus at which a search stops.
const GAP_TOLERANCE: f64 = 1e-7;

/// Relative error allowed on an exact model's `f64` value (a few operations on values below
/// 2⁶⁴: ~10⁻¹⁵), so that pruning from the model never prunes what the quote would not.
const EXACT_SLACK: f64 = 1e-12;

/// A one-point fit less precise than this (relative) is not worth a search step: its sample
/// has too few output units.
const PRECISE: f64 = 1e-4;

/// The certificate's absolute gap, in quote roundings ([`rounding_error`] at the price): the
/// envelope of rounded samples allows each sample its rounding either way, so it cannot close
/// much below a few roundings above the best quote.
const CERTIFIED: f64 = 8.0;

/// Output units (nano) at which an ambiguous search probes when the pruning quote was too small
/// to fit (or a thousandth of the reserve, if more): rounding is then a millionth of the output.
const PROBE_OUTPUT: f64 = 1e6;

/// A curve with a quote budget: [`best_trade`] checks `left` before every quote.
struct Budgeted<'a, C> {
    curve: &'a mut C,
    left: u32,
}

impl<C: Curve> Curve for Budgeted<'_, C> {
    fn quote(&mut self, input: u64) -> Option<u64> {
        debug_assert!(self.left > 0, "over the quote budget");
        self.left = self.left.saturating_sub(1);
        self.curve.quote(input)
    }
    fn exact_model(&self) -> Option<super::curve::CpModel> {
        self.curve.exact_model()
    }
    fn reserve_out(&self) -> u64 {
        self.curve.reserve_out()
    }
    fn known_fit(&self) -> Option<Fit> {
        self.curve.known_fit()
    }
    fn remember_fit(&mut self, fit: Fit) {
        self.curve.remember_fit(fit)
    }
}

impl ArbTrade {
    /// `other` if it earns strictly more surplus, else `self` (the earlier sample wins ties).
    fn or_better(self, other: Self) -> Self {
        if other.surplus > self.surplus { other } else { self }
    }
}

/// Result of [`best_trade`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Search {
    /// The trade, if one pays.
    pub trade: Option<ArbTrade>,
    /// A quote faulted during the search (the pool offers nothing this step).
    pub faulted: bool,
    /// Quotes the search asked.
    pub quotes: u32,
    /// The side was pruned on its probe alone: by the probe's quote, or, for an exact curve, by
    /// the model the quote would have rounded.
    pub pruned_at_probe: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::Side;
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
            let search = best_trade(&mut curve, lambda, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE);
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
    fn a_remembered_pruning_probe_prunes_only_sides_no_input_of_reaches_the_floor() {
        // Fixed-point curves (fee on the input, fee on the output, a square-root curve), both
        // sides: one probe quoted at a random fraction of the floor's worth at the price it was
        // taken (selling X, sized at the higher of the spot and that price), then reused at fair
        // prices from inside the no-trade band to beyond it. Whenever the remembered sample
        // prunes, brute force finds no input whose surplus reaches the floor; and it prunes most
        // of the band (it is the probe's own test, so the same state needs no second quote).
        type Quote = Box<dyn Fn(u64) -> u64>;
        let nano = 1_000_000_000u64;
        let (rx, ry) = (100 * nano, 10_000 * nano);
        let spot = ry as f64 / rx as f64;
        let min_profit = 0.01 * nano as f64; // nano Y
        for side in [Side::BuyX, Side::SellX] {
            let (rin, rout) = match side {
                Side::BuyX => (ry, rx),
                Side::SellX => (rx, ry),
            };
            let curves: [(&str, Quote); 3] = [
                ("fee on input", Box::new(move |x: u64| cp_output_fee_bps(x, rin, rout, 50))),
                ("fee on output", Box::new(move |x: u64| cp_output_fee_bps(x, rin, rout, 0) * 9_950 / 10_000)),
                (
                    "square root",
                    Box::new(move |x: u64| {
                        ((rout as f64) * (1.0 - 1.0 / (1.0 + x as f64 / rin as f64).sqrt()) * 0.995) as u64
                    }),
                ),
            ];
            // λ (input's price in output units), δ (input worth the floor) and the floor in
            // output units, at fair price P.
            let terms = |price: f64| match side {
                Side::BuyX => (1.0 / price, min_profit, min_profit / price),
                Side::SellX => (price, min_profit / price, min_profit),
            };
            for (name, f) in &curves {
                for (seed, taken_at) in [(1u64, 99.0), (2, 100.4), (3, 101.0)] {
                    let fraction = 0.1 + 0.9 * ((seed * 7_919) % 1000) as f64 / 1000.0;
                    let probe = match side {
                        Side::BuyX => fraction * min_profit,
                        Side::SellX => fraction * min_profit / spot.max(taken_at),
                    } as u64;
                    let sample = (probe, f(probe));
                    let (mut pruned, mut tried) = (0u32, 0u32);
                    for k in 0..300u64 {
                        let price = 100.0 * (0.97 + k as f64 * 2e-4);
                        let (lambda, delta, floor) = terms(price);
                        tried += 1;
                        if !pruned_by_sample(sample, lambda, delta, rout) {
                            continue;
                        }
                        pruned += 1;
                        let best = brute_force(&mut |x| f(x), lambda, (rout as f64 / lambda) as u64);
                        assert!(best < floor, "{side:?}, {name}, probe {probe} reused at P = {price}: {best} earned");
                    }
                    assert!(pruned > tried / 4, "{side:?}, {name}: the probe pruned {pruned} of {tried} prices");
                }
            }
        }
        // A probe beyond the floor's worth at this price, or beyond the search's range, proves
        // nothing.
        assert!(!pruned_by_sample((2 * nano, 0), 1.0, nano as f64, u64::MAX));
        assert!(!pruned_by_sample((nano, 0), 1.0, 2.0 * nano as f64, nano));
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
        let first = best_trade(&mut curve, 1.0 / 103.0, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE).trade.unwrap();
        assert!(curve.known.is_some(), "confirmed models are remembered");
        // ...so the same state needs one quote to trade (at the optimum) and none to prune.
        curve.quotes = 0;
        let again = best_trade(&mut curve, 1.0 / 103.0, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE).trade.unwrap();
        assert_eq!((curve.quotes, again), (1, first));
        curve.quotes = 0;
        assert_eq!(best_trade(&mut curve, 1.0 / 99.0, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE).trade, None);
        assert_eq!(curve.quotes, 0, "pruned from the model alone");
    }

    #[test]
    fn pruning_by_the_initial_slope_decides_only_what_the_search_decides_alike() {
        // Exact curves and confirmed models, fair prices from far inside the fee band to beyond
        // it, pruning inputs from one unit to a tenth of a token: whenever the slope test
        // decides, the search decides the same (the same `Search`, with no quote), and inside
        // the band it decides most sides.
        let nano = 1_000_000_000u64;
        let (mut decided, mut in_band) = (0u32, 0u32);
        for (rx, ry, fee) in [(100 * nano, 10_000 * nano, 30u64), (7 * nano, 3 * nano, 5), (nano, 10 * nano, 500)] {
            let model = CpModel { a: ry as f64 * 1e4 / (1e4 - fee as f64), b: rx as f64 };
            let fits = [
                None,
                Some(Fit { model, points: [nano / 10, nano], precision: 1e-9 }),
                Some(Fit { model, points: [nano, 0], precision: 1e-6 }),
            ];
            for known in fits {
                for k in 0..600 {
                    let lambda = model.initial_slope() * (1.0 + (k as f64 - 300.0) * 1e-4);
                    let delta = 1 + (k as u64 * 7_919_u64 * 7_919) % (nano / 10);
                    let mut curve = TestCurve::new(move |y: u64| cp_output_fee_bps(y, ry, rx, fee), rx);
                    curve.known = known;
                    curve.exact = known.is_none().then_some(model);
                    let quick = pruned_by_model(known.as_ref(), curve.exact, lambda, delta, rx, MAX_QUOTES_PER_SIDE);
                    let mut samples = Samples::default();
                    let search = best_trade(&mut curve, lambda, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE);
                    if let Some(quick) = quick {
                        decided += 1;
                        assert_eq!(quick, search, "λ={lambda} δ={delta} known={known:?}");
                        assert_eq!(curve.quotes, 0);
                    }
                    if lambda > model.initial_slope() * 1.001 {
                        in_band += 1;
                        if quick.is_none() {
                            assert!(delta < 1000, "a side well inside the band is decided: λ={lambda} δ={delta}");
                        }
                    }
                }
            }
        }
        assert!(decided > in_band / 2, "{decided} decided, {in_band} in the band");
    }

    #[test]
    fn inside_the_pruning_band_both_sides_are_pruned_whatever_the_probes() {
        // Exact curves and confirmed models of constant-product pools (fees 5 to 500 bps,
        // reserves from 10⁹ to 10¹⁵ nano), floors of 0.001 to 1 Y: at prices across the band
        // (its ends included) and probe fractions across (¾, 1], the probes the market draws
        // are pruned by [`pruned_by_model`] on both sides. A band that held where the test does
        // not would change which pool-steps trade.
        let nano = 1_000_000_000u64;
        let (mut bands, mut checked) = (0u32, 0u32);
        for (rx, ry, fee) in [
            (100 * nano, 10_000 * nano, 30u64),
            (7 * nano, 3 * nano, 5),
            (nano, 10 * nano, 500),
            (1_000_000 * nano, 2_000 * nano, 100),
        ] {
            let spot = ry as f64 / rx as f64;
            let cp = |rin: u64, rout: u64| CpModel { a: rin as f64 * 1e4 / (1e4 - fee as f64), b: rout as f64 };
            let (buy, sell) = (cp(ry, rx), cp(rx, ry));
            let fit = |model: CpModel| Fit { model, points: [nano, 0], precision: 1e-8 };
            let (known_buy, known_sell) = (fit(buy), fit(sell));
            for (known, min_profit) in [(false, 1e7), (true, 1e7), (false, 1e6), (true, 1e9)] {
                let models = if known {
                    [(Some(&known_buy), None), (Some(&known_sell), None)]
                } else {
                    [(None, Some(buy)), (None, Some(sell))]
                };
                let Some((lo, hi)) = pruning_band(models, spot, min_profit, 0.75, [rx, ry]) else { continue };
                bands += 1;
                assert!(lo < spot && spot < hi, "the spot price is inside its pool's band: {lo} {spot} {hi}");
                for k in 0..=40 {
                    let price = lo + (hi - lo) * k as f64 / 40.0;
                    for fraction in [0.750_000_000_1, 0.8, 0.9, 0.999, 1.0] {
                        let probe_buy = ((fraction * min_profit) as u64).max(1);
                        let probe_sell = ((fraction * min_profit / spot.max(price)) as u64).max(1);
                        let (lambda_buy, lambda_sell) = (1.0 / price, price);
                        let b = pruned_by_model(models[0].0, models[0].1, lambda_buy, probe_buy, rx, 63);
                        let s = pruned_by_model(models[1].0, models[1].1, lambda_sell, probe_sell, ry, 64);
                        assert!(b.is_some() && s.is_some(), "price {price} in [{lo}, {hi}], fraction {fraction}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(bands >= 12 && checked > 2_000, "{bands} bands, {checked} checks");
    }

    #[test]
    fn an_exact_curve_is_pruned_from_its_model_as_its_quote_would_prune_it() {
        let nano = 1_000_000_000u64;
        for (rx, ry, fee) in [(100 * nano, 10_000 * nano, 30u64), (7 * nano, 3 * nano, 5), (nano, 10 * nano, 100)] {
            let model = CpModel { a: ry as f64 * 1e4 / (1e4 - fee as f64), b: rx as f64 };
            for k in 0..400 {
                // Fair prices around the pool's, both sides of its fee band and inside it.
                let lambda = model.initial_slope() * (1.0 + (k as f64 - 200.0) * 2e-4);
                let delta = 1 + k * 7_919_u64 % (nano / 10);
                let f = move |y: u64| cp_output_fee_bps(y, ry, rx, fee);
                let (mut quoted, mut exact) = (TestCurve::new(f, rx), TestCurve::new(f, rx));
                exact.exact = Some(model);
                let mut samples = Samples::default();
                let by_quote = best_trade(&mut quoted, lambda, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE);
                let by_model = best_trade(&mut exact, lambda, delta, 0.0, &mut samples, MAX_QUOTES_PER_SIDE);
                if by_model.pruned_at_probe {
                    assert_eq!(exact.quotes, 0, "pruned from the model, λ={lambda}");
                    assert!(by_quote.trade.is_none() && by_quote.pruned_at_probe, "the quote prunes too, λ={lambda}");
                }
                assert_eq!(by_model.trade.is_some(), by_quote.trade.is_some(), "same decision, λ={lambda} δ={delta}");
            }
        }
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
            let search = best_trade(&mut curve, lambda, 10_000_000, 0.0, &mut samples, MAX_QUOTES_PER_SIDE);
            let brute = brute_force(
                &mut |x| crate::market::delivered_output(f(x), reserve_out).unwrap_or(0),
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
