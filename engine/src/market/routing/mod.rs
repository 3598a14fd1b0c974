//! The retail router: splits each order across all live pools to maximise the trader's total
//! output.
//!
//! Maximise `Σ fᵢ(xᵢ)` subject to `Σ xᵢ = X`, `xᵢ ≥ 0`, every `fᵢ` concave and nondecreasing.
//! At the optimum every pool with flow has the same marginal output `λ` (equimarginal
//! principle). The reference engine finds `λ` by nested bisection, `O(N·60·60)` quotes per
//! order; this router needs a few quotes per pool:
//!
//! 1. **Probe** each strategy pool once at a fraction of the order (half unless
//!    [`Router::set_probe_fraction`] says otherwise) and fit a constant-product model through
//!    it (the normalizer's model is exact).
//! 2. **Solve** the models' equimarginal split in closed form: with `fᵢ = bᵢx/(aᵢ+x)`, pool `i`
//!    takes `s·√(aᵢbᵢ) − aᵢ` where `s = (X + Σaᵢ) / Σ√(aᵢbᵢ)` over the active set.
//! 3. **Quote** each pool at its share. A pool whose model predicted that quote (a new point)
//!    is confirmed — every constant-product pool with a fee is, in two quotes.
//! 4. Otherwise **refit** from the samples around the share and **certify**: weak duality with
//!    the concavity upper bound on each unconfirmed curve (each sample allowed its integer
//!    rounding) bounds the true optimum; refine where the bound is loosest until the gap is
//!    below `1e-7` of the output plus the rounding.
//! 5. Models that never settle — a linear tier beside a curve, which makes the models' split
//!    swing from round to round, or an order so small that no model is confirmed through the
//!    rounding — get 12 rounds (`MAX_ROUNDS`); then **cutting planes** on the dual take over:
//!    at the dual bound's best `λ`, each pool known only by its samples is quoted where its
//!    envelope peaks (the bound's loosest point, which that quote closes), and the pools'
//!    demands at a common `λ` — the chords through each pool's samples, the exact and
//!    confirmed pools in closed form — give a split to quote, until the bound certifies or no
//!    quote is left to ask.
//!
//! Quotes grow linearly in the number of pools. The split executed is the best one quoted,
//! at exactly the quoted outputs.
//!
//! When one pool is to be searched and every other is exact (the reference setting: a strategy
//! against the normalizer), the split has one unknown and [`line`] searches it on a line with a
//! bound that costs O(1) per quote instead of the dual bound over every pool's envelope.

use super::curve::{CpModel, CurveSet, Fit, MIN_CONFIRMING_DISTANCE, Samples, refit, rounding_error};

mod line;
pub use line::{MAX_LINE_QUOTES, TOLERANCE as LINE_TOLERANCE};

/// Most solve-and-quote rounds per order before the cutting planes take over (step 5 of the
/// module docs). Twelve: over twelve streams of the multi-pool brute-force test (1,800 orders),
/// 8 left more orders short of the tolerance (35 against 19), and the models' old limit of 30
/// rounds, with no cutting planes, spent more quotes (26.0 against 22.0 an order) for more (24).
const MAX_ROUNDS: usize = 12;

/// Most cutting-plane rounds after [`MAX_ROUNDS`] (each quotes every pool known only by its
/// samples at most twice: where its envelope peaks, and at its share of the candidate split).
/// 32 closed no more orders than 24.
const CUTTING_ROUNDS: usize = 24;

/// Most quotes one order asks of one pool (the probe, the shares of each round and the
/// refinements between them). The engine's work per order is bounded with it whatever the
/// curve (with the rounds that spend them, `MAX_ROUNDS`), and a strategy is never asked more
/// quotes per order. When a pool's budget runs out, the best split quoted so far is executed.
/// Constant-product pools need 2 (one once their model is remembered); curves that are not
/// constant product use more (BENCHMARKS.md has the counts per curve family).
pub const MAX_QUOTES_PER_POOL: u32 = 64;

/// Golden-section steps of the dual bound's search for its best `λ` in `[λ₀/2, 2λ₀]` while a
/// search progresses: the bracket shrinks to 0.3 % of its width (any `λ` certifies, so it
/// stops at the first that does; a search that progresses is rarely certified anyway).
const DUAL_ITERATIONS: usize = 12;

/// The same once a search no longer progresses: the bracket shrinks to 1e-8 of its width,
/// enough to certify within [`STALLED_GAP`].
const DUAL_ITERATIONS_STALLED: usize = 40;

/// A pool whose secant-fitted share moves by at most this fraction of the order in a round has
/// converged: its share is then about this close to the optimum, and the order's output, flat
/// there (quadratic in the split's error), within about its square of the optimum.
const STEP_TOLERANCE: f64 = 1e-4;

/// A round that gains at most this fraction of the order's output (plus a unit per pool), with
/// every share moved by at most 1 % of the order, made no progress.
const STALL_TOLERANCE: f64 = 1e-8;

/// Rounds in a row without progress after which the search stops at a certificate within
/// [`STALLED_GAP`].
const STALLED_ROUNDS: u32 = 2;

/// Relative gap to the optimum that ends a search that no longer progresses: the routing
/// tolerance the specification asks for.
const STALLED_GAP: f64 = 1e-6;

/// While a round gains output and moves an unsettled share by more than this fraction of the
/// order, the search is progressing and no certificate is attempted.
const CERTIFY_WITHIN: f64 = 1e-3;

/// Relative gap to the optimum at which the certified search stops.
const GAP_TOLERANCE: f64 = 1e-7;

#[derive(Clone, Debug, Default)]
struct PoolState {
    samples: Samples,
    fit: Option<Fit>,
    exact: bool,
    confirmed: bool,
    /// Excluded from this order (faulted, or offers nothing).
    out: bool,
    share: u64,
    previous_share: u64,
    /// Settled this round by a secant fit that stopped moving.
    stable: bool,
    /// Its fit is remembered for the pool's state (given, or confirmed and handed back).
    known: bool,
    output: u64,
    /// Quotes asked of it for this order.
    quotes: u32,
}

impl PoolState {
    fn reset(&mut self) {
        self.samples.clear();
        self.fit = None;
        self.exact = false;
        self.confirmed = false;
        self.out = false;
        self.share = 0;
        self.previous_share = 0;
        self.stable = false;
        self.known = false;
        self.output = 0;
        self.quotes = 0;
    }

    /// Whether its share is where a secant through last round's share puts it, within the step
    /// tolerance of the order `total`: its marginal then equals the others' there.
    fn secant_settled(&self, total: u64) -> bool {
        self.fit.is_some_and(|f| f.is_secant() && f.points.contains(&self.previous_share))
            && self.share.abs_diff(self.previous_share) as f64 <= STEP_TOLERANCE * total as f64 + 1.0
    }

    /// Whether a quote at `x` is free (exact curve, or already sampled) or within the budget
    /// with `reserve` more quotes left after it.
    fn can_quote(&self, x: u64, reserve: u32) -> bool {
        self.exact || self.samples.get(x).is_some() || self.quotes + 1 + reserve <= MAX_QUOTES_PER_POOL
    }
}

/// Reusable router state (no allocation per order once warmed up).
#[derive(Clone, Debug, Default)]
pub struct Router {
    pools: Vec<PoolState>,
    best: Vec<(u64, u64)>,
    shares: Vec<f64>,
    /// The pools with a model, as `(initial slope, pool)`, steepest first (ties by pool).
    order: Vec<(f64, usize)>,
    /// The active pools' models in closed form, for their shares ([`line::active_share`]).
    active: Vec<line::Model>,
    /// Chords of the sampled curves, `(slope, pool, right end, right output)`, for the
    /// piecewise-linear candidate.
    chords: Vec<(f64, usize, u64, u64)>,
    lower: Vec<(u64, u64)>,
    /// Where each pool is probed, as a fraction of the order (0.5 unless set).
    probe_fraction: Option<f64>,
    /// The exact pools of an order routed on a line ([`line`]).
    exact: line::CpSet,
}

/// How an order was split.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RouteSummary {
    /// Total output to the trader.
    pub total_output: u64,
    /// Quotes spent (strategy calls; the normalizer is computed natively).
    pub quotes: u32,
    /// Solve rounds used.
    pub rounds: u32,
}

impl Router {
    /// Sets where the next orders probe each pool: at `fraction` of the order (default 0.5).
    /// Any fraction in (0, 1) gives the same split up to rounding; the market draws it per
    /// order so a strategy cannot recognise the probe. Values outside (0, 1) or NaN are
    /// clamped into it.
    pub fn set_probe_fraction(&mut self, fraction: f64) {
        let f = if fraction.is_nan() { 0.5 } else { fraction.clamp(1e-6, 1.0 - 1e-6) };
        self.probe_fraction = Some(f);
    }

    /// Where pools are probed, as a fraction of the order.
    pub fn probe_fraction(&self) -> f64 {
        self.probe_fraction.unwrap_or(0.5)
    }

    /// Splits `total` input across `curves`. Afterwards [`Router::split`] gives each pool's
    /// `(input, output)`; pools listed in `faulted` had a quote fault and got nothing.
    pub fn route<S: CurveSet + ?Sized>(
        &mut self,
        curves: &mut S,
        total: u64,
        faulted: &mut Vec<usize>,
    ) -> RouteSummary {
        let n = curves.len();
        faulted.clear();
        // Reuse the per-pool state (each holds a fixed-capacity sample buffer): reset, don't
        // reallocate or re-zero it, for every order.
        self.pools.truncate(n);
        for pool in &mut self.pools {
            pool.reset();
        }
        if self.pools.len() < n {
            self.pools.resize_with(n, PoolState::default);
        }
        self.best.clear();
        self.best.resize(n, (0, 0));
        let mut summary = RouteSummary::default();
        if n == 0 || total == 0 {
            return summary;
        }
        // Every pool exact or with a model confirmed for its state (constant product): the
        // closed-form split, quoted once per pool with flow — what the first round below would
        // do, without its bookkeeping.
        if let Some(summary) = self.route_known(curves, total, faulted) {
            return summary;
        }
        // One pool to search, the others exact: a line search (see `line`).
        let mut searched = (0..n).filter(|&i| curves.exact_model(i).is_none());
        if let (Some(free), None) = (searched.next(), searched.next())
            && n >= 2
            && curves.known_fit(free).is_none()
        {
            return self.route_line(curves, total, free, faulted);
        }
        let mut quotes = 0u32;
        let mut quote =
            |curves: &mut S, pool: &mut PoolState, i: usize, x: u64, faulted: &mut Vec<usize>| -> Option<u64> {
                if let Some(y) = pool.samples.get(x) {
                    return Some(y);
                }
                if !pool.exact {
                    debug_assert!(pool.quotes < MAX_QUOTES_PER_POOL, "over the quote budget");
                    quotes += 1;
                    pool.quotes += 1;
                }
                match curves.quote(i, x) {
                    Some(y) => {
                        pool.samples.insert(x, y);
                        Some(y)
                    }
                    None => {
                        pool.out = true;
                        faulted.push(i);
                        None
                    }
                }
            };

        // 1. Probe.
        // A fixed fraction of the order (half unless set), whatever the number of pools: a
        // pool's samples then depend only on itself and the order, so a neighbour that offers
        // nothing cannot shift anyone's split.
        let probe = ((total as f64 * self.probe_fraction()).round() as u64).clamp(1, total);
        for i in 0..n {
            let pool = &mut self.pools[i];
            if let Some(model) = curves.exact_model(i) {
                pool.fit = Some(Fit::exact(model));
                pool.exact = true;
                continue;
            }
            if let Some(known) = curves.known_fit(i) {
                // Confirmed before for this very pool state: no probe needed.
                pool.fit = Some(known);
                pool.confirmed = true;
                pool.known = true;
                continue;
            }
            match quote(curves, pool, i, probe, faulted) {
                Some(0) | None => pool.out = true,
                Some(y) => {
                    let reserve_out = curves.reserve_out(i) as f64;
                    pool.fit = Fit::one((probe, y), reserve_out)
                        .or_else(|| Fit::two((probe / 2, y / 2), (probe, y), reserve_out * 1e3));
                    pool.out = pool.fit.is_none();
                }
            }
        }

        let mut best_total = 0u64;
        let mut stalls = 0;
        let mut quoted_before = u32::MAX;
        // The models' last `λ` (where the cutting planes start).
        let mut last_lambda = None;
        // Whether the rounds ran out without a certificate or a settled split: every other way
        // out of them breaks with `false`.
        let exhausted = 'rounds: {
            for round in 0..MAX_ROUNDS {
                let before_round = best_total;
                summary.rounds = round as u32 + 1;
                // 2. Solve the models.
                let Some(lambda) = self.solve_models(total) else {
                    break 'rounds false;
                };
                last_lambda = Some(lambda);
                self.integerize(total);
                // The same shares as last round with no quote since: the samples and models are
                // those of last round, so every later round would repeat it. The best split stands.
                let quoted: u32 = self.pools.iter().map(|p| p.quotes).sum();
                if quoted == quoted_before && self.pools.iter().all(|p| p.out || p.exact || p.share == p.previous_share)
                {
                    break 'rounds false;
                }
                quoted_before = quoted;
                // Converged: every unconfirmed share is where the secant through the share quoted
                // last round puts it, within the step tolerance (as `stable` below would find after
                // quoting it). That quote would only confirm it: the best split stands.
                if round > 0
                    && self.pools.iter().all(|p| {
                        p.out
                            || p.exact
                            || (p.confirmed
                                && p.share.abs_diff(p.previous_share) as f64 <= STEP_TOLERANCE * total as f64 + 1.0)
                            || p.secant_settled(total)
                    })
                {
                    break 'rounds false;
                }
                if self.pools.iter().any(|p| !p.out && p.share > 0 && !p.can_quote(p.share, 0)) {
                    // A share no longer fits a pool's quote budget: the best split so far stands.
                    break 'rounds false;
                }
                // 3. Quote at the shares.
                let mut round_total = 0u64;
                let mut lost = false;
                for i in 0..n {
                    let pool = &mut self.pools[i];
                    pool.output = 0;
                    if pool.out || pool.share == 0 {
                        continue;
                    }
                    match quote(curves, pool, i, pool.share, faulted) {
                        Some(y) => {
                            pool.output = y;
                            round_total += y;
                        }
                        None => lost = true,
                    }
                }
                if lost {
                    continue; // a pool faulted: solve again without it
                }
                if round_total >= best_total {
                    best_total = round_total;
                    for (slot, pool) in self.best.iter_mut().zip(&self.pools) {
                        *slot = (pool.share, pool.output);
                    }
                }
                // At the rounding's noise floor, refits only shuffle shares by their rounding: after
                // two rounds of local moves in a row that add nothing beyond it, a certificate
                // within the specified 1e-6 of the optimum ends the search (below).
                let local =
                    self.pools.iter().all(|p| p.out || p.exact || p.share.abs_diff(p.previous_share) <= total / 100);
                let gained = best_total.saturating_sub(before_round) as f64;
                stalls = if round > 0 && local && gained <= STALL_TOLERANCE * best_total as f64 + n as f64 {
                    stalls + 1
                } else {
                    0
                };
                // Which pools are settled: exact, confirmed by a prediction, or stable.
                let mut settled = true;
                // The largest move of an unsettled share this round (the whole order in round 0).
                let mut moved = if round == 0 { total } else { 0 };
                for i in 0..n {
                    let pool = &mut self.pools[i];
                    if pool.out || pool.exact {
                        continue;
                    }
                    if pool.known && pool.share > 0 && !pool.fit.is_some_and(|f| f.holds(pool.share, pool.output)) {
                        // A remembered model that no longer holds (impossible for a pure strategy):
                        // start this pool afresh from the quote just made.
                        pool.known = false;
                        pool.confirmed = false;
                        pool.fit = Fit::one((pool.share, pool.output), curves.reserve_out(i) as f64);
                    } else if !pool.confirmed && pool.share > 0 {
                        pool.confirmed = pool.fit.is_some_and(|f| f.predicts(pool.share, pool.output));
                    } else if !pool.confirmed && round == 0 {
                        // A pool left out: test its model once at a small order, far from the probe.
                        // A constant-product pool is confirmed here, and rightly gets nothing.
                        let x = (total / 32).max(1);
                        if pool.can_quote(x, 1)
                            && let Some(y) = quote(curves, pool, i, x, faulted)
                            && pool.fit.is_some_and(|f| f.predicts(x, y))
                        {
                            pool.confirmed = true;
                        }
                    }
                    if pool.confirmed
                        && !pool.known
                        && let Some(f) = pool.fit
                    {
                        curves.remember_fit(i, f);
                        pool.known = true;
                    }
                    // A secant fit whose demand no longer moves has equal marginals at the share.
                    let stable = pool.share > 0 && round > 0 && pool.secant_settled(total);
                    if !pool.confirmed && !stable {
                        moved = moved.max(pool.share.abs_diff(pool.previous_share));
                    }
                    pool.previous_share = pool.share;
                    pool.stable = stable;
                    settled &= pool.out || pool.confirmed || stable;
                }
                if !settled {
                    // The costlier test: a pool left out is settled if, by concavity, no sampled
                    // curve through its points could have earned anything at this price.
                    // Rounded quotes: the bound allows each sample its rounding, and the flow it
                    // could earn is worth up to that much again.
                    let zero_tolerance = GAP_TOLERANCE * best_total as f64 + 2.0;
                    let err = rounding_error(lambda);
                    settled = self.pools.iter().all(|p| {
                        p.out
                            || p.exact
                            || p.confirmed
                            || p.stable
                            || (p.share == 0
                                && p.samples.envelope_max(lambda, total as f64, 1.0).0 <= zero_tolerance + 2.0 * err)
                    });
                }
                if settled {
                    break 'rounds false;
                }
                // A second candidate, exact where curves are piecewise linear (tiers, caps) and
                // the models are weakest: the best split of the chords through the samples.
                let mut lambda = lambda;
                if let Some((i, x, chord_lambda)) = self.solve_chords(total)
                    && self.pools[i].can_quote(x, 1)
                {
                    let mut ok = true;
                    if let Some(y) = quote(curves, &mut self.pools[i], i, x, faulted) {
                        self.lower[i] = (x, y);
                    } else {
                        ok = false;
                    }
                    let chord_total: u64 = self.lower.iter().map(|s| s.1).sum();
                    if ok && chord_total > best_total {
                        best_total = chord_total;
                        self.best.copy_from_slice(&self.lower);
                        // The split chord's slope is the marginal price of this better split:
                        // refine the models there (it is robust where a linear tier makes the
                        // models' λ swing).
                        lambda = chord_lambda;
                    }
                }
                // 4. Certify ([`Router::certificate_gap`]), or refine the unsettled models.
                let gap = self.certificate_gap(best_total, lambda);
                let enough = if stalls >= STALLED_ROUNDS { gap + STALLED_GAP * best_total as f64 } else { gap };
                let iterations = if stalls >= STALLED_ROUNDS { DUAL_ITERATIONS_STALLED } else { DUAL_ITERATIONS };
                // (Not while the search progresses — the round gained output and moved a share by
                // more than a thousandth of the order: the split is then not yet within the
                // tolerance, and the bound would only cost its envelopes.)
                let progressing = gained > STALL_TOLERANCE * best_total as f64 + n as f64
                    && moved as f64 > CERTIFY_WITHIN * total as f64;
                if !progressing {
                    let (bound, _) = self.dual_bound(total, lambda, best_total as f64 + enough, iterations);
                    if bound - best_total as f64 <= enough {
                        break 'rounds false;
                    }
                }
                for i in 0..n {
                    let pool = &mut self.pools[i];
                    if pool.out || pool.exact || pool.confirmed {
                        continue;
                    }
                    let reserve_out = curves.reserve_out(i) as f64;
                    if pool.share == 0 {
                        // Would this pool deserve flow? Sample where its bound is loosest; a model
                        // that predicts that quote is confirmed.
                        // (Not below 1e-4 of the order: tiny quotes round too coarsely to fit.)
                        let (_, at) = pool.samples.envelope_max(lambda, total as f64, 1.0);
                        let x = at.round().clamp((total / 10_000).max(1) as f64, total as f64) as u64;
                        if pool.can_quote(x, 1)
                            && let Some(y) = quote(curves, pool, i, x, faulted)
                            && pool.fit.is_some_and(|f| f.predicts(x, y))
                        {
                            pool.confirmed = true;
                            continue;
                        }
                        pool.fit =
                            refit(&pool.samples, x, lambda, reserve_out * 1e3, total as f64, 1.0, true).or(pool.fit);
                    } else {
                        // A secant needs a second sample at a useful distance from the share; the
                        // quote there also tests the current model.
                        let spread = pool.samples.nearest_two(pool.share).is_some_and(|(p, q)| {
                            let other = if p.0 == pool.share { q.0 } else { p.0 };
                            other.abs_diff(pool.share) as f64 >= MIN_CONFIRMING_DISTANCE * pool.share as f64
                        });
                        if !spread {
                            let up = pool.share + pool.share / 50 + 1;
                            let x = if up <= total { up } else { pool.share - pool.share / 50 };
                            if pool.can_quote(x, 1)
                                && let Some(y) = quote(curves, pool, i, x, faulted)
                                && pool.fit.is_some_and(|f| f.predicts(x, y))
                            {
                                pool.confirmed = true;
                                continue;
                            }
                        }
                        pool.fit = refit(&pool.samples, pool.share, lambda, reserve_out * 1e3, total as f64, 1.0, true)
                            .or(pool.fit);
                    }
                }
            }
            true
        };
        // 5. The models' rounds ran out without a certificate (their split swings: a linear
        // tier beside a curve, an order too small to confirm a model): cutting planes.
        if exhausted && let Some(lambda) = last_lambda {
            let mut lambda = lambda;
            for _ in 0..CUTTING_ROUNDS {
                let enough = self.certificate_gap(best_total, lambda);
                let (bound, at) = self.dual_bound(total, lambda, best_total as f64 + enough, DUAL_ITERATIONS_STALLED);
                if bound - best_total as f64 <= enough {
                    break;
                }
                lambda = at;
                // Cuts: quote each pool known only by samples where its envelope peaks at λ.
                let mut cut = false;
                for i in 0..n {
                    let pool = &mut self.pools[i];
                    if pool.out || pool.exact || pool.confirmed {
                        continue;
                    }
                    let (_, peak) = pool.samples.envelope_max(lambda, total as f64, 1.0);
                    let x = (peak.round().max(1.0) as u64).min(total);
                    if pool.samples.get(x).is_none() && pool.can_quote(x, 1) {
                        cut |= quote(curves, pool, i, x, faulted).is_some();
                    }
                }
                // The split of the chord interpolants (exact pools in closed form) at the
                // common marginal price: quoted, it is a candidate.
                if let Some(candidate) = self.split_at_common_price(total) {
                    let mut sum = 0u64;
                    let mut ok = true;
                    for (i, &x) in candidate.iter().enumerate() {
                        let pool = &mut self.pools[i];
                        if x == 0 {
                            continue;
                        }
                        if !(pool.exact || pool.samples.get(x).is_some() || pool.can_quote(x, 0)) {
                            ok = false;
                            break;
                        }
                        match quote(curves, pool, i, x, faulted) {
                            Some(y) => sum += y,
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok && sum > best_total {
                        best_total = sum;
                        for (slot, (pool, &x)) in self.best.iter_mut().zip(self.pools.iter().zip(&candidate)) {
                            *slot = (x, if x == 0 { 0 } else { pool.samples.get(x).unwrap_or(0) });
                        }
                    }
                }
                if !cut {
                    break;
                }
            }
        }
        summary.total_output = best_total;
        summary.quotes = quotes;
        summary
    }

    /// The gap between the dual bound and the best split `best_total` that certifies it at the
    /// price `lambda` (output units): [`GAP_TOLERANCE`] of the output, a unit per pool, and for
    /// each pool known only by its samples eight roundings at `lambda` — its bound carries its
    /// samples' rounding several times over (the curve may sit that far above a sample, a chord
    /// extended through two samples doubles it, and a quote may sit that far above the curve).
    fn certificate_gap(&self, best_total: u64, lambda: f64) -> f64 {
        let unsure = self.pools.iter().filter(|p| !(p.out || p.exact || p.confirmed)).count() as f64;
        GAP_TOLERANCE * best_total as f64 + 2.0 * self.pools.len() as f64 + unsure * 8.0 * rounding_error(lambda)
    }

    /// Each pool's demand at one marginal price `λ`, the price at which they add up to `total`:
    /// an exact or confirmed pool by its model's closed form, any other by the chords through
    /// its samples (the concave interpolant, a lower bound on its curve: its demand at `λ` is
    /// the last sample its chords reach at a slope above `λ`). `λ` by bisection; the inputs
    /// still missing at its end go to the pools whose demand jumps there. `None` with no pool
    /// to take the order.
    fn split_at_common_price(&self, total: u64) -> Option<Vec<u64>> {
        let x = total as f64;
        let demand = |i: usize, lambda: f64| -> f64 {
            let pool = &self.pools[i];
            if pool.out {
                return 0.0;
            }
            if pool.exact || pool.confirmed {
                return pool.fit.map_or(0.0, |f| f.model.demand(lambda)).clamp(0.0, x);
            }
            let mut from = (0u64, 0u64);
            for &(px, py) in pool.samples.points() {
                if px > total || (py as f64 - from.1 as f64) <= lambda * (px - from.0) as f64 {
                    break;
                }
                from = (px, py);
            }
            from.0 as f64
        };
        let n = self.pools.len();
        let sum = |lambda: f64| (0..n).map(|i| demand(i, lambda)).sum::<f64>();
        // λ from the steepest slope any pool shows down to where the demands exceed the order.
        let (mut lo, mut hi) = (1e-30f64, 1e30f64);
        if sum(lo) < x {
            return None;
        }
        for _ in 0..200 {
            let mid = (lo * hi).sqrt();
            if !(mid > lo && mid < hi) {
                break;
            }
            if sum(mid) >= x { lo = mid } else { hi = mid }
        }
        let mut shares: Vec<u64> = (0..n).map(|i| demand(i, hi).floor() as u64).collect();
        let mut left = total.saturating_sub(shares.iter().sum());
        // The rest to the pools whose demand grows between hi and lo (exact pools first), in
        // proportion to how much it grows: pools alike get alike, wherever they are listed.
        for exact_first in [true, false] {
            let grows: Vec<u64> = (0..n)
                .map(|i| {
                    let pool = &self.pools[i];
                    if pool.out || (pool.exact || pool.confirmed) != exact_first {
                        return 0;
                    }
                    (demand(i, lo).floor() as u64).saturating_sub(shares[i])
                })
                .collect();
            let growth: u64 = grows.iter().sum();
            if left == 0 || growth == 0 {
                continue;
            }
            let give = left.min(growth);
            for (share, &g) in shares.iter_mut().zip(&grows) {
                let more = (u128::from(give) * u128::from(g) / u128::from(growth)) as u64;
                *share += more;
                left -= more;
            }
        }
        if left > 0 {
            // (The units the proportions round away: to the largest share, the first seated
            // among equals — seats are a per-seed draw by name — as the models' split rounds.)
            let largest = (0..n).rev().max_by_key(|&i| shares[i])?;
            shares[largest] += left;
        }
        (shares.iter().sum::<u64>() == total).then_some(shares)
    }

    /// The split when every pool is exact or carries a model confirmed for its state: the
    /// models' closed-form split ([`Router::solve_models`], [`Router::integerize`]), each pool
    /// with flow quoted at its share; a pool whose quote faults is left out (listed in
    /// `faulted`) and the rest solved again. `None` (the pool states reset, nothing quoted) when a
    /// pool has neither; also `None` after the quotes when a quote broke its remembered model
    /// (impossible for a pure strategy), and the general search takes over from scratch.
    fn route_known<S: CurveSet + ?Sized>(
        &mut self,
        curves: &mut S,
        total: u64,
        faulted: &mut Vec<usize>,
    ) -> Option<RouteSummary> {
        let n = curves.len();
        for i in 0..n {
            let pool = &mut self.pools[i];
            if let Some(model) = curves.exact_model(i) {
                pool.fit = Some(Fit::exact(model));
                pool.exact = true;
            } else if let Some(known) = curves.known_fit(i) {
                pool.fit = Some(known);
                pool.confirmed = true;
                pool.known = true;
            } else {
                for pool in &mut self.pools {
                    pool.reset();
                }
                return None;
            }
        }
        let mut summary = RouteSummary::default();
        // (A pool whose quote faults is left out and the rest solved again: at most n rounds.)
        'rounds: for _ in 0..=n {
            summary.rounds += 1;
            summary.total_output = 0;
            self.best.iter_mut().for_each(|b| *b = (0, 0));
            if self.solve_models(total).is_none() {
                return Some(summary); // every pool faulted: nothing routed
            }
            self.integerize(total);
            for i in 0..n {
                let pool = &mut self.pools[i];
                if pool.out || pool.share == 0 {
                    continue;
                }
                let y = match pool.samples.get(pool.share) {
                    Some(y) => Some(y),
                    None => {
                        if !pool.exact {
                            summary.quotes += 1;
                            pool.quotes += 1;
                        }
                        curves.quote(i, pool.share)
                    }
                };
                match y {
                    None => {
                        pool.out = true;
                        faulted.push(i);
                        continue 'rounds;
                    }
                    Some(y) if pool.exact || pool.fit.is_some_and(|f| f.holds(pool.share, y)) => {
                        pool.samples.insert(pool.share, y);
                        pool.output = y;
                        self.best[i] = (pool.share, y);
                        summary.total_output += y;
                    }
                    Some(_) => {
                        // A remembered model that no longer holds (impossible for a pure
                        // strategy): the general search starts over.
                        for pool in &mut self.pools {
                            pool.reset();
                        }
                        self.best.iter_mut().for_each(|b| *b = (0, 0));
                        faulted.clear();
                        return None;
                    }
                }
            }
            break;
        }
        Some(summary)
    }

    /// Whether pool `i`'s quotes sampled for the last order break the shape rules.
    /// `reserve_out` is its output-side reserve (nano units), for the rounding allowance.
    pub fn shape_violation(&self, i: usize, reserve_out: u64) -> Option<super::curve::ShapeViolation> {
        let pool = self.pools.get(i)?;
        if pool.exact {
            return None;
        }
        pool.samples.check_shape(reserve_out).err()
    }

    /// Points pool `i` was sampled at in the last order (0 for a pool not in it).
    pub fn sampled(&self, i: usize) -> usize {
        self.pools.get(i).map_or(0, |p| p.samples.len())
    }

    /// Each pool's `(input, output)` in the chosen split.
    pub fn split(&self) -> &[(u64, u64)] {
        &self.best
    }

    /// Closed-form equimarginal split of the models; shares as floats. Returns `λ`.
    fn solve_models(&mut self, total: u64) -> Option<f64> {
        let x = total as f64;
        self.order.clear();
        self.order.extend(
            (0..self.pools.len())
                .filter(|&i| !self.pools[i].out)
                .filter_map(|i| Some((self.pools[i].fit?.model.initial_slope(), i))),
        );
        if self.order.is_empty() {
            for pool in &mut self.pools {
                pool.share = 0;
            }
            return None;
        }
        // Each slope divided once, not at every comparison. (Stable: ties keep the pools' order.)
        self.order.sort_by(|p, q| q.0.total_cmp(&p.0));
        let (mut sum_a, mut sum_root) = (0.0, 0.0);
        let mut active = 0;
        let mut lambda = f64::NAN;
        for (k, &(_, i)) in self.order.iter().enumerate() {
            let m = self.pools[i].fit.map_or(CpModel { a: 1.0, b: 0.0 }, |f| f.model);
            sum_a += m.a;
            sum_root += (m.a * m.b).sqrt();
            let s = (x + sum_a) / sum_root;
            active = k + 1;
            lambda = 1.0 / (s * s);
            let next_enters = self.order.get(k + 1).is_some_and(|&(slope, _)| slope > lambda);
            if !next_enters {
                break;
            }
        }
        self.shares.clear();
        self.shares.resize(self.pools.len(), 0.0);
        if active == 1 {
            // One pool takes the order (most orders of a market where one pool is the
            // cheapest): its share in [`line::active_share`]'s form, bit for bit, without
            // building its model. (`sum_root` is that pool's `√(ab)`.)
            self.shares[self.order[0].1] = line::sole_share(sum_root, x);
            return Some(lambda);
        }
        // (`s·√(ab) − a` in the form that does not cancel: [`line::active_share`].)
        // (`order` holds only pools with a fit.)
        self.active.clear();
        let pools = &self.pools;
        self.active
            .extend(self.order[..active].iter().filter_map(|&(_, i)| Some(line::Model::new(i, pools[i].fit?.model))));
        for m in &self.active {
            self.shares[m.pool] = line::active_share(self.active.iter().copied(), m, x, sum_root);
        }
        Some(lambda)
    }

    /// The optimal split of the concave chord interpolants of the samples (greedy by chord
    /// slope, exact for piecewise-linear functions). Shares land on sampled points except at
    /// most one, returned as `(pool, input, slope of its chord)` to be quoted; `lower` holds
    /// the rest.
    fn solve_chords(&mut self, total: u64) -> Option<(usize, u64, f64)> {
        self.chords.clear();
        for (i, pool) in self.pools.iter().enumerate() {
            if pool.out || pool.exact {
                continue;
            }
            // Upper concave hull of the samples and the origin: its vertices are real samples.
            let start = self.chords.len();
            let mut from = (0u64, 0u64);
            for &(x, y) in pool.samples.points() {
                let mut slope = (y as f64 - from.1 as f64) / (x - from.0) as f64;
                while let Some(&(prev_slope, _, _, _)) = self.chords[start..].last()
                    && slope >= prev_slope
                {
                    self.chords.pop();
                    from = self.chords[start..].last().map_or((0, 0), |c| (c.2, c.3));
                    slope = (y as f64 - from.1 as f64) / (x - from.0) as f64;
                }
                self.chords.push((slope, i, x, y));
                from = (x, y);
            }
        }
        if self.chords.is_empty() || self.pools.iter().any(|p| p.exact && !p.out) {
            return None; // the normalizer's exact curve is better served by the models
        }
        self.chords.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.lower.clear();
        self.lower.resize(self.pools.len(), (0, 0));
        let mut left = total;
        for &(slope, i, x, y) in &self.chords {
            let at = self.lower[i].0;
            let width = x - at;
            if width <= left {
                self.lower[i] = (x, y);
                left -= width;
                if left == 0 {
                    return None;
                }
            } else {
                return Some((i, at + left, slope));
            }
        }
        // Every chord used: the rest goes past the last sample of the flattest chord's pool.
        let &(slope, last, _, _) = self.chords.last()?;
        Some((last, self.lower[last].0 + left, slope))
    }

    /// Rounds the float shares to integers summing exactly to `total`.
    fn integerize(&mut self, total: u64) {
        // One pool takes the order (most orders): all of it, as the rounding below gives it
        // (its share scaled to the total, floored, and the units floored away added back).
        let mut takers = self.shares.iter().enumerate().filter(|&(_, &s)| s > 0.0);
        if let (Some((only, &share)), None) = (takers.next(), takers.next())
            && share.is_finite()
        {
            for (i, pool) in self.pools.iter_mut().enumerate() {
                pool.share = if i == only { total } else { 0 };
            }
            return;
        }
        let sum: f64 = self.shares.iter().sum();
        let scale = if sum > 0.0 { total as f64 / sum } else { 0.0 };
        let mut assigned = 0u64;
        let mut largest = None::<usize>;
        for (i, pool) in self.pools.iter_mut().enumerate() {
            let share = (self.shares[i] * scale).floor().clamp(0.0, total as f64) as u64;
            pool.share = share.min(total - assigned);
            assigned += pool.share;
            if pool.share > 0 && largest.is_none_or(|l| self.shares[l] < self.shares[i]) {
                largest = Some(i);
            }
        }
        if let Some(l) = largest {
            self.pools[l].share += total - assigned;
        }
    }

    /// Weak-duality bound on the optimum: `min_λ λX + Σ max_x (Uᵢ(x) − λx)`, with `Uᵢ` the
    /// model for trusted pools and the concavity envelope for the rest.
    /// Stops early, at `lambda0`, when the bound there is already below `enough`; otherwise
    /// searches `λ` by golden section for at most `iterations` steps.
    fn dual_bound(&self, total: u64, lambda0: f64, enough: f64, iterations: usize) -> (f64, f64) {
        let x = total as f64;
        let bound = |lambda: f64| {
            let mut sum = lambda * x;
            for pool in self.pools.iter().filter(|p| !p.out) {
                sum += match pool.fit {
                    Some(f) if pool.exact || pool.confirmed => f.model.best_surplus(lambda, x),
                    _ => pool.samples.envelope_max(lambda, x, 1.0).0 + rounding_error(lambda),
                };
            }
            sum
        };
        let b0 = bound(lambda0);
        if b0 <= enough {
            return (b0, lambda0);
        }
        // The bound is convex in λ: a short golden-section search around the models' λ, which
        // stops as soon as one λ certifies (every λ gives an upper bound: weak duality).
        let (mut lo, mut hi) = (lambda0 * 0.5, lambda0 * 2.0);
        let phi = 0.618_033_988_75;
        let mut c = hi - phi * (hi - lo);
        let mut d = lo + phi * (hi - lo);
        let (mut fc, mut fd) = (bound(c), bound(d));
        for _ in 0..iterations {
            if fc.min(fd) <= enough {
                break;
            }
            if fc < fd {
                hi = d;
                d = c;
                fd = fc;
                c = hi - phi * (hi - lo);
                fc = bound(c);
            } else {
                lo = c;
                c = d;
                fc = fd;
                d = lo + phi * (hi - lo);
                fd = bound(d);
            }
        }
        let (l_best, b_best) = if fc < fd { (c, fc) } else { (d, fd) };
        if b0 <= b_best { (b0, lambda0) } else { (b_best, l_best) }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use amm_strategy_sdk::math::cp_output_fee_bps;

    pub use crate::market::curve::testing::TestCurve;

    pub fn cp_curve(reserve_in: u64, reserve_out: u64, fee_bps: u64) -> TestCurve {
        TestCurve::new(move |x| cp_output_fee_bps(x, reserve_in, reserve_out, fee_bps), reserve_out)
    }

    /// Continuous optimum for constant-product pools with fees (closed form).
    fn cp_optimum(pools: &[(u64, u64, u64)], total: f64) -> f64 {
        let models: Vec<CpModel> = pools
            .iter()
            .map(|&(rin, rout, fee)| CpModel { a: rin as f64 / (1.0 - fee as f64 / 1e4), b: rout as f64 })
            .collect();
        // Bisection on λ: Σ demand(λ) = total.
        let (mut lo, mut hi) = (0.0f64, models.iter().map(|m| m.initial_slope()).fold(0.0, f64::max));
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let demand: f64 = models.iter().map(|m| m.demand(mid)).sum();
            if demand > total { lo = mid } else { hi = mid }
        }
        models.iter().map(|m| m.output(m.demand(lo))).sum()
    }

    /// Brute force for arbitrary concave curves: bisection on λ with each pool's demand found
    /// by a dense search of `f(x) − λx`.
    fn brute_optimum(curves: &[Box<dyn Fn(u64) -> u64>], caps: &[u64], total: u64) -> f64 {
        let value = |i: usize, x: u64| {
            let y = curves[i](x);
            if y >= caps[i] { 0.0 } else { y as f64 }
        };
        let demand = |i: usize, lambda: f64| -> (u64, f64) {
            // Ternary search on the concave surplus, then a local scan.
            let (mut lo, mut hi) = (0u64, total);
            while hi - lo > 64 {
                let m1 = lo + (hi - lo) / 3;
                let m2 = hi - (hi - lo) / 3;
                if value(i, m1) - lambda * (m1 as f64) < value(i, m2) - lambda * (m2 as f64) {
                    lo = m1
                } else {
                    hi = m2
                }
            }
            (lo..=hi)
                .map(|x| (x, value(i, x) - lambda * x as f64))
                .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a })
        };
        let n = curves.len();
        let (mut lo, mut hi) = (0.0f64, 1e6f64);
        let mut best = 0.0f64;
        for _ in 0..120 {
            let mid = 0.5 * (lo + hi);
            let xs: Vec<u64> = (0..n).map(|i| demand(i, mid).0).collect();
            let used: u64 = xs.iter().sum();
            if used > total {
                lo = mid
            } else {
                hi = mid
            }
            if used <= total {
                // Feasible: value of this split with the leftover on the best marginal pool.
                let left = total - used;
                let mut split_value: f64 = (0..n).map(|i| value(i, xs[i])).sum();
                let bonus = (0..n).map(|i| value(i, xs[i] + left) - value(i, xs[i])).fold(0.0, f64::max);
                split_value += bonus;
                best = best.max(split_value);
            }
        }
        best
    }

    #[test]
    fn constant_product_pools_match_the_closed_form_optimum_from_2_to_17_pools() {
        let nano = 1_000_000_000u64;
        for n in 2..=17usize {
            let pools: Vec<(u64, u64, u64)> = (0..n)
                .map(|i| {
                    let scale = 1 + (i as u64 * 7) % 5;
                    let price_skew = 1.0 + ((i as f64 * 0.37).sin() * 0.004);
                    let rin = (10_000.0 * price_skew * scale as f64) as u64 * nano;
                    (rin, 100 * scale * nano, [0, 5, 30, 100, 500][i % 5])
                })
                .collect();
            for total in [nano / 100, 20 * nano, 300 * nano, 5_000 * nano] {
                let mut curves: Vec<TestCurve> =
                    pools.iter().map(|&(rin, rout, fee)| cp_curve(rin, rout, fee)).collect();
                let mut router = Router::default();
                let mut faulted = Vec::new();
                let summary = router.route(curves.as_mut_slice(), total, &mut faulted);
                let split = router.split();
                assert_eq!(split.iter().map(|s| s.0).sum::<u64>(), total, "whole order routed");
                let optimum = cp_optimum(&pools, total as f64);
                let got = summary.total_output as f64;
                // Integer outputs round down by up to one nano unit per pool.
                assert!(
                    got >= optimum * (1.0 - 1e-6) - n as f64,
                    "n={n} total={total}: {got} vs optimum {optimum} ({} quotes)",
                    summary.quotes
                );
                // Outputs are what the curves give for the routed inputs.
                for (i, &(x, y)) in split.iter().enumerate() {
                    if x > 0 {
                        assert_eq!(y, (curves[i].f)(x));
                    }
                }
                // Two quotes a pool (a probe, the share) when the order shows the curves'
                // curvature; an order a millionth of the reserves cannot (rounding swamps it),
                // no model is confirmed, and the general search takes a few more.
                let budget = if total >= nano { 3 * n } else { 4 * n };
                assert!(summary.quotes as usize <= budget, "n={n} total={total}: {} quotes", summary.quotes);
            }
        }
    }

    #[test]
    fn pools_with_remembered_models_are_split_in_closed_form_with_one_quote_each() {
        let nano = 1_000_000_000u64;
        let pools =
            [(10_000 * nano, 100 * nano, 30u64), (9_950 * nano, 100 * nano, 60), (20_100 * nano, 200 * nano, 5)];
        for total in [nano / 10, 20 * nano, 500 * nano] {
            let mut curves: Vec<TestCurve> = pools.iter().map(|&(rin, rout, fee)| cp_curve(rin, rout, fee)).collect();
            let model = |(rin, rout, fee): (u64, u64, u64)| CpModel {
                a: rin as f64 * 1e4 / (1e4 - fee as f64),
                b: rout as f64,
            };
            // The first two remembered (confirmed before for this state), the third exact.
            curves[0].known = Some(Fit::exact(model(pools[0])));
            curves[1].known = Some(Fit::exact(model(pools[1])));
            curves[2].exact = Some(model(pools[2]));
            let mut router = Router::default();
            let summary = router.route(curves.as_mut_slice(), total, &mut Vec::new());
            let split = router.split();
            assert_eq!(split.iter().map(|s| s.0).sum::<u64>(), total, "whole order routed");
            let with_flow = split[..2].iter().filter(|s| s.0 > 0).count() as u32;
            assert_eq!(
                (summary.quotes, summary.rounds),
                (with_flow, 1),
                "total {total}: one quote per strategy pool with flow"
            );
            let optimum = cp_optimum(&pools, total as f64);
            assert!(
                summary.total_output as f64 >= optimum * (1.0 - 1e-9) - 3.0,
                "total {total}: {} vs {optimum}",
                summary.total_output
            );
            for (i, &(x, y)) in split.iter().enumerate() {
                if x > 0 {
                    assert_eq!(y, (curves[i].f)(x));
                }
            }
        }
    }

    #[test]
    fn diverse_concave_curves_match_brute_force() {
        let nano = 1_000_000_000u64;
        type F = std::rc::Rc<dyn Fn(u64) -> u64>;
        fn rc(f: impl Fn(u64) -> u64 + 'static) -> F {
            std::rc::Rc::new(f)
        }
        let families: Vec<(&str, Vec<(F, u64)>)> = vec![
            (
                "cp + sqrt",
                vec![
                    (rc(move |x| cp_output_fee_bps(x, 10_000 * nano, 100 * nano, 30)), 100 * nano),
                    (rc(|x: u64| (3e3 * (x as f64).sqrt()) as u64), 100 * nano),
                ],
            ),
            (
                "log + cp + virtual cp",
                vec![
                    (rc(|x: u64| (1e9 * (1.0 + x as f64 / 1e11).ln()) as u64), 100 * nano),
                    (rc(move |x| cp_output_fee_bps(x, 8_000 * nano, 80 * nano, 60)), 80 * nano),
                    (rc(move |x| cp_output_fee_bps(x, 40_000 * nano, 400 * nano, 10)), 100 * nano),
                ],
            ),
            (
                "capped linear + cp",
                vec![
                    (rc(move |x: u64| (0.0101 * x as f64).min(0.05 * nano as f64) as u64), 100 * nano),
                    (rc(move |x| cp_output_fee_bps(x, 10_000 * nano, 100 * nano, 30)), 100 * nano),
                ],
            ),
            (
                "tiered + power",
                vec![
                    (
                        rc(|x: u64| {
                            let x = x as f64;
                            (if x < 5e9 { 0.0102 * x } else { 0.0102 * 5e9 + 0.0095 * (x - 5e9) }) as u64
                        }),
                        100 * nano,
                    ),
                    (rc(|x: u64| (2e2 * (x as f64).powf(0.6)) as u64), 100 * nano),
                    (rc(move |x| cp_output_fee_bps(x, 12_000 * nano, 110 * nano, 45)), 110 * nano),
                ],
            ),
        ];
        for (name, pools) in families {
            for total in [2 * nano, 20 * nano, 150 * nano] {
                let caps: Vec<u64> = pools.iter().map(|p| p.1).collect();
                let fs: Vec<Box<dyn Fn(u64) -> u64>> = pools
                    .iter()
                    .map(|(f, _)| {
                        let f = f.clone();
                        Box::new(move |x| f(x)) as Box<dyn Fn(u64) -> u64>
                    })
                    .collect();
                let mut curves: Vec<TestCurve> = pools
                    .iter()
                    .map(|(f, cap)| {
                        let f = f.clone();
                        TestCurve::new(move |x| f(x), *cap)
                    })
                    .collect();
                let mut router = Router::default();
                let summary = router.route(curves.as_mut_slice(), total, &mut Vec::new());
                let brute = brute_optimum(&fs, &caps, total);
                let got = summary.total_output as f64;
                eprintln!(
                    "{name}, total {total}: {} quotes, {} rounds, rel gap {:.1e}",
                    summary.quotes,
                    summary.rounds,
                    (brute - got) / brute
                );
                assert!(
                    got >= brute * (1.0 - 1e-6),
                    "{name}, total {total}: router {got} vs brute force {brute} (rel {:.2e}, {} quotes, {} rounds)",
                    (brute - got) / brute,
                    summary.quotes,
                    summary.rounds
                );
            }
        }
    }
}
