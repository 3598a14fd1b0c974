//! Routing an order between one searched pool and pools known in closed form: a line search.
//!
//! In the reference setting — one strategy against the normalizer — and whenever every other
//! live pool of an order is exact, the split has one unknown: the searched pool's input `x`.
//! The exact pools take the rest at their own equimarginal split, worth `G(X − x)` in closed
//! form ([`CpSet::output`]), so the order's output `h(x) = f(x) + G(X − x)` is a concave
//! function of one variable and the general router's machinery (a model per pool, rounds, a
//! dual bound over every pool's envelope) reduces to a bracketed search on a line:
//!
//! * **Bracket.** `h` is concave, so the optimum lies next to the best sample: in the interval
//!   to its left or to its right (or next to any sample whose `h` is within its rounding of
//!   the best).
//! * **Bound.** Inside an interval between samples, concavity caps `f` by the extension of the
//!   chord on its left, the backward extension of the chord on its right, and (monotonicity) the
//!   interval's right sample — each sample allowed its integer rounding ([`rounding_error`]) —
//!   and `G` is exact. The cap plus `G` has a closed-form maximum on each linear piece (where
//!   the piece's slope equals the exact pools' marginal), so the bound over the bracket costs a
//!   handful of closed forms per quote, whatever the number of samples.
//! * **Stop** when the bound is within [`TOLERANCE`] of the order's output, the specification's
//!   routing tolerance, plus the rounding of a few output units.
//! * **Step** as Brent's method does, with two interpolants: the parabola through the best
//!   sample and its neighbours, else the optimum of the constant-product model through the best
//!   sample and its nearest useful neighbour (the first step: the model through the probe,
//!   which confirms a constant-product pool and ends its search) — either taken only inside the
//!   bracket and when it moves less than half the step before last; else where the bound peaks
//!   in the bracket's larger part (on a piecewise-linear curve, the kink itself); else the golden
//!   section of that part. Once a step would land closer to the best than the bound needs
//!   (from the model's curvature), the bracket's wider side is closed at that distance instead.
//!
//! Work per order: at most [`MAX_LINE_QUOTES`] quotes, each followed by a bound over at most a
//! few intervals (O(1) closed forms each, O(samples) to find the bracket).

use super::super::curve::{CpModel, CurveSet, Fit, rounding_error};
use super::{RouteSummary, Router};

/// Relative gap between the bound and the order's output at which the search stops: the
/// specification's routing tolerance (total output within 1e-6 of the optimum). Tighter buys
/// nothing a trader could notice (a millionth of an order) and costs quotes on curved pools.
pub const TOLERANCE: f64 = 1e-6;

/// Most quotes the searched pool is asked for one order (its probe included). Constant product
/// needs 2, smooth curves 3–5 (4.3 on average over the families of the brute-force test); a
/// ladder of hundreds of nearly equal tiers may take ~20. A curve that keeps the bound open is
/// cut off here with the best split quoted so far, so the engine's work per order is bounded
/// whatever the curve.
pub const MAX_LINE_QUOTES: u32 = 24;

/// Pools known in closed form (constant product with the fee folded in), steepest first.
#[derive(Clone, Debug, Default)]
pub(super) struct CpSet {
    models: Vec<Model>,
}

#[derive(Clone, Copy, Debug)]
struct Model {
    /// Index of the pool in the order's curve set (`usize::MAX`: a model that is not a pool).
    pool: usize,
    a: f64,
    b: f64,
    /// `√(a·b)`.
    root: f64,
    /// `b / a`, the marginal at zero.
    slope: f64,
}

impl CpSet {
    pub(super) fn clear(&mut self) {
        self.models.clear();
    }

    /// Adds pool `pool`'s model (kept sorted by initial slope, steepest first; ties by pool).
    pub(super) fn push(&mut self, pool: usize, m: CpModel) {
        let model = Model { pool, a: m.a, b: m.b, root: (m.a * m.b).sqrt(), slope: m.initial_slope() };
        let at = self.models.partition_point(|o| o.slope > model.slope || (o.slope == model.slope && o.pool < pool));
        self.models.insert(at, model);
    }

    /// The equimarginal scale `s` for input `z` (`z > 0`): every active pool takes
    /// `s·√(aᵢbᵢ) − aᵢ`, all at the marginal output `1/s²`; the active pools are the first
    /// `active` (steepest first). For constant-product curves this is the closed form of the
    /// equimarginal split (Σ over the active set of `s·√(ab) − a` = `z`).
    fn scale(&self, z: f64) -> (f64, usize) {
        let (mut sum_a, mut sum_root, mut s, mut active) = (0.0, 0.0, 0.0, 0);
        for (k, m) in self.models.iter().enumerate() {
            sum_a += m.a;
            sum_root += m.root;
            s = (z + sum_a) / sum_root;
            active = k + 1;
            let lambda = 1.0 / (s * s);
            if self.models.get(k + 1).is_none_or(|next| next.slope <= lambda) {
                break;
            }
        }
        (s, active)
    }

    /// `G(z)`: the most output the pools give for `z` input split among them (0 for `z ≤ 0`).
    pub(super) fn output(&self, z: f64) -> f64 {
        if z <= 0.0 || self.models.is_empty() {
            return 0.0;
        }
        let (s, active) = self.scale(z);
        self.models[..active]
            .iter()
            .map(|m| {
                let x = (s * m.root - m.a).max(0.0);
                m.b * x / (m.a + x)
            })
            .sum()
    }

    /// The input the pools absorb before their marginal output falls to `lambda`:
    /// `Σ max(0, √(aᵢbᵢ/λ) − aᵢ)`.
    fn demand(&self, lambda: f64) -> f64 {
        if lambda <= 0.0 {
            return f64::INFINITY;
        }
        self.models.iter().filter(|m| m.slope > lambda).map(|m| m.root / lambda.sqrt() - m.a).sum()
    }

    /// Each pool's float share of `z` at the equimarginal split, as `(pool, share)`.
    fn shares(&self, z: f64) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (s, active) = if z > 0.0 && !self.models.is_empty() { self.scale(z) } else { (0.0, 0) };
        self.models
            .iter()
            .enumerate()
            .map(move |(k, m)| (m.pool, if k < active { (s * m.root - m.a).max(0.0) } else { 0.0 }))
    }

    /// The share of a model `m` (not in the set) when `total` is split between it and the set:
    /// the closed form of the combined set, `m` in its place by initial slope.
    fn share_of(&self, m: CpModel, total: f64) -> f64 {
        let extra = Model { pool: usize::MAX, a: m.a, b: m.b, root: (m.a * m.b).sqrt(), slope: m.initial_slope() };
        let at = self.models.partition_point(|o| o.slope >= extra.slope);
        let nth = |k: usize| match k.cmp(&at) {
            std::cmp::Ordering::Less => self.models.get(k).copied(),
            std::cmp::Ordering::Equal => Some(extra),
            std::cmp::Ordering::Greater => self.models.get(k - 1).copied(),
        };
        let (mut sum_a, mut sum_root, mut s) = (0.0, 0.0, 0.0);
        let mut k = 0;
        while let Some(next) = nth(k) {
            sum_a += next.a;
            sum_root += next.root;
            s = (total + sum_a) / sum_root;
            k += 1;
            if nth(k).is_none_or(|following| following.slope <= 1.0 / (s * s)) {
                break;
            }
        }
        if k <= at {
            return 0.0; // not in the active set
        }
        (s * extra.root - extra.a).clamp(0.0, total)
    }
}

/// One sample of the searched curve for the bound: input, output, its rounding allowance.
#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    y: f64,
    e: f64,
}

/// A line `y = c + s·x` capping the searched curve on an interval.
#[derive(Clone, Copy, Debug)]
struct Cap {
    c: f64,
    s: f64,
}

impl Cap {
    fn through(p: (f64, f64), q: (f64, f64)) -> Self {
        let s = (q.1 - p.1) / (q.0 - p.0);
        Self { c: p.1 - s * p.0, s }
    }
    fn at(self, x: f64) -> f64 {
        self.c + self.s * x
    }
}

impl Router {
    /// Routes `total` with pool `free` searched on a line and every other live pool exact (see
    /// the module docs). The caller has reset the pool states and sized `best`.
    pub(super) fn route_line<S: CurveSet + ?Sized>(
        &mut self,
        curves: &mut S,
        total: u64,
        free: usize,
        faulted: &mut Vec<usize>,
    ) -> RouteSummary {
        let n = curves.len();
        let mut exact = std::mem::take(&mut self.exact);
        exact.clear();
        for i in (0..n).filter(|&i| i != free) {
            if let Some(model) = curves.exact_model(i) {
                exact.push(i, model);
                self.pools[i].fit = Some(Fit::exact(model));
                self.pools[i].exact = true;
            }
        }
        let x_total = total as f64;
        let reserve_out = curves.reserve_out(free);
        let mut summary = RouteSummary::default();
        let probe = ((x_total * self.probe_fraction()).round() as u64).clamp(1, total);
        let pool = &mut self.pools[free];
        let mut quote = |curves: &mut S, pool: &mut super::PoolState, x: u64| -> Option<u64> {
            if let Some(y) = pool.samples.get(x) {
                return Some(y);
            }
            pool.quotes += 1;
            let y = curves.quote(free, x);
            match y {
                Some(y) => pool.samples.insert(x, y),
                None => {
                    pool.out = true;
                    faulted.push(free);
                }
            }
            y
        };
        // The probe, at the drawn fraction of the order, and the constant-product model through it.
        let mut share = 0u64;
        let mut output = 0u64;
        match quote(curves, pool, probe) {
            None | Some(0) => pool.out = true,
            Some(y) => {
                let mut fit = Fit::one((probe, y), reserve_out as f64)
                    .or_else(|| Fit::two((probe / 2, y / 2), (probe, y), reserve_out as f64 * 1e3));
                let mut confirming = fit.filter(|f| !f.is_secant());
                let mut confirmed = false;
                // How far the last two steps moved from the best sample (Brent's rule: a model
                // step must move less than half the step before last, or the bracket is cut by
                // the golden section instead).
                let (mut last_move, mut before_last) = (u64::MAX, u64::MAX);
                loop {
                    summary.rounds += 1;
                    // The best sample (the origin counts: the pool may deserve nothing).
                    let h = |x: u64, y: u64| y as f64 + exact.output(x_total - x as f64);
                    let (mut best_x, mut best_h) = (0u64, exact.output(x_total));
                    for &(x, y) in pool.samples.points() {
                        let v = h(x, y);
                        if v > best_h {
                            (best_x, best_h) = (x, v);
                        }
                    }
                    share = best_x;
                    output = pool.samples.get(best_x).unwrap_or(0);
                    if confirmed {
                        // A confirmed constant-product model is the curve: its optimum, quoted,
                        // is the optimum.
                        let at = fit.map_or(0, |f| exact.share_of(f.model, x_total).round() as u64);
                        if at == 0 || pool.samples.get(at).is_some() || pool.quotes >= MAX_LINE_QUOTES {
                            break;
                        }
                        if quote(curves, pool, at).is_none() {
                            break;
                        }
                        continue;
                    }
                    let slope = (output as f64 / best_x.max(1) as f64).max(exact.marginal(x_total - best_x as f64));
                    let tolerance = TOLERANCE * best_h + 2.0 * n as f64 + 4.0 * rounding_error(slope);
                    // (With the probe alone the bound is the probe's output at any input: it
                    // cannot close; the model's step comes first.)
                    let (bound, peak) = if pool.quotes > 1 {
                        bracket_bound(pool.samples.points(), &exact, x_total, reserve_out, best_h)
                    } else {
                        (f64::INFINITY, 0.0)
                    };
                    let gap = bound - best_h;
                    if gap <= tolerance || pool.quotes >= MAX_LINE_QUOTES {
                        break;
                    }
                    // The bracket: the samples (or the ends) either side of the best.
                    let points = pool.samples.points();
                    let at = points.partition_point(|p| p.0 < best_x);
                    let below = if best_x == 0 { None } else { at.checked_sub(1).map(|k| points[k]) };
                    let above = points.get(if best_x == 0 { 0 } else { at + 1 }).copied();
                    let (left, right) = (below.map_or(0, |p| p.0), above.map_or(total, |p| p.0));
                    let fresh = |x: u64| x > 0 && x <= total && pool.samples.get(x).is_none();
                    let inside = |x: u64| (x > left && x < right) || (x == total && right == total && above.is_none());
                    // The model's curvature says how close the samples beside the best must be
                    // for the bound to close: the caps overshoot a curve of curvature κ by about
                    // κ·w²/8 on an interval of width w.
                    let curvature = fit.map_or(0.0, |f| {
                        let (a, b) = (f.model.a, f.model.b);
                        2.0 * a * b / (a + best_x as f64).powi(3)
                    });
                    let step = Step {
                        best: (best_x, best_h),
                        below: below.map(|(x, y)| (x, h(x, y))).or((best_x > 0).then(|| (0, exact.output(x_total)))),
                        above: above.map(|(x, y)| (x, h(x, y))),
                        right,
                        model: fit.map(|f| exact.share_of(f.model, x_total).round() as u64),
                        peak,
                        reach: if curvature > 0.0 { (2.0 * tolerance / curvature).sqrt().max(1.0) } else { 0.0 },
                        zero_test: if curvature > 0.0 { tolerance / (curvature * right as f64) } else { 0.0 },
                        previous: before_last,
                        untested_model: confirming.is_some() && pool.quotes == 1,
                    };
                    let x = step.next(&fresh, &inside);
                    before_last = last_move;
                    last_move = x.abs_diff(best_x);
                    if !fresh(x) {
                        break;
                    }
                    let Some(y) = quote(curves, pool, x) else { break };
                    // A constant-product pool is confirmed by its one-point model's prediction:
                    // remembered, it spares the next searches of this pool state their probes.
                    if let Some(f) = confirming
                        && f.predicts(x, y)
                    {
                        curves.remember_fit(free, f);
                        confirming = None;
                        confirmed = true;
                        fit = Some(f);
                        continue;
                    }
                    // Refit through the best sample and its nearest useful neighbour.
                    let centre = if h(x, y) >= best_h { x } else { best_x };
                    if let Some((p, q)) = pool.samples.secant_pair(centre.max(1)) {
                        fit = Fit::two(p, q, reserve_out as f64 * 1e3).or(fit);
                    }
                }
            }
        }
        if pool.out {
            (share, output) = (0, 0);
        }
        summary.quotes = pool.quotes;
        // The exact pools share the rest at their equimarginal split, rounded to whole units
        // (the leftover unit or two to the largest share), each quoted at its share.
        self.best.clear();
        self.best.resize(n, (0, 0));
        self.best[free] = (share, output);
        let rest = total - share;
        let mut assigned = 0u64;
        let mut largest: Option<(usize, f64)> = None;
        for (i, s) in exact.shares(rest as f64) {
            let units = (s.floor() as u64).min(rest - assigned);
            self.best[i].0 = units;
            assigned += units;
            if largest.is_none_or(|(_, l)| s > l) {
                largest = Some((i, s));
            }
        }
        if let Some((i, _)) = largest {
            self.best[i].0 += rest - assigned;
        } else if rest > 0 {
            // No exact pool (cannot happen: the caller checked): the searched pool keeps all.
            self.best[free].0 = total;
        }
        let mut total_output = output;
        for i in 0..n {
            if i == free || self.best[i].0 == 0 {
                continue;
            }
            let y = curves.quote(i, self.best[i].0).unwrap_or(0);
            self.best[i].1 = y;
            self.pools[i].share = self.best[i].0;
            self.pools[i].output = y;
            total_output += y;
        }
        self.pools[free].share = share;
        self.pools[free].output = output;
        self.exact = exact;
        summary.total_output = total_output;
        summary
    }
}

/// What the next input of a line search is chosen from.
struct Step {
    /// The best sample `(x, h)`.
    best: (u64, f64),
    /// The sample (or the origin) below the best, with its `h`.
    below: Option<(u64, f64)>,
    /// The sample above the best, with its `h` (`None`: none sampled up to the order).
    above: Option<(u64, f64)>,
    /// The bracket's right end (the sample above, or the whole order).
    right: u64,
    /// The constant-product model's optimum.
    model: Option<u64>,
    /// Where the bound peaks.
    peak: f64,
    /// How close samples beside the best must be for the bound to close (0: unknown).
    reach: f64,
    /// A small input at which a pool that may deserve nothing is tested (0: unknown).
    zero_test: f64,
    /// How far the step before last moved.
    previous: u64,
    /// The model is a one-point constant-product fit not yet tested: its optimum is quoted as it
    /// is (a constant-product pool is confirmed there, and the search ends).
    untested_model: bool,
}

/// The golden section's smaller part.
const GOLDEN: f64 = 0.381_966_011_250_105;

impl Step {
    /// The next input to quote (Brent's method on `h`, with the constant-product model as a
    /// second interpolant and the bound's peak as a third): a parabola through the bracket or
    /// the model's optimum when it moves less than half the step before last, else the bound's
    /// peak inside the bracket, else the golden section of its larger part. Near convergence
    /// (a step shorter than `reach`), the bracket's open side is closed at `reach` instead.
    fn next(&self, fresh: &dyn Fn(u64) -> bool, inside: &dyn Fn(u64) -> bool) -> u64 {
        let (xb, hb) = self.best;
        let left = self.below.map_or(0, |p| p.0);
        if xb == 0 {
            // The pool may deserve nothing: test it near zero, where a chord to the next sample
            // caps the curve within the tolerance.
            let near = (self.zero_test.round() as u64).clamp(1, (self.right / 16).max(1));
            return near;
        }
        let ok = |x: u64| fresh(x) && inside(x) && (x.abs_diff(xb) as f64) < 0.5 * self.previous as f64;
        if self.untested_model
            && let Some(x) = self.model.filter(|&x| ok(x))
        {
            return x;
        }
        let parabola = match (self.below, self.above) {
            (Some((x0, h0)), Some((x2, h2))) => {
                let (a, b, c) = ((x0 as f64, h0), (xb as f64, hb), (x2 as f64, h2));
                let num = (b.0 - a.0).powi(2) * (b.1 - c.1) - (b.0 - c.0).powi(2) * (b.1 - a.1);
                let den = (b.0 - a.0) * (b.1 - c.1) - (b.0 - c.0) * (b.1 - a.1);
                (den != 0.0)
                    .then(|| (b.0 - 0.5 * num / den).round())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|v| v as u64)
            }
            _ => None,
        };
        let chosen = parabola
            .filter(|&x| ok(x))
            .or(self.model.filter(|&x| ok(x)))
            .or_else(|| {
                // The bound's peak, if it cuts the bracket's larger part usefully.
                let x = self.peak.round().max(0.0) as u64;
                let (lo, hi) = if xb - left >= self.right - xb { (left, xb) } else { (xb, self.right) };
                let useful = x > lo && x < hi && (x.abs_diff(xb) as f64) >= 0.1 * (hi - lo) as f64;
                (useful && fresh(x)).then_some(x)
            })
            .unwrap_or_else(|| {
                if xb - left >= self.right - xb {
                    xb - ((xb - left) as f64 * GOLDEN).round() as u64
                } else {
                    xb + ((self.right - xb) as f64 * GOLDEN).round() as u64
                }
            });
        let reach = self.reach.round() as u64;
        if reach > 0 && chosen.abs_diff(xb) < reach {
            // Converged on the best: close the wider side of its bracket instead.
            let x = if self.right - xb >= xb - left { xb.saturating_add(reach) } else { xb.saturating_sub(reach) };
            if (xb - left).max(self.right - xb) > 2 * reach && fresh(x) && inside(x) {
                return x;
            }
        }
        chosen
    }
}

impl CpSet {
    /// The exact pools' marginal output when they share `z` (their best initial slope at 0).
    fn marginal(&self, z: f64) -> f64 {
        if self.models.is_empty() {
            return 0.0;
        }
        if z <= 0.0 {
            return self.models[0].slope;
        }
        let (s, _) = self.scale(z);
        1.0 / (s * s)
    }
}

/// Upper bound on `max h(x) = f(x) + G(X − x)` over the bracket of the best sample, with the
/// input where it peaks. `points`: the searched curve's samples (sorted, origin implied);
/// `best`: the best sampled `h`. Every interval next to a sample whose `h` comes within its
/// rounding of `best` is bounded (concavity of `h` rules out the rest).
fn bracket_bound(points: &[(u64, u64)], exact: &CpSet, total: f64, reserve_out: u64, best: f64) -> (f64, f64) {
    let point = |k: usize| -> Point {
        if k == 0 {
            return Point { x: 0.0, y: 0.0, e: 0.0 };
        }
        let (x, y) = points[k - 1];
        let (x, y) = (x as f64, y as f64);
        Point { x, y, e: rounding_error(y / x) }
    };
    let m = points.len();
    let h = |k: usize| {
        let p = point(k);
        p.y + exact.output(total - p.x)
    };
    let (mut bound, mut peak) = (f64::NEG_INFINITY, 0.0);
    // Intervals k = 0..=m: between point k and point k + 1 (the last one: to the whole order).
    let mut bound_interval = |k: usize| {
        let left = point(k);
        let right_end = if k < m { point(k + 1).x } else { total };
        if right_end <= left.x {
            return;
        }
        let mut caps = [Cap { c: f64::INFINITY, s: 0.0 }; 3];
        let mut count = 0;
        if k >= 1 {
            let before = point(k - 1);
            caps[count] = Cap::through((before.x, before.y - before.e), (left.x, left.y + left.e));
            count += 1;
        }
        if k < m {
            let right = point(k + 1);
            caps[count] = Cap { c: right.y + right.e, s: 0.0 };
            count += 1;
            if k + 2 <= m {
                let after = point(k + 2);
                caps[count] = Cap::through((right.x, right.y + right.e), (after.x, after.y - after.e));
                count += 1;
            }
        } else {
            caps[count] = Cap { c: reserve_out as f64, s: 0.0 };
            count += 1;
        }
        let caps = &caps[..count];
        let phi = |x: f64| caps.iter().map(|c| c.at(x)).fold(f64::INFINITY, f64::min) + exact.output(total - x);
        let mut consider = |x: f64| {
            let x = x.clamp(left.x, right_end);
            let v = phi(x);
            if v > bound {
                (bound, peak) = (v, x);
            }
        };
        consider(left.x);
        consider(right_end);
        for (i, a) in caps.iter().enumerate() {
            // Where this piece's slope meets the exact pools' marginal (its stationary point).
            consider(total - exact.demand(a.s));
            for b in &caps[i + 1..] {
                if a.s != b.s {
                    consider((b.c - a.c) / (a.s - b.s));
                }
            }
        }
    };
    for k in 0..=m {
        let p = point(k);
        if h(k) + 2.0 * p.e + 2.0 * rounding_error(p.y / p.x.max(1.0)) >= best {
            if k >= 1 {
                bound_interval(k - 1);
            }
            bound_interval(k);
        }
    }
    (bound, peak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::routing::tests::TestCurve;
    use amm_strategy_sdk::math::cp_output_fee_bps;

    #[test]
    fn the_exact_set_is_the_closed_form_split() {
        let mut set = CpSet::default();
        set.push(0, CpModel { a: 1e13, b: 1e11 });
        set.push(1, CpModel { a: 2e13, b: 1.9e11 });
        // Brute force: the best split of z between the two by a fine grid.
        for z in [1e6, 1e9, 1e11, 5e12] {
            let f = |m: CpModel, x: f64| m.b * x / (m.a + x);
            let (m0, m1) = (CpModel { a: 1e13, b: 1e11 }, CpModel { a: 2e13, b: 1.9e11 });
            let brute =
                (0..=20_000).map(|k| z * k as f64 / 20_000.0).map(|x| f(m0, x) + f(m1, z - x)).fold(0.0, f64::max);
            let got = set.output(z);
            assert!(got >= brute * (1.0 - 1e-9) && got <= brute * (1.0 + 1e-6), "z {z}: {got} vs {brute}");
            let shares: f64 = set.shares(z).map(|s| s.1).sum();
            assert!((shares - z).abs() <= 1e-6 * z, "z {z}: shares sum {shares}");
        }
        // share_of: the extra model's share equals the closed form of the three together.
        let extra = CpModel { a: 1.5e13, b: 1.45e11 };
        let mut all = set.clone();
        all.push(usize::MAX, extra);
        for z in [1e9, 1e12] {
            let want = all.shares(z).find(|s| s.0 == usize::MAX).map_or(0.0, |s| s.1);
            let got = set.share_of(extra, z);
            assert!((got - want).abs() <= 1e-6 * z, "z {z}: {got} vs {want}");
        }
    }

    #[test]
    fn one_constant_product_pool_beside_the_normalizer_needs_two_quotes() {
        let nano = 1_000_000_000u64;
        let normalizer = |fee: u64| {
            let (rin, rout) = (10_000 * nano, 100 * nano);
            let mut c = TestCurve::new(move |x| cp_output_fee_bps(x, rin, rout, fee), rout);
            c.exact = Some(CpModel { a: rin as f64 * 1e4 / (1e4 - fee as f64), b: rout as f64 });
            c
        };
        for (fee, total) in [(30u64, 20 * nano), (100, nano), (5, 300 * nano)] {
            let strategy = TestCurve::new(move |x| cp_output_fee_bps(x, 9_990 * nano, 100 * nano, 45), 100 * nano);
            let mut curves = vec![strategy, normalizer(fee)];
            let mut router = Router::default();
            let summary = router.route(curves.as_mut_slice(), total, &mut Vec::new());
            assert!(summary.quotes <= 2, "fee {fee}: {} quotes", summary.quotes);
            assert!(curves[0].known.is_some(), "the model is confirmed and remembered");
            assert_eq!(router.split().iter().map(|s| s.0).sum::<u64>(), total);
        }
    }
}
