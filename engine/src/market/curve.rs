//! What arbitrage and routing know about a pool's quote curve, and how they reason about it.
//!
//! A strategy's curve `f(x)` (output for input `x`) is known only through quotes, each a call
//! into the sandbox. The rules promise it is nondecreasing and concave with `f(0) = 0`, which
//! gives three tools:
//!
//! * **A constant-product model** `f(x) ≈ b·x / (a + x)`. Every constant-product pool with a fee
//!   taken from the input is exactly of this form (`a = reserve_in / (1 − fee)`,
//!   `b = reserve_out`), and in reciprocal coordinates it is a straight line, so two quotes fit
//!   it exactly. Its marginal output is `a·b / (a + x)²`, so the input at which the marginal
//!   falls to `λ` is `√(a·b/λ) − a`: the arbitrage optimum and the router's equimarginal split
//!   have closed forms.
//! * **A certificate.** Concavity bounds the curve from above between samples (by extending the
//!   neighbouring chords) and monotonicity bounds it by the next sample, so
//!   `max_x f(x) − λ·x` has a computable upper bound from the samples alone. Weak duality turns
//!   that into an upper bound on the best achievable result; the gap to what was achieved says
//!   when a search may stop.
//! * **Shape checks.** The same samples expose a curve that is not monotone or not concave.

use std::cell::RefCell;

/// Most samples kept per curve (fixed capacity: no allocation in the simulation loop).
pub const MAX_SAMPLES: usize = 64;

/// One sampled point, `(input, output)` in nano units.
pub type Sample = (u64, u64);

/// Sampled points `(input, output)` of one curve, sorted by input, `(0, 0)` implied.
#[derive(Clone, Debug)]
pub struct Samples {
    points: [(u64, u64); MAX_SAMPLES],
    len: usize,
    /// The envelope bound's candidates and hull, kept in step with the points (brought up to
    /// date on demand).
    hull: RefCell<EnvelopeHull>,
}

impl Default for Samples {
    fn default() -> Self {
        Self { points: [(0, 0); MAX_SAMPLES], len: 0, hull: RefCell::default() }
    }
}

/// A sampled curve that breaks the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeViolation {
    /// A larger input gave a smaller output.
    NotMonotone {
        /// Smaller input and its output.
        lower: (u64, u64),
        /// Larger input and its (smaller) output.
        higher: (u64, u64),
    },
    /// The marginal output rose between consecutive segments.
    NotConcave {
        /// The three inputs spanning the two segments.
        inputs: (u64, u64, u64),
    },
}

impl std::fmt::Display for ShapeViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeViolation::NotMonotone { lower, higher } => write!(
                f,
                "quote curve not monotone: input {} gave {} but larger input {} gave {}",
                lower.0, lower.1, higher.0, higher.1
            ),
            ShapeViolation::NotConcave { inputs } => write!(
                f,
                "quote curve not concave: marginal output rose between inputs {}, {}, {}",
                inputs.0, inputs.1, inputs.2
            ),
        }
    }
}

impl Samples {
    /// No samples yet.
    pub fn clear(&mut self) {
        self.len = 0;
        self.hull.get_mut().clear();
    }

    /// The sampled points, sorted by input (without the implied origin).
    pub fn points(&self) -> &[(u64, u64)] {
        &self.points[..self.len]
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing has been sampled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The output recorded for `input`, if sampled.
    pub fn get(&self, input: u64) -> Option<u64> {
        self.points().binary_search_by_key(&input, |p| p.0).ok().map(|i| self.points[i].1)
    }

    /// Records a sample (ignored when full or already present).
    pub fn insert(&mut self, input: u64, output: u64) {
        if input == 0 || self.len == MAX_SAMPLES {
            return;
        }
        match self.points().binary_search_by_key(&input, |p| p.0) {
            Ok(_) => {}
            Err(at) => {
                self.points.copy_within(at..self.len, at + 1);
                self.points[at] = (input, output);
                self.len += 1;
                self.hull.get_mut().inserted(at, self.len);
            }
        }
    }

    /// Checks the samples (with the origin) for a nondecreasing, concave curve, each sample
    /// allowed the rounding of a fixed-point curve ([`check_shape`]); `reserve_out` is the
    /// pool's output-side reserve (nano units).
    pub fn check_shape(&self, reserve_out: u64) -> Result<(), ShapeViolation> {
        check_shape(self.points(), reserve_out)
    }

    /// The samples either side of `x` (a sampled input, or 0 for the origin): the one below
    /// (`None` for the origin or the first sample, whose neighbour below is the origin) and the
    /// one above (`None` past the last).
    pub fn beside(&self, x: u64) -> (Option<Sample>, Option<Sample>) {
        let points = self.points();
        if x == 0 {
            return (None, points.first().copied());
        }
        let at = points.partition_point(|p| p.0 < x);
        (at.checked_sub(1).map(|k| points[k]), points.get(at + 1).copied())
    }

    /// The two samples nearest `x`.
    pub fn nearest_two(&self, x: u64) -> Option<((u64, u64), (u64, u64))> {
        if self.len < 2 {
            return None;
        }
        let at = self.points().partition_point(|p| p.0 < x);
        // The nearest two lie within two places of the insertion point.
        let lo = at.saturating_sub(2);
        let hi = (at + 2).min(self.len);
        let mut best: Option<(u64, usize)> = None;
        let mut second: Option<(u64, usize)> = None;
        for i in lo..hi {
            let d = self.points[i].0.abs_diff(x);
            if best.is_none_or(|b| d < b.0) {
                second = best;
                best = Some((d, i));
            } else if second.is_none_or(|b| d < b.0) {
                second = Some((d, i));
            }
        }
        let (i, j) = (best?.1, second?.1);
        Some((self.points[i.min(j)], self.points[i.max(j)]))
    }

    /// The sample nearest `x` and, with it, the sample nearest to that one among those at least
    /// [`MIN_CONFIRMING_DISTANCE`] (relative) away, sorted by input; the two nearest samples
    /// when none is that far. (Two samples closer than that carry their rounding into a
    /// secant's slope many times over: at a noise floor their secant points anywhere.)
    pub fn secant_pair(&self, x: u64) -> Option<((u64, u64), (u64, u64))> {
        let (a, b) = self.nearest_two(x)?;
        let p = if a.0.abs_diff(x) <= b.0.abs_diff(x) { a } else { b };
        let apart = |q: &(u64, u64)| q.0.abs_diff(p.0) as f64 >= MIN_SECANT_SPAN * q.0.max(p.0) as f64;
        let at = self.points().partition_point(|q| q.0 < p.0);
        let below = self.points()[..at].iter().rev().find(|q| apart(q));
        let above = self.points()[at..].iter().find(|q| apart(q));
        let q = match (below, above) {
            (Some(l), Some(r)) => Some(if p.0 - l.0 <= r.0 - p.0 { *l } else { *r }),
            (l, r) => l.or(r).copied(),
        };
        Some(match q {
            Some(q) if q.0 < p.0 => (q, p),
            Some(q) => (p, q),
            None => (a, b),
        })
    }

    /// Bounds on the input where the marginal output falls to `lambda` (the demand at
    /// `lambda`): by concavity it lies between the left end of the last chord steeper than
    /// `lambda` and the right end of the first chord flatter than it (`None`: beyond the last
    /// sample).
    pub fn demand_bracket(&self, lambda: f64) -> (u64, Option<u64>) {
        let point = |i: usize| if i == 0 { (0, 0) } else { self.points[i - 1] };
        let slope = |k: usize| {
            let ((x0, y0), (x1, y1)) = (point(k), point(k + 1));
            (y1 as f64 - y0 as f64) / (x1 - x0) as f64
        };
        // Chord k joins point k and k + 1 (point 0 is the origin).
        match (0..self.len).find(|&k| slope(k) < lambda) {
            None => (point(self.len).0, None),
            Some(k) => (point(k.saturating_sub(1)).0, Some(point(k + 1).0)),
        }
    }

    /// Upper bound on `max_{0 ≤ x ≤ x_max} g(x) − λ·x` over every nondecreasing concave `g`
    /// through the origin that passes near every sample, with the `x` where the bound is
    /// attained.
    ///
    /// Quotes are integers: a sample may sit below the curve it rounds by `err` output units
    /// plus `2·err` input units worth the curve's slope there (a fee taken from the input and
    /// rounded down). Each sample `i` is therefore allowed `err·(1 + 2sᵢ)` either way, `sᵢ` the
    /// steepest the chord from the previous sample (or the origin) may be. A quote may then
    /// also exceed the bound by up to [`rounding_error`] at the slope `λ`. With `err = 0` the
    /// samples are taken as exact.
    ///
    /// Cost: the bound's candidate maxima (samples, crossings of the bounding lines) do not
    /// depend on `λ`, so their upper convex hull is kept per sample set, `x_max` and `err`, and
    /// each call is a scan of its vertices (a handful): searches that ask for many prices
    /// between two quotes (the router's dual bound) pay for the samples once. The hull follows
    /// the samples rather than being rebuilt: after an insertion at sorted position `k` the
    /// first call recomputes the candidates of the five segments around `k` and replays the
    /// hull's monotone chain from segment `k − 1` on over the candidates kept (`O(n − k)`
    /// cheap steps); a new `x_max` or `err`, or the first call after [`Samples::clear`],
    /// computes everything (`O(n)`). Either way the hull is the one a pass over all the
    /// candidates builds, to the bit.
    pub fn envelope_max(&self, lambda: f64, x_max: f64, err: f64) -> (f64, f64) {
        if self.len == 0 {
            // Nothing sampled: no bound but the trivial one.
            return if x_max > 0.0 { (f64::INFINITY, x_max) } else { (0.0, 0.0) };
        }
        let mut hull = self.hull.borrow_mut();
        hull.update(self.points(), x_max, err);
        hull.max(lambda)
    }
}

/// Most candidates one segment between samples offers, in the order they are pushed: its left
/// sample, the bound there, up to three line crossings and its right end.
const SEGMENT_CANDIDATES: usize = 6;

/// Candidate slots: the origin, each segment's candidates, and the two at and beyond the last
/// sample.
const SLOTS: usize = 1 + SEGMENT_CANDIDATES * MAX_SAMPLES + 2;

/// The origin's slot.
const ORIGIN: u16 = 0;

/// The first slot of the candidates at and beyond the last sample.
const TAIL: usize = 1 + SEGMENT_CANDIDATES * MAX_SAMPLES;

/// No slot (below the bottom of the chain).
const NONE: u16 = u16::MAX;

/// The first candidate slot of the segment with id `id`.
fn segment_slot(id: u8) -> usize {
    1 + SEGMENT_CANDIDATES * id as usize
}

/// `mask` with a zero bit opened at `at`: bits from `at` up move one place up (an insertion).
fn open_bit(mask: u128, at: usize) -> u128 {
    let low = (1u128 << at) - 1;
    (mask & low) | ((mask & !low) << 1)
}

/// Bits `from..to` set.
fn bits(from: usize, to: usize) -> u128 {
    if from >= to { 0 } else { (u128::MAX >> (128 - (to - from))) << from }
}

/// The envelope bound's candidate maxima `(x, U(x))` for one sample set, `x_max` and `err`
/// (see [`Samples::envelope_max`]) and their upper convex hull: `max_x U(x) − λx` over the
/// candidates is attained at a hull vertex.
///
/// Kept in step with the samples rather than rebuilt: a sample inserted at sorted position
/// `k` changes the extents of itself and the sample after it only, and so the candidates of
/// segments `k − 1 ..= k + 3` only (segment `j` reads samples `j − 1 ..= j + 2` through its
/// bounding lines); the others keep theirs where they are (under the segment's id). The hull
/// is a monotone chain over the candidates in order, kept as a persistent stack (each pushed
/// candidate remembers the one below it) with its top after every segment: the chain is taken
/// up again after the segments before the first changed one and replayed over the rest, which
/// gives the very hull a pass over all the candidates gives.
#[derive(Clone, Debug)]
struct EnvelopeHull {
    /// `(x_max, err)` the cache holds (`None`: nothing cached: cleared, or never built).
    key: Option<(f64, f64)>,
    /// Samples were inserted since the hull was last brought up to date.
    stale: bool,
    /// Each sample's input and the highest and lowest values a curve through it may take
    /// there, index 0 the exact origin (see [`sample_extent`]).
    extents: [(f64, f64, f64); MAX_SAMPLES + 1],
    /// Extents (bit `i`: sample index `i`) and segments (bit `k`: the `k`-th by input) to
    /// recompute.
    dirty_extents: u128,
    dirty_segments: u128,
    /// The id of the `k`-th segment (from sample `k`, the origin being sample 0, to `k + 1`):
    /// where its candidates are kept, which does not change when a segment before it is
    /// inserted.
    ids: [u8; MAX_SAMPLES],
    /// Ids handed out since the last computation from scratch.
    next_id: u8,
    /// Candidates in push order within a segment: the origin, the segment with id `i`'s from
    /// [`segment_slot`]`(i)`, those at and beyond the last sample from [`TAIL`].
    candidates: [(f64, f64); SLOTS],
    /// Number of candidates of each segment, by id.
    counts: [u8; MAX_SAMPLES],
    /// Number of candidates at and beyond the last sample.
    tail: u8,
    /// The chain: each pushed candidate's predecessor on the hull ([`NONE`]: the bottom).
    below: [u16; SLOTS],
    /// The chain's top after the `k`-th segment's candidates.
    top_after: [u16; MAX_SAMPLES],
    /// Hull vertices by increasing `x` in `vertices[first..]`; edge slopes decrease (up to
    /// floating-point rounding: see [`EnvelopeHull::max`]).
    vertices: [(f64, f64); SLOTS],
    first: usize,
}

impl Default for EnvelopeHull {
    fn default() -> Self {
        Self {
            key: None,
            stale: false,
            extents: [(0.0, 0.0, 0.0); MAX_SAMPLES + 1],
            dirty_extents: 0,
            dirty_segments: 0,
            ids: [0; MAX_SAMPLES],
            next_id: 0,
            candidates: [(0.0, 0.0); SLOTS],
            counts: [0; MAX_SAMPLES],
            tail: 0,
            below: [NONE; SLOTS],
            top_after: [NONE; MAX_SAMPLES],
            vertices: [(0.0, 0.0); SLOTS],
            first: SLOTS,
        }
    }
}

impl EnvelopeHull {
    /// Forgets the cache (the samples were cleared).
    fn clear(&mut self) {
        self.key = None;
    }

    /// Follows a sample inserted at sorted position `at`, `n` samples now: what sits above it
    /// moves up a place, and what it changes is marked for recomputation.
    fn inserted(&mut self, at: usize, n: usize) {
        if self.key.is_none() {
            return;
        }
        self.stale = true;
        // The new sample's extent index; extents above it move up (old indices e..n).
        let e = at + 1;
        self.extents.copy_within(e..n, e + 1);
        // A new segment: the upper half of the one the new sample splits (or, past the last
        // sample, the one ending at it). Those above it move up a place with their ids, so
        // their candidates stay where they are.
        let k = (at + 1).min(n - 1);
        self.ids.copy_within(k..n - 1, k + 1);
        self.ids[k] = self.next_id;
        self.next_id += 1;
        // The new sample's extents, and the next sample's (its allowance reads the chord from
        // the new one).
        self.dirty_extents = open_bit(self.dirty_extents, e) | bits(e, (e + 2).min(n + 1));
        // Segment j reads extents j − 1 ..= j + 2.
        self.dirty_segments = open_bit(self.dirty_segments, k) | bits(at.saturating_sub(1), (at + 4).min(n));
    }

    /// Brings the candidates and the hull up to date for `points` (sorted, origin implied, at
    /// least one), `x_max` and `err`.
    fn update(&mut self, points: &[(u64, u64)], x_max: f64, err: f64) {
        let n = points.len();
        let same = self.key.is_some_and(|k| k.0.to_bits() == x_max.to_bits() && k.1.to_bits() == err.to_bits());
        if same && !self.stale {
            return;
        }
        if !same {
            self.key = Some((x_max, err));
            self.dirty_extents = bits(1, n + 1);
            self.dirty_segments = bits(0, n);
            for (k, id) in self.ids[..n].iter_mut().enumerate() {
                *id = k as u8;
            }
            self.next_id = n as u8;
        }
        self.stale = false;
        let mut dirty = std::mem::take(&mut self.dirty_extents);
        while dirty != 0 {
            let i = dirty.trailing_zeros() as usize;
            dirty &= dirty - 1;
            self.extents[i] = sample_extent(points, i, err);
        }
        let mut dirty = std::mem::take(&mut self.dirty_segments);
        let first = (dirty.trailing_zeros() as usize).min(n);
        while dirty != 0 {
            let k = dirty.trailing_zeros() as usize;
            dirty &= dirty - 1;
            self.segment(k, n, x_max);
        }
        self.candidates_beyond(n, x_max);
        // Take the chain up after the last unchanged segment and replay the rest.
        let mut top = if first == 0 {
            self.below[ORIGIN as usize] = NONE;
            ORIGIN
        } else {
            self.top_after[first - 1]
        };
        for k in first..n {
            let id = self.ids[k];
            let slot = segment_slot(id);
            for s in slot..slot + self.counts[id as usize] as usize {
                top = self.push(top, s);
            }
            self.top_after[k] = top;
        }
        for s in TAIL..TAIL + self.tail as usize {
            top = self.push(top, s);
        }
        let mut i = SLOTS;
        while top != NONE {
            i -= 1;
            self.vertices[i] = self.candidates[top as usize];
            top = self.below[top as usize];
        }
        self.first = i;
    }

    /// Pushes candidate `slot` on the chain whose top is `top` (candidates arrive by
    /// nondecreasing `x`); returns the new top.
    fn push(&mut self, mut top: u16, slot: usize) -> u16 {
        let (x, value) = self.candidates[slot];
        while top != NONE {
            let (lx, lv) = self.candidates[top as usize];
            let below = self.below[top as usize];
            if x <= lx {
                // Same input (candidates are sorted): keep the higher value.
                if value <= lv {
                    return top;
                }
                top = below;
                continue;
            }
            if below != NONE {
                let (px, pv) = self.candidates[below as usize];
                // Drop the top when it lies on or below the chord from its predecessor to the
                // new point (not a vertex of the upper hull).
                if (lv - pv) * (x - px) <= (value - pv) * (lx - px) {
                    top = below;
                    continue;
                }
            }
            break;
        }
        self.below[slot] = top;
        slot as u16
    }

    /// The steepest the chord from sample `k` to `k + 1` may be.
    fn steepest(&self, k: usize) -> f64 {
        let ((x0, _, lo0), (x1, hi1, _)) = (self.extents[k], self.extents[k + 1]);
        (hi1 - lo0) / (x1 - x0)
    }

    /// The flattest the chord from sample `k` to `k + 1` may be.
    fn flattest(&self, k: usize) -> f64 {
        let ((x0, hi0, _), (x1, _, lo1)) = (self.extents[k], self.extents[k + 1]);
        (lo1 - hi0) / (x1 - x0)
    }

    /// Computes the `k`-th segment's candidates (between sample `k` and `k + 1`, `n` samples).
    fn segment(&mut self, k: usize, n: usize, x_max: f64) {
        let id = self.ids[k];
        let slot = segment_slot(id);
        let ((x0, hi0, _), (x1, hi1, _)) = (self.extents[k], self.extents[k + 1]);
        if x0 > x_max {
            self.counts[id as usize] = 0;
            return;
        }
        // Bounds valid on this segment: the next sample (monotone), the previous chord
        // extended forward and the next chord extended backward (concave), each at its most
        // generous within the rounding.
        let forward = (k > 0).then(|| (x0, hi0, self.steepest(k - 1)));
        let backward = (k + 1 < n).then(|| (x1, hi1, self.flattest(k + 1)));
        let cap = hi1;
        let out = &mut self.candidates[slot..slot + SEGMENT_CANDIDATES];
        let mut c = 0;
        // Pushes that cannot change the chain are left out: a candidate the push would
        // refuse (not a number, negative, unbounded), one at or left of the candidate before it
        // and no higher (that one, or a vertex at least as high at its input, tops the chain
        // when it comes), and one followed at the same input by one at least as high (whose
        // push pops what it pops, in the same order, and then pops it: the chord test is
        // monotone in the new point's value).
        let mut put = |x: f64, value: f64| {
            if x.is_nan() || x < 0.0 || !value.is_finite() {
                return;
            }
            if c > 0 {
                let (px, pv) = out[c - 1];
                if x <= px && value <= pv {
                    return;
                }
                if x == px && value >= pv {
                    c -= 1;
                }
            }
            out[c] = (x, value);
            c += 1;
        };
        // Sample k itself (the origin for k = 0) is a candidate at its highest value.
        put(x0, hi0);
        let hi = x1.min(x_max);
        if hi > x0 {
            let line = |l: (f64, f64, f64), x: f64| l.1 + l.2 * (x - l.0);
            let bound = |x: f64| {
                let mut u = cap;
                if let Some(l) = forward {
                    u = u.min(line(l, x));
                }
                if let Some(l) = backward {
                    u = u.min(line(l, x));
                }
                u
            };
            // Where two of the bounding lines cross, the (concave) bound may peak.
            let lines = [forward, backward, Some((0.0, cap, 0.0))];
            let mut crossings = [f64::NAN; 3];
            let mut m = 0;
            for a in 0..3 {
                for b in a + 1..3 {
                    if let (Some(la), Some(lb)) = (lines[a], lines[b])
                        && (la.2 - lb.2).abs() > 0.0
                    {
                        let x = (lb.1 - lb.2 * lb.0 - la.1 + la.2 * la.0) / (la.2 - lb.2);
                        if x > x0 && x < hi {
                            crossings[m] = x;
                            m += 1;
                        }
                    }
                }
            }
            crossings[..m].sort_by(f64::total_cmp);
            // (Right of the origin the bound may already be high: a concave curve may jump
            // there. At later samples it is at most the sample's own highest value.)
            put(x0, bound(x0));
            for &x in &crossings[..m] {
                put(x, bound(x));
            }
            // (Not at the next sample, when it is a candidate: it is the next push, at the
            // same input and at least as high, since the bound never exceeds the cap.)
            if !(x1 <= x_max && cap.is_finite()) {
                put(hi, bound(hi));
            }
        }
        self.counts[id as usize] = c as u8;
    }

    /// Computes the candidates at and beyond the last of `n` samples.
    fn candidates_beyond(&mut self, n: usize, x_max: f64) {
        let mut c = 0;
        let (xl, hl, _) = self.extents[n];
        let mut put = |slots: &mut [(f64, f64); SLOTS], x: f64, value: f64| {
            if !(x.is_nan() || x < 0.0 || !value.is_finite()) {
                slots[TAIL + c] = (x, value);
                c += 1;
            }
        };
        if xl <= x_max {
            put(&mut self.candidates, xl, hl);
        }
        if x_max > xl && n > 0 {
            // Beyond the last sample, concavity allows at most the last chord's slope.
            let s = self.steepest(n - 1).max(0.0);
            put(&mut self.candidates, x_max, hl + s * (x_max - xl));
        }
        self.tail = c as u8;
    }

    /// `(max U(x) − λx, argmax)` over the hull; `(0, 0)` when nothing beats the origin.
    ///
    /// A scan of the vertices, not a binary search on the edges' slopes: vertices can lie a few
    /// units apart at inputs of 10¹⁵ (a sample and a line crossing beside it), where an edge's
    /// slope is all floating-point rounding, so the slopes are not reliably decreasing and a
    /// binary search can miss the maximum entirely. (It did: a bound of 4.5 below a sampled
    /// surplus of 2·10¹², which ended an arbitrage search at three quarters of its optimum.)
    /// A vertex wrongly kept or dropped by that rounding changes the maximum by no more than
    /// it. Hulls hold a handful of vertices: the scan costs what the search would.
    fn max(&self, lambda: f64) -> (f64, f64) {
        let mut best = (0.0, 0.0);
        // (Ties go to the smaller input: the scan runs by increasing input.)
        for &(x, value) in &self.vertices[self.first..] {
            let surplus = value - lambda * x;
            if surplus > best.0 {
                best = (surplus, x);
            }
        }
        best
    }
}

/// Sample `i`'s input and the highest and lowest values a curve through it may take there
/// (`points` sorted, index 0 the exact origin, `i ≥ 1`): it is allowed `err·(1 + 2sᵢ)` either
/// way, `sᵢ` the steepest the chord from the previous sample may be (see
/// [`Samples::envelope_max`]).
fn sample_extent(points: &[(u64, u64)], i: usize, err: f64) -> (f64, f64, f64) {
    let err = err.max(0.0);
    let (x, y) = points[i - 1];
    let (x, y) = (x as f64, y as f64);
    let allowance = if err == 0.0 {
        0.0
    } else {
        let (xp, yp) = if i == 1 { (0.0, 0.0) } else { (points[i - 2].0 as f64, points[i - 2].1 as f64) };
        err * rounding_error((y - yp + 2.0 * err) / (x - xp))
    };
    (x, y + allowance, (y - allowance).max(0.0))
}

/// Output units any quote may be off by, whatever the curve: one unit of output rounding and
/// one more for a fee taken from the output after rounding (`gross − ⌊gross·fee⌋`), doubled for
/// a curve computed in two rounded stages. The reference challenge allows the same 4 nano units.
pub const ROUNDING_UNITS: f64 = 4.0;

/// A fixed-point curve's rounding relative to the output-side reserve: a quote computed from
/// the reserve through a ratio or a square root at 9 decimal places (WAD's integer square root
/// is one, `isqrt(r·10¹⁸)` carrying `10⁻⁹` of `√r`) is off by up to `10⁻⁹` of the reserve, which
/// the output inherits. That is 10⁻⁵ Y on a 10,000 Y reserve: too little for a curve that
/// bends within it to gain anything, and far below what the hostile shapes use.
pub const ROUNDING_OF_RESERVE: f64 = 1e-9;

/// How far (output units) a fixed-point quote at marginal output `slope` may sit from the
/// concave curve it rounds: [`ROUNDING_UNITS`], two input units worth `slope` (an input fee
/// rounded down), and [`ROUNDING_OF_RESERVE`] of the output-side reserve.
pub fn sample_rounding(slope: f64, reserve_out: u64) -> f64 {
    ROUNDING_UNITS + 2.0 * slope.abs() + ROUNDING_OF_RESERVE * reserve_out as f64
}

/// Checks sampled `(input, output)` points, sorted by input, for a nondecreasing concave curve
/// through the origin, each point allowed [`sample_rounding`] either way: a larger input may
/// return less by at most two points' rounding, and a chord may be steeper than the one before
/// it by at most the rounding of its three points over their spacing. Fixed-point curves
/// (integer square roots, u128 ratios, a fee on the output) pass; the shapes of the hostile
/// fixtures (convex, falling, a probe-sized input answered apart) do not. Used by the runs'
/// in-run checks and by `validate` alike.
pub fn check_shape(points: &[(u64, u64)], reserve_out: u64) -> Result<(), ShapeViolation> {
    let slope_of = |(x0, y0): (u64, u64), (x1, y1): (u64, u64)| (y1 as f64 - y0 as f64) / (x1 - x0) as f64;
    let mut previous = (0u64, 0u64);
    for &point in points {
        if point.0 > previous.0 && point.1 < previous.1 {
            let slope = slope_of(previous, point).abs();
            if (previous.1 - point.1) as f64 > 2.0 * sample_rounding(slope, reserve_out) {
                return Err(ShapeViolation::NotMonotone { lower: previous, higher: point });
            }
        }
        previous = point;
    }
    let with_origin = |i: usize| if i == 0 { (0, 0) } else { points[i - 1] };
    for i in 0..points.len().saturating_sub(1) {
        let (p0, p1, p2) = (with_origin(i), points[i], points[i + 1]);
        if p0.0 >= p1.0 || p1.0 >= p2.0 {
            continue;
        }
        let (dx01, dx12) = ((p1.0 - p0.0) as f64, (p2.0 - p1.0) as f64);
        let (s01, s12) = (slope_of(p0, p1), slope_of(p1, p2));
        let error = sample_rounding(s01.abs().max(s12.abs()), reserve_out);
        if s12 > s01 + error * (2.0 / dx01 + 2.0 / dx12) + 1e-12 * s01.abs() {
            return Err(ShapeViolation::NotConcave { inputs: (p0.0, p1.0, p2.0) });
        }
    }
    Ok(())
}

/// How far (output units) an integer quote may sit from the concave curve it rounds: one
/// output unit, plus up to two input units worth `slope` (the curve's marginal output there):
/// a fee taken from the input and rounded down loses up to `1/(1 − fee)` input units.
pub fn rounding_error(slope: f64) -> f64 {
    1.0 + 2.0 * slope.max(0.0)
}

/// `f(x) = b·x / (a + x)`: a constant-product curve with the fee folded into `a`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpModel {
    /// Effective input reserve (`reserve_in / (1 − fee)` for a constant-product pool).
    pub a: f64,
    /// Effective output reserve.
    pub b: f64,
}

impl CpModel {
    /// Output for input `x`.
    pub fn output(&self, x: f64) -> f64 {
        self.b * x / (self.a + x)
    }

    /// `|f″(x)| = 2ab/(a + x)³`: how fast the marginal output falls at input `x`.
    pub fn curvature(&self, x: f64) -> f64 {
        2.0 * self.a * self.b / (self.a + x).powi(3)
    }

    /// Marginal output at zero input (the best price the curve offers).
    pub fn initial_slope(&self) -> f64 {
        self.b / self.a
    }

    /// Input at which the marginal output falls to `lambda` (0 if it starts below).
    pub fn demand(&self, lambda: f64) -> f64 {
        if lambda <= 0.0 || self.initial_slope() <= lambda {
            return 0.0;
        }
        (self.a * self.b / lambda).sqrt() - self.a
    }

    /// `max_x output(x) − λ·x` for `x` in `[0, x_max]`.
    pub fn best_surplus(&self, lambda: f64, x_max: f64) -> f64 {
        let x = self.demand(lambda).min(x_max);
        self.output(x) - lambda * x
    }

    /// The model through one sample, assuming the effective output reserve is `b`.
    pub fn through_one(sample: (u64, u64), b: f64) -> Option<Self> {
        let (x, y) = (sample.0 as f64, sample.1 as f64);
        if y <= 0.0 || y >= b {
            return None;
        }
        let a = x * (b / y - 1.0);
        (a > 0.0 && a.is_finite()).then_some(Self { a, b })
    }

    /// The model through two samples: `1/f = (a/b)·(1/x) + 1/b` is a line in reciprocal
    /// coordinates. `b_cap` bounds `b` when the samples are (nearly) linear.
    pub fn through_two(p: (u64, u64), q: (u64, u64), b_cap: f64) -> Option<Self> {
        if p.1 == 0 || q.1 == 0 || p.0 == q.0 {
            return None;
        }
        let (u1, v1) = (1.0 / p.0 as f64, 1.0 / p.1 as f64);
        let (u2, v2) = (1.0 / q.0 as f64, 1.0 / q.1 as f64);
        let slope = (v1 - v2) / (u1 - u2);
        let intercept = (v1 - slope * u1).max(1.0 / b_cap);
        let b = 1.0 / intercept;
        let a = slope * b;
        (a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()).then_some(Self { a, b })
    }
}

/// Fits less precise than this (relative) never confirm a model.
const MAX_CONFIRMING_PRECISION: f64 = 1e-4;

/// A confirming quote must tell the model from a straight line by this many tolerances.
const CURVATURE_MARGIN: f64 = 4.0;

/// The narrowest span (relative) of a secant through two samples that [`refit`] prefers (see
/// [`Samples::secant_pair`]).
pub const MIN_SECANT_SPAN: f64 = 1e-3;

/// A confirming quote must be at least this far (relative) from the points of the fit.
pub const MIN_CONFIRMING_DISTANCE: f64 = 0.01;

/// A model and the samples it was fitted through, so a later quote can confirm it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The model.
    pub model: CpModel,
    /// Inputs it was fitted through (0 = unused).
    pub points: [u64; 2],
    /// Relative uncertainty of the fit from integer rounding of its samples.
    pub precision: f64,
}

impl Fit {
    /// An exact model (nothing to confirm).
    pub fn exact(model: CpModel) -> Self {
        Self { model, points: [0, 0], precision: 0.0 }
    }

    /// How far a quote at `x` may sit from the model's prediction through integer rounding
    /// (of the quote and of the samples the model came from).
    pub fn tolerance(&self, x: u64) -> f64 {
        let m = self.model;
        let slope = m.a * m.b / (m.a + x as f64).powi(2);
        let y = m.output(x as f64);
        2.0 + 2.0 * slope + 4.0 * self.precision * y + 1e-9 * y
    }

    /// Whether a confirmed model still agrees with the quote `y` at `x`.
    pub fn holds(&self, x: u64, y: u64) -> bool {
        (self.model.output(x as f64) - y as f64).abs() <= self.tolerance(x)
    }

    /// True when fitted through two samples (it then knows the local slope).
    pub fn is_secant(&self) -> bool {
        self.points[1] != 0
    }

    /// Fits through one sample, assuming the effective output reserve `b`.
    pub fn one(sample: (u64, u64), b: f64) -> Option<Self> {
        let model = CpModel::through_one(sample, b)?;
        Some(Self { model, points: [sample.0, 0], precision: rounding(model, sample) })
    }

    /// Fits through two samples. Close samples pin the curvature poorly: the fit's precision
    /// is their rounding divided by their relative separation.
    pub fn two(p: (u64, u64), q: (u64, u64), b_cap: f64) -> Option<Self> {
        let model = CpModel::through_two(p, q, b_cap)?;
        let separation = p.0.abs_diff(q.0) as f64 / p.0.max(q.0) as f64;
        let precision = rounding(model, p).max(rounding(model, q)) / separation;
        Some(Self { model, points: [p.0, q.0], precision })
    }

    /// Whether the quote `y` at a new input `x` confirms the model: it is what the model
    /// predicts, within the rounding of the quote and of the samples the model came from, and
    /// it tells the model from a straight line.
    ///
    /// Only one-point fits can be confirmed: they assume the pool's own output reserve, so a
    /// prediction that holds is the signature of a constant-product pool with a fee, and such
    /// a curve is then known everywhere. (A two-point fit matches many curves locally — a
    /// linear tier, say — that differ beyond; those are settled by convergence or certificate.)
    /// Only a prediction at least 1 % away from the fit point counts: nearer, a wrong model
    /// errs by too little to show. And the model must stand clear of the line through the
    /// origin and its fit point (the least curved concave curve there, e.g. a linear tier) by
    /// more than the rounding (`CURVATURE_MARGIN` tolerances): short of that — few output
    /// units, or inputs far inside the reserve — any concave curve would "confirm" the model,
    /// and a confirmed model is trusted beyond its samples (the arbitrageur trades at its
    /// optimum, the router splits at it and stops, and both remember it for the pool's state).
    /// A router that confirmed without this test split a linear pool's small order as if the
    /// pool were curved and stopped short of the optimum by three times its tolerance.
    pub fn predicts(&self, x: u64, y: u64) -> bool {
        // A fit through imprecise samples (tiny outputs) would confirm almost anything, and a
        // point next to one the fit went through tests nothing.
        let near = |p: u64| p != 0 && (p.abs_diff(x) as f64) < MIN_CONFIRMING_DISTANCE * p.max(x) as f64;
        if self.is_secant() || self.precision > MAX_CONFIRMING_PRECISION || self.points.iter().any(|&p| near(p)) {
            return false;
        }
        let m = self.model;
        let tolerance = self.confirming_tolerance(x, y);
        let predicted = m.output(x as f64);
        // (An exact model, fitted through no point, has nothing to tell apart.)
        let x1 = self.points[0] as f64;
        let curved = x1 == 0.0 || (m.output(x1) * x as f64 / x1 - predicted).abs() >= CURVATURE_MARGIN * tolerance;
        (predicted - y as f64).abs() <= tolerance && curved
    }

    /// How far a confirming quote `y` at `x` may sit from the prediction.
    fn confirming_tolerance(&self, x: u64, y: u64) -> f64 {
        let m = self.model;
        let slope = m.a * m.b / (m.a + x as f64).powi(2);
        2.0 + 2.0 * slope + 4.0 * self.precision * y as f64 + 1e-9 * y as f64
    }
}

/// A safeguarded refit (`err`: the samples' rounding, as for [`Samples::envelope_max`]) for the
/// next step of a search for the demand at `lambda` near `centre`: a secant through the two
/// samples nearest `centre` (with `apart`, the pair of [`Samples::secant_pair`], at least
/// [`MIN_SECANT_SPAN`] apart) when its demand falls inside the bracket that concavity guarantees
/// ([`Samples::demand_bracket`]); otherwise the point where the concavity bound is loosest, or
/// the bracket's midpoint (bisection). The bracket shrinks every step, so the search converges
/// on any concave curve, and as fast as the secant method on smooth ones.
///
/// The router refits `apart`: its shares settle where two rounds' secants agree, and a secant
/// through two shares a few units apart is all rounding (its demand then falls outside the
/// bracket and the search bisects, a quote per halving). The arbitrageur does not: its stop
/// rules read a secant through the last two samples, which on a linear tier must be the
/// nearest.
pub fn refit(
    samples: &Samples,
    centre: u64,
    lambda: f64,
    b_cap: f64,
    x_limit: f64,
    err: f64,
    apart: bool,
) -> Option<Fit> {
    let (lo, hi) = samples.demand_bracket(lambda);
    let hi = hi.map_or(x_limit, |hi| hi as f64).min(x_limit);
    let lo = lo as f64;
    let inside = |d: f64| d >= lo && d <= hi;
    let pair = if apart { samples.secant_pair(centre) } else { samples.nearest_two(centre) };
    if let Some((p, q)) = pair
        && let Some(fit) = Fit::two(p, q, b_cap)
        && inside(fit.model.demand(lambda))
    {
        return Some(fit);
    }
    // Where the concavity bound is loosest: on a piecewise-linear curve, the crossing of the
    // chords either side of a kink, which is the kink itself.
    let (_, apex) = samples.envelope_max(lambda, x_limit, err);
    let m = if inside(apex) && samples.get(apex.round() as u64).is_none() {
        apex
    } else if hi > 4.0 * lo.max(1.0) {
        (lo.max(1.0) * hi).sqrt() // bisect in log scale across orders of magnitude
    } else {
        0.5 * (lo + hi)
    };
    // A model whose demand at λ is exactly m: b·x/(a+x) with a = m, b = 4λm.
    (m > 0.0).then_some(Fit { model: CpModel { a: m, b: 4.0 * lambda * m }, points: [0, 0], precision: f64::INFINITY })
}

/// Relative error a sample's integer rounding (one unit of output, one of input) puts on a fit.
fn rounding(model: CpModel, (x, y): (u64, u64)) -> f64 {
    let slope = model.a * model.b / (model.a + x as f64).powi(2);
    (1.0 + slope) / (y as f64).max(1.0)
}

/// A quote curve the searches can sample: one pool, one side.
pub trait Curve {
    /// Output for `input`, or `None` if the quote faulted (the pool then offers nothing).
    fn quote(&mut self, input: u64) -> Option<u64>;
    /// The curve's exact model, when it is known in closed form (the normalizer).
    fn exact_model(&self) -> Option<CpModel>;
    /// The pool's output-side reserve: no quote can exceed it.
    fn reserve_out(&self) -> u64;
    /// A model confirmed earlier for the pool's current state (reserves and storage), if any.
    /// Quotes are pure, so it still holds and the probe quotes it replaces are not needed.
    fn known_fit(&self) -> Option<Fit> {
        None
    }
    /// Records a model a quote has just confirmed, for the pool's current state.
    fn remember_fit(&mut self, fit: Fit) {
        let _ = fit;
    }
}

/// The curves of all pools on one side of an order, by index (so the market can expose its
/// pools without building a list per order).
pub trait CurveSet {
    /// Number of pools.
    fn len(&self) -> usize;
    /// True when there are no pools.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Output of pool `i` for `input`; `None` if the quote faulted.
    fn quote(&mut self, i: usize, input: u64) -> Option<u64>;
    /// Pool `i`'s exact model, if known in closed form.
    fn exact_model(&self, i: usize) -> Option<CpModel>;
    /// Pool `i`'s output-side reserve.
    fn reserve_out(&self, i: usize) -> u64;
    /// A model confirmed earlier for pool `i`'s current state (see [`Curve::known_fit`]).
    fn known_fit(&self, i: usize) -> Option<Fit> {
        let _ = i;
        None
    }
    /// Records a model a quote has just confirmed for pool `i`'s current state.
    fn remember_fit(&mut self, i: usize, fit: Fit) {
        let _ = (i, fit);
    }
}

impl<T: Curve> CurveSet for [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn quote(&mut self, i: usize, input: u64) -> Option<u64> {
        self[i].quote(input)
    }
    fn exact_model(&self, i: usize) -> Option<CpModel> {
        self[i].exact_model()
    }
    fn reserve_out(&self, i: usize) -> u64 {
        self[i].reserve_out()
    }
    fn known_fit(&self, i: usize) -> Option<Fit> {
        self[i].known_fit()
    }
    fn remember_fit(&mut self, i: usize, fit: Fit) {
        self[i].remember_fit(fit)
    }
}

/// A pure test curve, counting its quotes.
#[cfg(test)]
pub(crate) mod testing {
    use super::{CpModel, Curve, Fit};

    /// `f` as a pool's curve, delivered as the market delivers it ([`crate::market::delivered_output`]:
    /// one unit short at the reserve; above it, which disqualifies in a run, 0 here).
    pub struct TestCurve {
        pub f: Box<dyn Fn(u64) -> u64>,
        pub reserve_out: u64,
        pub exact: Option<CpModel>,
        pub known: Option<Fit>,
        pub quotes: u32,
    }

    impl TestCurve {
        pub fn new(f: impl Fn(u64) -> u64 + 'static, reserve_out: u64) -> Self {
            Self { f: Box::new(f), reserve_out, exact: None, known: None, quotes: 0 }
        }
    }

    impl Curve for TestCurve {
        fn quote(&mut self, input: u64) -> Option<u64> {
            self.quotes += 1;
            let y = (self.f)(input);
            Some(crate::market::delivered_output(y, self.reserve_out).unwrap_or(0))
        }
        fn exact_model(&self) -> Option<CpModel> {
            self.exact
        }
        fn reserve_out(&self) -> u64 {
            self.reserve_out
        }
        fn known_fit(&self) -> Option<Fit> {
            self.known
        }
        fn remember_fit(&mut self, fit: Fit) {
            self.known = Some(fit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::math::cp_output_fee_bps;

    #[test]
    fn cp_model_is_exact_for_a_constant_product_pool_with_fee() {
        let (rin, rout) = (10_000_000_000_000u64, 100_000_000_000u64);
        let p = (20_000_000_000, cp_output_fee_bps(20_000_000_000, rin, rout, 30));
        let q = (90_000_000_000, cp_output_fee_bps(90_000_000_000, rin, rout, 30));
        let model = CpModel::through_two(p, q, 1e30).unwrap();
        assert!((model.a / (rin as f64 / 0.997) - 1.0).abs() < 1e-6, "{model:?}");
        assert!((model.b / rout as f64 - 1.0).abs() < 1e-6, "{model:?}");
        let one = CpModel::through_one(p, rout as f64).unwrap();
        assert!((one.a / model.a - 1.0).abs() < 1e-6);
    }

    #[test]
    fn envelope_bounds_the_true_surplus_and_tightens_with_samples() {
        let f = |x: u64| cp_output_fee_bps(x, 1_000_000_000, 1_000_000_000, 30);
        let lambda = 0.5;
        let true_max = (1..20_000u64)
            .map(|i| {
                let x = i * 100_000;
                f(x) as f64 - lambda * x as f64
            })
            .fold(f64::MIN, f64::max);
        let mut samples = Samples::default();
        let mut gaps = Vec::new();
        for x in [1_000_000_000u64, 300_000_000, 500_000_000, 400_000_000, 420_000_000, 410_000_000] {
            samples.insert(x, f(x));
            let (bound, _) = samples.envelope_max(lambda, 4e9, 0.0);
            assert!(bound >= true_max - 2.0, "bound {bound} below true max {true_max}");
            gaps.push(bound - true_max);
        }
        assert!(gaps.last().unwrap() < &(gaps[0] / 100.0), "{gaps:?}");
    }

    /// Every sample's extents ([`sample_extent`]), index 0 the exact origin.
    fn sample_extents(points: &[(u64, u64)], err: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut xs, mut his, mut los) = (vec![0.0], vec![0.0], vec![0.0]);
        for i in 1..=points.len() {
            let (x, hi, lo) = sample_extent(points, i, err);
            xs.push(x);
            his.push(hi);
            los.push(lo);
        }
        (xs, his, los)
    }

    /// The envelope bound evaluated at every candidate directly (the definition, before the
    /// hull): the oracle for the hull's answers.
    fn direct_envelope_max(samples: &Samples, lambda: f64, x_max: f64, err: f64) -> (f64, f64) {
        let n = samples.len;
        let (xs, his, los) = sample_extents(samples.points(), err);
        let x_at = |i: usize| xs[i];
        let high = |i: usize| his[i];
        let low = |i: usize| los[i];
        // The steepest the chord from sample k to k + 1 may be.
        let steepest = |k: usize| (high(k + 1) - low(k)) / (x_at(k + 1) - x_at(k));
        // The flattest it may be.
        let flattest = |k: usize| (low(k + 1) - high(k)) / (x_at(k + 1) - x_at(k));
        let mut best = (0.0f64, 0.0f64);
        let mut consider = |x: f64, value: f64| {
            if x >= 0.0 && x <= x_max && value - lambda * x > best.0 {
                best = (value - lambda * x, x);
            }
        };
        for i in 0..=n {
            consider(x_at(i), high(i));
        }
        for k in 0..n {
            let (x0, x1) = (x_at(k), x_at(k + 1));
            let hi = x1.min(x_max);
            if hi <= x0 {
                continue;
            }
            // Bounds valid on this segment: the next sample (monotone), the previous chord
            // extended forward and the next chord extended backward (concave), each at its
            // most generous within the rounding.
            let forward = (k > 0).then(|| (x0, high(k), steepest(k - 1)));
            let backward = (k + 1 < n).then(|| (x1, high(k + 1), flattest(k + 1)));
            let line = |l: (f64, f64, f64), x: f64| l.1 + l.2 * (x - l.0);
            let cap = high(k + 1);
            let bound = |x: f64| {
                let mut u = cap;
                if let Some(l) = forward {
                    u = u.min(line(l, x));
                }
                if let Some(l) = backward {
                    u = u.min(line(l, x));
                }
                u
            };
            consider(x0, bound(x0));
            consider(hi, bound(hi));
            // Where two of the bounding lines cross, the (concave) bound may peak.
            let lines = [forward, backward, Some((0.0, cap, 0.0))];
            for a in 0..3 {
                for b in a + 1..3 {
                    if let (Some(la), Some(lb)) = (lines[a], lines[b])
                        && (la.2 - lb.2).abs() > 0.0
                    {
                        let x = (lb.1 - lb.2 * lb.0 - la.1 + la.2 * la.0) / (la.2 - lb.2);
                        if x > x0 && x < hi {
                            consider(x, bound(x));
                        }
                    }
                }
            }
        }
        if n > 0 {
            // Beyond the last sample, concavity allows at most the last chord's slope.
            let xl = x_at(n);
            if x_max > xl {
                let s = steepest(n - 1).max(0.0);
                consider(x_max, high(n) + s * (x_max - xl));
            }
        } else if x_max > 0.0 {
            // Nothing sampled: no bound but the trivial one.
            return (f64::INFINITY, x_max);
        }
        best
    }

    #[test]
    fn envelope_hull_gives_the_direct_bound_at_every_price() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..2_000 {
            let mut s = Samples::default();
            let n = rng.random_range(1..20usize);
            // (Up to 10¹⁷ nano units, with samples clustered a few units apart as converging
            // searches leave them: where a hull edge's slope is all floating-point rounding.)
            let scale = 10f64.powf(rng.random_range(0.0..17.0));
            let p0 = 10f64.powf(rng.random_range(-2.0..2.0));
            let curvature = 10f64.powf(rng.random_range(-3.0..1.0));
            let curve = |x: u64, jitter: f64| {
                // A concave curve, sometimes jittered off concavity by a few units.
                ((p0 * x as f64 / (1.0 + curvature * x as f64 / scale) + jitter).max(0.0)) as u64
            };
            for _ in 0..n {
                let x = (rng.random::<f64>() * scale).max(1.0) as u64;
                s.insert(x, curve(x, rng.random_range(-3.0..3.0)));
                if rng.random_range(0..3) == 0 {
                    let near = x.saturating_add(rng.random_range(1..100));
                    s.insert(near, curve(near, rng.random_range(-3.0..3.0)));
                }
            }
            let last = s.points().last().map_or(1.0, |p| p.0 as f64);
            let x_max = if case % 5 == 0 { last } else { scale * rng.random_range(0.1..3.0) };
            let err = [0.0, 1.0, 2.5][case % 3];
            for _ in 0..10 {
                let lambda = p0 * 10f64.powf(rng.random_range(-2.0..1.0));
                let (hull, at) = s.envelope_max(lambda, x_max, err);
                let (direct, direct_at) = direct_envelope_max(&s, lambda, x_max, err);
                let scale_v = direct.abs().max(1.0);
                assert!(
                    (hull - direct).abs() <= 1e-9 * scale_v,
                    "case {case}: hull {hull} at {at}, direct {direct} at {direct_at} (λ {lambda}, x_max {x_max}, err {err}, {:?})",
                    s.points()
                );
            }
        }
    }

    /// The hull kept in step with insertions (queried between them, with `x_max` and `err`
    /// changing now and then) is the hull built from scratch for the same samples: the same
    /// vertices and the same answers, to the bit. Samples include inputs up to 1.8·10¹⁹ (where
    /// neighbouring inputs share a float), clusters a few units apart, and outputs off any
    /// concave curve.
    #[test]
    fn incremental_hull_is_the_hull_built_from_scratch() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        let mut s = Samples::default();
        for case in 0..3_000 {
            if rng.random_range(0..2) == 0 {
                s.clear();
            }
            let n = rng.random_range(1..=MAX_SAMPLES);
            let scale = 10f64.powf(rng.random_range(0.0..19.2));
            let p0 = 10f64.powf(rng.random_range(-3.0..3.0));
            let curvature = 10f64.powf(rng.random_range(-3.0..1.0));
            let curve =
                |x: u64, jitter: f64| ((p0 * x as f64 / (1.0 + curvature * x as f64 / scale) + jitter).max(0.0)) as u64;
            let x_maxes =
                [scale * rng.random_range(0.01..3.0), scale * rng.random_range(0.01..3.0), f64::INFINITY, 0.0];
            for _ in 0..n {
                let mut x = (rng.random::<f64>() * scale).clamp(1.0, 1.8e19) as u64;
                if rng.random_range(0..4) == 0 && !s.is_empty() {
                    x = s.points()[rng.random_range(0..s.len())].0.saturating_add(rng.random_range(1..100));
                }
                let y = if rng.random_range(0..10) == 0 {
                    rng.random::<u64>() >> rng.random_range(0..64)
                } else {
                    curve(x, rng.random_range(-3.0..3.0))
                };
                s.insert(x, y);
                if rng.random_range(0..3) == 0 {
                    continue;
                }
                let x_max = x_maxes[if rng.random_range(0..8) == 0 { rng.random_range(0..4) } else { case % 2 }];
                let err = [0.0, 1.0, 2.5][if rng.random_range(0..8) == 0 { rng.random_range(0..3) } else { case % 3 }];
                let mut fresh = Samples::default();
                for &(x, y) in s.points() {
                    fresh.insert(x, y);
                }
                for _ in 0..3 {
                    let lambda = p0 * 10f64.powf(rng.random_range(-3.0..1.0));
                    let (a, b) = (s.envelope_max(lambda, x_max, err), fresh.envelope_max(lambda, x_max, err));
                    assert!(
                        a.0.to_bits() == b.0.to_bits() && a.1.to_bits() == b.1.to_bits(),
                        "case {case}: kept {a:?}, from scratch {b:?} (λ {lambda}, x_max {x_max}, err {err}, {:?})",
                        s.points()
                    );
                }
                let (h, f) = (s.hull.borrow(), fresh.hull.borrow());
                assert_eq!(&h.vertices[h.first..], &f.vertices[f.first..], "case {case}");
            }
        }
    }

    /// The bound is an upper bound: never below a sampled surplus, even at inputs of 10¹⁵
    /// where hull vertices lie a few units apart and their edges' slopes are floating-point
    /// rounding (a binary search on those slopes returned 0 here, below a sampled 2·10¹², and
    /// ended an arbitrage search on a two-tier curve at three quarters of its optimum).
    #[test]
    fn the_bound_is_never_below_a_sample_where_hull_slopes_are_rounding() {
        let points = [
            (3373727906u64, 6060537619u64),
            (15138004502514, 27193789281835),
            (22617672065892, 40630203809450),
            (192299266978928, 341181168587516),
            (208566178677992, 369774621190823),
            (351158609565624, 620418996079170),
            (739842490356960, 1303634982535652),
            (1668618985022490, 2936208341916005),
        ];
        let mut s = Samples::default();
        for (x, y) in points {
            s.insert(x, y);
        }
        let lambda = 1.763650609949204;
        let best = points.iter().map(|&(x, y)| y as f64 - lambda * x as f64).fold(f64::MIN, f64::max);
        let (bound, _) = s.envelope_max(lambda, 1668618985022490.0, 1.0);
        assert!(bound >= best, "bound {bound} below the sampled surplus {best}");
        // The direct bound agrees (it attains the two-tier curve's true optimum, 2.68e12).
        let (direct, _) = direct_envelope_max(&s, lambda, 1668618985022490.0, 1.0);
        assert!((bound - direct).abs() <= 1e-9 * direct, "hull {bound}, direct {direct}");
    }

    /// Fixed-point curves as strategies write them (u128, 9- and 18-decimal fixed point,
    /// integer square roots, a fee on the output), sampled the way the searches sample: a
    /// probe-sized input, inputs across the order sizes, and clusters a few thousand to ten
    /// million nano units apart. Rounding is not a violation: none may fail the shape check.
    #[test]
    fn fixed_point_curves_are_never_shape_violations() {
        use rand::{RngExt, SeedableRng};
        const WAD: u128 = 1_000_000_000_000_000_000;
        type Curve = fn(u128, u128, u128) -> u128;
        // √(R_in/(R_in + x)) at 9 decimals: out = 2·R_out·(1 − √r), capped; fee on the output.
        let sqrt_wad: Curve = |x, rin, rout| {
            let r = rin * WAD / (rin + x);
            let root = r.isqrt(); // √r · 10⁹, floored
            let gross = (2 * rout * (1_000_000_000 - root) / 1_000_000_000).min(rout - 1);
            gross - gross * 30 / 10_000
        };
        // A PMM-style quadratic: out solves out² + b·out = c, by the integer root of the
        // discriminant (u128), against a price in 9-decimal fixed point.
        let pmm: Curve = |x, rin, rout| {
            let price = rout * 1_000_000_000 / rin; // output per input, 9 decimals
            let linear = x * price / 1_000_000_000;
            let b = rout;
            let c = linear * rout;
            let root = (b * b + 4 * c).isqrt();
            let gross = ((root - b) / 2).min(rout - 1);
            gross - gross * 30 / 10_000
        };
        // A u128 ratio with a WAD fee on the input.
        let ratio: Curve = |x, rin, rout| {
            let net = x * (WAD - 3 * WAD / 1_000) / WAD;
            rout * net / (rin + net)
        };
        let curves: [(&str, Curve); 3] =
            [("sqrt at 9 decimals", sqrt_wad), ("PMM quadratic", pmm), ("u128 ratio", ratio)];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
        for (name, f) in curves {
            for case in 0..300 {
                let rout = 10f64.powf(rng.random_range(9.0..15.0)) as u128;
                let rin = (rout as f64 * 10f64.powf(rng.random_range(-2.0..2.0))) as u128;
                let mut s = Samples::default();
                let mut add = |x: u128| {
                    s.insert(x as u64, f(x, rin, rout) as u64);
                };
                add((rin / 1_000_000).max(1));
                let centre = (rin as f64 * 10f64.powf(rng.random_range(-4.0..-0.5))) as u128;
                for _ in 0..rng.random_range(2..12) {
                    let gap = 10f64.powf(rng.random_range(3.0..7.0)) as u128;
                    add(centre + gap * rng.random_range(0..4u128));
                }
                add(centre * 3);
                assert_eq!(
                    s.check_shape(rout as u64),
                    Ok(()),
                    "{name}, case {case}: rin {rin} rout {rout}, {:?}",
                    s.points()
                );
            }
        }
    }

    #[test]
    fn shape_check_flags_convex_and_falling_samples() {
        let mut s = Samples::default();
        for i in 1..10u64 {
            s.insert(i * 1_000_000, i * i * 1_000_000);
        }
        assert!(matches!(s.check_shape(1_000_000_000), Err(ShapeViolation::NotConcave { .. })));
        let mut s = Samples::default();
        s.insert(100, 50);
        s.insert(200, 40);
        assert!(matches!(s.check_shape(1_000), Err(ShapeViolation::NotMonotone { .. })));
        // A drop within two samples' rounding is rounding.
        let mut s = Samples::default();
        s.insert(100, 50);
        s.insert(200, 45);
        assert_eq!(s.check_shape(1_000), Ok(()));
    }
}
