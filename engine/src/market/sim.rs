//! One simulation: the step loop, the pools, the accounting.
//!
//! Each step: the fair price moves (GBM); the arbitrageur trades every live pool toward it;
//! retail orders arrive and are routed across all live pools; every executed trade calls the
//! pool's `after_swap`. Every `epoch_len` steps capital is rebalanced between the strategies
//! and each is told with `epoch_boundary`.
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
//! fraction, drawn from the pool's own salted draws ([`Draws`]), of the input worth the profit floor (buying X: a
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

use super::arbitrage::{ArbTrade, MAX_QUOTES_PER_POOL_STEP, best_trade};
use super::capital;
use super::curve::{CpModel, Curve, CurveSet, Fit, Samples};
use super::disqualification::{Disqualification, DisqualificationKind as Why};
use super::params::{MarketParams, Stream, stream};
use super::routing::Router;
use crate::config::{Config, Score};
use crate::sandbox::{CallKind, Fault, SandboxLimits};
use crate::strategy::{StrategyInstance, StrategyProgram};

const NANO_F: f64 = NANO as f64;

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
    /// Calls the engine made to the strategy (quotes and hooks, audit replays not counted).
    /// Written beside the results (`run.json`), not into them.
    #[serde(skip)]
    pub calls: u64,
    /// Fuel those calls used, host work included (`None` on the native backend). Written
    /// beside the results, not into them.
    #[serde(skip)]
    pub fuel: Option<u64>,
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
    hooks: u64,
    /// The step of this epoch from which the next hook call is audited whatever the sample says.
    audit_step: u64,
    /// That audit has not happened yet this epoch.
    audit_pending: bool,
    /// Sampled calls awaiting replay on a pristine instance (see [`Pool::replay_audits`]).
    recorded: Vec<Recorded>,
}

/// Most sampled calls kept before they are replayed (besides every epoch boundary).
const AUDIT_BATCH: usize = 8;

/// A sampled call, kept to be replayed on a pristine instance.
enum Recorded {
    Quote { step: u64, side: Side, input: u64, reserves: (u64, u64), storage: Box<Storage>, output: u64 },
    Hook { step: u64, hook: Hook, before: Box<Storage>, after: Box<Storage> },
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
    /// Hooks whose hash falls below this are audited.
    hook_audit_threshold: u64,
    /// Hook audits are on (`hook_audit_rate > 0`): the scheduled one each epoch happens.
    hook_audits: bool,
}

/// Salt separating the hook audit sample from the quote audit sample.
const HOOK_AUDIT_SALT: u64 = 0x400C_A0D1_7000_0001;

/// The arbitrageur's pruning probe is the input worth the profit floor times a factor drawn
/// uniformly from `(1/PROBE_RANGE, 1]`: any input at or below the floor's worth prunes
/// exactly (see [`super::arbitrage`]), and a smaller one prunes less often (more searches).
const PROBE_RANGE: f64 = 4.0 / 3.0;

/// Chance that a pruning decision made on one quote is cross-checked with a quote at a random
/// larger input (the shape check then sees a curve that special-cases probe-sized inputs).
/// A curve that lies on every probe is pruned on most steps, so at 3 % it is caught within
/// about 30 steps; an honest one pays ~0.03 extra quotes per pool-step.
const PRUNE_CROSS_CHECK: f64 = 0.03;

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

/// 64-bit mixing (splitmix64's finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a name (FNV-1a, then mixed): the same on every machine.
fn name_key(name: &str) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    mix(h)
}

/// The seating of simulation `seed`: `seats[k]` is the config index of the entrant in seat `k`.
///
/// Seats are ordered by a hash of the seed and the entrant's name, so they are a fresh draw in
/// every simulation and move with the entrant, not with its place in the config: permuting the
/// config's entries seats everyone the same. Entrants with the same name are ordered by a hash
/// of the seed and their config index (they are the same strategy, so which of them sits first
/// is a coin toss per seed, never always the first listed).
pub fn seating(names: &[&str], seed: u64) -> Vec<usize> {
    let mut seats: Vec<usize> = (0..names.len()).collect();
    let key = |i: usize| {
        let primary = mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ name_key(names[i]));
        let secondary = mix(primary ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        (primary, secondary)
    };
    seats.sort_by_key(|&i| key(i));
    seats
}

/// Whether quote number `n` of the seat keyed `key` is audited: a fixed hash, so the sample is
/// deterministic and independent of threads, yet not predictable by the strategy.
fn audit_due(key: u64, n: u64, threshold: u64) -> bool {
    threshold == u64::MAX || mix(key ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) < threshold
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
    /// The arbitrageur's and auditor's draws for this pool (probe sizes, cross-checks, the
    /// audited hook): a stream of its own, from the seed and the pool's name, so no other
    /// entrant's presence shifts them.
    draws: Draws,
}

/// A counter-based stream of uniform draws: `mix(key + n·φ)` for n = 1, 2, … — as good as the
/// 64-bit mixer for sampling, deterministic everywhere, and a few nanoseconds a draw (a ChaCha
/// stream per pool cost more than the draws were worth).
#[derive(Clone, Copy, Debug)]
struct Draws {
    key: u64,
    n: u64,
}

impl Draws {
    fn new(seed: u64, name: &str) -> Self {
        Self { key: mix(seed ^ name_key(name).rotate_left(29) ^ 0xA4B1_7A6E_0000_0003), n: 0 }
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.n += 1;
        let z = mix(self.key.wrapping_add(self.n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((self.uniform() * n as f64) as u64).min(n.saturating_sub(1))
    }
}

impl Pool {
    /// Draws the step of the epoch starting at `start` (`epoch_len` steps) from which the next
    /// hook call is audited whatever the sample says. One replay an epoch, at a step nobody can
    /// predict (with a salted run): a strategy whose every hook leaks is caught in its first
    /// epoch for certain, and one that leaks only from some step on is caught in proportion.
    fn draw_audit_step(&mut self, start: u64, epoch_len: u64) {
        if let Kind::Strategy(seat) = &mut self.kind {
            seat.audit_step = start + self.draws.below(epoch_len.max(1));
            seat.audit_pending = true;
        }
    }

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
            self.disqualify(step, call, Why::of_fault(&fault), fault.to_string());
        }
    }

    fn disqualify(&mut self, step: u64, call: CallKind, kind: Why, reason: String) {
        if self.live {
            self.live = false;
            self.disqualified = Some(Disqualification { step, call, kind, reason });
        }
    }

    /// One quote; `None` when it faulted or broke a rule. The output delivered follows
    /// [`super::delivered_output`]: a quote equal to the output reserve is capped one nano unit
    /// below it, and one above it is absurd and disqualifies.
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
        let delivered = match super::delivered_output(y, reserve_out) {
            Ok(delivered) => delivered,
            Err(absurd) => {
                self.disqualify(
                    ctx.step,
                    CallKind::Quote,
                    Why::AbsurdQuote,
                    format!("{absurd} for input {input} ({side:?})"),
                );
                return None;
            }
        };
        if audit_due(seat.audit_key, seat.quotes, ctx.audit_threshold) {
            // Purity audit: the same payload on a pristine instance must give the same answer.
            seat.recorded.push(Recorded::Quote {
                step: ctx.step,
                side,
                input,
                reserves: (rx, ry),
                storage: Box::new(seat.storage.clone()),
                output: y,
            });
            if seat.recorded.len() >= AUDIT_BATCH {
                self.replay_audits(ctx);
                if !self.live {
                    return None;
                }
            }
        }
        Some(delivered)
    }

    /// Replays the sampled calls on one pristine instance, in the order they were made: every
    /// quote must give the output it gave live, every hook must leave the storage it left live.
    /// One instantiation serves a whole batch (an instantiation costs tens of microseconds, a
    /// replayed call well under one); the first mismatch disqualifies, naming the call and the
    /// step it was made at. Replays run whenever a batch fills, at every epoch boundary and at
    /// the end of the simulation, so a sampled violation is caught within its epoch.
    fn replay_audits(&mut self, ctx: Ctx<'_>) {
        let Kind::Strategy(seat) = &mut self.kind else { return };
        if seat.recorded.is_empty() || !self.live {
            seat.recorded.clear();
            return;
        }
        let Ok(mut pristine) = seat.program.instantiate(ctx.limits, seat.wasi_seed) else {
            seat.recorded.clear();
            return;
        };
        let mut verdict = None;
        for record in &seat.recorded {
            match record {
                Recorded::Quote { step, side, input, reserves: (rx, ry), storage, output } => {
                    let again = pristine.quote(*side, *input, *rx, *ry, storage);
                    if again.as_ref() != Ok(output) {
                        let shown = match again {
                            Ok(z) => z.to_string(),
                            Err(f) => format!("a fault ({f})"),
                        };
                        verdict = Some((
                            CallKind::Quote,
                            format!(
                                "impure quote: {side:?} input {input} on reserves {rx}/{ry} gave {output} at step {step}, but {shown} on a fresh instance"
                            ),
                        ));
                    }
                }
                Recorded::Hook { step, hook, before, after } => {
                    let call = hook.call();
                    let mut replayed = (**before).clone();
                    let why = match hook.run(&mut pristine, &mut replayed) {
                        Err(fault) => {
                            Some(format!("a fresh instance faulted on the same payload and storage ({fault})"))
                        }
                        Ok(()) => {
                            let (live, fresh) = (after.as_bytes(), replayed.as_bytes());
                            live.iter().zip(fresh).position(|(a, b)| a != b).map(|at| {
                                format!(
                                    "the storage it left differs from what a fresh instance leaves for the same payload and storage (step {step}, first at byte {at}: {} vs {})",
                                    live[at], fresh[at]
                                )
                            })
                        }
                    };
                    verdict = why.map(|why| {
                        (call, format!("impure {call}: {why}; hooks may depend only on their payload and storage"))
                    });
                }
            }
            if verdict.is_some() {
                break;
            }
        }
        seat.recorded.clear();
        if let Some((call, reason)) = verdict {
            self.disqualify(ctx.step, call, Why::AuditMismatch, reason);
        }
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

    /// Calls a hook on the live instance. A sample of hook calls (`sandbox.hook_audit_rate`) is
    /// replayed on a pristine instance with the same payload and storage: a hook must leave
    /// storage that is a function of those alone, or the strategy is disqualified (a hook that
    /// reads what an earlier call left in memory — a quote's input, say — is carrying hidden
    /// state).
    fn hook(&mut self, hook: Hook, ctx: Ctx<'_>) {
        self.version += 1; // the hook may change the storage
        let Kind::Strategy(seat) = &mut self.kind else { return };
        seat.hooks += 1;
        let call = hook.call();
        let scheduled = ctx.hook_audits && seat.audit_pending && ctx.step >= seat.audit_step;
        if scheduled {
            seat.audit_pending = false;
        }
        let audit = scheduled || audit_due(seat.audit_key ^ HOOK_AUDIT_SALT, seat.hooks, ctx.hook_audit_threshold);
        let before = audit.then(|| seat.storage.clone());
        if let Err(fault) = hook.run(&mut seat.instance, &mut seat.storage) {
            self.fault(ctx.step, call, fault, ctx.limits.max_faults);
            return;
        }
        let Some(before) = before else { return };
        seat.recorded.push(Recorded::Hook {
            step: ctx.step,
            hook,
            before: Box::new(before),
            after: Box::new(seat.storage.clone()),
        });
        if seat.recorded.len() >= AUDIT_BATCH {
            self.replay_audits(ctx);
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

/// A hook call and its payload (kept whole when the call is sampled for replay).
#[derive(Clone, Copy)]
enum Hook {
    AfterSwap(AfterSwap),
    EpochBoundary(EpochBoundary),
}

impl Hook {
    fn call(self) -> CallKind {
        match self {
            Hook::AfterSwap(_) => CallKind::AfterSwap,
            Hook::EpochBoundary(_) => CallKind::EpochBoundary,
        }
    }

    fn run(self, instance: &mut StrategyInstance, storage: &mut Storage) -> Result<(), Fault> {
        match self {
            Hook::AfterSwap(trade) => instance.after_swap(&trade, storage),
            Hook::EpochBoundary(message) => instance.epoch_boundary(&message, storage),
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
    audit_threshold: u64,
    hook_audit_threshold: u64,
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
        let salt_key = name_key(&config.run.salt).rotate_left(13);
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
            fits: [None, None],
        };
        for &index in &seats {
            let entrant = &entrants[index];
            // Seeded by the simulation and the strategy's name, never by its place.
            let wasi_seed = mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ name_key(entrant.name) ^ salt_key);
            let instance = entrant.program.instantiate(limits, wasi_seed);
            let mut pool = blank(entrant.name.to_string(), Kind::Absent, rx, ry, 1.0 / n as f64);
            match instance {
                Ok(instance) => {
                    pool.kind = Kind::Strategy(Box::new(Seat {
                        instance,
                        storage: entrant.storage.clone(),
                        program: entrant.program.clone(),
                        wasi_seed,
                        audit_key: wasi_seed.rotate_left(17) ^ 0xA0D1_7A0D_17A0_D17A,
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
            audit_threshold: audit_threshold(limits.audit_rate),
            hook_audit_threshold: audit_threshold(limits.hook_audit_rate),
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
            // 2. Arbitrage: every pool against the same fair price, each decided on its own
            // state; the phase's hooks follow, all seeing the market after it.
            for i in 0..self.pools.len() {
                if self.pools[i].live {
                    self.arbitrage(i);
                }
            }
            self.deliver_hooks();
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
        Ctx {
            step: self.step,
            limits: self.limits,
            audit_threshold: self.audit_threshold,
            hook_audit_threshold: self.hook_audit_threshold,
            hook_audits: self.limits.hook_audit_rate > 0.0,
        }
    }

    fn arbitrage(&mut self, i: usize) {
        let price = self.price;
        let min_profit = self.config.market.min_arb_profit * NANO_F; // nano Y
        let ctx = self.ctx();
        let mut best: Option<(Side, ArbTrade, f64)> = None;
        let spot = self.pools[i].spot();
        // The pool-step's quote budget: each side keeps one quote for the other's pruning.
        let mut left = MAX_QUOTES_PER_POOL_STEP;
        for (k, side) in Side::BOTH.into_iter().enumerate() {
            let later_sides = (Side::BOTH.len() - 1 - k) as u32;
            // λ: the input's price in output units; δ: the input worth the profit floor.
            let (lambda, delta, min_surplus, to_profit) = match side {
                Side::BuyX => (1.0 / price, min_profit, min_profit / price, price),
                Side::SellX => (price, min_profit / price, min_profit, 1.0),
            };
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
            let probe = (probe.floor() as u64).max(1);
            let mut curve = PoolCurve { pool: &mut self.pools[i], side, ctx, quotes: &mut self.stats.arb_quotes };
            let search =
                best_trade(&mut curve, lambda, probe, min_surplus, &mut self.samples, left.saturating_sub(later_sides));
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
                && self.samples.len() == 1
                && self.pools[i].draws.uniform() < PRUNE_CROSS_CHECK
            {
                let (at, _) = self.samples.points()[0];
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

    /// Disqualifies a strategy whose sampled curve broke the shape rules.
    fn check_shape(&mut self, i: usize, side: Side, call: CallKind) {
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
        let mut curves = OrderCurves { pools: &mut self.pools, live: &self.live, side, ctx };
        let summary = self.router.route(&mut curves, input, &mut self.faulted);
        self.stats.router_quotes += u64::from(summary.quotes);
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
        if self.pending.is_empty() {
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
                let (log, calls, fuel) = (
                    seat.and_then(|s| s.instance.log()),
                    seat.map_or(0, |s| s.quotes + s.hooks),
                    seat.and_then(|s| s.instance.fuel_used()),
                );
                PoolResult {
                    log,
                    calls,
                    fuel,
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
