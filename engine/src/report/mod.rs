//! What a run produces: the aggregated results (`results.json`), the leaderboard, and the HTML
//! report.
//!
//! `results.json` is the record of a run: byte-identical for the same config, modules and seeds
//! on any machine, at any thread count and on either backend. It therefore holds no wall times,
//! thread counts, backend, absolute paths or anything else that depends on where or how the run
//! happened; those facts go to `run.json` beside it ([`RunFacts`]).

pub mod chart;
pub mod figures;
pub mod html;
pub mod leaderboard;
pub mod merge;

use serde::Serialize;

use crate::config::Config;
use crate::market::SimulationResult;
use crate::params::ParamValues;
use crate::strategy::Backend;

/// Summary statistics of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
    /// Standard error of the mean.
    pub stderr: f64,
}

impl Summary {
    /// Summarises `values`.
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> Self {
        let n = values.clone().count();
        if n == 0 {
            return Self::default();
        }
        let mean = values.clone().sum::<f64>() / n as f64;
        let var = if n > 1 { values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        let std = var.sqrt();
        Self { mean, std, stderr: std / (n as f64).sqrt() }
    }
}

/// One entrant's aggregated results.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StrategySummary {
    /// Display name.
    pub name: String,
    /// Model that wrote it (`None` for human-written).
    pub model: String,
    /// SHA-256 of its `.wasm`.
    pub sha256: String,
    /// Why it was refused at load, if it was (it then took part in no simulation).
    pub rejected: Option<String>,
    /// The values its declared parameters ran with (absent without `amm.params`).
    #[serde(default, skip_serializing_if = "ParamValues::is_empty")]
    pub params: ParamValues,
    /// Mean edge per simulation, Y.
    pub mean_edge: f64,
    /// Standard deviation of edge across simulations.
    pub std_edge: f64,
    /// Standard error of the mean edge.
    pub stderr_edge: f64,
    /// Mean of (this edge − the normalizer's edge), paired per seed.
    pub mean_edge_vs_normalizer: Option<f64>,
    /// Standard error of that paired difference.
    pub stderr_edge_vs_normalizer: Option<f64>,
    /// Mean edge / its standard deviation.
    pub sharpe: f64,
    /// Mean retail edge.
    pub mean_retail_edge: f64,
    /// Mean arbitrage edge (negative: the arbitrage loss).
    pub mean_arb_edge: f64,
    /// Mean share of retail volume.
    pub mean_retail_share: f64,
    /// Mean final capital weight.
    pub mean_final_capital_weight: f64,
    /// Simulations in which it was disqualified.
    pub disqualified_sims: u32,
    /// Its disqualifications, grouped by call and kind of reason.
    pub disqualification_reasons: Vec<DisqualificationSummary>,
}

/// Disqualifications of one strategy sharing a call and a kind of reason.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct DisqualificationSummary {
    /// The call that failed.
    pub call: crate::sandbox::CallKind,
    /// The kind of rule broken.
    pub kind: crate::market::DisqualificationKind,
    /// Simulations ended this way.
    pub simulations: u32,
    /// The first of them: its seed, step and full reason.
    pub first_seed: u64,
    /// Step of the first.
    pub first_step: u64,
    /// Full reason of the first.
    pub example: String,
}

/// The normalizer's aggregated results.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct NormalizerSummary {
    /// Mean edge per simulation.
    pub mean_edge: f64,
    /// Standard deviation of edge.
    pub std_edge: f64,
    /// Standard error of the mean edge.
    pub stderr_edge: f64,
    /// Mean arbitrage edge.
    pub mean_arb_edge: f64,
    /// Mean share of retail volume.
    pub mean_retail_share: f64,
}

/// Work done over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Simulations.
    pub simulations: u64,
    /// Steps over all simulations.
    pub steps: u64,
    /// Retail orders.
    pub orders: u64,
    /// Strategy quote calls by the arbitrageur.
    pub arb_quotes: u64,
    /// Strategy quote calls by the router.
    pub router_quotes: u64,
    /// Hook calls.
    pub hook_calls: u64,
    /// Strategy calls (quotes and hooks) per step.
    pub calls_per_step: f64,
    /// Arbitrage quotes per strategy pool per step.
    pub arb_quotes_per_pool_step: f64,
    /// Router quotes per strategy pool per order.
    pub router_quotes_per_pool_order: f64,
}

/// How and where a run happened: the content of `run.json`, written beside `results.json`.
/// Nothing here affects the results, which is why it is kept out of them.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RunFacts {
    /// amm-engine version.
    pub engine_version: String,
    /// Backend the strategies ran on (`wasm` or `native`).
    pub backend: Backend,
    /// Worker threads used.
    pub threads: usize,
    /// Wall time of the simulations, seconds.
    pub wall_seconds: f64,
    /// Wall time × threads / simulations: seconds per simulation per core.
    pub seconds_per_simulation_per_core: f64,
    /// Host name (from the operating system; empty when unknown).
    pub host: String,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub platform: String,
    /// Cores the operating system reports.
    pub cores: usize,
    /// When the run finished, seconds since the Unix epoch.
    pub finished_unix: u64,
    /// What each strategy that ran cost, in config order: the engine's calls to it and the
    /// fuel they used, so an operator sees who costs what.
    pub strategy_costs: Vec<StrategyCost>,
}

/// One strategy's cost over a run (averages over its simulations).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StrategyCost {
    /// Display name.
    pub name: String,
    /// Calls the engine made to it (quotes and hooks) per simulation.
    pub calls_per_simulation: f64,
    /// Fuel those calls used per simulation, host work included (`None` on the native backend).
    pub fuel_per_simulation: Option<f64>,
    /// Fuel per call (`None` on the native backend or without calls).
    pub fuel_per_call: Option<f64>,
    /// Engine time its pool cost per simulation, ms: the arbitrage searches on its curve and
    /// its share of routing (by the points each pool was sampled at), from a sample of one
    /// search and one order in [`crate::market::sim::ENGINE_TIME_SAMPLING`]. Wall-clock, so it
    /// varies from run to run (0 when read from an older run.json).
    #[serde(default)]
    pub engine_ms_per_simulation: f64,
}

impl StrategyCost {
    /// Each strategy's cost over the simulations of `results` (strategies that ran, in config
    /// order).
    pub fn of(results: &RunResults) -> Vec<Self> {
        let sims = results.simulations.len().max(1) as f64;
        results
            .strategies
            .iter()
            .filter(|strategy| strategy.rejected.is_none())
            .map(|strategy| {
                // (Strategies refused at load have no pool: matched by name, not by index.)
                let pools = results.simulations.iter().filter_map(|s| s.pools.iter().find(|p| p.name == strategy.name));
                let calls: u64 = pools.clone().map(|p| p.calls).sum();
                let engine_ns: u64 = pools.clone().map(|p| p.engine_ns).sum();
                let fuel: Option<u64> = pools.map(|p| p.fuel).sum();
                Self {
                    name: strategy.name.clone(),
                    calls_per_simulation: calls as f64 / sims,
                    fuel_per_simulation: fuel.map(|f| f as f64 / sims),
                    fuel_per_call: fuel.filter(|_| calls > 0).map(|f| f as f64 / calls as f64),
                    engine_ms_per_simulation: engine_ns as f64 / 1e6 / sims,
                }
            })
            .collect()
    }
}

impl RunFacts {
    /// Facts of a run that took `wall_seconds` for `simulations` simulations on `threads`, with
    /// what each strategy cost.
    pub fn now(
        backend: Backend,
        threads: usize,
        wall_seconds: f64,
        simulations: u32,
        strategy_costs: Vec<StrategyCost>,
    ) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::env::var("HOSTNAME"))
            .or_else(|_| std::env::var("COMPUTERNAME"))
            .unwrap_or_default()
            .trim()
            .to_string();
        Self {
            engine_version: crate::ENGINE_VERSION.to_string(),
            backend,
            threads,
            wall_seconds,
            seconds_per_simulation_per_core: if simulations > 0 {
                wall_seconds * threads as f64 / f64::from(simulations)
            } else {
                0.0
            },
            host,
            platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            finished_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            strategy_costs,
        }
    }

    /// `run.json`: pretty-printed.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}

/// Seeds of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Seeds {
    /// First seed.
    pub start: u64,
    /// Distance between seeds.
    pub stride: u64,
    /// Number of simulations.
    pub count: u32,
}

/// Everything a run produced: the content of `results.json`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RunResults {
    /// amm-engine version.
    pub engine_version: String,
    /// The configuration, as run (after CLI overrides).
    pub config: Config,
    /// Seeds.
    pub seeds: Seeds,
    /// Entrants, in config order.
    pub strategies: Vec<StrategySummary>,
    /// The normalizer (absent when disabled).
    pub normalizer: Option<NormalizerSummary>,
    /// Work done.
    pub stats: RunStats,
    /// Which part of the run this is, for a shard's own results (absent for a whole run, and
    /// for shards merged back into one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Every simulation, in seed order.
    pub simulations: Vec<SimulationResult>,
}

/// Part `index` (0-based) of `count` disjoint ranges of a run's simulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Shard {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` (0 ≤ K < N).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text:?}: expected K/N with 0 ≤ K < N, e.g. 0/4 (K is 0-based)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The simulation indices (of `total`) this shard runs: a contiguous range.
    pub fn range(&self, total: u32) -> std::ops::Range<u32> {
        let at = |i: u32| (u64::from(total) * u64::from(i) / u64::from(self.count)) as u32;
        at(self.index)..at(self.index + 1)
    }
}

/// Where an entrant stands for ranking: whether it failed (disqualified in some simulation, or
/// refused at load) and its score (mean edge; a round scores the paired edge over the
/// normalizer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    /// Disqualified in some simulation or refused at load.
    pub failed: bool,
    /// Higher is better.
    pub score: f64,
}

/// The one ranking rule of `amm-engine run`, the service's board and its rounds: entrants that
/// never failed first (a strategy cannot win by failing early), then by score, highest first.
/// Callers add their own last tie-break (the service: the submission id).
pub fn rank_order(a: Standing, b: Standing) -> std::cmp::Ordering {
    a.failed.cmp(&b.failed).then(b.score.total_cmp(&a.score))
}

/// The entrants that ran, best first ([`rank_order`] by mean edge).
pub fn ranked(results: &RunResults) -> Vec<&StrategySummary> {
    let mut ranked: Vec<_> = results.strategies.iter().filter(|s| s.rejected.is_none()).collect();
    let standing = |s: &StrategySummary| Standing { failed: s.disqualified_sims > 0, score: s.mean_edge };
    ranked.sort_by(|a, b| rank_order(standing(a), standing(b)));
    ranked
}

/// Identity of an entrant for aggregation.
pub struct EntrantInfo {
    /// Display name.
    pub name: String,
    /// Model.
    pub model: String,
    /// SHA-256.
    pub sha256: String,
    /// Load-time rejection.
    pub rejected: Option<String>,
    /// Parameter values it runs with.
    pub params: ParamValues,
}

impl RunResults {
    /// Aggregates simulation results. `entrants` lists every entrant in config order; the
    /// simulations' pools are the non-rejected ones in that order, then the normalizer.
    pub fn aggregate(
        config: &Config,
        entrants: &[EntrantInfo],
        simulations: Vec<SimulationResult>,
        shard: Option<Shard>,
    ) -> RunResults {
        let has_normalizer = config.normalizer.enabled;
        let running: Vec<usize> = (0..entrants.len()).filter(|&i| entrants[i].rejected.is_none()).collect();
        let normalizer_index = running.len();
        let normalizer_edges = |s: &SimulationResult| s.pools.get(normalizer_index).map_or(0.0, |p| p.edge);
        let mut strategies = Vec::with_capacity(entrants.len());
        for (i, entrant) in entrants.iter().enumerate() {
            let slot = running.iter().position(|&r| r == i);
            fn pool_at(s: &SimulationResult, slot: Option<usize>) -> Option<&crate::market::PoolResult> {
                slot.and_then(|k| s.pools.get(k))
            }
            let pool = |s| pool_at(s, slot);
            let sims = || simulations.iter().filter_map(pool);
            let edge = Summary::of(sims().map(|p| p.edge));
            let paired = Summary::of(simulations.iter().filter_map(|s| pool(s).map(|p| p.edge - normalizer_edges(s))));
            let mean = |f: fn(&crate::market::PoolResult) -> f64| Summary::of(sims().map(f)).mean;
            let mut reasons: Vec<DisqualificationSummary> = Vec::new();
            for sim in &simulations {
                let Some(d) = pool(sim).and_then(|p| p.disqualified.as_ref()) else {
                    continue;
                };
                match reasons.iter_mut().find(|r| r.call == d.call && r.kind == d.kind) {
                    Some(r) => r.simulations += 1,
                    None => reasons.push(DisqualificationSummary {
                        call: d.call,
                        kind: d.kind,
                        simulations: 1,
                        first_seed: sim.seed,
                        first_step: d.step,
                        example: d.reason.clone(),
                    }),
                }
            }
            strategies.push(StrategySummary {
                name: entrant.name.clone(),
                model: entrant.model.clone(),
                sha256: entrant.sha256.clone(),
                rejected: entrant.rejected.clone(),
                params: entrant.params.clone(),
                mean_edge: edge.mean,
                std_edge: edge.std,
                stderr_edge: edge.stderr,
                mean_edge_vs_normalizer: (has_normalizer && slot.is_some()).then_some(paired.mean),
                stderr_edge_vs_normalizer: (has_normalizer && slot.is_some()).then_some(paired.stderr),
                sharpe: if edge.std > 0.0 { edge.mean / edge.std } else { 0.0 },
                mean_retail_edge: mean(|p| p.retail_edge),
                mean_arb_edge: mean(|p| p.arb_edge),
                mean_retail_share: mean(|p| p.retail_share),
                mean_final_capital_weight: mean(|p| p.final_capital_weight.unwrap_or(0.0)),
                disqualified_sims: sims().filter(|p| p.disqualified.is_some()).count() as u32,
                disqualification_reasons: reasons,
            });
        }
        let normalizer = has_normalizer.then(|| {
            let sims = || simulations.iter().filter_map(|s| s.pools.get(normalizer_index));
            let edge = Summary::of(sims().map(|p| p.edge));
            NormalizerSummary {
                mean_edge: edge.mean,
                std_edge: edge.std,
                stderr_edge: edge.stderr,
                mean_arb_edge: Summary::of(sims().map(|p| p.arb_edge)).mean,
                mean_retail_share: Summary::of(sims().map(|p| p.retail_share)).mean,
            }
        });
        let mut stats = RunStats { simulations: simulations.len() as u64, ..RunStats::default() };
        for s in &simulations {
            stats.steps += s.stats.steps;
            stats.orders += s.stats.orders;
            stats.arb_quotes += s.stats.arb_quotes;
            stats.router_quotes += s.stats.router_quotes;
            stats.hook_calls += s.stats.hook_calls;
        }
        let pools = running.len().max(1) as f64;
        if stats.steps > 0 {
            stats.calls_per_step =
                (stats.arb_quotes + stats.router_quotes + stats.hook_calls) as f64 / stats.steps as f64;
            stats.arb_quotes_per_pool_step = stats.arb_quotes as f64 / stats.steps as f64 / pools;
        }
        if stats.orders > 0 {
            stats.router_quotes_per_pool_order = stats.router_quotes as f64 / stats.orders as f64 / pools;
        }
        RunResults {
            engine_version: crate::ENGINE_VERSION.to_string(),
            config: config.clone(),
            seeds: Seeds {
                start: config.run.seed_start,
                stride: config.run.seed_stride,
                count: config.run.simulations,
            },
            strategies,
            normalizer,
            stats,
            shard,
            simulations,
        }
    }

    /// `results.json`: pretty-printed, deterministic.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}
