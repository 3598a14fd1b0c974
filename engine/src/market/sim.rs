//! One simulation: the step loop, the pools, the accounting.
//!
//! Each step: the fair price moves (GBM); the arbitrageur trades every live pool toward it;
//! retail orders arrive and are routed across all live pools; every executed trade calls the
//! pool's `after_swap`. Every `epoch_len` steps capital is rebalanced between the strategies
//! and each is told with `epoch_boundary`.
//!
//! Transcendental functions come from the pure-Rust `libm` (as do `rand_distr`'s), never the
//! platform's, so a seed gives the same bits on every machine.
//!
//! Edge is measured at the fair price per trade: a pool receiving X earns `x·P − y`, a pool
//! receiving Y earns `y − x·P`. Positive edge is what the pool captured from traders; the
//! arbitrageur's trades usually have negative edge for the pool.

use amm_strategy_sdk::abi::{NANO, after_swap::COMPETING_SLOTS};
use amm_strategy_sdk::math::cp_output_fee_bps;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, Side, Storage};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, LogNormal, Poisson, StandardNormal};
use serde::Serialize;

use super::arbitrage::{ArbTrade, best_trade};
use super::capital;
use super::curve::{CpModel, Curve, CurveSet, Fit, Samples};
use super::params::{MarketParams, Stream, stream};
use super::routing::Router;
use crate::config::{Config, Score};
use crate::sandbox::{CallKind, Fault, SandboxLimits};
use crate::strategy::{StrategyInstance, StrategyProgram};

const NANO_F: f64 = NANO as f64;

/// Why and when a strategy stopped trading in a simulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Disqualification {
    /// Step at which it happened (0-based).
    pub step: u64,
    /// The call that caused it.
    pub call: CallKind,
    /// What went wrong.
    pub reason: String,
}

/// One epoch of one pool.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Edge earned in the epoch, Y.
    pub edge: f64,
    /// Part of it from retail trades.
    pub retail_edge: f64,
    /// Part of it from arbitrage trades.
    pub arb_edge: f64,
    /// Capital weight after the epoch's rebalancing (strategies; 0 for the normalizer).
    pub capital_weight: f64,
}

/// One pool's outcome in one simulation.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PoolResult {
    /// Display name.
    pub name: String,
    /// Total edge, Y.
    pub edge: f64,
    /// Edge from retail trades.
    pub retail_edge: f64,
    /// Edge from arbitrage trades (usually negative: the arbitrage loss).
    pub arb_edge: f64,
    /// Retail input routed to this pool, valued in Y at the fair price.
    pub retail_volume: f64,
    /// This pool's share of all retail volume.
    pub retail_share: f64,
    /// Arbitrage input traded against this pool, valued in Y.
    pub arb_volume: f64,
    /// Capital weight at the end (strategies only).
    pub final_capital_weight: Option<f64>,
    /// Faults counted.
    pub faults: u32,
    /// Set when the strategy was disqualified.
    pub disqualified: Option<Disqualification>,
    /// Per-epoch series.
    pub epochs: Vec<EpochRecord>,
    /// What the strategy printed (WASI modules), and how many bytes were dropped past the
    /// limit. Written beside the results, not into them.
    #[serde(skip)]
    pub log: Option<(Vec<u8>, u64)>,
}

/// Work done in one simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SimStats {
    /// Steps simulated.
    pub steps: u64,
    /// Retail orders routed.
    pub orders: u64,
    /// Strategy quote calls made by the arbitrageur.
    pub arb_quotes: u64,
    /// Strategy quote calls made by the router.
    pub router_quotes: u64,
    /// `after_swap` and `epoch_boundary` calls.
    pub hook_calls: u64,
    /// Arbitrage trades executed.
    pub arb_trades: u64,
    /// Retail fills executed (one per pool per order).
    pub retail_fills: u64,
}

/// Everything one simulation produced.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct SimulationResult {
    /// The simulation's seed.
    pub seed: u64,
    /// Its drawn parameters.
    pub params: MarketParams,
    /// The fair price at the end of each epoch (the price path is the same whichever
    /// strategies compete).
    pub fair_prices: Vec<f64>,
    /// Strategy pools in config order, then the normalizer.
    pub pools: Vec<PoolResult>,
    /// Work done.
    pub stats: SimStats,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    retail: f64,
    arb: f64,
}

impl Tally {
    fn total(&self) -> f64 {
        self.retail + self.arb
    }
}

/// A strategy's seat in one simulation: its live instance and storage, and its program, from
/// which the purity audit takes pristine instances.
struct Seat {
    instance: StrategyInstance,
    storage: Storage,
    program: StrategyProgram,
    wasi_seed: u64,
    audit_key: u64,
    quotes: u64,
}

enum Kind {
    Strategy(Box<Seat>),
    /// A strategy that could not be instantiated (disqualified from the start).
    Absent,
    Normalizer {
        fee_bps: u64,
    },
}

/// The moment and the limits a call is made under.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    step: u64,
    limits: &'a SandboxLimits,
    /// Quotes whose hash falls below this are audited (see [`audit_due`]).
    audit_threshold: u64,
}

/// Whether quote number `n` of the seat keyed `key` is audited: a fixed hash, so the sample is
/// deterministic and independent of threads, yet not predictable by the strategy.
fn audit_due(key: u64, n: u64, threshold: u64) -> bool {
    let mut z = key ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    threshold == u64::MAX || z < threshold
}

fn audit_threshold(rate: f64) -> u64 {
    if rate >= 1.0 {
        u64::MAX
    } else if rate <= 0.0 {
        0
    } else {
        (rate * u64::MAX as f64) as u64
    }
}

struct Pool {
    name: String,
    kind: Kind,
    reserve_x: u64,
    reserve_y: u64,
    live: bool,
    faults: u32,
    disqualified: Option<Disqualification>,
    capital_weight: f64,
    epoch: Tally,
    total: Tally,
    epoch_start_value: f64,
    retail_volume: f64,
    arb_volume: f64,
    epochs: Vec<EpochRecord>,
    /// Bumped whenever the reserves or the storage may have changed: a quote curve is a pure
    /// function of them, so a model confirmed at one version holds until the next.
    version: u64,
    /// Per side, a confirmed model and the version it was confirmed at.
    fits: [Option<(u64, Fit)>; 2],
}

impl Pool {
    fn known_fit(&self, side: Side) -> Option<Fit> {
        match self.fits[side as usize] {
            Some((version, fit)) if version == self.version => Some(fit),
            _ => None,
        }
    }

    fn remember_fit(&mut self, side: Side, fit: Fit) {
        self.fits[side as usize] = Some((self.version, fit));
    }

    fn reserves_in_out(&self, side: Side) -> (u64, u64) {
        match side {
            Side::BuyX => (self.reserve_y, self.reserve_x),
            Side::SellX => (self.reserve_x, self.reserve_y),
        }
    }

    fn value(&self, price: f64) -> f64 {
        (self.reserve_y as f64 + self.reserve_x as f64 * price) / NANO_F
    }

    fn spot(&self) -> f64 {
        if self.reserve_x == 0 { f64::NAN } else { self.reserve_y as f64 / self.reserve_x as f64 }
    }

    /// Records a fault; disqualifies at the limit.
    fn fault(&mut self, step: u64, call: CallKind, fault: Fault, max_faults: u32) {
        self.faults += 1;
        if self.faults >= max_faults && self.live {
            self.disqualify(step, call, fault.to_string());
        }
    }

    fn disqualify(&mut self, step: u64, call: CallKind, reason: String) {
        if self.live {
            self.live = false;
            self.disqualified = Some(Disqualification { step, call, reason });
        }
    }

    /// One quote; `None` when it faulted or broke a rule. A quote that would empty the pool
    /// counts as 0; one above the output reserve is absurd and disqualifies.
    fn quote(&mut self, side: Side, input: u64, ctx: Ctx<'_>) -> Option<u64> {
        let (_, reserve_out) = self.reserves_in_out(side);
        let (rx, ry) = (self.reserve_x, self.reserve_y);
        let seat = match &mut self.kind {
            Kind::Normalizer { fee_bps } => {
                let (rin, rout) = match side {
                    Side::BuyX => (ry, rx),
                    Side::SellX => (rx, ry),
                };
                return Some(cp_output_fee_bps(input, rin, rout, *fee_bps));
            }
            Kind::Absent => return None,
            Kind::Strategy(seat) => seat,
        };
        let y = match seat.instance.quote(side, input, rx, ry, &seat.storage) {
            Ok(y) => y,
            Err(fault) => {
                self.fault(ctx.step, CallKind::Quote, fault, ctx.limits.max_faults);
                return None;
            }
        };
        seat.quotes += 1;
        let mut broken = None;
        if y > reserve_out {
            broken = Some(format!(
                "absurd quote: {y} for input {input} ({side:?}) exceeds the output reserve {reserve_out}"
            ));
        } else if audit_due(seat.audit_key, seat.quotes, ctx.audit_threshold)
            && let Ok(mut pristine) = seat.program.instantiate(ctx.limits, seat.wasi_seed)
        {
            // Purity audit: the same payload on a fresh instance must give the same answer.
            let again = pristine.quote(side, input, rx, ry, &seat.storage);
            if again.as_ref() != Ok(&y) {
                let shown = match again {
                    Ok(z) => z.to_string(),
                    Err(f) => format!("a fault ({f})"),
                };
                broken = Some(format!(
                    "impure quote: {side:?} input {input} on reserves {rx}/{ry} gave {y}, but {shown} on a fresh instance"
                ));
            }
        }
        if let Some(reason) = broken {
            self.disqualify(ctx.step, CallKind::Quote, reason);
            return None;
        }
        Some(if y == reserve_out { 0 } else { y })
    }

    fn exact_model(&self, side: Side) -> Option<CpModel> {
        match self.kind {
            Kind::Normalizer { fee_bps } => {
                let (rin, rout) = self.reserves_in_out(side);
                Some(CpModel { a: rin as f64 * 1e4 / (1e4 - fee_bps as f64), b: rout as f64 })
            }
            Kind::Strategy(_) | Kind::Absent => None,
        }
    }

    /// Applies an executed trade and its edge.
    fn execute(&mut self, side: Side, input: u64, output: u64, price: f64, retail: bool) {
        self.version += 1;
        let (edge, volume) = match side {
            Side::BuyX => {
                self.reserve_y += input;
                self.reserve_x -= output;
                ((input as f64 - output as f64 * price) / NANO_F, input as f64 / NANO_F)
            }
            Side::SellX => {
                self.reserve_x += input;
                self.reserve_y -= output;
                ((input as f64 * price - output as f64) / NANO_F, input as f64 * price / NANO_F)
            }
        };
        if retail {
            self.epoch.retail += edge;
            self.retail_volume += volume;
        } else {
            self.epoch.arb += edge;
            self.arb_volume += volume;
        }
    }
}

/// One pool and side, as the arbitrageur sees it.
struct PoolCurve<'a> {
    pool: &'a mut Pool,
    side: Side,
    ctx: Ctx<'a>,
    quotes: &'a mut u64,
}

impl Curve for PoolCurve<'_> {
    fn quote(&mut self, input: u64) -> Option<u64> {
        if matches!(self.pool.kind, Kind::Strategy(_)) {
            *self.quotes += 1;
        }
        self.pool.quote(self.side, input, self.ctx)
    }
    fn exact_model(&self) -> Option<CpModel> {
        self.pool.exact_model(self.side)
    }
    fn reserve_out(&self) -> u64 {
        self.pool.reserves_in_out(self.side).1
    }
    fn known_fit(&self) -> Option<Fit> {
        self.pool.known_fit(self.side)
    }
    fn remember_fit(&mut self, fit: Fit) {
        self.pool.remember_fit(self.side, fit)
    }
}

/// The live pools on one side of a retail order, as the router sees them.
struct OrderCurves<'a> {
    pools: &'a mut [Pool],
    live: &'a [usize],
    side: Side,
    ctx: Ctx<'a>,
}

impl CurveSet for OrderCurves<'_> {
    fn len(&self) -> usize {
        self.live.len()
    }
    fn quote(&mut self, i: usize, input: u64) -> Option<u64> {
        self.pools[self.live[i]].quote(self.side, input, self.ctx)
    }
    fn exact_model(&self, i: usize) -> Option<CpModel> {
        self.pools[self.live[i]].exact_model(self.side)
    }
    fn reserve_out(&self, i: usize) -> u64 {
        self.pools[self.live[i]].reserves_in_out(self.side).1
    }
    fn known_fit(&self, i: usize) -> Option<Fit> {
        self.pools[self.live[i]].known_fit(self.side)
    }
    fn remember_fit(&mut self, i: usize, fit: Fit) {
        self.pools[self.live[i]].remember_fit(self.side, fit)
    }
}

/// A strategy to put in the market: its program and display name.
pub struct Entrant<'a> {
    /// Display name.
    pub name: &'a str,
    /// What to instantiate.
    pub program: &'a StrategyProgram,
}

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
    router: Router,
    samples: Samples,
    live: Vec<usize>,
    faulted: Vec<usize>,
    scratch: Vec<f64>,
    weights: Vec<f64>,
    fair_prices: Vec<f64>,
    audit_threshold: u64,
}

impl<'c> Simulation<'c> {
    fn new(config: &'c Config, entrants: &[Entrant<'_>], seed: u64) -> Self {
        let params = MarketParams::draw(config, seed);
        let limits = &config.sandbox;
        let rx = (config.pools.reserve_x * NANO_F).round() as u64;
        let ry = (config.pools.reserve_y * NANO_F).round() as u64;
        let n = entrants.len();
        let mut pools: Vec<Pool> = Vec::with_capacity(n + 1);
        let blank = |name: String, kind: Kind, reserve_x: u64, reserve_y: u64, weight: f64| Pool {
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
            fits: [None, None],
        };
        for (index, entrant) in entrants.iter().enumerate() {
            let wasi_seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64 + 1);
            let instance = entrant.program.instantiate(limits, wasi_seed);
            let mut pool = blank(entrant.name.to_string(), Kind::Absent, rx, ry, 1.0 / n as f64);
            match instance {
                Ok(instance) => {
                    pool.kind = Kind::Strategy(Box::new(Seat {
                        instance,
                        storage: Storage::zeroed(),
                        program: entrant.program.clone(),
                        wasi_seed,
                        audit_key: wasi_seed.rotate_left(17) ^ 0xA0D1_7A0D_17A0_D17A,
                        quotes: 0,
                    }))
                }
                Err(e) => pool.disqualify(0, CallKind::Instantiate, e.to_string()),
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
            router: Router::default(),
            samples: Samples::default(),
            live: Vec::new(),
            faulted: Vec::new(),
            scratch: Vec::new(),
            weights: Vec::new(),
            fair_prices: Vec::new(),
            audit_threshold: audit_threshold(limits.audit_rate),
        }
    }

    fn run(mut self) -> SimulationResult {
        let steps = u64::from(self.config.run.steps);
        let epoch_len = u64::from(self.config.run.epoch_len);
        let orders = Poisson::new(self.params.arrival_rate.max(1e-12)).ok();
        let sigma = self.params.order_size_sigma;
        let mu = libm::log(self.params.mean_order_size) - 0.5 * sigma * sigma;
        let sizes = LogNormal::new(mu, sigma).ok();
        let (vol, drift) = (self.params.volatility, -0.5 * self.params.volatility * self.params.volatility);
        for step in 0..steps {
            self.step = step;
            // 1. The fair price moves.
            let z: f64 = StandardNormal.sample(&mut self.price_rng);
            self.price *= libm::exp(drift + vol * z);
            // 2. Arbitrage, pool by pool.
            for i in 0..self.pools.len() {
                if self.pools[i].live {
                    self.arbitrage(i);
                }
            }
            // 3. Retail orders.
            let count = match &orders {
                Some(poisson) if self.params.arrival_rate > 0.0 => poisson.sample(&mut self.retail_rng) as u64,
                _ => 0,
            };
            for _ in 0..count {
                let size_y = sizes.as_ref().map_or(self.params.mean_order_size, |d| d.sample(&mut self.retail_rng));
                let buy = self.retail_rng.random_bool(self.params.buy_probability.clamp(0.0, 1.0));
                self.retail(size_y, buy);
            }
            // 4. Epoch boundary (not after the last step).
            if (step + 1) % epoch_len == 0 && step + 1 < steps {
                self.epoch_boundary((step / epoch_len) as u32);
            }
        }
        self.stats.steps = steps;
        self.finish()
    }

    fn ctx(&self) -> Ctx<'c> {
        Ctx { step: self.step, limits: self.limits, audit_threshold: self.audit_threshold }
    }

    fn arbitrage(&mut self, i: usize) {
        let price = self.price;
        let min_profit = self.config.market.min_arb_profit * NANO_F; // nano Y
        let ctx = self.ctx();
        let mut best: Option<(Side, ArbTrade, f64)> = None;
        for side in Side::BOTH {
            // λ: the input's price in output units; δ: the input worth the profit floor.
            let (lambda, delta, min_surplus, to_profit) = match side {
                Side::BuyX => (1.0 / price, min_profit, min_profit / price, price),
                Side::SellX => (price, min_profit / price, min_profit, 1.0),
            };
            let mut curve = PoolCurve { pool: &mut self.pools[i], side, ctx, quotes: &mut self.stats.arb_quotes };
            let search = best_trade(&mut curve, lambda, delta.ceil() as u64, min_surplus, &mut self.samples);
            if !self.pools[i].live {
                return;
            }
            self.check_shape(i, CallKind::Quote);
            if !self.pools[i].live {
                return;
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
            self.after_swap(i, side, trade.input, trade.output, 0.0);
        }
    }

    /// Disqualifies a strategy whose sampled curve broke the shape rules.
    fn check_shape(&mut self, i: usize, call: CallKind) {
        if matches!(self.pools[i].kind, Kind::Strategy(_))
            && let Err(violation) = self.samples.check_shape()
        {
            let step = self.step;
            self.pools[i].disqualify(step, call, violation.to_string());
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
        let ctx = Ctx { step: self.step, limits: self.limits, audit_threshold: self.audit_threshold };
        let mut curves = OrderCurves { pools: &mut self.pools, live: &self.live, side, ctx };
        let summary = self.router.route(&mut curves, input, &mut self.faulted);
        self.stats.router_quotes += u64::from(summary.quotes);
        // In-run shape check on every point the router sampled.
        for k in 0..self.live.len() {
            if let Some(violation) = self.router.shape_violation(k) {
                let step = self.step;
                self.pools[self.live[k]].disqualify(step, CallKind::Quote, violation.to_string());
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
            self.after_swap(i, side, x, y, (x as f64 / input as f64) as f32);
        }
    }

    fn after_swap(&mut self, i: usize, side: Side, input: u64, output: u64, flow_captured: f32) {
        if !matches!(self.pools[i].kind, Kind::Strategy(_)) || !self.pools[i].live {
            return;
        }
        let epoch_len = u64::from(self.config.run.epoch_len);
        let mut competing = [f32::NAN; COMPETING_SLOTS];
        let mut slot = 0;
        // Other live strategy pools in index order, then the normalizer (always last).
        for (j, pool) in self.pools.iter().enumerate() {
            if j != i && pool.live && slot < COMPETING_SLOTS {
                competing[slot] = pool.spot() as f32;
                slot += 1;
            }
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
        let step = self.step;
        let max_faults = self.limits.max_faults;
        let pool = &mut self.pools[i];
        pool.version += 1; // the hook may change the storage
        if let Kind::Strategy(seat) = &mut pool.kind
            && let Err(fault) = seat.instance.after_swap(&trade, &mut seat.storage)
        {
            pool.fault(step, CallKind::AfterSwap, fault, max_faults);
        }
    }

    fn epoch_boundary(&mut self, epoch_number: u32) {
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
        let step = self.step;
        let max_faults = self.limits.max_faults;
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
            pool.version += 1; // the hook may change the storage
            if let Kind::Strategy(seat) = &mut pool.kind
                && let Err(fault) = seat.instance.epoch_boundary(&message, &mut seat.storage)
            {
                pool.fault(step, CallKind::EpochBoundary, fault, max_faults);
            }
        }
    }

    /// Records each pool's epoch (edge and the capital weight it ends with) and the fair price,
    /// and starts the next epoch's books.
    fn close_epoch(&mut self) {
        let price = self.price;
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
        }
    }

    fn finish(mut self) -> SimulationResult {
        self.close_epoch(); // the last, possibly partial, epoch
        let retail_total: f64 = self.pools.iter().map(|p| p.retail_volume).sum();
        let strategies = self.strategies;
        let pools = self
            .pools
            .into_iter()
            .enumerate()
            .map(|(i, pool)| PoolResult {
                log: match &pool.kind {
                    Kind::Strategy(seat) => seat.instance.log(),
                    _ => None,
                },
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
