//! A pool in one simulation: its reserves and books, the strategy seated in it, and the audits
//! that keep the strategy honest.
//!
//! Why the audits live with the pool: every quote and hook the market makes goes through
//! [`Pool::quote`] and [`Pool::hook`], so this is the one place that can sample calls for
//! replay, count faults and disqualify — the loop never calls a strategy directly. A quote is
//! built here once, as the ABI's [`QuoteRequest`] (side, input, the pool's reserves and
//! storage), and passed down unchanged to the strategy ([`StrategyInstance::quote`]) and, for
//! a wasm module, to the sandbox, which encodes it into the module's buffer.

use amm_strategy_sdk::abi::NANO;
use amm_strategy_sdk::math::cp_output_fee_bps;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Storage};

use super::super::curve::{CpModel, Curve, CurveSet, Fit};
use super::super::disqualification::{Disqualification, DisqualificationKind as Why};
use super::records::{EpochRecord, Tally};
use super::seats::{Draws, HOOK_AUDIT_SALT, audit_due};
use crate::sandbox::{CallKind, Fault, SandboxLimits};
use crate::strategy::{StrategyInstance, StrategyProgram};

const NANO_F: f64 = NANO as f64;

/// A strategy's seat in one simulation: its live instance and storage, and its program, from
/// which the purity audit takes pristine instances.
pub(super) struct Seat {
    pub(super) instance: StrategyInstance,
    pub(super) storage: Storage,
    pub(super) program: StrategyProgram,
    pub(super) wasi_seed: u64,
    pub(super) audit_key: u64,
    pub(super) quotes: u64,
    pub(super) hooks: u64,
    /// The step of this epoch from which the next hook call is audited whatever the sample says.
    pub(super) audit_step: u64,
    /// That audit has not happened yet this epoch.
    pub(super) audit_pending: bool,
    /// Sampled calls awaiting replay on a pristine instance (see [`Pool::replay_audits`]).
    pub(super) recorded: Vec<Recorded>,
}

/// Most sampled calls kept before they are replayed (besides every epoch boundary).
pub(super) const AUDIT_BATCH: usize = 8;

/// A sampled call, kept to be replayed on a pristine instance.
pub(super) enum Recorded {
    Quote { step: u64, side: Side, input: u64, reserves: (u64, u64), storage: Box<Storage>, output: u64 },
    Hook { step: u64, hook: Hook, before: Box<Storage>, after: Box<Storage> },
}

/// What sits in a pool.
pub(super) enum Kind {
    /// A strategy, seated.
    Strategy(Box<Seat>),
    /// A strategy that could not be instantiated (disqualified from the start).
    Absent,
    /// The constant-product normalizer with its drawn fee.
    Normalizer {
        /// Its fee, basis points.
        fee_bps: u64,
    },
}

/// The moment and the limits a call is made under.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) step: u64,
    pub(super) limits: &'a SandboxLimits,
    /// Quotes whose hash falls below this are audited (see [`audit_due`]).
    pub(super) audit_threshold: u64,
    /// Hooks whose hash falls below this are audited.
    pub(super) hook_audit_threshold: u64,
    /// Hook audits are on (`hook_audit_rate > 0`): the scheduled one each epoch happens.
    pub(super) hook_audits: bool,
}

/// One pool of the market: a strategy's (or the normalizer's) reserves, books and seat.
pub(super) struct Pool {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) reserve_x: u64,
    pub(super) reserve_y: u64,
    pub(super) live: bool,
    pub(super) faults: u32,
    pub(super) disqualified: Option<Disqualification>,
    pub(super) capital_weight: f64,
    pub(super) epoch: Tally,
    pub(super) total: Tally,
    pub(super) epoch_start_value: f64,
    pub(super) retail_volume: f64,
    pub(super) arb_volume: f64,
    pub(super) epochs: Vec<EpochRecord>,
    /// Bumped whenever the reserves or the storage may have changed: a quote curve is a pure
    /// function of them, so a model confirmed at one version holds until the next.
    pub(super) version: u64,
    /// Per side, a confirmed model and the version it was confirmed at.
    pub(super) fits: [Option<(u64, Fit)>; 2],
    /// Per side, the version, input and output of the last pruning probe that pruned it: the
    /// same pure state answers the same, so while the version holds the sample prunes again
    /// at any price it proves ([`super::super::arbitrage::pruned_by_sample`]) without a quote.
    pub(super) probes: [Option<(u64, u64, u64)>; 2],
    /// The fair prices at which both arbitrage sides are pruned by this pool's models whatever
    /// the probes ([`super::super::arbitrage::pruning_band`]), for the version it was computed at.
    pub(super) band: Option<Band>,
    /// The version the pool's last arbitrage search saw: a pool unchanged since then gets a band.
    pub(super) arb_version: u64,
    /// The arbitrageur's and auditor's draws for this pool (probe sizes, cross-checks, the
    /// audited hook): a stream of its own, from the seed and the pool's name, so no other
    /// entrant's presence shifts them.
    pub(super) draws: Draws,
    /// Engine time spent on this pool's searches, ns (a sampled estimate: see
    /// [`super::ENGINE_TIME_SAMPLING`]); never part of a result, which must not depend on timing.
    pub(super) engine_ns: u64,
    /// This pool's arbitrage searches so far (which of them are timed).
    pub(super) searches: u64,
}

/// A pool's pruning band: both arbitrage sides are pruned by its models at any fair price in
/// `[lo, hi]` while the pool is at `version` (a strategy's: the normalizer's arbitrage is
/// decided in closed form without one).
#[derive(Clone, Copy, Debug)]
pub(super) struct Band {
    pub(super) version: u64,
    pub(super) lo: f64,
    pub(super) hi: f64,
}

impl Pool {
    /// Draws the step of the epoch starting at `start` (`epoch_len` steps) from which the next
    /// hook call is audited whatever the sample says. One replay an epoch, at a step nobody can
    /// predict (with a salted run): a strategy whose every hook leaks is caught in its first
    /// epoch for certain, and one that leaks only from some step on is caught in proportion.
    pub(super) fn draw_audit_step(&mut self, start: u64, epoch_len: u64) {
        if let Kind::Strategy(seat) = &mut self.kind {
            seat.audit_step = start + self.draws.below(epoch_len.max(1));
            seat.audit_pending = true;
        }
    }

    pub(super) fn known_fit(&self, side: Side) -> Option<Fit> {
        self.known_fit_ref(side).copied()
    }

    /// [`Pool::known_fit`] without the copy (the arbitrage's per-side check).
    pub(super) fn known_fit_ref(&self, side: Side) -> Option<&Fit> {
        match &self.fits[side as usize] {
            Some((version, fit)) if *version == self.version => Some(fit),
            _ => None,
        }
    }

    /// The pruning probe remembered for `side` at the pool's current version, `(input, output)`.
    pub(super) fn remembered_probe(&self, side: Side) -> Option<(u64, u64)> {
        match self.probes[side as usize] {
            Some((version, x, y)) if version == self.version => Some((x, y)),
            _ => None,
        }
    }

    /// Remembers the quote `(x, y)` that pruned `side` at its pruning probe.
    pub(super) fn remember_probe(&mut self, side: Side, x: u64, y: u64) {
        self.probes[side as usize] = Some((self.version, x, y));
    }

    fn remember_fit(&mut self, side: Side, fit: Fit) {
        self.fits[side as usize] = Some((self.version, fit));
        self.band = None; // computed from the models it replaces
    }

    #[inline]
    pub(super) fn reserves_in_out(&self, side: Side) -> (u64, u64) {
        match side {
            Side::BuyX => (self.reserve_y, self.reserve_x),
            Side::SellX => (self.reserve_x, self.reserve_y),
        }
    }

    #[inline]
    pub(super) fn value(&self, price: f64) -> f64 {
        (self.reserve_y as f64 + self.reserve_x as f64 * price) / NANO_F
    }

    #[inline]
    pub(super) fn spot(&self) -> f64 {
        if self.reserve_x == 0 { f64::NAN } else { self.reserve_y as f64 / self.reserve_x as f64 }
    }

    /// Records a fault; disqualifies at the limit.
    fn fault(&mut self, step: u64, call: CallKind, fault: Fault, max_faults: u32) {
        self.faults += 1;
        if self.faults >= max_faults && self.live {
            self.disqualify(step, call, Why::of_fault(&fault), fault.to_string());
        }
    }

    pub(super) fn disqualify(&mut self, step: u64, call: CallKind, kind: Why, reason: String) {
        if self.live {
            self.live = false;
            self.disqualified = Some(Disqualification { step, call, kind, reason });
        }
    }

    /// One quote; `None` when it faulted or broke a rule. The request is built here, once, from
    /// the pool's reserves and storage, and goes down to the strategy as it is. The output
    /// delivered follows [`super::super::delivered_output`]: a quote equal to the output
    /// reserve is capped one nano unit below it, and one above it is absurd and disqualifies.
    pub(super) fn quote(&mut self, side: Side, input: u64, ctx: Ctx<'_>) -> Option<u64> {
        let (_, reserve_out) = self.reserves_in_out(side);
        let (reserve_x, reserve_y) = (self.reserve_x, self.reserve_y);
        let seat = match &mut self.kind {
            Kind::Normalizer { fee_bps } => {
                let (rin, rout) = match side {
                    Side::BuyX => (reserve_y, reserve_x),
                    Side::SellX => (reserve_x, reserve_y),
                };
                return Some(cp_output_fee_bps(input, rin, rout, *fee_bps));
            }
            Kind::Absent => return None,
            Kind::Strategy(seat) => seat,
        };
        let request = QuoteRequest { side, input_amount: input, reserve_x, reserve_y, storage: &seat.storage };
        let y = match seat.instance.quote(&request) {
            Ok(y) => y,
            Err(fault) => {
                self.fault(ctx.step, CallKind::Quote, fault, ctx.limits.max_faults);
                return None;
            }
        };
        seat.quotes += 1;
        let delivered = match super::super::delivered_output(y, reserve_out) {
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
                reserves: (reserve_x, reserve_y),
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
    pub(super) fn replay_audits(&mut self, ctx: Ctx<'_>) {
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
                    let request =
                        QuoteRequest { side: *side, input_amount: *input, reserve_x: *rx, reserve_y: *ry, storage };
                    let again = pristine.quote(&request);
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

    pub(super) fn exact_model(&self, side: Side) -> Option<CpModel> {
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
    pub(super) fn hook(&mut self, hook: Hook, ctx: Ctx<'_>) {
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
    pub(super) fn execute(&mut self, side: Side, input: u64, output: u64, price: f64, retail: bool) {
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
pub(super) enum Hook {
    AfterSwap(AfterSwap),
    EpochBoundary(EpochBoundary),
}

impl Hook {
    pub(super) fn call(self) -> CallKind {
        match self {
            Hook::AfterSwap(_) => CallKind::AfterSwap,
            Hook::EpochBoundary(_) => CallKind::EpochBoundary,
        }
    }

    pub(super) fn run(self, instance: &mut StrategyInstance, storage: &mut Storage) -> Result<(), Fault> {
        match self {
            Hook::AfterSwap(trade) => instance.after_swap(&trade, storage),
            Hook::EpochBoundary(message) => instance.epoch_boundary(&message, storage),
        }
    }
}

/// One pool and side, as the arbitrageur sees it.
pub(super) struct PoolCurve<'a> {
    pub(super) pool: &'a mut Pool,
    pub(super) side: Side,
    pub(super) ctx: Ctx<'a>,
    pub(super) quotes: &'a mut u64,
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
pub(super) struct OrderCurves<'a> {
    pub(super) pools: &'a mut [Pool],
    pub(super) live: &'a [usize],
    pub(super) side: Side,
    pub(super) ctx: Ctx<'a>,
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
