//! What one simulation produces: per-epoch records, each pool's result, the work done.
//!
//! Kept apart from the loop because these are the simulation's contract with the rest of the
//! engine — `results.json`, the report, receipts and `merge` read them (serialised field by
//! field, so their order and names are the file's) — while the loop's own state changes
//! freely.

use serde::Serialize;

use super::super::disqualification::Disqualification;
use super::super::params::MarketParams;

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
    /// Engine time spent on this pool's arbitrage searches and its share of routing, ns: a
    /// sampled estimate (one search and one order in [`super::ENGINE_TIME_SAMPLING`] timed). Timing
    /// varies from run to run, so it is never part of `results.json`.
    #[serde(skip)]
    pub engine_ns: u64,
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

/// Edge booked to a pool, split by who traded: retail orders or the arbitrageur, Y.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    /// From retail trades.
    pub(super) retail: f64,
    /// From arbitrage trades.
    pub(super) arb: f64,
}

impl Tally {
    /// Both parts.
    #[inline]
    pub(super) fn total(&self) -> f64 {
        self.retail + self.arb
    }
}
