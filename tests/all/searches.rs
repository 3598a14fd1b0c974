//! The arbitrage and routing searches against brute force, on integer-rounded quote curves at
//! every scale (issue 8, item 5): seeded random cases, no hard-coded answers.
//!
//! Rounding allowance. A quote is an integer: the curve it samples is a concave curve `g`
//! rounded down by less than one output unit, after the input itself was rounded down by less
//! than one unit (a fee taken from the input), so `f(x)` lies within `1 + g′(x)` output units of
//! `g(x)`. No search can see below that: brute force over every integer input may find a
//! "profit" that is only a favourable rounding, and a certificate built from rounded samples
//! must leave room for it. The allowance used throughout is therefore
//! `ALLOW_OUT + ALLOW_IN·λ` output units (a few output units plus a few input units' worth at
//! the price `λ`), or 1e-6 relative, whichever is larger; an arbitrage search may also stop
//! within its stated fraction of the floor (`FLOOR_TOLERANCE`).

use amm_engine::market::arbitrage::{ArbTrade, FLOOR_TOLERANCE, MAX_QUOTES_PER_SIDE, best_trade};
use amm_engine::market::curve::{CpModel, Curve, Fit, Samples};
use amm_engine::market::routing::Router;
use amm_strategy_sdk::math::cp_output_fee_bps;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::rc::Rc;

/// Output units of rounding allowance (see the module docs).
const ALLOW_OUT: f64 = 8.0;
/// Input units of rounding allowance, worth `λ` output units each.
const ALLOW_IN: f64 = 16.0;

type F = Rc<dyn Fn(u64) -> u64>;

/// A pure quote curve counting its quotes, delivered as the market delivers it (one unit short
/// at the reserve; above it, which disqualifies in a run, 0 here).
struct Rounded {
    f: F,
    reserve_out: u64,
    exact: Option<CpModel>,
    known: Option<Fit>,
    quotes: u32,
    /// Prints every quote (debugging a failed case).
    trace: bool,
}

impl Rounded {
    fn new(f: F, reserve_out: u64) -> Self {
        Self { f, reserve_out, exact: None, known: None, quotes: 0, trace: false }
    }
    fn value(&self, x: u64) -> u64 {
        let y = (self.f)(x);
        amm_engine::market::delivered_output(y, self.reserve_out).unwrap_or(0)
    }
}

impl Curve for Rounded {
    fn quote(&mut self, input: u64) -> Option<u64> {
        self.quotes += 1;
        if self.trace {
            eprintln!("  quote {:p} {input} -> {}", self.f.as_ref() as *const _ as *const u8, self.value(input));
        }
        Some(self.value(input))
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

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// One random concave curve family, rounded down to integers: `(name, f, reserve_out)`. `p0`
/// is its marginal price (output per input) near zero, `reserve_out` its output reserve in
/// nano units.
fn random_curve(rng: &mut ChaCha8Rng, reserve_out: u64, p0: f64) -> (&'static str, F) {
    let r = reserve_out as f64;
    let cap = reserve_out - 1;
    let rin = (r / p0).max(1.0);
    match rng.random_range(0..8u32) {
        0 => {
            let fee = [0u64, 1, 5, 30, 100, 500][rng.random_range(0..6usize)];
            let rin = rin as u64;
            ("constant product", Rc::new(move |x| cp_output_fee_bps(x, rin, reserve_out, fee)))
        }
        1 => {
            // Marginal p0 at x0 = rin/100: f = 2·p0·√(x·x0).
            let x0 = rin / 100.0;
            ("sqrt", Rc::new(move |x| ((2.0 * p0 * (x as f64 * x0).sqrt()) as u64).min(cap)))
        }
        2 => ("log", Rc::new(move |x| ((p0 * rin * (x as f64 / rin).ln_1p()) as u64).min(cap))),
        3 => {
            let top = 0.3 * r;
            ("capped linear", Rc::new(move |x| (p0 * x as f64).min(top) as u64))
        }
        4 => {
            let kink = rin * 0.05;
            let lower = p0 * (1.0 - rng.random::<f64>() * 0.05);
            (
                "two-tier",
                Rc::new(move |x| {
                    let x = x as f64;
                    ((if x < kink { p0 * x } else { p0 * kink + lower * (x - kink) }) as u64).min(cap)
                }),
            )
        }
        6 => {
            // Concentrated liquidity (Uniswap v3's shape): constant product on virtual reserves
            // in bands of √price away from the spot, liquidity falling band by band. The
            // marginal price is continuous across the band edges; the curvature jumps there.
            let (edges, depth) = ([1.0, 1.0025, 1.01, 1.04], [4.0, 2.5, 1.5, 0.9]);
            (
                "concentrated liquidity",
                Rc::new(move |x| {
                    let (mut rest, mut out) = (x as f64, 0.0);
                    for k in 0..edges.len() {
                        let (vin, vout) = (depth[k] * rin * edges[k], depth[k] * r / edges[k]);
                        let width = edges.get(k + 1).map_or(f64::INFINITY, |e| depth[k] * rin * (e - edges[k]));
                        let take = rest.min(width);
                        out += vout * take / (vin + take);
                        rest -= take;
                        if rest <= 0.0 {
                            break;
                        }
                    }
                    (out as u64).min(cap)
                }),
            )
        }
        7 => {
            // A weighted pool (Balancer's 80/20, either side): `r·(1 − (1 + x/a)^(−w))`, its
            // marginal `r·w/a` at zero set to p0; computed without cancellation.
            let w = if rng.random_bool(0.5) { 4.0 } else { 0.25 };
            let a = r * w / p0;
            ("weighted 80/20", Rc::new(move |x| ((-r * (-w * (x as f64 / a).ln_1p()).exp_m1()) as u64).min(cap)))
        }
        _ => {
            let fee = [0u64, 5, 30, 100][rng.random_range(0..4usize)];
            let (vin, vout) = ((rin * 20.0) as u64, reserve_out.saturating_mul(20));
            ("virtual reserves", Rc::new(move |x| cp_output_fee_bps(x, vin, vout, fee).min(cap)))
        }
    }
}

/// `max f(x) − λx` over integer `x` in `[1, x_max]`: a geometric grid (ratio 1.0002), then a
/// fine scan around the best grid point and every integer near it. Returns `(surplus, x)`.
fn brute_arbitrage(curve: &Rounded, lambda: f64, x_max: u64) -> (f64, u64) {
    let s = |x: u64| curve.value(x) as f64 - lambda * x as f64;
    let mut best = (f64::MIN, 1u64);
    let consider = |best: &mut (f64, u64), x: u64| {
        if x >= 1 && x <= x_max {
            let v = s(x);
            if v > best.0 {
                *best = (v, x);
            }
        }
    };
    let mut x = 1.0f64;
    while x <= x_max as f64 {
        consider(&mut best, x as u64);
        x = (x * 1.0002).max(x + 1.0);
    }
    consider(&mut best, x_max);
    let centre = best.1;
    let (lo, hi) = ((centre as f64 * 0.9997) as u64, (centre as f64 * 1.0003) as u64);
    let step = ((hi - lo) / 20_000).max(1);
    let mut xi = lo;
    while xi <= hi {
        consider(&mut best, xi);
        xi += step;
    }
    for xi in centre.saturating_sub(3_000)..=centre.saturating_add(3_000) {
        consider(&mut best, xi);
    }
    best
}

/// One arbitrage case: a curve, a fair price, a floor.
struct ArbCase {
    name: &'static str,
    curve: Rounded,
    lambda: f64,
    x_max: u64,
}

fn random_arb_case(rng: &mut ChaCha8Rng) -> ArbCase {
    // Output reserve 1e-3…1e9 tokens; pool price 1e-2…1e2 output per input.
    let reserve_out = (log_uniform(rng, 1e-3, 1e9) * 1e9) as u64;
    let p0 = log_uniform(rng, 1e-2, 1e2);
    let (name, f) = random_curve(rng, reserve_out, p0);
    // The fair price sits off the pool's by 1e-7…0.3 (log scale), either way.
    let deviation = log_uniform(rng, 1e-7, 0.3) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let lambda = p0 * deviation.exp();
    let x_max = (reserve_out as f64 / lambda).min(u64::MAX as f64 / 4.0) as u64;
    ArbCase { name, curve: Rounded::new(f, reserve_out), lambda, x_max }
}

/// The allowance (output units) for a surplus near `best` at price `lambda`.
fn allowance(best: f64, lambda: f64) -> f64 {
    (ALLOW_OUT + ALLOW_IN * lambda).max(1e-6 * best.abs())
}

/// Runs the search the way the market does: `delta` is a random input in `[δ/8, δ]`, `δ` worth
/// the floor `m` (output units).
fn search(case: &mut ArbCase, m: f64, rng: &mut ChaCha8Rng, samples: &mut Samples) -> Option<ArbTrade> {
    let delta = (m / case.lambda * rng.random_range(0.125..=1.0)).ceil() as u64;
    let s = best_trade(&mut case.curve, case.lambda, delta, m, samples, MAX_QUOTES_PER_SIDE);
    assert!(!s.faulted);
    s.trade
}

#[test]
fn arbitrage_matches_brute_force_on_rounded_curves_at_every_scale() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
    let mut samples = Samples::default();
    let (mut traded, mut pruned, mut quotes, mut calls) = (0, 0, 0u64, 0u64);
    let mut by_family: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    let mut failures = Vec::new();
    for case_no in 0..400 {
        let mut case = random_arb_case(&mut rng);
        let (brute, brute_x) = brute_arbitrage(&case.curve, case.lambda, case.x_max);
        // Floors 1e-9…1 Y, as output units: 1e-2…1e11 nano (the output token may be worth
        // 1/100 to 100 Y).
        let m = log_uniform(&mut rng, 1e-2, 1e11);
        case.curve.quotes = 0;
        case.curve.trace = std::env::var("TRACE_CASE").is_ok_and(|c| c == case_no.to_string());
        let trade = search(&mut case, m, &mut rng, &mut samples);
        quotes += u64::from(case.curve.quotes);
        calls += 1;
        let family = by_family.entry(case.name).or_default();
        *family = (family.0 + u64::from(case.curve.quotes), family.1 + 1);
        // (A search may also stop within its stated fraction of the floor.)
        let allow = allowance(brute, case.lambda) + FLOOR_TOLERANCE * m;
        let what = format!(
            "case {case_no} ({}): λ={:.6e} m={m:.3e} reserve={} brute={brute:.3} at {brute_x}, search {trade:?} in {} quotes",
            case.name, case.lambda, case.curve.reserve_out, case.curve.quotes
        );
        match trade {
            Some(t) => {
                traded += 1;
                if t.output != case.curve.value(t.input) || t.surplus < m {
                    failures.push(format!("{what}: trade not at its quote or below the floor"));
                } else if t.surplus < brute - allow {
                    failures.push(format!("{what}: short of brute force by {:.3}", brute - t.surplus));
                }
            }
            None => {
                pruned += 1;
                if brute >= m + allow {
                    failures.push(format!("{what}: no trade, but brute force earns {brute:.3} ≥ floor + allowance"));
                }
            }
        }
    }
    eprintln!("arbitrage: {traded} traded, {pruned} no trade, {:.2} quotes per search", quotes as f64 / calls as f64);
    assert!(failures.is_empty(), "{} of 400 cases failed:\n{}", failures.len(), failures.join("\n"));
    // The work, family by family: no family may make the search crawl to its quote budget. (A
    // square root, whose slope falls steeply from the origin, asked 42 quotes a search while
    // each sample's rounding was taken at the steepest slope of any sample — its initial
    // slope's rounding, far above the tolerance at the optimum, kept the certificate open —
    // and 13 since; the other families 2–7.)
    for (name, (q, n)) in &by_family {
        let mean = *q as f64 / *n as f64;
        eprintln!("  {name}: {mean:.2} quotes per search over {n}");
        assert!(mean <= 16.0, "{name}: {mean:.2} quotes per search");
    }
}

#[test]
fn a_lower_floor_never_trades_less() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0002);
    let mut samples = Samples::default();
    // Floors as output units, from 1e-9 Y (a nano Y in a token worth 100 Y) to 1 Y.
    let floors = [1e-2, 1.0, 1e2, 1e3, 1e5, 1e7, 1e9, 1e11];
    let mut trades = [0u32; 8];
    let mut failures = Vec::new();
    for case_no in 0..400 {
        let mut case = random_arb_case(&mut rng);
        let got: Vec<Option<ArbTrade>> = floors.iter().map(|&m| search(&mut case, m, &mut rng, &mut samples)).collect();
        for (k, t) in got.iter().enumerate() {
            trades[k] += u32::from(t.is_some());
        }
        for high in 1..floors.len() {
            if let Some(t) = got[high]
                && let Some(low) = (0..high).find(|&low| got[low].is_none())
            {
                failures.push(format!(
                    "case {case_no} ({}): λ={:.6e} floor {} trades (surplus {:.3}) but floor {} does not",
                    case.name, case.lambda, floors[high], t.surplus, floors[low]
                ));
            }
        }
    }
    eprintln!("trades per floor {floors:?}: {trades:?}");
    assert!(
        failures.is_empty(),
        "{} violations; trades per floor {trades:?}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A constant-product pool with a fee, both sides, as the arbitrageur sees it.
struct CpPool {
    rx: u64,
    ry: u64,
    fee: u64,
}

/// Which side the arbitrageur trades: buys X with Y, or sells X for Y.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    BuyX,
    SellX,
}

impl CpPool {
    fn curve(&self, side: Side) -> Rounded {
        let (rin, rout, fee) = match side {
            Side::BuyX => (self.ry, self.rx, self.fee),
            Side::SellX => (self.rx, self.ry, self.fee),
        };
        Rounded::new(Rc::new(move |x| cp_output_fee_bps(x, rin, rout, fee)), rout)
    }

    /// One step of arbitrage at fair price `price` (Y per X) with floor `floor_y` (Y): the
    /// sides searched as the market does (`delta` drawn in `[δ/8, δ]` when `random_delta`),
    /// the better trade executed. Returns the pool's edge in nano Y (negative: a loss) and
    /// the quotes spent per side.
    fn arbitrage(
        &mut self,
        price: f64,
        floor_y: f64,
        random_delta: bool,
        rng: &mut ChaCha8Rng,
        samples: &mut Samples,
    ) -> (f64, [u32; 2]) {
        let floor = floor_y * 1e9; // nano Y
        let mut best: Option<(Side, ArbTrade, f64)> = None;
        let mut quotes = [0u32; 2];
        for (k, side) in [Side::BuyX, Side::SellX].into_iter().enumerate() {
            let (lambda, delta, min_surplus, to_y) = match side {
                Side::BuyX => (1.0 / price, floor, floor / price, price),
                Side::SellX => (price, floor / price, floor, 1.0),
            };
            let u = if random_delta { rng.random_range(0.125..=1.0) } else { 1.0 };
            let mut curve = self.curve(side);
            let search =
                best_trade(&mut curve, lambda, (delta * u).ceil() as u64, min_surplus, samples, MAX_QUOTES_PER_SIDE);
            quotes[k] = curve.quotes;
            if let Some(t) = search.trade
                && best.is_none_or(|b| t.surplus * to_y > b.2)
            {
                best = Some((side, t, t.surplus * to_y));
            }
        }
        let Some((side, t, _)) = best else { return (0.0, quotes) };
        let edge = match side {
            Side::BuyX => {
                self.ry += t.input;
                self.rx -= t.output;
                t.input as f64 - t.output as f64 * price
            }
            Side::SellX => {
                self.rx += t.input;
                self.ry -= t.output;
                t.input as f64 * price - t.output as f64
            }
        };
        (edge, quotes)
    }
}

#[test]
fn common_path_prunes_with_one_quote_per_side() {
    // The default market: 100 X / 10,000 Y, floor 0.01 Y, a 30 bps pool, σ = 0.0035 a step.
    let mut samples = Samples::default();
    for random_delta in [false, true] {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0003);
        let (mut calls, mut quotes, mut one_quote, mut trades) = (0u64, 0u64, 0u64, 0u64);
        let mut histogram = [0u32; 12];
        for _path in 0..50 {
            let mut pool = CpPool { rx: 100_000_000_000, ry: 10_000_000_000_000, fee: 30 };
            let mut price = 100.0f64;
            for _ in 0..200 {
                let z: f64 = StandardNormal.sample(&mut rng);
                price *= (0.0035 * z).exp();
                let (edge, q) = pool.arbitrage(price, 0.01, random_delta, &mut rng, &mut samples);
                trades += u64::from(edge != 0.0);
                for q in q {
                    calls += 1;
                    quotes += u64::from(q);
                    one_quote += u64::from(q == 1);
                    histogram[(q as usize).min(11)] += 1;
                }
            }
        }
        let per_call = quotes as f64 / calls as f64;
        let single = one_quote as f64 / calls as f64;
        eprintln!(
            "common path (random delta: {random_delta}): {per_call:.3} quotes per side, {:.1} % of sides decided by one quote, {trades} trades in {} steps; sides by quotes {histogram:?}",
            100.0 * single,
            calls / 2
        );
        // Before the rounding-safe searches: 1.255 quotes per side, 74.5 % by one quote, every
        // other side in exactly 2. Now a small opportunity needs a third quote (the model must
        // show its curvature before it is trusted beyond its samples).
        assert!(single >= 0.72, "only {:.1} % of sides decided by one quote", 100.0 * single);
        assert!(per_call <= 1.55, "{per_call:.3} quotes per side");
        assert!(histogram[11] <= 20, "{} sides needed more than 10 quotes", histogram[11]);
    }
}

/// Expected arbitrage loss of a zero-fee constant-product pool arbitraged to the fair price
/// every step, in Y: `−y0·(2 − 2a)·Σ_{t<T} aᵗ`, `a = exp(−σ²/8)`.
fn closed_form_loss(y0: f64, sigma: f64, steps: u32) -> f64 {
    let a = (-sigma * sigma / 8.0).exp();
    -y0 * (2.0 - 2.0 * a) * (0..steps).map(|t| a.powi(t as i32)).sum::<f64>()
}

#[test]
fn zero_fee_arbitrage_loss_matches_the_closed_form_at_every_floor() {
    let (sigma, steps, paths) = (0.005f64, 40u32, 3_000u32);
    let expected = closed_form_loss(10_000.0, sigma, steps);
    let mut samples = Samples::default();
    let mut report = Vec::new();
    for floor in [1e-9, 1e-6, 1e-3, 1e-2] {
        // The same price paths at every floor (common random numbers).
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0004);
        let mut delta_rng = ChaCha8Rng::seed_from_u64(0x5eed_0005);
        let (mut sum, mut sum_sq, mut no_trade_steps, mut quotes) = (0.0f64, 0.0f64, 0u64, 0u64);
        for _ in 0..paths {
            let mut pool = CpPool { rx: 100_000_000_000, ry: 10_000_000_000_000, fee: 0 };
            let mut price = 100.0f64;
            let mut total = 0.0;
            for _ in 0..steps {
                let z: f64 = StandardNormal.sample(&mut rng);
                price *= (-sigma * sigma / 2.0 + sigma * z).exp();
                let (edge, q) = pool.arbitrage(price, floor, true, &mut delta_rng, &mut samples);
                no_trade_steps += u64::from(edge == 0.0);
                quotes += u64::from(q[0] + q[1]);
                total += edge / 1e9;
            }
            sum += total;
            sum_sq += total * total;
        }
        let n = f64::from(paths);
        let mean = sum / n;
        let se = ((sum_sq / n - mean * mean) / (n - 1.0)).sqrt();
        let skipped = no_trade_steps as f64 / (n * f64::from(steps));
        let line = format!(
            "floor {floor:e} Y: mean loss {mean:.5} Y vs closed form {expected:.5} (SE {se:.5}, {:+.2} SE), \
             no trade on {:.1} % of steps, {:.2} quotes a step",
            (mean - expected) / se,
            100.0 * skipped,
            quotes as f64 / (n * f64::from(steps))
        );
        eprintln!("{line}");
        if floor <= 1e-3 {
            assert!((mean - expected).abs() <= 3.0 * se, "{line}");
        } else {
            // A step skipped forgoes a profit below the floor; the mispricing it leaves is
            // arbitraged later. The shortfall is at most the floor on each skipped step.
            let bound = floor * skipped * f64::from(steps);
            assert!(mean >= expected - 3.0 * se && mean - expected <= bound + 3.0 * se, "{line}; bound {bound:.5}");
        }
        report.push(line);
    }
}

/// The best split of `total` between two curves: `max f(x) + g(total − x)` over integer `x`,
/// by a geometric grid from both ends (ratio 1.002) and a fine scan around the best point.
fn best_pair(f: &Rounded, g: &Rounded, total: u64) -> (f64, u64) {
    let v = |x: u64| f.value(x) as f64 + g.value(total - x) as f64;
    let mut best = (v(0).max(v(total)), if v(0) >= v(total) { 0 } else { total });
    let consider = |best: &mut (f64, u64), x: u64| {
        if x <= total {
            let value = v(x);
            if value > best.0 {
                *best = (value, x);
            }
        }
    };
    let mut d = 1.0f64;
    while d < total as f64 {
        consider(&mut best, d as u64);
        consider(&mut best, total - d as u64);
        d = (d * 1.002).max(d + 1.0);
    }
    let centre = best.1;
    let width = (centre.min(total - centre) as f64 * 0.003) as u64 + 2;
    let (lo, hi) = (centre.saturating_sub(width), (centre + width).min(total));
    let step = ((hi - lo) / 20_000).max(1);
    let mut x = lo;
    while x <= hi {
        consider(&mut best, x);
        x += step;
    }
    for x in centre.saturating_sub(200)..=(centre + 200).min(total) {
        consider(&mut best, x);
    }
    best
}

/// Brute-force optimum of splitting `total` across `pools` (2 or 3): pairwise exact splits
/// (coordinate ascent), from an even split, until no pair improves. For concave curves a split
/// no pair can improve is optimal.
fn brute_route(pools: &[Rounded], total: u64) -> f64 {
    let n = pools.len();
    let mut x: Vec<u64> = (0..n).map(|i| total / n as u64 + u64::from(i == 0) * (total % n as u64)).collect();
    let value = |x: &[u64]| (0..n).map(|i| pools[i].value(x[i]) as f64).sum::<f64>();
    let mut current = value(&x);
    for _pass in 0..6 {
        let before = current;
        for i in 0..n {
            for j in i + 1..n {
                let pair = x[i] + x[j];
                let (_, xi) = best_pair(&pools[i], &pools[j], pair);
                let (old_i, old_j) = (x[i], x[j]);
                x[i] = xi;
                x[j] = pair - xi;
                let v = value(&x);
                if v >= current {
                    current = v;
                } else {
                    (x[i], x[j]) = (old_i, old_j);
                }
            }
        }
        if current <= before {
            break;
        }
    }
    current
}

#[test]
fn routing_matches_brute_force_at_any_probe_fraction() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0006);
    let mut router = Router::default();
    let mut failures = Vec::new();
    let (mut quotes, mut orders, mut worst_per_pool) = (0u64, 0u64, 0.0f64);
    let mut slow = Vec::new();
    for case_no in 0..150 {
        let n = rng.random_range(2..=3usize);
        // Pools near one price, reserves within 100× of each other, at any scale.
        let scale = log_uniform(&mut rng, 1e-3, 1e9) * 1e9;
        let p0 = log_uniform(&mut rng, 1e-2, 1e2);
        let mut names = Vec::new();
        let mut pools: Vec<Rounded> = (0..n)
            .map(|_| {
                let reserve_out = (scale * log_uniform(&mut rng, 0.1, 10.0)).max(1e6) as u64;
                let price =
                    p0 * (log_uniform(&mut rng, 1e-6, 0.02) * if rng.random_bool(0.5) { 1.0 } else { -1.0 }).exp();
                let (name, f) = random_curve(&mut rng, reserve_out, price);
                names.push(name);
                Rounded::new(f, reserve_out)
            })
            .collect();
        // Orders 1e-6…1e6 Y, but at most a tenth of what the smallest pool holds.
        let smallest = pools.iter().map(|p| p.reserve_out as f64).fold(f64::MAX, f64::min) / p0;
        let total = log_uniform(&mut rng, 1e3, 1e15).min(0.1 * smallest).max(1.0) as u64;
        let fraction = rng.random_range(0.02..0.98);
        let trace = std::env::var("TRACE_ORDER").is_ok_and(|c| c == case_no.to_string());
        for (i, p) in pools.iter_mut().enumerate() {
            p.trace = trace;
            if trace {
                eprintln!("pool {i}: {} reserve {}", names[i], p.reserve_out);
            }
        }
        router.set_probe_fraction(fraction);
        let summary = router.route(pools.as_mut_slice(), total, &mut Vec::new());
        let split = router.split().to_vec();
        quotes += u64::from(summary.quotes);
        orders += 1;
        worst_per_pool = worst_per_pool.max(f64::from(summary.quotes) / n as f64);
        let brute = brute_route(&pools, total);
        let got = summary.total_output as f64;
        let allow = n as f64 * allowance(brute, p0);
        let what = format!(
            "case {case_no} ({names:?}): total {total}, p0 {p0:.4e}, probe fraction {fraction:.3}: router {got} vs brute force {brute} ({} quotes, {} rounds)",
            summary.quotes, summary.rounds
        );
        if split.iter().map(|s| s.0).sum::<u64>() != total {
            failures.push(format!("{what}: split does not add up to the order"));
        } else if split.iter().enumerate().any(|(i, &(x, y))| x > 0 && y != pools[i].value(x)) {
            failures.push(format!("{what}: an output is not its pool's quote"));
        } else if got < brute * (1.0 - 1e-3) - allow {
            failures.push(format!("{what}: short by {:.3} (allowance {allow:.3})", brute - got));
        } else if got < brute - allow {
            // Known limitation, not from rounding: a linear tier beside a curve whose marginal
            // crosses its slope leaves the models' split swinging; the cutting planes that take
            // over close most such orders within the tolerance, not all (BENCHMARKS.md).
            slow.push(format!("{what}: short by {:.3} (allowance {allow:.3})", brute - got));
        }
        // Quotes grow at most linearly in the pools: no pool is asked more than its budget.
        if summary.quotes as usize > n * amm_engine::market::routing::MAX_QUOTES_PER_POOL as usize {
            failures.push(format!("{what}: too many quotes"));
        }
    }
    eprintln!("routing: {:.2} quotes per order, at most {worst_per_pool:.1} per pool", quotes as f64 / orders as f64);
    eprintln!("{} orders within 1e-3 but beyond the allowance:\n{}", slow.len(), slow.join("\n"));
    assert!(failures.is_empty(), "{} of 150 orders failed:\n{}", failures.len(), failures.join("\n"));
    assert!(slow.len() <= 2, "{} of 150 orders short of brute force:\n{}", slow.len(), slow.join("\n"));
}

/// A concave ladder of `tiers` linear pieces whose slopes fall by tiny steps around `p0`: every
/// piece is a kink a certificate must resolve, and a model fits none of them (the hardest case
/// for the searches' work).
fn adversarial_ladder(p0: f64, tier: f64, tiers: u32, reserve_out: u64) -> F {
    Rc::new(move |x: u64| {
        let (mut left, mut out, mut slope) = (x as f64, 0.0f64, p0 * 1.01);
        for _ in 0..tiers {
            let take = left.min(tier);
            out += take * slope;
            left -= take;
            slope *= 0.9999;
            if left <= 0.0 {
                break;
            }
        }
        ((out + left * slope * 0.5) as u64).min(reserve_out - 1)
    })
}

#[test]
fn engine_work_per_order_and_pool_step_is_bounded_whatever_the_curve() {
    use amm_engine::market::arbitrage::MAX_QUOTES_PER_POOL_STEP;
    use amm_engine::market::routing::MAX_QUOTES_PER_POOL;
    let nano = 1_000_000_000u64;
    let reserve = 100 * nano;
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0015);
    let mut router = Router::default();
    let mut samples = Samples::default();
    let (mut worst_route, mut worst_arb) = (0u32, 0u32);
    for case in 0..40 {
        let p0 = 0.01 * (1.0 + 0.001 * f64::from(case));
        let tier = log_uniform(&mut rng, 1e6, 1e10);
        // Three adversarial ladders and a constant-product pool near the same price.
        let mut pools: Vec<Rounded> = (0..3)
            .map(|k| Rounded::new(adversarial_ladder(p0 * (1.0 + 1e-4 * f64::from(k)), tier, 5_000, reserve), reserve))
            .collect();
        pools.push(Rounded::new(Rc::new(move |x| cp_output_fee_bps(x, 10_000 * nano, reserve, 30)), reserve));
        let total = (log_uniform(&mut rng, 1.0, 100.0) * nano as f64) as u64;
        router.set_probe_fraction(rng.random_range(0.05..0.95));
        let summary = router.route(pools.as_mut_slice(), total, &mut Vec::new());
        let split = router.split();
        assert_eq!(split.iter().map(|s| s.0).sum::<u64>(), total, "case {case}: the whole order is routed");
        for (i, p) in pools.iter().enumerate() {
            assert!(p.quotes <= MAX_QUOTES_PER_POOL, "case {case}: pool {i} was asked {} quotes", p.quotes);
            worst_route = worst_route.max(p.quotes);
        }
        assert!(summary.rounds <= 30, "case {case}: {} rounds", summary.rounds);
        // The arbitrageur on one ladder, both sides' worth of budget on one side.
        let mut ladder = Rounded::new(adversarial_ladder(p0, tier, 5_000, reserve), reserve);
        let lambda = p0 * (1.0 - log_uniform(&mut rng, 1e-4, 0.05));
        let search = best_trade(&mut ladder, lambda, 1_000_000, 1e3, &mut samples, MAX_QUOTES_PER_POOL_STEP);
        assert!(ladder.quotes <= MAX_QUOTES_PER_POOL_STEP, "case {case}: {} arbitrage quotes", ladder.quotes);
        assert_eq!(search.quotes, ladder.quotes, "case {case}: the search counts its own quotes");
        worst_arb = worst_arb.max(ladder.quotes);
    }
    eprintln!(
        "adversarial ladders: at most {worst_route} quotes per pool-order (cap {MAX_QUOTES_PER_POOL}), \
         {worst_arb} per arbitrage search (cap {MAX_QUOTES_PER_POOL_STEP})"
    );
}

/// The reference setting's routing: one searched pool beside the normalizer (exact), against
/// brute force, on every curve family and at any scale (the line search of `routing::line`).
#[test]
fn routing_one_pool_beside_the_normalizer_matches_brute_force() {
    use amm_engine::market::routing::MAX_LINE_QUOTES;
    // Three streams of 300 cases. Streams 1 and 22 each found a flaw once: an order of a few
    // thousand units beside a normalizer with reserves near u64::MAX (the closed form's shares
    // cancelled to 0), and a linear pool's small order split as if the pool were curved (a
    // constant-product model "confirmed" by a quote that could not show curvature).
    let mut router = Router::default();
    let mut failures = Vec::new();
    let (mut quotes, mut orders, mut worst) = (0u64, 0u64, 0u32);
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0016);
    for (stream, case_no) in [0x5eed_0016u64, 1, 22].into_iter().flat_map(|s| (0..300).map(move |c| (s, c))) {
        if case_no == 0 {
            rng = ChaCha8Rng::seed_from_u64(stream);
        }
        let scale = log_uniform(&mut rng, 1e-3, 1e9) * 1e9;
        let p0 = log_uniform(&mut rng, 1e-2, 1e2);
        let reserve_out = (scale * log_uniform(&mut rng, 0.3, 3.0)).max(1e6) as u64;
        let price = p0 * (log_uniform(&mut rng, 1e-6, 0.02) * if rng.random_bool(0.5) { 1.0 } else { -1.0 }).exp();
        let (name, f): (&str, F) = match rng.random_range(0..8u32) {
            6 => {
                let k = rng.random_range(0.5..0.95);
                let r = reserve_out as f64;
                // Marginal `price` at a hundredth of the reserve's worth.
                let x0 = r / price / 100.0;
                let c = price * x0.powf(1.0 - k) / k;
                ("power", Rc::new(move |x: u64| ((c * (x as f64).powf(k)) as u64).min(reserve_out - 1)))
            }
            7 => {
                let tier = log_uniform(&mut rng, 1e-4, 1e-1) * reserve_out as f64 / price;
                ("ladder", adversarial_ladder(price, tier, 400, reserve_out))
            }
            _ => random_curve(&mut rng, reserve_out, price),
        };
        let fee = [5u64, 30, 100][rng.random_range(0..3usize)];
        let n_out = (scale * log_uniform(&mut rng, 0.3, 3.0)).max(1e6) as u64;
        let n_in = (n_out as f64 / p0) as u64;
        let mut normalizer = Rounded::new(Rc::new(move |x| cp_output_fee_bps(x, n_in, n_out, fee)), n_out);
        normalizer.exact = Some(CpModel { a: n_in as f64 * 1e4 / (1e4 - fee as f64), b: n_out as f64 });
        let mut pools = vec![Rounded::new(f, reserve_out), normalizer];
        let smallest = reserve_out.min(n_out) as f64 / p0;
        let total = log_uniform(&mut rng, 1e3, 1e15).min(0.1 * smallest).max(1.0) as u64;
        let fraction = rng.random_range(0.3..0.7);
        router.set_probe_fraction(fraction);
        pools[0].trace = std::env::var("TRACE_LINE").is_ok_and(|c| c == case_no.to_string());
        let summary = router.route(pools.as_mut_slice(), total, &mut Vec::new());
        let split = router.split().to_vec();
        quotes += u64::from(pools[0].quotes);
        orders += 1;
        worst = worst.max(pools[0].quotes);
        let (brute, _) = best_pair(&pools[0], &pools[1], total);
        let got = summary.total_output as f64;
        let allow = 2.0 * allowance(brute, p0);
        let what = format!(
            "stream {stream} case {case_no} ({name}, normalizer fee {fee}): total {total}, p0 {p0:.4e}: router {got} vs brute force {brute} ({} quotes)",
            pools[0].quotes
        );
        if split.iter().map(|s| s.0).sum::<u64>() != total {
            failures.push(format!("{what}: split does not add up to the order"));
        } else if split.iter().enumerate().any(|(i, &(x, y))| x > 0 && y != pools[i].value(x)) {
            failures.push(format!("{what}: an output is not its pool's quote"));
        } else if got < brute - allow {
            failures.push(format!("{what}: short by {:.3} (allowance {allow:.3})", brute - got));
        }
        if pools[0].quotes > MAX_LINE_QUOTES {
            failures.push(format!("{what}: over the quote budget"));
        }
    }
    eprintln!("one pool beside the normalizer: {:.2} quotes per order, at most {worst}", quotes as f64 / orders as f64);
    assert!(failures.is_empty(), "{} of {orders} orders failed:\n{}", failures.len(), failures.join("\n"));
}
