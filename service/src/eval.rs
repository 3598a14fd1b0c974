//! Evaluation through the engine library: validating an upload, splitting an evaluation into
//! seed-range jobs, running one job's shards, merging the shards, and the summary the board
//! shows.
//!
//! An evaluation runs the house field, then the entry (last), and the normalizer on the
//! competition's public seeds; it is split into `shard_count` shards exactly as
//! `amm-engine run --shard K/N` splits a run, and the shards are merged exactly as
//! `amm-engine merge` merges them, so the result equals a single `run` of the same config.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use amm_engine::config::{Config, StrategyEntry};
use amm_engine::report::{EntrantInfo, RunResults, Shard, merge};
use amm_engine::run::{self, LoadedEntrant, RunOptions};
use amm_engine::sandbox::SandboxEngine;
use amm_engine::validate;
use serde::Serialize;

pub use crate::competition::module_rel_path;
use crate::db::NewJob;

/// One validation check, as the API reports it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CheckView {
    /// Check name (format, interface, metadata, limits, hooks, quotes, purity, smoke).
    pub name: String,
    /// PASS, FAIL or SKIP.
    #[schema(value_type = String)]
    pub outcome: amm_engine::validate::Outcome,
    /// What was found.
    pub detail: String,
}

/// Runs every check of `amm-engine validate` (smoke simulation included) on `bytes`.
pub fn validate_upload(engine: &SandboxEngine, config: &Config, bytes: &[u8], stem: &str) -> (bool, Vec<CheckView>) {
    let (report, _) = validate::validate_module(engine, bytes, stem, &config.sandbox, &Default::default());
    let checks = report
        .checks
        .iter()
        .map(|c| CheckView { name: c.name.to_string(), outcome: c.outcome, detail: c.detail.clone() })
        .collect();
    (report.passed(), checks)
}

/// Shards an evaluation of `simulations` seeds is split into, and its jobs: about
/// `per_shard` seeds a shard (the progress step), at most `seeds_per_job` a job.
pub fn plan(simulations: u32, seeds_per_job: u32, per_shard: u32) -> Vec<NewJob> {
    let per_shard = per_shard.clamp(1, seeds_per_job.max(1));
    let shard_count = simulations.div_ceil(per_shard).max(1);
    let shards_per_job = (seeds_per_job / per_shard).max(1);
    let mut jobs = Vec::new();
    let mut lo = 0;
    while lo < shard_count {
        let hi = (lo + shards_per_job).min(shard_count);
        let total = (lo..hi).map(|i| Shard { index: i, count: shard_count }.range(simulations).len() as u32).sum();
        jobs.push(NewJob { shard_lo: lo, shard_hi: hi, shard_count, total });
        lo = hi;
    }
    jobs
}

/// The configuration evaluating `entry` (absent for the baseline: the house field alone)
/// under the evaluation's secret `salt` (the same for all its jobs, so their shards merge).
pub fn evaluation_config(base: &Config, entry: Option<(PathBuf, String)>, salt: &str) -> Config {
    let mut config = base.clone();
    config.run.salt = salt.to_string();
    if let Some((path, name)) = entry {
        config.strategies.push(StrategyEntry { path, name: Some(name), params: Default::default() });
    }
    config
}

/// The configuration of one market of a round: the house field, then `entries` (module path
/// relative to the data directory, name), on the competition's hidden seeds, under the round's
/// `salt`.
pub fn round_config(
    base: &Config,
    hidden: crate::competition::SeedRange,
    entries: &[(PathBuf, String)],
    salt: &str,
) -> Config {
    let mut config = base.clone();
    config.run.salt = salt.to_string();
    config.run.seed_start = hidden.start;
    config.run.simulations = hidden.count;
    for (path, name) in entries {
        config.strategies.push(StrategyEntry {
            path: path.clone(),
            name: Some(name.clone()),
            params: Default::default(),
        });
    }
    config
}

/// Why a job stopped without results.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The engine could not run (thread pool, sandbox): an infrastructure fault, retried.
    #[error("engine: {0}")]
    Engine(String),
    /// Over the wall-clock limit: not retried.
    #[error("wall-clock limit of {0} s exceeded")]
    WallClock(u64),
    /// The lease was lost or the job cancelled: stop quietly.
    #[error("lease lost or job cancelled")]
    Abandoned,
    /// A house strategy's `params` value that its module refuses: not retried.
    #[error(transparent)]
    Params(#[from] amm_engine::params::ParamError),
}

impl JobError {
    /// Whether another attempt may succeed.
    pub fn retry(&self) -> bool {
        matches!(self, JobError::Engine(_))
    }
}

/// Runs shards `[lo, hi)` of `count` of `config`, returning each shard's results.json text.
/// `done` counts finished simulations; after each shard `checkpoint` is called (it records
/// progress and renews the lease), and the job stops when it returns false or `stop` is set.
#[allow(clippy::too_many_arguments)]
pub fn run_shards(
    engine: &SandboxEngine,
    config: &Config,
    shards: std::ops::Range<u32>,
    count: u32,
    wall_clock: Duration,
    done: &AtomicU64,
    stop: &AtomicBool,
    checkpoint: &mut dyn FnMut() -> bool,
) -> Result<Vec<(u32, String)>, JobError> {
    let started = Instant::now();
    // Defaults: no progress bar, no builds (every module is a .wasm by now), the whole run.
    let options = RunOptions::default();
    let loaded = run::load_entrants(config, engine, &options)?;
    let mut out = Vec::new();
    for index in shards {
        if stop.load(Ordering::Relaxed) {
            return Err(JobError::Abandoned);
        }
        if started.elapsed() > wall_clock {
            return Err(JobError::WallClock(wall_clock.as_secs()));
        }
        let shard = Shard { index, count };
        let options = RunOptions { shard: Some(shard), ..options.clone() };
        let results =
            run::run(config, copy_entrants(&loaded), &options).map_err(|e| JobError::Engine(e.to_string()))?;
        done.fetch_add(results.simulations.len() as u64, Ordering::Relaxed);
        out.push((index, results.to_json()));
        if !checkpoint() {
            return Err(JobError::Abandoned);
        }
    }
    Ok(out)
}

fn copy_entrants(loaded: &[LoadedEntrant]) -> Vec<LoadedEntrant> {
    loaded
        .iter()
        .map(|e| LoadedEntrant {
            info: EntrantInfo {
                name: e.info.name.clone(),
                model: e.info.model.clone(),
                sha256: e.info.sha256.clone(),
                rejected: e.info.rejected.clone(),
                params: e.info.params.clone(),
            },
            module_path: e.module_path.clone(),
            program: e.program.clone(),
            schema: e.schema.clone(),
            storage: e.storage.clone(),
        })
        .collect()
}

/// Merges the shard results of an evaluation (any order) as `amm-engine merge` does.
pub fn merge_shards(shards: &[(i64, String)]) -> Result<RunResults, String> {
    let mut parts = Vec::with_capacity(shards.len());
    for (index, json) in shards {
        let results: RunResults =
            serde_json::from_str(json).map_err(|e| format!("stored shard {index} does not parse: {e}"))?;
        parts.push((PathBuf::from(format!("shard-{index}")), results));
    }
    merge::merge(parts).map_err(|e| e.to_string())
}

/// What the board and the submission page show of one entrant.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EntrantSummary {
    /// Strategy name.
    pub name: String,
    /// Mean edge per simulation, Y.
    pub mean_edge: f64,
    /// Its standard error, Y.
    pub stderr_edge: f64,
    /// Mean paired edge over the normalizer's on the same seeds, Y.
    pub edge_vs_normalizer: Option<f64>,
    /// Its standard error, Y.
    pub stderr_vs_normalizer: Option<f64>,
    /// Mean edge / its standard deviation.
    pub sharpe: f64,
    /// Mean share of retail volume, 0–1.
    pub retail_share: f64,
    /// Mean arbitrage loss per simulation, Y (positive: lost).
    pub arb_loss: f64,
    /// Simulations in which it was disqualified.
    pub disqualified_sims: u32,
    /// Disqualification reasons: call, kind, simulations, first seed and step, an example.
    #[schema(schema_with = disqualification_reasons_schema)]
    #[serde(default)]
    pub disqualification_reasons: Vec<amm_engine::report::DisqualificationSummary>,
    /// Refused at load (then it took part in nothing).
    pub rejected: Option<String>,
}

/// An evaluation's summary: every entrant (house field, then the entry) and the normalizer,
/// with the entry's per-seed edges.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// Engine version that produced it.
    pub engine_version: String,
    /// Simulations.
    pub simulations: u32,
    /// Every entrant, in config order (the entry last, unless a baseline).
    pub entrants: Vec<EntrantSummary>,
    /// The normalizer: mean edge, its standard error, arbitrage loss, retail share.
    pub normalizer: Option<EntrantSummary>,
    /// The entry's edge per seed, Y, as `[seed, edge]` (empty for a baseline).
    pub per_seed_edges: Vec<(u64, f64)>,
}

/// Summarises merged `results`; `entry` says whether the last entrant is the submission.
pub fn summarize(results: &RunResults, entry: bool) -> Summary {
    let entrants: Vec<EntrantSummary> = results
        .strategies
        .iter()
        .map(|s| EntrantSummary {
            name: s.name.clone(),
            mean_edge: s.mean_edge,
            stderr_edge: s.stderr_edge,
            edge_vs_normalizer: s.mean_edge_vs_normalizer,
            stderr_vs_normalizer: s.stderr_edge_vs_normalizer,
            sharpe: s.sharpe,
            retail_share: s.mean_retail_share,
            arb_loss: -s.mean_arb_edge,
            disqualified_sims: s.disqualified_sims,
            disqualification_reasons: s.disqualification_reasons.clone(),
            rejected: s.rejected.clone(),
        })
        .collect();
    let normalizer = results.normalizer.as_ref().map(|n| EntrantSummary {
        name: "normalizer".into(),
        mean_edge: n.mean_edge,
        stderr_edge: n.stderr_edge,
        edge_vs_normalizer: None,
        stderr_vs_normalizer: None,
        sharpe: if n.std_edge > 0.0 { n.mean_edge / n.std_edge } else { 0.0 },
        retail_share: n.mean_retail_share,
        arb_loss: -n.mean_arb_edge,
        disqualified_sims: 0,
        disqualification_reasons: Vec::new(),
        rejected: None,
    });
    // The simulations' pools are the entrants that were not rejected, in config order.
    let per_seed_edges = match results.strategies.last() {
        Some(last) if entry && last.rejected.is_none() => {
            let slot = results.strategies.iter().filter(|s| s.rejected.is_none()).count() - 1;
            results.simulations.iter().filter_map(|s| s.pools.get(slot).map(|p| (s.seed, p.edge))).collect()
        }
        _ => Vec::new(),
    };
    Summary {
        engine_version: results.engine_version.clone(),
        simulations: results.seeds.count,
        entrants,
        normalizer,
        per_seed_edges,
    }
}

/// The schema of [`EntrantSummary::disqualification_reasons`]
/// (`amm_engine::report::DisqualificationSummary`, whose crate knows no OpenAPI): `kind` and
/// `call` as enums of the engine's own serialized names, so a kind added there is listed here.
fn disqualification_reasons_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::{ObjectBuilder, Type};
    let names = |values: Vec<serde_json::Value>| Some(values);
    let kinds = amm_engine::market::DisqualificationKind::ALL.iter().map(|k| serde_json::json!(k.as_str())).collect();
    let calls =
        amm_engine::sandbox::CallKind::ALL.iter().filter_map(|c| serde_json::to_value(c).ok()).collect::<Vec<_>>();
    let integer = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
            .minimum(Some(0))
            .description(Some(description))
    };
    let item = ObjectBuilder::new()
        .description(Some("Disqualifications of one strategy sharing a call and a kind of reason."))
        .property(
            "call",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(names(calls))
                .description(Some("The call that failed.")),
        )
        .property(
            "kind",
            ObjectBuilder::new().schema_type(Type::String).enum_values(names(kinds)).description(Some(
                "The kind of rule broken: load (the instance could not be created), budget (fuel, time, stack, \
                 memory or table ran out), fault (a trap or exit), absurd_quote (a quote above the reserve), \
                 shape_violation (a curve not monotone or concave), audit_mismatch (a replayed call differed).",
            )),
        )
        .property("simulations", integer("Simulations ended this way."))
        .property("first_seed", integer("Seed of the first of them."))
        .property("first_step", integer("Step of the first."))
        .property(
            "example",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The first one's full reason, for people.")),
        )
        .required("call")
        .required("kind")
        .required("simulations")
        .required("first_seed")
        .required("first_step")
        .required("example");
    utoipa::openapi::schema::ArrayBuilder::new().items(item).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_seed_once() {
        for (sims, per_job, per_shard) in [(4, 50, 4), (200, 50, 4), (7, 3, 2), (1, 1, 1), (1000, 100, 8)] {
            let jobs = plan(sims, per_job, per_shard);
            let total: u32 = jobs.iter().map(|j| j.total).sum();
            assert_eq!(total, sims, "{sims} {per_job} {per_shard}");
            assert!(jobs.iter().all(|j| j.total <= per_job.max(per_shard.min(per_job))), "{jobs:?}");
            assert_eq!(jobs[0].shard_lo, 0);
            assert!(jobs.windows(2).all(|w| w[0].shard_hi == w[1].shard_lo));
            assert_eq!(jobs.last().unwrap().shard_hi, jobs[0].shard_count);
        }
    }
}
