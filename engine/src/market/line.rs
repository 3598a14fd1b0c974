//! The line search both searches share: maximise a concave `h(x) = f(x) + rest(x)` of one
//! integer input, `f` a strategy's quote curve known through integer quotes, `rest` known in
//! closed form — the exact pools' output for the rest of an order when routing
//! ([`super::routing`]), `−λ·x` when arbitraging ([`super::arbitrage`]).
//!
//! * **Bracket.** `h` is concave, so the optimum lies next to the best sample: in the interval
//!   to its left or to its right (or next to any sample whose `h` is within its rounding of the
//!   best).
//! * **Bound** ([`bracket_bound`]). Inside an interval between samples, concavity caps `f` by
//!   the extension of the chord on its left, the backward extension of the chord on its right,
//!   and (monotonicity) the interval's right sample — each sample allowed its integer rounding
//!   ([`rounding_error`]) — and `rest` is exact. The cap plus `rest` has a closed-form maximum
//!   on each linear piece (an end, a crossing of two caps, or where the piece's slope meets the
//!   rest's marginal), so the bound over the bracket costs a handful of closed forms per quote,
//!   whatever the number of samples: no envelope over every sample is kept.
//! * **Step** ([`Step::next`]) as Brent's method does, with two interpolants: the parabola
//!   through the best sample and its neighbours, else the optimum of a constant-product model of
//!   `f` (the first step: the one-point model through the first sample, which confirms a
//!   constant-product curve) — either taken only inside the bracket and when it moves less than
//!   half the step before last; else where the bound peaks in the bracket's larger part (on a
//!   piecewise-linear curve, the kink itself); else the golden section of that part. When the
//!   best sits beside a kink ([`kink_beside`]: a jump in the curve's second difference), or two
//!   steps in a row fail to halve the bound's gap (creeping towards one), the bound's peak is
//!   quoted first (by geometric bisection when it lies orders of magnitude from the best). Once
//!   the interpolants land closer to the best than the bound needs (from the model's curvature:
//!   [`reach`]), the bracket is closed at that distance instead — first on the side where the
//!   bound peaks, then on the other — so that a smooth curve's search ends with the best and
//!   one sample either side of it, `reach` away.

use std::cell::Cell;

use super::curve::rounding_error;

/// What the searched curve's input competes with, in closed form.
pub(crate) trait Rest {
    /// Its value when the searched curve takes input `x`.
    fn value(&self, x: f64) -> f64;
    /// The input at which its derivative is `−slope` (where a cap of slope `slope` plus the
    /// rest is stationary), or NaN when there is none (a linear rest: the maximum of a
    /// piecewise-linear function lies at a breakpoint).
    fn stationary(&self, slope: f64) -> f64;
}

/// The arbitrageur's rest: the input's worth at the price `λ` (output units per input unit).
pub(crate) struct Price(pub(crate) f64);

impl Rest for Price {
    fn value(&self, x: f64) -> f64 {
        -self.0 * x
    }
    fn stationary(&self, _slope: f64) -> f64 {
        f64::NAN
    }
}

/// One sample of the searched curve for the bound: input, output, its rounding allowance.
#[derive(Clone, Copy, Debug, Default)]
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

/// What the next input of a line search is chosen from.
pub(crate) struct Step {
    /// The best sample `(x, h)`.
    pub(crate) best: (u64, f64),
    /// The sample (or the origin) below the best, with its `h`.
    pub(crate) below: Option<(u64, f64)>,
    /// The sample above the best, with its `h` (`None`: none sampled up to the order).
    pub(crate) above: Option<(u64, f64)>,
    /// The bracket's right end (the sample above, or the whole order).
    pub(crate) right: u64,
    /// The constant-product model's optimum.
    pub(crate) model: Option<u64>,
    /// Where the bound peaks.
    pub(crate) peak: f64,
    /// How close samples beside the best must be for the bound to close (0: unknown).
    pub(crate) reach: f64,
    /// A small input at which a pool that may deserve nothing is tested (0: unknown).
    pub(crate) zero_test: f64,
    /// How far the step before last moved.
    pub(crate) previous: u64,
    /// Neither of the last two quotes halved the certificate's gap (arbitraging: and each moved
    /// the best): the interpolants are creeping, as they do towards a kink, and the bound's peak
    /// inside the bracket — where the chords either side of the best meet, the kink itself on a
    /// piecewise-linear stretch — is quoted instead.
    pub(crate) stalled: bool,
    /// The best sits beside a kink ([`kink_beside`]): the optimum of a curve smooth on either
    /// side of it lies at the kink, which the bound's peak (where the chords either side meet)
    /// names.
    pub(crate) kinked: bool,
    /// The model is a one-point constant-product fit not yet tested: its optimum is quoted as it
    /// is (a constant-product pool is confirmed there, and the search ends).
    pub(crate) untested_model: bool,
}

/// How close samples beside the best must be for the bound to close within `tolerance` on a
/// curve of curvature `curvature` (0: unknown): the caps overshoot such a curve by about
/// `κ·w²/8` on an interval of width `w`.
pub(crate) fn reach(tolerance: f64, curvature: f64) -> f64 {
    if curvature > 0.0 { (2.0 * REACH_SHARE * tolerance / curvature).sqrt().max(1.0) } else { 0.0 }
}

/// The share of the tolerance [`reach`] aims the bound at: the curvature comes from a
/// constant-product model of a curve that need not be one, and samples exactly at `reach`
/// would leave the bound at the tolerance itself, one rounding short of closing. A quarter (half
/// the distance) closes it with the samples `reach` puts beside the best, in one round.
const REACH_SHARE: f64 = 0.25;

/// Whether the bracketed best sits beside a kink: the curve's second difference at the best
/// (its chords' slope drop per unit of input, each chord allowed its rounding) exceeds
/// [`KINK_RATIO`] times the second difference at a neighbouring sample, rounding included. On
/// a smooth curve the second difference changes little from one sample to the next; beside a
/// kink (a ladder's level ends, a fee steps up) it jumps, and straight stretches (a ladder's
/// levels: a second difference of zero within rounding) are the extreme case.
pub(crate) fn kink_beside(points: &[(u64, u64)], best: u64) -> bool {
    let Ok(k) = points.binary_search_by_key(&best, |p| p.0) else { return false };
    let m = points.len();
    // Indices shifted by one: 0 is the origin, m the last sample.
    let at =
        |i: usize| -> (f64, f64) { if i == 0 { (0.0, 0.0) } else { (points[i - 1].0 as f64, points[i - 1].1 as f64) } };
    // The second difference at point j, with its rounding, where j has a point on each side.
    let second = |j: usize| -> Option<(f64, f64)> {
        if j == 0 || j >= m {
            return None;
        }
        let (a, b, d) = (at(j - 1), at(j), at(j + 1));
        let (s1, s2) = ((b.1 - a.1) / (b.0 - a.0), (d.1 - b.1) / (d.0 - b.0));
        let half = (d.0 - a.0) / 2.0;
        let e = rounding_error(s1.max(s2));
        Some(((s1 - s2) / half, 2.0 * e * (1.0 / (b.0 - a.0) + 1.0 / (d.0 - b.0)) / half))
    };
    let k = k + 1;
    let Some((at_best, noise)) = second(k) else { return false };
    [second(k - 1), second(k + 1)]
        .into_iter()
        .flatten()
        .any(|(beside, its_noise)| at_best - noise > KINK_RATIO * (beside.max(0.0) + its_noise))
}

/// How many times a neighbour's second difference the best's must be for [`kink_beside`]:
/// 2 to 32 all left every smooth family of the curve benchmark set's quote counts unchanged;
/// at 4 the subsidised curve's arbitrage asks 10.3 → 8.7 quotes per pool-step.
const KINK_RATIO: f64 = 4.0;

/// The golden section's smaller part.
const GOLDEN: f64 = 0.381_966_011_250_105;

impl Step {
    /// The next input to quote (Brent's method on `h`, with the constant-product model as a
    /// second interpolant and the bound's peak as a third): a parabola through the bracket or
    /// the model's optimum when it moves less than half the step before last, else the bound's
    /// peak inside the bracket, else the golden section of its larger part. Near convergence
    /// (a step shorter than `reach`), the bracket's open side is closed at `reach` instead.
    pub(crate) fn next(&self, fresh: &dyn Fn(u64) -> bool, inside: &dyn Fn(u64) -> bool) -> u64 {
        let (xb, hb) = self.best;
        let left = self.below.map_or(0, |p| p.0);
        if xb == 0 {
            // The pool may deserve nothing: test it near zero, where a chord to the next sample
            // caps the curve within the tolerance.
            let near = (self.zero_test.round() as u64).clamp(1, (self.right / 16).max(1));
            return near;
        }
        // The bound peaks outside the best's bracket (samples elsewhere come within rounding of
        // the best, as on a pool priced at the market, where every surplus is rounding): only a
        // sample there can bring the bound down.
        let peak = self.peak.round().max(0.0) as u64;
        if (peak < left || peak > self.right) && fresh(peak) {
            // The bound stays open beyond the best's neighbour on the peak's side because the
            // chord through that neighbour and the best is nearly flat: extended that far, its
            // rounding allowance opens the bound. A sample farther out — two reaches past the
            // neighbour, or as far past it as the neighbour is from the best, whichever is
            // more — gives a chord steep enough to cap everything beyond it (and near enough to
            // be capped itself), where one at the peak closes only its own stretch and the next
            // peak creeps in by a constant factor a quote. (A search whose first steps land next
            // to its optimum — a model nearly right — crept in from a far peak over a dozen
            // quotes; with the neighbour beyond two reaches, doubling the distance each quote
            // took the exponential and linear-impact curves' arbitrage from 3.2 and 3.6 quotes
            // a pool-step to 2.7 and 2.9.)
            // (`as` saturates: a reach beyond u64 on an almost straight model stays finite.)
            let two_reaches = (self.reach.round() as u64).saturating_mul(2);
            if two_reaches > 0 {
                if peak < left {
                    let x = left.saturating_sub(two_reaches.max(xb - left));
                    if x > peak && fresh(x) {
                        return x;
                    }
                }
                if peak > self.right {
                    let x = self.right.saturating_add(two_reaches.max(self.right - xb));
                    if x < peak && fresh(x) {
                        return x;
                    }
                }
            }
            return peak;
        }
        if (self.stalled || self.kinked) && peak > left && peak < self.right && peak != xb {
            // (A peak orders of magnitude from the best — chords across many kinks — is
            // approached by geometric bisection: the peak itself would walk in by a constant
            // factor per quote.)
            let (near, far) = (xb.min(peak).max(1) as f64, xb.max(peak) as f64);
            let x = if far > 4.0 * near { (near * far).sqrt().round() as u64 } else { peak };
            if x > left && x < self.right && fresh(x) {
                return x;
            }
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
        let (lo, hi) =
            if xb.saturating_sub(left) >= self.right.saturating_sub(xb) { (left, xb) } else { (xb, self.right) };
        let fallback = || {
            // The bound's peak, if it cuts the bracket's larger part usefully.
            let x = self.peak.round().max(0.0) as u64;
            let useful = x > lo && x < hi && (x.abs_diff(xb) as f64) >= 0.1 * hi.saturating_sub(lo) as f64;
            if useful && fresh(x) {
                return x;
            }
            // The golden section of the larger part, or its geometric middle when it spans
            // orders of magnitude (a curve that is straight up to a far kink).
            if hi > 4 * lo.max(1) {
                ((lo.max(1) as f64 * hi as f64).sqrt().round() as u64).clamp(lo + 1, hi.saturating_sub(1).max(lo + 1))
            } else if lo < xb {
                xb - ((xb - lo) as f64 * GOLDEN).round() as u64
            } else {
                xb + (hi.saturating_sub(xb) as f64 * GOLDEN).round() as u64
            }
        };
        let reach = self.reach.round() as u64;
        // A model whose optimum is the best itself has converged on it, as much as one landing
        // within reach. Most often a corner: the best at the end of the range (the whole order to
        // the searched pool), where no interpolant is fresh. (Without this the golden section
        // walked the bracket in towards the corner at 0.38 of its width a quote. On a curve with
        // a fee step within reach of the corner the corner may now win within the routing
        // tolerance where the walk found the step: the subsidised curve's edge moved
        // −0.17 ± 0.02 Y, 0.14 %, against the tight build.)
        let converged = self.model.filter(|&x| x == xb && reach > 0);
        match parabola.filter(|&x| ok(x)).or(self.model.filter(|&x| ok(x))).or(converged) {
            Some(x) if reach > 0 && x.abs_diff(xb) < reach => {
                // The interpolants have converged on the best. If the bound agrees (it peaks
                // within reach), close the wider side of the bracket at that distance, which
                // the bound needs to close; if it does not (the interpolants are fooled by a
                // straight stretch), search where the bound says instead.
                if self.above.is_none() {
                    // Nothing sampled above the best: the bound is loose out to the end. Close
                    // the bracket beyond the interpolants' optimum first (twice as far out).
                    let out = x.max(xb).saturating_mul(2).max(xb.saturating_add(2 * reach)).min(self.right);
                    if fresh(out) && inside(out) {
                        return out;
                    }
                }
                // Close the side where the bound peaks at `reach` from the best (then the
                // other), when that side's neighbour is farther.
                let toward_peak = self.peak >= xb as f64;
                for right_side in [toward_peak, !toward_peak] {
                    let (gap, at) = if right_side {
                        (self.right.saturating_sub(xb), xb.saturating_add(reach))
                    } else {
                        (xb.saturating_sub(left), xb.saturating_sub(reach))
                    };
                    if gap > 2 * reach && fresh(at) && inside(at) {
                        return at;
                    }
                }
                if (self.peak - xb as f64).abs() > 2.0 * reach as f64 || !fresh(x) {
                    return fallback();
                }
                x
            }
            Some(x) => x,
            None => fallback(),
        }
    }
}

/// Upper bound on `max h(x) = f(x) + rest(x)` over `[0, end]` near the best sample, with the
/// input where it peaks. `points`: the searched curve's samples (sorted, origin implied);
/// `best`: the best sampled `h`. Every interval next to a sample whose `h` comes within its
/// rounding of `best` is bounded (concavity of `h` rules out the rest).
pub(crate) fn bracket_bound(
    points: &[(u64, u64)],
    rest: &impl Rest,
    end: f64,
    reserve_out: u64,
    best: f64,
) -> (f64, f64) {
    // (Only for a sample within two units of its neighbour and the origin: a pass over every
    // sample, not taken on the common path.)
    let steepest = || points.iter().map(|&(x, y)| y as f64 / x as f64).fold(0.0, f64::max);
    let compute = |k: usize| -> Point {
        if k == 0 {
            return Point { x: 0.0, y: 0.0, e: 0.0 };
        }
        let (x, y) = points[k - 1];
        let (xp, yp) = if k == 1 { (0, 0) } else { points[k - 2] };
        let (x, y) = (x as f64, y as f64);
        // Its rounding is one output unit plus two input units at the curve's slope just left
        // of it (an input fee rounds the input down before the curve is applied), and by
        // concavity any chord left of `x − 2` is at least as steep as that slope: the chord
        // from the previous sample (its quote rounded down, this one's one unit below the
        // curve at `x − 2`) and the chord from the origin (the curve passes through it), the
        // smaller of the two. Only inputs within two units of the previous sample and of the
        // origin (an input fee can round a one-unit input to nothing, so its quote says
        // nothing of the slope) take the steepest average slope of any sample instead.
        // (Not that steepest slope for every sample: a curve whose slope falls steeply from
        // the origin — a square root, `x^k` with `k < 1` — would carry its initial slope's
        // rounding to the optimum, orders of magnitude more than the tolerance there, and no
        // certificate would close: the brute-force square roots asked 42 quotes a search, 13
        // after.)
        let chord = if x - xp as f64 > 2.0 { (y - yp as f64 + 2.0) / (x - xp as f64 - 2.0) } else { f64::INFINITY };
        let origin = if x > 2.0 { (y + 2.0) / (x - 2.0) } else { f64::INFINITY };
        let slope = chord.min(origin);
        let slope = if slope.is_finite() { slope } else { steepest() };
        Point { x, y, e: rounding_error(slope) }
    };
    // Each point is needed by the loop below and by the up to four intervals around it: kept
    // in a ring of the last few computed (the intervals of k − 1 and k reach k − 2 … k + 2), so
    // each is computed once — its division and rounding were most of the bound's cost.
    let ring: [Cell<(usize, Point)>; 8] = Default::default();
    let point = |k: usize| -> Point {
        let slot = &ring[k % 8];
        let (at, p) = slot.get();
        if at == k + 1 {
            return p;
        }
        let p = compute(k);
        slot.set((k + 1, p));
        p
    };
    let m = points.len();
    let h = |k: usize| {
        let p = point(k);
        p.y + rest.value(p.x)
    };
    let (mut bound, mut peak) = (f64::NEG_INFINITY, 0.0);
    // Intervals k = 0..=m: between point k and point k + 1 (the last one: to `end`).
    let mut bound_interval = |k: usize| {
        let left = point(k);
        let right_end = if k < m { point(k + 1).x } else { end };
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
        let phi = |x: f64| caps.iter().map(|c| c.at(x)).fold(f64::INFINITY, f64::min) + rest.value(x);
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
            // Where this piece's slope meets the rest's marginal (its stationary point).
            let at = rest.stationary(a.s);
            if at.is_finite() {
                consider(at);
            }
            for b in &caps[i + 1..] {
                if a.s != b.s {
                    consider((b.c - a.c) / (a.s - b.s));
                }
            }
        }
    };
    // (Intervals in increasing order, each once: bounding one again could only repeat values,
    // which never replace the first maximum found.)
    let mut next_interval = 0;
    for k in 0..=m {
        let p = point(k);
        if h(k) + 2.0 * p.e + 2.0 * rounding_error(p.y / p.x.max(1.0)) >= best {
            for j in k.saturating_sub(1).max(next_interval)..=k {
                bound_interval(j);
            }
            next_interval = k + 1;
        }
    }
    (bound, peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer samples of `f` at `xs` (sorted).
    fn sampled(f: impl Fn(f64) -> f64, xs: &[u64]) -> Vec<(u64, u64)> {
        xs.iter().map(|&x| (x, f(x as f64).floor() as u64)).collect()
    }

    /// A step with the best at 1e12, its neighbours at `below` and `above`, and the bound
    /// peaking far below the bracket (the stretch between the origin's chord and the nearly flat
    /// chord through a tight bracket, which carries its rounding that far).
    fn far_peak_step(below: u64, above: u64) -> Step {
        Step {
            best: (1_000_000_000_000, 5e6),
            below: Some((below, 5e6 - 10.0)),
            above: Some((above, 5e6 - 10.0)),
            right: above,
            model: Some(1_000_000_000_000),
            peak: 4e11,
            reach: 2e8,
            zero_test: 0.0,
            previous: 2e8 as u64,
            stalled: false,
            kinked: false,
            untested_model: false,
        }
    }

    #[test]
    fn a_bracket_closes_its_far_side_two_reaches_or_twice_as_far_out_not_at_the_peak() {
        let fresh = |x: u64| x > 0;
        let inside = |_: u64| true;
        // Both neighbours within a reach: one quote two reaches below the lower one caps the
        // whole stretch down to the peak (a quote at the peak caps only its own, and the next
        // peak creeps in by a constant factor a quote).
        let tight = far_peak_step(1_000_000_000_000 - 150_000_000, 1_000_000_000_000 + 150_000_000);
        assert_eq!(tight.next(&fresh, &inside), 1_000_000_000_000 - 150_000_000 - 400_000_000);
        // A neighbour farther than two reaches: as far again past it (doubling the distance
        // from the best), not the peak.
        let loose = far_peak_step(900_000_000_000, 1_000_000_000_000 + 150_000_000);
        assert_eq!(loose.next(&fresh, &inside), 800_000_000_000);
        // Unless that would pass the peak: then the peak itself.
        let near_peak = far_peak_step(600_000_000_000, 1_000_000_000_000 + 150_000_000);
        assert_eq!(near_peak.next(&fresh, &inside), 400_000_000_000);
        // The same on the far side above.
        let above =
            Step { peak: 3e12, ..far_peak_step(1_000_000_000_000 - 150_000_000, 1_000_000_000_000 + 150_000_000) };
        assert_eq!(above.next(&fresh, &inside), 1_000_000_000_000 + 150_000_000 + 400_000_000);
    }

    #[test]
    fn at_the_corner_a_model_pointing_at_the_best_closes_the_bracket_at_reach() {
        // The best at the end of the range (the whole order to the searched pool), the model's
        // optimum there too, the sample below far: the bracket is closed at reach below the best,
        // not walked in by the golden section.
        let (xb, below) = (1_000_000_000_000u64, 900_000_000_000u64);
        let fresh = |x: u64| x > 0 && x != xb && x != below;
        let inside = |_: u64| true;
        let corner = Step {
            best: (xb, 5e6),
            below: Some((below, 5e6 - 1_000.0)),
            above: None,
            right: xb,
            model: Some(xb),
            peak: (xb - 100_000_000) as f64,
            reach: 2e8,
            zero_test: 0.0,
            previous: u64::MAX,
            stalled: false,
            kinked: false,
            untested_model: false,
        };
        assert_eq!(corner.next(&fresh, &inside), xb - 200_000_000);
        // Inside the range (a sample above the best) the parabola through the bracket comes
        // first, as before.
        let inner = Step { above: Some((xb + 1_000_000_000, 5e6 - 1_000.0)), right: xb + 1_000_000_000, ..corner };
        assert_eq!(inner.next(&fresh, &inside), 950_500_000_000);
    }

    #[test]
    fn a_kink_beside_the_best_is_seen_and_a_smooth_curve_shows_none() {
        // Two levels of a ladder: slope 0.011 up to 5e9, then 0.009.
        let ladder = |x: f64| if x < 5e9 { 0.011 * x } else { 0.011 * 5e9 + 0.009 * (x - 5e9) };
        let xs = [1_000_000_000, 2_000_000_000, 3_000_000_000, 7_000_000_000];
        let points = sampled(ladder, &xs);
        // The best (3e9) is bracketed and on one line with the two samples below it.
        assert!(kink_beside(&points, 3_000_000_000));
        // Beyond the kink: 3e9 and 7e9 straddle it, and nothing lies above 7e9 (not bracketed).
        assert!(!kink_beside(&points, 7_000_000_000));
        // A constant-product curve sampled as far apart is curved well beyond its rounding.
        let cp = |x: f64| 1e11 * x / (1e13 + x);
        let points = sampled(cp, &xs);
        assert!(!kink_beside(&points, 3_000_000_000));
        assert!(!kink_beside(&points, 2_000_000_000));
        // A fee step on a constant-product curve (the subsidised family): 5 bps paid below 5e9,
        // 60 bps charged above it.
        let stepped = |x: f64| {
            let e = if x <= 5e9 { x * 1.0005 } else { 5e9 * 1.0005 + (x - 5e9) * 0.994 };
            1e11 * e / (1e13 + e)
        };
        let xs = [3_000_000_000, 4_000_000_000, 5_200_000_000, 6_000_000_000, 7_000_000_000];
        let points = sampled(stepped, &xs);
        assert!(kink_beside(&points, 5_200_000_000), "the step lies between 4e9 and 5.2e9");
        // Two samples past the step, the best's second difference is the smooth curve's.
        assert!(!kink_beside(&points, 6_000_000_000));
        // A best that is no sample, or with no sample above it, is never beside a kink.
        assert!(!kink_beside(&points, 2_500_000_000));
        assert!(!kink_beside(&points, 7_000_000_000));
    }
}
