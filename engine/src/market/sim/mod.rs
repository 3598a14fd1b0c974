//! One simulation: the step loop.
//!
//! The loop is here; what it works on is in files of their own: `pool` (a pool, its seat
//! and the audits of its strategy's calls), `seats` (every hash that derives a seat, a seed
//! or a draw from the simulation's seed and an entrant's name) and `records` (what a
//! simulation produces, as `results.json` holds it).
//!
//! Each step: the fair price moves (GBM); the arbitrageur trades every live pool toward it (a
//! strategy's by a search over its quotes, the normalizer's in closed form); retail orders
//! arrive and are routed across all live pools; every executed trade calls the pool's
//! `after_swap`. Every `epoch_len` steps capital is rebalanced between the strategies and each
//! is told with `epoch_boundary`.
//!
//! **Simultaneous moves.** A strategy's result must depend on its strategy alone, never on its
//! place among the entrants, so nothing here runs "pool 0 first":
//! * The pools are seated in an order drawn per simulation from the seed and each entrant's
//!   name ([`seating`]), not in config order; results are mapped back to config order at the end.
//!   Whatever is still sequential (the order of work, the router's tie-breaks and its leftover
//!   nano unit, `pool_index`, the order of `competing_spot_prices`) therefore follows a seeded
//!   draw, and permuting the `[[strategy]]` entries changes nobody's results.
//! * Every pool's arbitrage in a step is decided against the same market (the fair price and that
//!   pool's own state). The hooks of a phase — the step's arbitrage, then each retail order — are
//!   delivered after the whole phase has executed, and all see one post-phase snapshot of every
//!   pool's spot price and liveness.
//!
//! **Searches a strategy cannot recognise.** The arbitrageur's pruning probe is a random
//! fraction, drawn from the pool's own salted draws (`Draws`, in `seats`), of the input worth the profit floor (buying X: a
//! Y amount, independent of the fair price; selling X: valued at the higher of the fair price
//! and the pool's own spot price, which arbitrage keeps within the fee of each other); the
//! router's probe is a random fraction of the order. A pruning decision is cross-checked now and then with a quote at a random larger input,
//! so a curve that answers probe-sized inputs differently from its other inputs breaks the
//! concavity check and is disqualified.
//!
//! **Audits.** A sample of quotes and of hooks is replayed on a pristine instance: a quote must
//! give the same output, a hook must leave the same storage, or the strategy is disqualified
//! (a strategy may not carry information between calls outside its storage).
//!
//! Transcendental functions come from the pure-Rust `libm`, never the platform's, so a seed
//! gives the same bits on every machine: the price move's normal and the retail orders'
//! log-normal sizes and Poisson counts are drawn by `distributions` (`rand_distr`'s reach the
//! platform's `exp` and `ln`).
//!
//! Edge is measured at the fair price per trade: a pool receiving X earns `x·P − y`, a pool
//! receiving Y earns `y − x·P`. Positive edge is what the pool captured from traders; the
//! arbitrageur's trades usually have negative edge for the pool.

use amm_strategy_sdk::abi::{NANO, after_swap::COMPETING_SLOTS};
use amm_strategy_sdk::math::cp_output_fee_bps;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, Side, Storage};
use rand_chacha::ChaCha12Rng;

use super::arbitrage::{
    ArbTrade, MAX_QUOTES_PER_POOL_STEP, Search, best_trade, pruned_by_model, pruned_by_sample, pruning_band,
};

/// One arbitrage search in this many per pool, and one routed order in this many, is timed
/// (its time counted this many times over) for the engine time each strategy costs
/// ([`PoolResult::engine_ns`]): a clock read costs ~20 ns, too much for every search of a
/// ~300 ns step, and one in 64 of tens of thousands of searches estimates the sum well.
pub const ENGINE_TIME_SAMPLING: u64 = 64;
use super::capital;
use super::curve::{Curve, Samples};
use super::disqualification::DisqualificationKind as Why;
use super::params::{MarketParams, Stream, stream};
use super::routing::Router;
use crate::config::{Config, Score};
use crate::sandbox::{CallKind, SandboxLimits};
use crate::strategy::StrategyProgram;

mod ahead;
mod distributions;
mod pool;
mod records;
mod seats;
mod ziggurat_tables;

use ahead::{FlowAhead, FlowLaw, PriceAhead};
use distributions::{LogNormal, Poisson};
use pool::{Band, Ctx, Hook, Kind, OrderCurves, Pool, PoolCurve, Seat};
use records::Tally;
pub use records::{EpochRecord, PoolResult, SimStats, SimulationResult};
pub use seats::seating;
use seats::{Draws, audit_key, audit_threshold, salt_key, wasi_seed};

const NANO_F: f64 = NANO as f64;

/// The arbitrageur's pruning probe is the input worth the profit floor times a factor drawn
/// uniformly from `(1/PROBE_RANGE, 1]`: any input at or below the floor's worth prunes
/// exactly (see [`super::arbitrage`]), and a smaller one prunes less often (more searches).
const PROBE_RANGE: f64 = 4.0 / 3.0;

/// Chance that a pruning decision made on one quote is cross-checked with a quote at a random
/// larger input (the shape check then sees a curve that special-cases probe-sized inputs).
/// A curve that lies on every probe is pruned on most steps, so at 3 % it is caught within
/// about 30 steps; an honest one pays ~0.03 extra quotes per pool-step.
const PRUNE_CROSS_CHECK: f64 = 0.03;

/// One side's arbitrage terms at a fair price `P` (what every pool's search of that side
/// shares in a step): `lambda`, the input's price in output units (`1/P` buying X, `P`
/// selling); `delta`, the input worth the profit floor (nano input units); `min_surplus`, the
/// floor in output units; `to_profit`, output units to Y.
#[derive(Clone, Copy, Debug, Default)]
struct SideTerms {
    lambda: f64,
    delta: f64,
    min_surplus: f64,
    to_profit: f64,
}

impl SideTerms {
    /// Both sides' terms, in [`Side::BOTH`]'s order, for `price` (Y per X) and the floor
    /// `min_profit` (nano Y).
    fn of_step(price: f64, min_profit: f64) -> [SideTerms; 2] {
        Side::BOTH.map(|side| match side {
            Side::BuyX => {
                SideTerms { lambda: 1.0 / price, delta: min_profit, min_surplus: min_profit / price, to_profit: price }
            }
            Side::SellX => {
                SideTerms { lambda: price, delta: min_profit / price, min_surplus: min_profit, to_profit: 1.0 }
            }
        })
    }
}

/// The router probes at a fraction of the order drawn uniformly from this range.
const ROUTER_PROBE_FRACTION: (f64, f64) = (0.3, 0.7);

/// A hook call owed to a pool once the current phase has executed.
#[derive(Clone, Copy, Debug)]
struct PendingSwap {
    pool: usize,
    side: Side,
    input: u64,
    output: u64,
    flow_captured: f32,
}

/// A strategy to put in the market: its program, display name and starting storage.
pub struct Entrant<'a> {
    /// Display name.
    pub name: &'a str,
    /// What to instantiate.
    pub program: &'a StrategyProgram,
    /// The storage its pool starts each simulation with: its parameter values
    /// (`amm.params`), zero elsewhere; [`ZERO_STORAGE`] for a module without parameters.
    pub storage: &'a Storage,
}

/// All-zero storage: how a strategy without declared parameters starts.
pub const ZERO_STORAGE: &Storage = &Storage::zeroed();

/// Runs simulation `seed` of `config` with `entrants` (in config order).
pub fn simulate(config: &Config, entrants: &[Entrant<'_>], seed: u64) -> SimulationResult {
    Simulation::new(config, entrants, seed).run()
}

struct Simulation<'c> {
    config: &'c Config,
    limits: &'c SandboxLimits,
    params: MarketParams,
    seed: u64,
    pools: Vec<Pool>,
    strategies: usize,
    price: f64,
    step: u64,
    stats: SimStats,
    price_rng: ChaCha12Rng,
    retail_rng: ChaCha12Rng,
    /// The router's probe fractions: salted, one draw per order, whichever pools compete.
    router_draws: Draws,
    /// `seats[k]`: config index of the entrant in seat `k` (see [`seating`]).
    seats: Vec<usize>,
    /// Hook calls owed once the current phase has executed.
    pending: Vec<PendingSwap>,
    /// Spot price of every pool after the phase (NaN for pools not live then).
    snapshot: Vec<f32>,
    router: Router,
    samples: Samples,
    live: Vec<usize>,
    faulted: Vec<usize>,
    scratch: Vec<f64>,
    weights: Vec<f64>,
    fair_prices: Vec<f64>,
    /// The arbitrage's terms of each side in [`Side::BOTH`]'s order at this step's fair price.
    side_terms: [SideTerms; 2],
    audit_threshold: u64,
    hook_audit_threshold: u64,
    /// Whether pruning bands may decide pool-steps (always, but in the test that checks they
    /// change nothing), and how many they decided.
    bands: bool,
    band_steps: u64,
}

impl<'c> Simulation<'c> {
    fn new(config: &'c Config, entrants: &[Entrant<'_>], seed: u64) -> Self {
        let params = MarketParams::draw(config, seed);
        let limits = &config.sandbox;
        let rx = (config.pools.reserve_x * NANO_F).round() as u64;
        let ry = (config.pools.reserve_y * NANO_F).round() as u64;
        let n = entrants.len();
        let names: Vec<&str> = entrants.iter().map(|e| e.name).collect();
        // The run's secret: mixed into every draw a strategy must not predict (probe sizes,
        // cross-checks, audits, its WASI randomness), never into the market's own streams.
        let salt_key = salt_key(&config.run.salt);
        let seats = seating(&names, seed);
        let mut pools: Vec<Pool> = Vec::with_capacity(n + 1);
        let blank = |name: String, kind: Kind, reserve_x: u64, reserve_y: u64, weight: f64| Pool {
            draws: Draws::new(seed ^ salt_key, &name),
            name,
            kind,
            reserve_x,
            reserve_y,
            live: true,
            faults: 0,
            disqualified: None,
            capital_weight: weight,
            epoch: Tally::default(),
            total: Tally::default(),
            epoch_start_value: 0.0,
            retail_volume: 0.0,
            arb_volume: 0.0,
            epochs: Vec::with_capacity((config.run.steps / config.run.epoch_len + 1) as usize),
            version: 0,
            engine_ns: 0,
            searches: 0,
            fits: [None, None],
            probes: [None, None],
            band: None,
            arb_version: u64::MAX,
        };
        for &index in &seats {
            let entrant = &entrants[index];
            // Seeded by the simulation and the strategy's name, never by its place.
            let wasi_seed = wasi_seed(seed, entrant.name, salt_key);
            let instance = entrant.program.instantiate(limits, wasi_seed);
            let mut pool = blank(entrant.name.to_string(), Kind::Absent, rx, ry, 1.0 / n as f64);
            match instance {
                Ok(instance) => {
                    pool.kind = Kind::Strategy(Box::new(Seat {
                        instance,
                        storage: entrant.storage.clone(),
                        program: entrant.program.clone(),
                        wasi_seed,
                        audit_key: audit_key(wasi_seed),
                        quotes: 0,
                        hooks: 0,
                        audit_step: 0,
                        audit_pending: false,
                        recorded: Vec::new(),
                    }))
                }
                Err(e) => pool.disqualify(0, CallKind::Instantiate, Why::Load, e.to_string()),
            }
            pools.push(pool);
        }
        if config.normalizer.enabled {
            let scale = params.normalizer_liquidity;
            pools.push(blank(
                "Normalizer".to_string(),
                Kind::Normalizer { fee_bps: u64::from(params.normalizer_fee_bps) },
                (rx as f64 * scale).round() as u64,
                (ry as f64 * scale).round() as u64,
                0.0,
            ));
        }
        let price = config.market.initial_price;
        for pool in &mut pools {
            pool.epoch_start_value = pool.value(price);
            pool.draw_audit_step(0, u64::from(config.run.epoch_len));
        }
        Self {
            config,
            limits,
            params,
            seed,
            pools,
            strategies: n,
            price,
            step: 0,
            stats: SimStats::default(),
            price_rng: stream(seed, Stream::Price),
            retail_rng: stream(seed, Stream::Retail),
            router_draws: Draws::new(seed ^ salt_key, "\u{0}router"),
            seats,
            pending: Vec::new(),
            snapshot: Vec::new(),
            router: Router::default(),
            samples: Samples::default(),
            live: Vec::new(),
            faulted: Vec::new(),
            scratch: Vec::new(),
            weights: Vec::new(),
            fair_prices: Vec::new(),
            side_terms: SideTerms::of_step(price, config.market.min_arb_profit * NANO_F),
            audit_threshold: audit_threshold(limits.audit_rate),
            hook_audit_threshold: audit_threshold(limits.hook_audit_rate),
            bands: true,
            band_steps: 0,
        }
    }

    fn run(mut self) -> SimulationResult {
        self.steps();
        self.finish()
    }

    /// The step loop (see the module docs).
    fn steps(&mut self) {
        let steps = u64::from(self.config.run.steps);
        let epoch_len = u64::from(self.config.run.epoch_len);
        let sigma = self.params.order_size_sigma;
        let mu = libm::log(self.params.mean_order_size) - 0.5 * sigma * sigma;
        let law = FlowLaw {
            count: Poisson::new(self.params.arrival_rate.max(1e-12)).filter(|_| self.params.arrival_rate > 0.0),
            sizes: LogNormal::new(mu, sigma),
            mean_size: self.params.mean_order_size,
            buy: self.params.buy_probability.clamp(0.0, 1.0),
        };
        // (Drawn a batch of steps ahead: the same streams read in the same order; see `ahead`.)
        let mut moves = PriceAhead::new(self.params.volatility);
        let mut flow = FlowAhead::default();
        for step in 0..steps {
            self.step = step;
            // 1. The fair price moves.
            self.price *= moves.next(&mut self.price_rng, steps - step);
            self.side_terms = SideTerms::of_step(self.price, self.config.market.min_arb_profit * NANO_F);
            // 2. Arbitrage: every pool against the same fair price, each decided on its own
            // state; the phase's hooks follow, all seeing the market after it.
            for i in 0..self.pools.len() {
                if self.pools[i].live {
                    self.arbitrage(i);
                }
            }
            self.deliver_hooks();
            // 3. Retail orders.
            let (count, held) = flow.step(&law, &mut self.retail_rng, steps - step);
            for _ in 0..count {
                let (size_y, buy) = if held { flow.order() } else { law.order(&mut self.retail_rng) };
                self.retail(size_y, buy);
            }
            // 4. Epoch boundary (not after the last step).
            if (step + 1) % epoch_len == 0 && step + 1 < steps {
                self.epoch_boundary((step / epoch_len) as u32);
            }
        }
        self.stats.steps = steps;
    }

    fn ctx(&self) -> Ctx<'c> {
        Ctx {
            step: self.step,
            limits: self.limits,
            audit_threshold: self.audit_threshold,
            hook_audit_threshold: self.hook_audit_threshold,
            hook_audits: self.limits.hook_audit_rate > 0.0,
        }
    }

    /// One pool's arbitrage, every [`ENGINE_TIME_SAMPLING`]th one timed into its engine time.
    fn arbitrage(&mut self, i: usize) {
        let pool = &mut self.pools[i];
        let timed = pool.searches.is_multiple_of(ENGINE_TIME_SAMPLING);
        pool.searches += 1;
        let started = timed.then(std::time::Instant::now);
        self.arbitrage_search(i);
        if let Some(started) = started {
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.pools[i].engine_ns = self.pools[i].engine_ns.saturating_add(ns.saturating_mul(ENGINE_TIME_SAMPLING));
        }
    }

    /// Whether pool `i`'s arbitrage this step is decided by its pruning band (both sides pruned
    /// by its models whatever the probes), taking the draws the search would have taken. The
    /// band is computed for a pool whose state has not changed since its last search (a pool
    /// the market leaves alone), and holds until the state or a model of it changes.
    fn pruned_by_band(&mut self, i: usize) -> bool {
        if !self.bands {
            return false;
        }
        let price = self.price;
        let pool = &mut self.pools[i];
        let band = match pool.band {
            Some(band) if band.version == pool.version => Some(band),
            _ if pool.version == pool.arb_version => {
                // (A strategy's confirmed fits: no curve searched here is exact — the normalizer,
                // the one exact curve, is decided in closed form before.)
                let models = Side::BOTH.map(|side| (pool.known_fit_ref(side), None));
                let reserve_out = Side::BOTH.map(|side| pool.reserves_in_out(side).1);
                let min_profit = self.config.market.min_arb_profit * NANO_F;
                // (No band is remembered as an empty one, so it is not sought again at this version.)
                let (lo, hi) = pruning_band(models, pool.spot(), min_profit, 1.0 / PROBE_RANGE, reserve_out)
                    .unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
                let band = Band { version: pool.version, lo, hi };
                pool.band = Some(band);
                Some(band)
            }
            _ => None,
        };
        pool.arb_version = pool.version;
        if !band.is_some_and(|b| price >= b.lo && price <= b.hi) {
            return false;
        }
        // The draws of the search below: each side's probe fraction (a side pruned by a
        // confirmed model without a quote is not cross-checked).
        for _ in Side::BOTH {
            pool.draws.uniform();
        }
        self.band_steps += 1;
        true
    }

    fn arbitrage_search(&mut self, i: usize) {
        if matches!(self.pools[i].kind, Kind::Normalizer { .. }) {
            return self.arbitrage_normalizer(i);
        }
        if self.pruned_by_band(i) {
            return;
        }
        let price = self.price;
        let min_profit = self.config.market.min_arb_profit * NANO_F; // nano Y
        let ctx = self.ctx();
        let mut best: Option<(Side, ArbTrade, f64)> = None;
        let spot = self.pools[i].spot();
        // The pool-step's quote budget: each side keeps one quote for the other's pruning.
        let mut left = MAX_QUOTES_PER_POOL_STEP;
        // (Indexed: the array's iterator with `enumerate` cost ~20 instructions a pool-step.)
        for k in 0..Side::BOTH.len() {
            let side = Side::BOTH[k];
            let later_sides = (Side::BOTH.len() - 1 - k) as u32;
            // λ: the input's price in output units; δ: the input worth the profit floor; the
            // same for every pool of the step, divided once ([`SideTerms`]).
            let SideTerms { lambda, delta, min_surplus, to_profit } = self.side_terms[k];
            // The pruning probe: a random fraction of an input worth at most the floor. Buying
            // X it is a Y amount, independent of the fair price; selling X it is valued at the
            // higher of the fair price and the pool's own spot price (which arbitrage keeps
            // within the fee of each other), so it tells the strategy nothing its reserves
            // do not, and the random fraction hides even that.
            let fraction = 1.0 - (1.0 - 1.0 / PROBE_RANGE) * self.pools[i].draws.uniform();
            let probe = match side {
                Side::BuyX => fraction * delta,
                Side::SellX if spot.is_finite() => fraction * min_profit / spot.max(price),
                Side::SellX => fraction * delta,
            };
            // (`as` truncates toward zero: the floor of a non-negative probe, without a call.)
            let probe = (probe as u64).max(1);
            let budget = left.saturating_sub(later_sides);
            // Inside the no-trade band by the model's initial slope (most constant-product
            // pool-sides): decided as the search would decide it, without setting one up.
            let pool = &self.pools[i];
            let known = pool.known_fit_ref(side);
            // Without a model, a pruning probe this very state answered before may prune it again:
            // the same decision on a quote already taken (cross-checked below as a fresh one).
            let reserve_out = pool.reserves_in_out(side).1;
            let reused = known
                .is_none()
                .then(|| pool.remembered_probe(side))
                .flatten()
                .filter(|&sample| pruned_by_sample(sample, lambda, delta, reserve_out));
            let search = if let Some((x, y)) = reused {
                self.samples.clear();
                self.samples.insert(x, y);
                Search { pruned_at_probe: true, ..Search::default() }
            } else if let Some(search) = pruned_by_model(known, None, lambda, probe, reserve_out, budget) {
                self.samples.clear();
                search
            } else {
                let mut curve = PoolCurve { pool: &mut self.pools[i], side, ctx, quotes: &mut self.stats.arb_quotes };
                best_trade(&mut curve, lambda, probe, min_surplus, &mut self.samples, budget)
            };
            left -= search.quotes;
            if !self.pools[i].live {
                return;
            }
            // Now and then, test a decision made on one quote with a quote at a random larger
            // input: a curve that answers probe-sized inputs differently from the rest is not
            // concave there, and the shape check below sees it.
            if search.trade.is_none()
                && !search.faulted
                && left > later_sides
                && (self.samples.len() == 1 || search.pruned_at_probe)
                && self.pools[i].draws.uniform() < PRUNE_CROSS_CHECK
            {
                let at = self.samples.points().first().map_or(probe, |p| p.0);
                let u = self.pools[i].draws.uniform();
                let mut curve = PoolCurve { pool: &mut self.pools[i], side, ctx, quotes: &mut self.stats.arb_quotes };
                let x_max = (curve.reserve_out() as f64 / lambda).max(at as f64);
                let span = libm::log(x_max / at as f64).max(0.0);
                let x = (at as f64 * libm::exp(span * u)).round() as u64;
                if x > at
                    && let Some(y) = curve.quote(x)
                {
                    self.samples.insert(x, y);
                    left -= 1;
                }
                if !self.pools[i].live {
                    return;
                }
            }
            self.check_shape(i, side, CallKind::Quote);
            if !self.pools[i].live {
                return;
            }
            if reused.is_none()
                && search.trade.is_none()
                && search.pruned_at_probe
                && !search.faulted
                && let Some(y) = self.samples.get(probe)
            {
                self.pools[i].remember_probe(side, probe, y);
            }
            if let Some(trade) = search.trade {
                let profit = trade.surplus * to_profit;
                if best.is_none_or(|b| profit > b.2) {
                    best = Some((side, trade, profit));
                }
            }
        }
        if let Some((side, trade, _)) = best {
            self.pools[i].execute(side, trade.input, trade.output, price, false);
            self.stats.arb_trades += 1;
            self.pending.push(PendingSwap {
                pool: i,
                side,
                input: trade.input,
                output: trade.output,
                flow_captured: 0.0,
            });
        }
    }

    /// The normalizer's arbitrage in closed form: its curve is known exactly, so each side is
    /// decided by its model with no probe, no search and no draw — the side whose best price
    /// (the model's initial slope `b/a`) beats `λ` trades at the model's optimum
    /// `x* = √(ab/λ) − a` ([`super::curve::CpModel::demand`]), quoted exactly (u128), when that trade's surplus
    /// reaches the floor. At most one side can: inside the fee band
    /// (`spot·(1 − fee) ≤ P ≤ spot/(1 − fee)`) neither does, which is most steps, for two
    /// multiplications a side.
    ///
    /// The rounded optimum is the integer optimum within the surplus's curvature over half an
    /// input unit (`f″·¼`, under 10⁻⁹ nano at any reserve this market reaches), and the
    /// quote rounds down as every trade's does. The general search reached the same optimum
    /// after a probe it did not need ([`best_trade`]'s exact-curve branch).
    fn arbitrage_normalizer(&mut self, i: usize) {
        let pool = &self.pools[i];
        let mut best: Option<(Side, u64, u64, f64)> = None;
        for k in 0..Side::BOTH.len() {
            let side = Side::BOTH[k];
            let SideTerms { lambda, min_surplus, to_profit, .. } = self.side_terms[k];
            let Some(model) = pool.exact_model(side) else { return };
            // Its best price no better than the fair one (or a NaN price): no input earns.
            let edge = model.b - lambda * model.a;
            if edge.is_nan() || edge <= 0.0 {
                continue;
            }
            let x_max = (model.b / lambda).min(u64::MAX as f64 / 4.0);
            let x = model.demand(lambda).clamp(1.0, x_max).round() as u64;
            let (rin, rout) = pool.reserves_in_out(side);
            let Kind::Normalizer { fee_bps } = pool.kind else { return };
            let y = cp_output_fee_bps(x, rin, rout, fee_bps);
            let surplus = y as f64 - lambda * x as f64;
            if surplus >= min_surplus {
                let profit = surplus * to_profit;
                if best.is_none_or(|b| profit > b.3) {
                    best = Some((side, x, y, profit));
                }
            }
        }
        if let Some((side, input, output, _)) = best {
            let price = self.price;
            self.pools[i].execute(side, input, output, price, false);
            self.stats.arb_trades += 1;
        }
    }

    /// Disqualifies a strategy whose sampled curve broke the shape rules.
    fn check_shape(&mut self, i: usize, side: Side, call: CallKind) {
        // (No samples, nothing to check: most pool-sides are decided without a quote.)
        if self.samples.is_empty() {
            return;
        }
        let (_, reserve_out) = self.pools[i].reserves_in_out(side);
        if matches!(self.pools[i].kind, Kind::Strategy(_))
            && let Err(violation) = self.samples.check_shape(reserve_out)
        {
            let step = self.step;
            self.pools[i].disqualify(step, call, Why::ShapeViolation, violation.to_string());
        }
    }

    fn retail(&mut self, size_y: f64, buy: bool) {
        let (side, input) = if buy {
            (Side::BuyX, (size_y * NANO_F).round() as u64)
        } else {
            (Side::SellX, (size_y / self.price * NANO_F).round() as u64)
        };
        if input == 0 {
            return;
        }
        self.live.clear();
        self.live.extend((0..self.pools.len()).filter(|&i| self.pools[i].live));
        if self.live.is_empty() {
            return;
        }
        self.stats.orders += 1;
        let ctx = self.ctx();
        let (lo, hi) = ROUTER_PROBE_FRACTION;
        self.router.set_probe_fraction(lo + (hi - lo) * self.router_draws.uniform());
        let timed = self.stats.orders.is_multiple_of(ENGINE_TIME_SAMPLING);
        let started = timed.then(std::time::Instant::now);
        let mut curves = OrderCurves { pools: &mut self.pools, live: &self.live, side, ctx };
        let summary = self.router.route(&mut curves, input, &mut self.faulted);
        self.stats.router_quotes += u64::from(summary.quotes);
        if let Some(started) = started {
            // The order's routing time, shared among its pools by the points each was sampled at.
            let ns =
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX).saturating_mul(ENGINE_TIME_SAMPLING);
            let weight = |k: usize| self.router.sampled(k) as u64 + 1;
            let total: u64 = (0..self.live.len()).map(weight).sum();
            for k in 0..self.live.len() {
                let share = ns / total.max(1) * weight(k);
                let pool = &mut self.pools[self.live[k]];
                pool.engine_ns = pool.engine_ns.saturating_add(share);
            }
        }
        // In-run shape check on every point the router sampled.
        for k in 0..self.live.len() {
            let (_, reserve_out) = self.pools[self.live[k]].reserves_in_out(side);
            if let Some(violation) = self.router.shape_violation(k, reserve_out) {
                let step = self.step;
                self.pools[self.live[k]].disqualify(step, CallKind::Quote, Why::ShapeViolation, violation.to_string());
            }
        }
        let price = self.price;
        for k in 0..self.live.len() {
            let i = self.live[k];
            let (x, y) = self.router.split()[k];
            if x == 0 || y == 0 || !self.pools[i].live {
                continue;
            }
            self.pools[i].execute(side, x, y, price, true);
            self.stats.retail_fills += 1;
            let flow_captured = (x as f64 / input as f64) as f32;
            self.pending.push(PendingSwap { pool: i, side, input: x, output: y, flow_captured });
        }
        // Every fill of the order has executed: now each pool hears of its own.
        self.deliver_hooks();
    }

    /// Delivers the phase's owed `after_swap` calls. All of them see one snapshot of the
    /// market taken after the whole phase (and before any of them runs), so no pool sees a
    /// mixture of updated and stale competitors, and a hook that faults changes nothing for the
    /// others until the next phase.
    fn deliver_hooks(&mut self) {
        // Only a live strategy's trade gets a hook (the normalizer's do not): with none among
        // the phase's trades there is nothing to snapshot or call.
        let hooked =
            |swap: &PendingSwap| matches!(self.pools[swap.pool].kind, Kind::Strategy(_)) && self.pools[swap.pool].live;
        if !self.pending.iter().any(hooked) {
            self.pending.clear();
            return;
        }
        self.snapshot.clear();
        self.snapshot.extend(self.pools.iter().map(|p| if p.live { p.spot() as f32 } else { f32::NAN }));
        let mut pending = std::mem::take(&mut self.pending);
        for swap in pending.drain(..) {
            self.after_swap(swap);
        }
        self.pending = pending; // keep the allocation
    }

    fn after_swap(&mut self, swap: PendingSwap) {
        let PendingSwap { pool: i, side, input, output, flow_captured } = swap;
        if !matches!(self.pools[i].kind, Kind::Strategy(_)) || !self.pools[i].live {
            return;
        }
        let epoch_len = u64::from(self.config.run.epoch_len);
        let mut competing = [f32::NAN; COMPETING_SLOTS];
        // The other pools live at the end of the phase, in seat order, then the normalizer
        // (always last), from the phase's snapshot.
        let others = self.snapshot.iter().enumerate().filter(|&(j, spot)| j != i && !spot.is_nan());
        for (slot, (_, &spot)) in competing.iter_mut().zip(others) {
            *slot = spot;
        }
        let pool = &self.pools[i];
        let trade = AfterSwap {
            side,
            input_amount: input,
            output_amount: output,
            reserve_x: pool.reserve_x,
            reserve_y: pool.reserve_y,
            sim_step: self.step,
            epoch_step: (self.step % epoch_len) as u32,
            epoch_number: (self.step / epoch_len) as u32,
            n_pools: self.pools.len() as u8,
            pool_index: i as u8,
            flow_captured,
            capital_weight: pool.capital_weight as f32,
            competing_spot_prices: competing,
        };
        self.stats.hook_calls += 1;
        let ctx = self.ctx();
        self.pools[i].hook(Hook::AfterSwap(trade), ctx);
    }

    fn epoch_boundary(&mut self, epoch_number: u32) {
        // The epoch's sampled calls are replayed first: a strategy caught now gets no capital.
        self.replay_audits();
        let price = self.price;
        let capital = &self.config.capital;
        // Score the live strategies and weigh them.
        self.scratch.clear();
        for pool in &self.pools[..self.strategies] {
            if pool.live {
                let edge = pool.epoch.total();
                let base = match capital.score {
                    Score::Edge => edge,
                    Score::ReturnBps => {
                        if pool.epoch_start_value > 0.0 {
                            edge / pool.epoch_start_value * 1e4
                        } else {
                            0.0
                        }
                    }
                };
                self.scratch.push(capital::risk_adjusted(base, capital.lambda));
            }
        }
        let live_count = self.scratch.len();
        if capital.enabled && live_count > 0 {
            capital::weights(&self.scratch, capital.temperature, capital.min_weight, &mut self.weights);
            let total_value: f64 = self.pools[..self.strategies].iter().map(|p| p.value(price)).sum();
            let mut k = 0;
            for pool in &mut self.pools[..self.strategies] {
                let weight = if pool.live {
                    k += 1;
                    self.weights[k - 1]
                } else {
                    0.0
                };
                let target = weight * total_value;
                let value = pool.value(price);
                if value > 0.0 && pool.reserve_x > 0 && pool.reserve_y > 0 {
                    let scale = target / value;
                    pool.reserve_x = (pool.reserve_x as f64 * scale).round() as u64;
                    pool.reserve_y = (pool.reserve_y as f64 * scale).round() as u64;
                } else {
                    // Degenerate pool: restart it balanced at the fair price.
                    pool.reserve_y = (target / 2.0 * NANO_F).round() as u64;
                    pool.reserve_x = (target / 2.0 / price * NANO_F).round() as u64;
                }
                pool.capital_weight = weight;
                pool.version += 1;
            }
        }
        self.close_epoch();
        // Tell each live strategy.
        let ctx = self.ctx();
        for pool in &mut self.pools[..self.strategies] {
            if !pool.live {
                continue;
            }
            let Some(&EpochRecord { edge, .. }) = pool.epochs.last() else {
                continue;
            };
            let message = EpochBoundary {
                epoch_number,
                new_reserve_x: pool.reserve_x,
                new_reserve_y: pool.reserve_y,
                epoch_edge: edge,
                cumulative_edge: pool.total.total(),
                capital_weight: pool.capital_weight as f32,
            };
            self.stats.hook_calls += 1;
            pool.hook(Hook::EpochBoundary(message), ctx);
        }
    }

    /// Records each pool's epoch (edge and the capital weight it ends with) and the fair price,
    /// and starts the next epoch's books.
    fn close_epoch(&mut self) {
        let price = self.price;
        let epoch_len = u64::from(self.config.run.epoch_len);
        self.fair_prices.push(price);
        for pool in &mut self.pools {
            let weight = if matches!(pool.kind, Kind::Normalizer { .. }) { 0.0 } else { pool.capital_weight };
            pool.epochs.push(EpochRecord {
                edge: pool.epoch.total(),
                retail_edge: pool.epoch.retail,
                arb_edge: pool.epoch.arb,
                capital_weight: weight,
            });
            pool.total.retail += pool.epoch.retail;
            pool.total.arb += pool.epoch.arb;
            pool.epoch = Tally::default();
            pool.epoch_start_value = pool.value(price);
            pool.draw_audit_step(self.step + 1, epoch_len);
        }
    }

    /// Replays every pool's sampled calls (see [`Pool::replay_audits`]).
    fn replay_audits(&mut self) {
        let ctx = self.ctx();
        for pool in &mut self.pools {
            pool.replay_audits(ctx);
        }
    }

    fn finish(mut self) -> SimulationResult {
        self.replay_audits();
        self.close_epoch(); // the last, possibly partial, epoch
        let retail_total: f64 = self.pools.iter().map(|p| p.retail_volume).sum();
        let strategies = self.strategies;
        // Back from seats to config order (the normalizer, after the seats, stays last).
        let mut seated: Vec<(usize, Pool)> = self.seats.iter().copied().chain(strategies..).zip(self.pools).collect();
        seated.sort_by_key(|&(index, _)| index);
        let pools = seated
            .into_iter()
            .map(|(_, pool)| pool)
            .enumerate()
            .map(|(i, pool)| {
                let seat = match &pool.kind {
                    Kind::Strategy(seat) => Some(seat),
                    _ => None,
                };
                let engine_ns = pool.engine_ns;
                let (log, calls, fuel) = (
                    seat.and_then(|s| s.instance.log()),
                    seat.map_or(0, |s| s.quotes + s.hooks),
                    seat.and_then(|s| s.instance.fuel_used()),
                );
                PoolResult {
                    log,
                    calls,
                    fuel,
                    engine_ns,
                    name: pool.name,
                    edge: pool.total.total(),
                    retail_edge: pool.total.retail,
                    arb_edge: pool.total.arb,
                    retail_volume: pool.retail_volume,
                    retail_share: if retail_total > 0.0 { pool.retail_volume / retail_total } else { 0.0 },
                    arb_volume: pool.arb_volume,
                    final_capital_weight: (i < strategies).then_some(pool.capital_weight),
                    faults: pool.faults,
                    disqualified: pool.disqualified,
                    epochs: pool.epochs,
                }
            })
            .collect();
        SimulationResult {
            seed: self.seed,
            params: self.params,
            fair_prices: self.fair_prices,
            pools,
            stats: self.stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::NATIVE_STRATEGIES;
    use crate::strategy::StrategyProgram;

    #[test]
    fn pruning_bands_change_no_result() {
        // Constant-product strategies at 0, 100 and 500 bps beside the normalizer, with and without
        // pruning bands: every pool-step a band decides must be decided as the search decides it,
        // with the same draws, so every result is the same to the bit. (A band one draw short, or
        // one that held where a side should be searched, changes the edges.)
        let config = Config::parse(
            "[run]\nsimulations = 1\nsteps = 3000\nepoch_len = 1000\n\
             [[strategy]]\npath = \"a.wasm\"\n[[strategy]]\npath = \"b.wasm\"\n[[strategy]]\npath = \"c.wasm\"\n",
            std::path::Path::new("bands.toml"),
        )
        .unwrap();
        let programs: Vec<StrategyProgram> = NATIVE_STRATEGIES[1..=4].iter().map(StrategyProgram::Native).collect();
        let names = ["fixed 0", "fixed 100", "fixed 500"];
        let entrants: Vec<Entrant<'_>> = [0, 2, 3]
            .iter()
            .zip(names)
            .map(|(&k, name)| Entrant { name, program: &programs[k], storage: ZERO_STORAGE })
            .collect();
        let mut decided = 0;
        for seed in 0..3 {
            let with = Simulation::new(&config, &entrants, seed);
            let mut without = Simulation::new(&config, &entrants, seed);
            without.bands = false;
            let (mut a, mut b) = (with.run_counting(), without.run_counting());
            decided += a.1;
            assert_eq!(b.1, 0);
            for pool in a.0.pools.iter_mut().chain(b.0.pools.iter_mut()) {
                pool.engine_ns = 0; // timing, never a result
            }
            assert_eq!(a.0, b.0, "seed {seed}");
        }
        assert!(decided > 3_000, "the bands decided {decided} pool-steps");
    }

    impl Simulation<'_> {
        /// [`Simulation::run`], and how many pool-steps the bands decided.
        fn run_counting(mut self) -> (SimulationResult, u64) {
            self.steps();
            let decided = self.band_steps;
            (self.finish(), decided)
        }
    }
}
