//! Routing an order between one searched pool and pools known in closed form: a line search.
//!
//! In the reference setting — one strategy against the normalizer — and whenever every other
//! live pool of an order is exact, the split has one unknown: the searched pool's input `x`.
//! The exact pools take the rest at their own equimarginal split, worth `G(X − x)` in closed
//! form ([`CpSet::output`]), so the order's output `h(x) = f(x) + G(X − x)` is a concave
//! function of one variable and the general router's machinery (a model per pool, rounds, a
//! dual bound over every pool's envelope) reduces to a bracketed search on a line.
//!
//! The search itself — the bracket around the best sample, the bound that costs O(1) closed
//! forms per quote, Brent's steps — is the one the arbitrageur uses too (`market::line`);
//! here are what is particular to an order: the exact pools' closed form ([`CpSet`]), the
//! stopping tolerance ([`TOLERANCE`], the specification's), the quote budget, a
//! constant-product pool confirmed by its model's first prediction (two quotes, and
//! remembered for the pool's state), and the split of the rest among the exact pools.
//!
//! Work per order: at most [`MAX_LINE_QUOTES`] quotes, each followed by a bound over at most a
//! few intervals (O(1) closed forms each, O(samples) to find the bracket).

use super::super::curve::{CpModel, CurveSet, Fit, rounding_error};
use super::super::line::{Rest, Step, bracket_bound, kink_beside, reach};
use super::{RouteSummary, Router};

/// Relative gap between the bound and the order's output at which the search stops: the
/// specification's routing tolerance (total output within 1e-6 of the optimum). Tighter buys
/// nothing a trader could notice (a millionth of an order) and costs quotes on curved pools.
pub const TOLERANCE: f64 = 1e-6;

/// Most quotes the searched pool is asked for one order (its probe included). Constant product
/// needs 2, smooth curves 3–5 (4.6 on average over the families of the brute-force test); a
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
pub(super) struct Model {
    /// Index of the pool in the order's curve set (`usize::MAX`: a model that is not a pool).
    pub(super) pool: usize,
    a: f64,
    b: f64,
    /// `√(a·b)`.
    root: f64,
    /// `b / a`, the marginal at zero.
    slope: f64,
    /// `√(a/b) = a/√(ab)`, the inverse square root of the slope (0 for an empty pool).
    q: f64,
}

impl Model {
    pub(super) fn new(pool: usize, m: CpModel) -> Self {
        let root = (m.a * m.b).sqrt();
        Self { pool, a: m.a, b: m.b, root, slope: m.initial_slope(), q: if root > 0.0 { m.a / root } else { 0.0 } }
    }
}

/// Each active model's share of `z` at the equimarginal split, in a form exact where the
/// textbook one cancels: with `S = Σ√(aⱼbⱼ)` over the active set and `s = (z + Σaⱼ)/S`, the
/// share `s·√(aᵢbᵢ) − aᵢ` equals `√(aᵢbᵢ)·(z + Σⱼ √(aⱼbⱼ)·(qⱼ − qᵢ)) / S` (`q = √(a/b)`, and
/// `Σⱼ √(aⱼbⱼ)·qⱼ = Σaⱼ`). The textbook form subtracts `aᵢ` from a value near it and loses
/// everything below `aᵢ·2⁻⁵²` — an order of a few thousand units beside reserves of 10¹⁹ came
/// out as 0 or 4,096 — while this one gives one pool exactly `z`, and shares that add up to `z`
/// to rounding whatever the reserves.
pub(super) fn active_share(active: impl Iterator<Item = Model> + Clone, m: &Model, z: f64, sum_root: f64) -> f64 {
    if m.root <= 0.0 || sum_root <= 0.0 {
        return 0.0;
    }
    let t = z + active.filter(|o| o.root > 0.0).map(|o| o.root * (o.q - m.q)).sum::<f64>();
    (m.root * t / sum_root).max(0.0)
}

/// [`active_share`] when the active set is one model with `√(ab) = root`: the whole of `z`, as
/// that form computes it (`root·z/root`, its other terms vanishing), so the two agree to the bit.
pub(super) fn sole_share(root: f64, z: f64) -> f64 {
    if root <= 0.0 {
        return 0.0;
    }
    (root * z / root).max(0.0)
}

impl CpSet {
    pub(super) fn clear(&mut self) {
        self.models.clear();
    }

    /// Adds pool `pool`'s model (kept sorted by initial slope, steepest first; ties by pool).
    pub(super) fn push(&mut self, pool: usize, m: CpModel) {
        let model = Model::new(pool, m);
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
        if let [m] = self.models.as_slice() {
            // One pool (the normalizer beside the searched one): it takes all of `z`.
            return m.b * z / (m.a + z);
        }
        let (_, active) = self.scale(z);
        let active = &self.models[..active];
        let sum_root: f64 = active.iter().map(|m| m.root).sum();
        active
            .iter()
            .map(|m| {
                let x = active_share(active.iter().copied(), m, z, sum_root);
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
        let active = if z > 0.0 && !self.models.is_empty() { self.scale(z).1 } else { 0 };
        let sum_root: f64 = self.models[..active].iter().map(|m| m.root).sum();
        self.models.iter().enumerate().map(move |(k, m)| {
            (m.pool, if k < active { active_share(self.models[..active].iter().copied(), m, z, sum_root) } else { 0.0 })
        })
    }

    /// The share of a model `m` (not in the set) when `total` is split between it and the set:
    /// the closed form of the combined set, `m` in its place by initial slope.
    fn share_of(&self, m: CpModel, total: f64) -> f64 {
        let extra = Model::new(usize::MAX, m);
        let at = self.models.partition_point(|o| o.slope >= extra.slope);
        let nth = |k: usize| match k.cmp(&at) {
            std::cmp::Ordering::Less => self.models.get(k).copied(),
            std::cmp::Ordering::Equal => Some(extra),
            std::cmp::Ordering::Greater => self.models.get(k - 1).copied(),
        };
        let (mut sum_a, mut sum_root) = (0.0, 0.0);
        let mut k = 0;
        while let Some(next) = nth(k) {
            sum_a += next.a;
            sum_root += next.root;
            let s = (total + sum_a) / sum_root;
            k += 1;
            if nth(k).is_none_or(|following| following.slope <= 1.0 / (s * s)) {
                break;
            }
        }
        if k <= at {
            return 0.0; // not in the active set
        }
        let active = (0..k).filter_map(nth);
        active_share(active, &extra, total, sum_root).clamp(0.0, total)
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
                // The certificate's gap before the last two quotes ([`Step::stalled`]).
                let (mut last_gap, mut gap_before) = (f64::INFINITY, f64::INFINITY);
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
                        bracket_bound(
                            pool.samples.points(),
                            &Split { exact: &exact, total: x_total },
                            x_total,
                            reserve_out,
                            best_h,
                        )
                    } else {
                        (f64::INFINITY, 0.0)
                    };
                    let gap = bound - best_h;
                    if gap <= tolerance || pool.quotes >= MAX_LINE_QUOTES {
                        break;
                    }
                    // The bracket: the samples (or the ends) either side of the best.
                    let (below, above) = pool.samples.beside(best_x);
                    let (left, right) = (below.map_or(0, |p| p.0), above.map_or(total, |p| p.0));
                    let fresh = |x: u64| x > 0 && x <= total && pool.samples.get(x).is_none();
                    let inside = |x: u64| (x > left && x < right) || (x == total && right == total && above.is_none());
                    // The model's curvature says how close the samples beside the best must be
                    // for the bound to close ([`reach`]).
                    let curvature = fit.map_or(0.0, |f| f.model.curvature(best_x as f64));
                    let step = Step {
                        best: (best_x, best_h),
                        below: below.map(|(x, y)| (x, h(x, y))).or((best_x > 0).then(|| (0, exact.output(x_total)))),
                        above: above.map(|(x, y)| (x, h(x, y))),
                        right,
                        model: fit.map(|f| exact.share_of(f.model, x_total).round() as u64),
                        peak,
                        reach: reach(tolerance, curvature),
                        zero_test: if curvature > 0.0 { tolerance / (curvature * right as f64) } else { 0.0 },
                        stalled: gap > 0.5 * last_gap && last_gap > 0.5 * gap_before,
                        kinked: kink_beside(pool.samples.points(), best_x),
                        previous: before_last,
                        untested_model: confirming.is_some() && pool.quotes == 1,
                    };
                    gap_before = last_gap;
                    last_gap = gap;
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

/// The exact pools beside the searched one, as the line search sees them: `G(X − x)`.
struct Split<'a> {
    exact: &'a CpSet,
    total: f64,
}

impl Rest for Split<'_> {
    fn value(&self, x: f64) -> f64 {
        self.exact.output(self.total - x)
    }
    fn stationary(&self, slope: f64) -> f64 {
        self.total - self.exact.demand(slope)
    }
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
    fn the_sole_share_is_the_active_share_of_one_model_to_the_bit() {
        // Reserves from a unit to u64::MAX and beyond (a model of an exact curve's infinite
        // depth), orders from a unit to 10¹⁸, and the degenerate models (empty, infinite).
        let values = [0.0, 1.0, 3.7, 4_002.0, 1e9, 1.234_567_891e13, 9.9e17, 1.8e19, 6.6e17, f64::INFINITY];
        let mut checked = 0;
        for &a in &values {
            for &b in &values {
                let m = Model::new(0, CpModel { a, b });
                for z in [1.0, 7.0, 4_002.0, 123_456_789.0, 2.5e12, 1e18] {
                    let general = active_share(std::iter::once(m), &m, z, m.root);
                    let sole = sole_share(m.root, z);
                    assert_eq!(sole.to_bits(), general.to_bits(), "a {a}, b {b}, z {z}: {sole} vs {general}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 600);
    }

    #[test]
    fn a_small_order_beside_huge_reserves_keeps_every_unit() {
        // Reserves near u64::MAX (a unit is below a 2⁻⁵² of them) and orders of a few units to
        // a few thousand: the closed forms must neither lose the order nor invent input.
        let huge = CpModel { a: 1.8e19, b: 6.6e17 };
        let other = CpModel { a: 9.0e18, b: 3.2e17 };
        for z in [1.0, 7.0, 4002.0, 1e6] {
            let mut one = CpSet::default();
            one.push(0, huge);
            let want = huge.b * z / (huge.a + z);
            assert!((one.output(z) / want - 1.0).abs() < 1e-12, "z {z}: {} vs {want}", one.output(z));
            assert!((one.shares(z).map(|s| s.1).sum::<f64>() - z).abs() <= 1e-9 * z, "z {z}");
            let mut two = one.clone();
            two.push(1, other);
            let shares: f64 = two.shares(z).map(|s| s.1).sum();
            assert!((shares - z).abs() <= 1e-9 * z + 1e-6, "z {z}: shares sum to {shares}");
            // Both slopes are about 0.0356: the pair gives about that per unit, not 0 or 4,096×.
            let per_unit = two.output(z) / z;
            assert!((per_unit / huge.initial_slope() - 1.0).abs() < 0.02, "z {z}: {per_unit} per unit");
            // An extra model beside the huge one: its share is within the order.
            let share = one.share_of(CpModel { a: 1e12, b: 3.6e10 }, z);
            assert!((0.0..=z).contains(&share), "z {z}: share {share}");
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
