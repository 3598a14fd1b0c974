//! # amm-tune — tuning the parameters a strategy declares
//!
//! `amm-engine tune` searches a strategy's declared parameters (`amm.params`, see
//! `amm_strategy_sdk::params`) for the values that maximise an [`Objective`] against a field of
//! opponents, the way a careful author would by hand, without the mistakes hand-made loops make:
//!
//! * **Common random numbers.** Every candidate runs under one entrant name on the same seeds
//!   and salt, so its simulations pair exactly with every other candidate's: same price path,
//!   same orders, same seat. Comparisons are paired per-seed differences with standard errors.
//!   Every candidate of every generation runs on the same training seeds, so the search sees
//!   one fixed function (the mean over those seeds) and ranks candidates without the noise
//!   of changing seeds; the luck of being chosen on them is left to validation.
//! * **Racing** ([`race`]): candidates start on few seeds and survivors get more; a candidate
//!   clearly behind the leader or the incumbent stops early.
//! * **CMA-ES** ([`cmaes`]) with bounds, log and integer transforms ([`space`]) and IPOP
//!   restarts, seeded from the declared defaults; two runs by default
//!   ([`TuneSettings::runs`]), raced on the same seeds, the one clearly behind stopped and only
//!   the leader going on after half the search budget: which basin a run settles in is decided
//!   early and by luck, so a second draw is worth half the generations.
//! * **Stratified training seeds** ([`seeds`]): they hold the market's volatility bands in
//!   equal shares, so the function searched is not swayed by a calm or a wild draw.
//! * **Held-out seeds.** Three disjoint seed segments: the search trains on one, the finalists
//!   are chosen on a second (validation), and the winner is reported once on a third (test), all
//!   away from a competition's public seeds. No number a study prints for the winner comes from
//!   seeds it was selected on.
//! * **A study file** ([`study`]): every evaluation is committed as it completes; `tune` on an
//!   existing study replays it and goes on, byte-identical to an uninterrupted run.
//!
//! * **On one machine or many** ([`execute`]): the simulations a study asks for run on this
//!   machine's threads, or as jobs on the service's queue (`amm_service::studies`, with the
//!   field sent as data, [`spec`]); decisions are taken from each batch's results in the order
//!   they were asked for, so the outcome does not depend on where or when they ran.
//!
//! [`tune`] runs a study ([`tune_with`]: on a given executor); [`winner`] writes the result as
//! a ready submission.

// Printing is the binary's business, and only through writers that cannot panic: a closed or
// full stdout/stderr must never turn a finished computation into a crash (`say!`/`note!` in the
// CLI). `println!`/`eprintln!` panic on a write error, so they are refused outside tests.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cmaes;
pub mod execute;
pub mod population;
pub mod race;
pub mod report;
pub mod seeds;
pub mod source;
pub mod space;
pub mod spec;
pub mod study;
pub mod winner;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use amm_engine::config::Config;
use amm_engine::market::{Entrant, SimulationResult, simulate};
use amm_engine::params::{ParamSchema, ParamValues};
use amm_engine::strategy::StrategyProgram;
use amm_strategy_sdk::Storage;
use serde::Serialize;

use crate::cmaes::{Cma, CmaSettings};
use crate::race::{Entry, Exhausted, Fate, RaceSettings, mean, paired, stderr};
use crate::space::{Point, Space, key};
use crate::study::{Evaluation, Study, StudyError, TrialRow};

/// What a study maximises, per simulation of the candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The candidate's edge, Y: what the leaderboard ranks by (its mean).
    #[default]
    Edge,
    /// The candidate's edge minus the normalizer's in the same simulation, Y.
    EdgeOverNormalizer,
    /// The reference's risk-adjusted epoch reward: Σ over epochs of
    /// `edge − λ·max(0, −edge)`, Y, with λ the config's `capital.lambda`.
    Reward,
}

impl Objective {
    /// The name `--objective` takes.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Edge => "edge",
            Objective::EdgeOverNormalizer => "edge-over-normalizer",
            Objective::Reward => "reward",
        }
    }

    /// A phrase for tables: what the numbers are.
    pub fn describe(self) -> &'static str {
        match self {
            Objective::Edge => "mean edge (Y per simulation)",
            Objective::EdgeOverNormalizer => "mean paired edge over the normalizer (Y per simulation)",
            Objective::Reward => "mean risk-adjusted epoch reward Σ(edge − λ·max(0, −edge)) (Y per simulation)",
        }
    }

    /// The candidate's score in `sim` (`None` when it was disqualified).
    pub fn score(self, sim: &SimulationResult, candidate: usize, lambda: f64) -> Option<f64> {
        let pool = sim.pools.get(candidate)?;
        if pool.disqualified.is_some() {
            return None;
        }
        Some(match self {
            Objective::Edge => pool.edge,
            Objective::EdgeOverNormalizer => pool.edge - sim.pools.last().map_or(0.0, |n| n.edge),
            Objective::Reward => pool.epochs.iter().map(|e| e.edge - lambda * (-e.edge).max(0.0)).sum(),
        })
    }
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "edge" => Ok(Objective::Edge),
            "edge-over-normalizer" => Ok(Objective::EdgeOverNormalizer),
            "reward" => Ok(Objective::Reward),
            _ => Err(format!("unknown objective {s:?}: edge, edge-over-normalizer or reward")),
        }
    }
}

/// The three seed segments (first seed of each) and the sizes of the held-out ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segments {
    /// First training seed. Default 1,000,000,000. Every generation races on the same `last`
    /// seeds from here on, stratified on their volatility (window 0 of [`seeds::Windows`]).
    pub train: u64,
    /// First validation seed. Default 2,000,000,000.
    pub validation: u64,
    /// First test seed. Default 3,000,000,000.
    pub test: u64,
    /// Validation seeds per finalist. Default 200.
    pub validation_seeds: u32,
    /// Test seeds. Default 500.
    pub test_seeds: u32,
}

impl Default for Segments {
    fn default() -> Self {
        Segments {
            train: 1_000_000_000,
            validation: 2_000_000_000,
            test: 3_000_000_000,
            validation_seeds: 200,
            test_seeds: 500,
        }
    }
}

/// How a study runs.
#[derive(Clone, Debug)]
pub struct TuneSettings {
    /// What to maximise.
    pub objective: Objective,
    /// Racing on the training segment.
    pub race: RaceSettings,
    /// Seed segments.
    pub segments: Segments,
    /// Total simulations, including validation and test. Default 20,000.
    pub budget: u64,
    /// Stop searching after this much wall time (then validate and test). A study that stops
    /// on time is not reproducible step for step; one that stops on `budget` is.
    pub wall: Option<Duration>,
    /// Optimiser seed. Default 1.
    pub seed: u64,
    /// Best training points taken to validation (besides the start). Default 4.
    pub finalists: usize,
    /// Independent CMA-ES runs from the start, raced against each other (see [`tune_with`]).
    /// Default 2 (BENCHMARKS.md, "Tuning": fewer runs stuck on a plateau). Under self-play a
    /// study has one run whatever this says.
    pub runs: usize,
    /// Names to search (empty: every declared parameter).
    pub only: Vec<String>,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for TuneSettings {
    fn default() -> Self {
        TuneSettings {
            objective: Objective::Edge,
            race: RaceSettings::default(),
            segments: Segments::default(),
            budget: 20_000,
            wall: None,
            seed: 1,
            finalists: 4,
            runs: 2,
            only: Vec::new(),
            progress: false,
        }
    }
}

/// The market a candidate is tuned in.
pub struct Field {
    /// Market and run settings (steps, epochs, sandbox); its strategy list is not used.
    pub config: Config,
    /// Every entrant in seat order: the candidate at `candidate`, its opponents elsewhere.
    pub entrants: Vec<FieldEntrant>,
    /// Index of the candidate in `entrants`.
    pub candidate: usize,
    /// The candidate's declared parameters.
    pub schema: ParamSchema,
    /// Where the study starts (the declared defaults, or given values).
    pub start: ParamValues,
    /// Identity of the field for the study file: each entrant's name, hash and values.
    pub identity: String,
    /// How a point becomes the candidate.
    pub kind: CandidateKind,
    /// Self-play: copies of the incumbent (the best point so far) seated beside the field, each
    /// the candidate's own strategy with the incumbent's values, named `Self 1`, `Self 2`, …
    /// (`self:K` on the command line). 0: none (the default).
    pub self_copies: usize,
    /// A population the candidate plays (iterated best response, [`population`]): each member
    /// the candidate's own strategy with its values, seated after the field's entrants (before
    /// any self-play copies) and named `Member 1`, `Member 2`, … Empty: none (the default).
    pub members: Vec<Point>,
}

impl Field {
    /// The name of the pool at `index` of a simulation of this field (entrants, then members,
    /// then self-play copies, then the normalizer).
    pub fn pool_name(&self, index: usize) -> String {
        let (entrants, members) = (self.entrants.len(), self.members.len());
        match self.entrants.get(index) {
            Some(e) => e.name.clone(),
            None if index < entrants + members => member_name(index - entrants),
            None if index < entrants + members + self.self_copies => self_name(index - entrants - members),
            None => "the normalizer".to_string(),
        }
    }
}

/// The name of self-play copy `k` (0-based) in a simulation.
pub fn self_name(k: usize) -> String {
    format!("Self {}", k + 1)
}

/// The name of population member `k` (0-based) in a simulation.
pub fn member_name(k: usize) -> String {
    format!("Member {}", k + 1)
}

/// How a point of the search becomes the candidate.
pub enum CandidateKind {
    /// Declared parameters (`amm.params`): one module, the point written into its storage.
    Declared,
    /// Constants of a single-file source: the file with the point's literals, built per point.
    Source(Box<source::SourceCandidate>),
}

/// One entrant of a field.
pub struct FieldEntrant {
    /// Display name (the candidate's is the same for every point it tries).
    pub name: String,
    /// What runs it.
    pub program: StrategyProgram,
    /// Its starting storage (an opponent's parameter values; the candidate's is per point).
    pub storage: Storage,
}

/// A study that could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The study file.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// The search space.
    #[error(transparent)]
    Space(#[from] space::SpaceError),
    /// Settings that cannot work.
    #[error("{0}")]
    Settings(String),
    /// The thread pool.
    #[error("could not start the worker threads: {0}")]
    Threads(String),
    /// The executor could not evaluate a batch (a distributed study: the queue or a job).
    #[error("evaluations: {0}")]
    Executor(String),
}

/// A finalist's validation result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finalist {
    /// Its parameter values.
    pub params: ParamValues,
    /// Training estimate: the mean over the training seeds (the seeds it was chosen on, so it
    /// flatters the point: validation is the honest number).
    pub train_mean: f64,
    /// Standard error of `train_mean`.
    pub train_stderr: f64,
    /// Mean validation score.
    pub validation_mean: f64,
    /// Standard error of `validation_mean`.
    pub validation_stderr: f64,
    /// Validation seeds it ran on (fewer when it stopped early, clearly behind the leader).
    pub validation_seeds: u32,
    /// How its validation race ended: `finished`, `dropped` or `disqualified`.
    pub validation_fate: &'static str,
    /// Paired validation difference to the start, mean.
    pub vs_start_mean: f64,
    /// Its standard error.
    pub vs_start_stderr: f64,
    /// Whether this is the starting point.
    pub is_start: bool,
}

/// One row of the test table: the winner against something, paired per test seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// What the winner is compared with.
    pub against: String,
    /// What is compared: the objective or edge.
    pub measure: String,
    /// Mean of (winner − other).
    pub mean: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// One candidate of the search, for the report's traces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trial {
    /// Generation (0: the start).
    pub generation: u32,
    /// Its values.
    pub params: ParamValues,
    /// `finished`, `dropped`, `disqualified` or `unfinished`.
    pub fate: &'static str,
    /// Training seeds it ran on.
    pub seeds: u32,
    /// Mean training score.
    pub mean: f64,
}

/// What a study found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The objective's name.
    pub objective: &'static str,
    /// What its numbers mean.
    pub objective_means: &'static str,
    /// Starting values.
    pub start: ParamValues,
    /// Chosen values (on validation).
    pub winner: ParamValues,
    /// Generations run.
    pub generations: usize,
    /// Optimiser restarts.
    pub restarts: usize,
    /// CMA-ES runs the study started ([`TuneSettings::runs`]), and the generation at which each
    /// stopped (the last generation for the one that went on).
    pub runs: Vec<u32>,
    /// Simulations the study's plan used (including replayed ones).
    pub simulations: u64,
    /// Best training score per generation: (simulations used so far, incumbent mean, se).
    pub best_so_far: Vec<(u64, f64, f64)>,
    /// The finalists on the validation segment, best first.
    pub finalists: Vec<Finalist>,
    /// The winner's test score, mean and se (objective).
    pub test_mean: f64,
    /// Its standard error.
    pub test_stderr: f64,
    /// Test seeds used.
    pub test_seeds: u32,
    /// The winner against the start and every opponent on the test seeds.
    pub test: Vec<Comparison>,
    /// Whether the search stopped on wall time (not reproducible step for step).
    pub stopped_on_time: bool,
    /// Every candidate tried.
    pub trials: Vec<Trial>,
    /// The seed segments (first seed of each) and sizes.
    pub segments: Segments,
    /// Training seeds a finished candidate ran on (the race's last rung).
    pub race_seeds: usize,
    /// The budget, in simulations.
    pub budget: u64,
    /// The optimiser's seed.
    pub seed: u64,
}

/// Runs the evaluations a study asks for, through the study file.
struct Evaluator<'a> {
    field: &'a Field,
    objective: Objective,
    study: &'a mut Study,
    executor: &'a mut dyn execute::Executor,
    used: u64,
    limit: u64,
    deadline: Option<Instant>,
    timed_out: bool,
    /// The study file refused a write, or the executor failed: the study stops and reports it
    /// (never as a spent budget).
    failure: Option<TuneError>,
    bar: indicatif::ProgressBar,
    /// Self-play: the point the copies play (the incumbent), part of every evaluation's key.
    opponent: Point,
    /// The seeds the plan has asked each evaluation key for: the budget counts each (key, seed)
    /// once, so the incumbents' re-runs on the training seeds cost nothing (they are in the
    /// study).
    asked: std::collections::HashMap<String, std::collections::HashSet<u64>>,
}

impl Evaluator<'_> {
    /// An evaluation's key in the study: the point, and under self-play the copies' point.
    /// (A population is part of the study's definition, so it need not be in each key.)
    fn key(&self, point: &Point) -> String {
        let opponent = (self.field.self_copies > 0).then(|| self.opponent.clone());
        execute::WorkItem { point: point.clone(), opponent, seed: 0 }.key()
    }

    /// The study file's or the executor's failure, if one happened.
    fn check(&mut self) -> Result<(), TuneError> {
        self.failure.take().map_or(Ok(()), Err)
    }

    /// Evaluates `points[i]` on seed `seed` for each `(i, seed)` request, in order. The budget
    /// is charged once per evaluation the plan asks for the first time; whether it was
    /// computed now or found in the study (a resumed study) does not matter, so a resumed
    /// study spends its budget as an uninterrupted one did.
    fn run(&mut self, points: &[Point], requests: &[(usize, u64)]) -> Result<Vec<Evaluation>, Exhausted> {
        let keys: Vec<String> = points.iter().map(|p| self.key(p)).collect();
        let mut new: std::collections::HashSet<(&str, u64)> = std::collections::HashSet::new();
        for &(i, seed) in requests {
            if !self.asked.get(&keys[i]).is_some_and(|seeds| seeds.contains(&seed)) {
                new.insert((keys[i].as_str(), seed));
            }
        }
        if self.used + new.len() as u64 > self.limit {
            return Err(Exhausted);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out = true;
            return Err(Exhausted);
        }
        self.used += new.len() as u64;
        for (k, seed) in new {
            self.asked.entry(k.to_owned()).or_default().insert(seed);
        }
        let mut missing: Vec<(usize, u64)> = Vec::new();
        for &(i, seed) in requests {
            if self.study.get(&keys[i], seed).is_none()
                && !missing.iter().any(|&(j, s)| keys[j] == keys[i] && s == seed)
            {
                missing.push((i, seed));
            }
        }
        let field = self.field;
        if let CandidateKind::Source(source) = &field.kind {
            // Builds one at a time (cargo uses every core), before the simulations.
            for &(i, _) in &missing {
                let _ = source.program(&points[i]);
            }
            if field.self_copies > 0 {
                let _ = source.program(&self.opponent);
            }
            for member in &field.members {
                let _ = source.program(member);
            }
        }
        let opponent = (field.self_copies > 0).then(|| self.opponent.clone());
        let work: Vec<execute::WorkItem> = missing
            .iter()
            .map(|&(i, seed)| execute::WorkItem { point: points[i].clone(), opponent: opponent.clone(), seed })
            .collect();
        let bar = &self.bar;
        let evaluations = match self.executor.evaluate(field, self.objective, &work, &|n| bar.inc(n)) {
            Ok(e) if e.len() == work.len() => e,
            Ok(e) => {
                self.failure = Some(TuneError::Executor(format!("{} evaluations for {} asked", e.len(), work.len())));
                return Err(Exhausted);
            }
            Err(e) => {
                self.failure = Some(TuneError::Executor(e));
                return Err(Exhausted);
            }
        };
        let computed: Vec<(String, u64, Evaluation)> =
            missing.iter().zip(evaluations).map(|(&(i, seed), e)| (keys[i].clone(), seed, e)).collect();
        self.bar.inc((requests.len() - missing.len()) as u64);
        if let Err(e) = self.study.record(computed) {
            self.failure = Some(e.into());
            return Err(Exhausted);
        }
        Ok(requests
            .iter()
            .map(|&(i, seed)| {
                self.study.get(&keys[i], seed).cloned().unwrap_or(Evaluation { score: None, edges: Vec::new() })
            })
            .collect())
    }
}

/// One simulation of `point` in `field` on `seed`; under self-play (`field.self_copies`) the
/// copies play `opponent`. A source candidate that does not build counts as disqualified.
pub fn evaluate(field: &Field, objective: Objective, point: &Point, opponent: &Point, seed: u64) -> Evaluation {
    match simulate_point(field, point, opponent, seed) {
        Some(sim) => Evaluation {
            score: objective.score(&sim, field.candidate, field.config.capital.lambda),
            edges: sim.pools.iter().map(|p| p.edge).collect(),
        },
        None => Evaluation { score: None, edges: Vec::new() },
    }
}

/// One simulation of `point` in the candidate's seat of `field` on `seed`, with the population
/// members and, under self-play, copies playing `opponent` ([`Field::pool_name`] names the
/// pools). `None` when a source candidate (or member) does not build.
pub fn simulate_point(field: &Field, point: &Point, opponent: &Point, seed: u64) -> Option<SimulationResult> {
    // A point as the candidate's strategy: its module with the values in storage, or the
    // single file rewritten and built.
    let program_for = |p: &Point| -> Option<(Option<StrategyProgram>, Storage)> {
        match &field.kind {
            CandidateKind::Declared => Some((None, field.schema.initial_storage(p))),
            CandidateKind::Source(source) => source.program(p).ok().map(|program| (Some(program), Storage::zeroed())),
        }
    };
    let mine = program_for(point)?;
    let theirs = if field.self_copies == 0 { (None, Storage::zeroed()) } else { program_for(opponent)? };
    let members = field.members.iter().map(program_for).collect::<Option<Vec<_>>>()?;
    let own = field.entrants.get(field.candidate)?;
    let names: Vec<String> = (0..field.self_copies).map(self_name).collect();
    let member_names: Vec<String> = (0..members.len()).map(member_name).collect();
    let mut entrants: Vec<Entrant<'_>> = field
        .entrants
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i == field.candidate {
                Entrant { name: &e.name, program: mine.0.as_ref().unwrap_or(&own.program), storage: &mine.1 }
            } else {
                Entrant { name: &e.name, program: &e.program, storage: &e.storage }
            }
        })
        .collect();
    entrants.extend(member_names.iter().zip(&members).map(|(name, m)| Entrant {
        name,
        program: m.0.as_ref().unwrap_or(&own.program),
        storage: &m.1,
    }));
    let copy = theirs.0.as_ref().unwrap_or(&own.program);
    entrants.extend(names.iter().map(|name| Entrant { name, program: copy, storage: &theirs.1 }));
    Some(simulate(&field.config, &entrants, seed))
}

/// The study's definition, as stored in its file: what must match to resume it.
pub fn definition(field: &Field, settings: &TuneSettings, space: &Space) -> Vec<(&'static str, String)> {
    let config = serde_json::to_string(&(
        &field.config.run,
        &field.config.market,
        &field.config.pools,
        &field.config.normalizer,
        &field.config.capital,
    ))
    .unwrap_or_default();
    let mut definition = vec![
        // Format 4: one set of training seeds for every generation, the budget charged once per
        // evaluation asked; format 3 drew fresh (stratified) seeds per generation and format 2
        // consecutive ones, so neither resumes under this version.
        ("format", "amm-tune study 4".into()),
        ("field", field.identity.clone()),
        ("market", config),
        ("objective", settings.objective.name().into()),
        ("space", serde_json::to_string(&space.dims.iter().map(|d| &d.spec).collect::<Vec<_>>()).unwrap_or_default()),
        ("start", key(&field.start)),
        ("segments", serde_json::to_string(&settings.segments).unwrap_or_default()),
        ("race", format!("{}..{} z={}", settings.race.first, settings.race.last, settings.race.z)),
        ("seed", settings.seed.to_string()),
        ("finalists", settings.finalists.to_string()),
        ("self", field.self_copies.to_string()),
        ("runs", runs(field, settings).to_string()),
    ];
    if !field.members.is_empty() {
        // (Only then: a study without a population keeps the definition it always had.)
        definition.push(("population", field.members.iter().map(key).collect::<Vec<_>>().join(" | ")));
    }
    definition
}

/// Runs (or resumes) a study of `field` in `study`, its simulations on this machine's threads
/// (the config's `[run] threads`).
pub fn tune(field: &Field, settings: &TuneSettings, study: &mut Study) -> Result<Outcome, TuneError> {
    let mut local = execute::Local::new(amm_engine::run::threads(&field.config)).map_err(TuneError::Threads)?;
    tune_with(field, settings, study, &mut local)
}

/// Runs (or resumes) a study of `field` in `study`, its simulations run by `executor`. The
/// result does not depend on the executor: decisions are taken from the evaluations in the
/// order they were asked for.
pub fn tune_with(
    field: &Field,
    settings: &TuneSettings,
    study: &mut Study,
    executor: &mut dyn execute::Executor,
) -> Result<Outcome, TuneError> {
    let space = Space::new(&field.schema, &field.start, &settings.only)?;
    let seg = &settings.segments;
    let last = settings.race.last as u64;
    let held_out = (settings.finalists as u64 + 1) * u64::from(seg.validation_seeds) + 2 * u64::from(seg.test_seeds);
    let search_budget = settings.budget.checked_sub(held_out).filter(|&b| b >= last).ok_or_else(|| {
        TuneError::Settings(format!(
            "--budget {} simulations leaves nothing to search with: validation and test need {held_out} and the starting point {last} (raise --budget, or lower --validation-seeds, --test-seeds or --finalists)",
            settings.budget
        ))
    })?;
    let bar = if settings.progress {
        let bar = indicatif::ProgressBar::new(settings.budget);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} sims {msg} · {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix("tuning");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut ev = Evaluator {
        field,
        objective: settings.objective,
        study,
        executor,
        used: 0,
        limit: search_budget,
        deadline: settings.wall.map(|w| Instant::now() + w),
        timed_out: false,
        failure: None,
        bar,
        opponent: field.start.clone(),
        asked: std::collections::HashMap::new(),
    };
    // The training seeds: `last` of them, stratified on volatility ([`seeds`]), the same for
    // every candidate of every generation.
    let train = seeds::Windows::new(seg.train, settings.race.last).window(0, settings.race.last);
    let at = |s: usize| train[s];

    // Generation 0: the starting point on every seed of a race: the first incumbent.
    // The start exactly as given (a log-scale round trip through the cube would perturb it).
    let start = field.start.clone();
    let start_scores =
        scores(&mut ev, std::slice::from_ref(&start), &train.iter().map(|&seed| (0, seed)).collect::<Vec<_>>())
            .map_err(|_| {
                ev.failure
                    .take()
                    .unwrap_or_else(|| TuneError::Settings("the budget does not cover the starting point".into()))
            })?;
    let Some(start_scores) = start_scores.into_iter().collect::<Option<Vec<f64>>>() else {
        return Err(TuneError::Settings(
            "the starting point is disqualified on the training seeds; run `amm-engine run` with these values to see why".into(),
        ));
    };
    let mut hall: BTreeMap<String, (Point, f64, f64)> = BTreeMap::new();
    hall.insert(key(&start), (start.clone(), mean(&start_scores), stderr(&start_scores)));
    ev.study.record_generation(
        0,
        &[TrialRow {
            generation: 0,
            index: 0,
            point: key(&start),
            fate: "finished",
            seeds: start_scores.len() as u32,
            mean: mean(&start_scores),
            stderr: stderr(&start_scores),
        }],
        0.0,
        &space.coordinates(&start),
        0,
    )?;
    let mut best_so_far = vec![(ev.used, mean(&start_scores), stderr(&start_scores))];
    let mut tried = vec![Trial {
        generation: 0,
        params: start.clone(),
        fate: "finished",
        seeds: start_scores.len() as u32,
        mean: mean(&start_scores),
    }];

    // Runs: independent CMA-ES searches from the start, each with its own incumbent (the
    // best point it has found) and the incumbent's scores on the training seeds. Run 0 draws
    // from the study's seed, so a one-run study is the search as it always was. A run's basin
    // is decided in its first generations (a run that drifts onto a plateau of high fees
    // rarely leaves it), so several runs race: every generation a run whose incumbent is
    // clearly behind the leading run's (paired, the candidates' `z`) stops, and once half the
    // search budget is spent only the leading run goes on.
    struct Run {
        cma: Cma,
        incumbent: (Point, Vec<f64>),
        alive: bool,
        /// The generation it stopped at (raced out or at half the budget).
        stopped: Option<u32>,
    }
    let start_coordinates = space.coordinates(&start);
    let mut runs: Vec<Run> = (0..runs(field, settings))
        .map(|r| Run {
            cma: Cma::new(&start_coordinates, CmaSettings::for_dims(space.len()), run_seed(settings.seed, r)),
            incumbent: (start.clone(), start_scores.clone()),
            alive: true,
            stopped: None,
        })
        .collect();
    let (mut generation, mut completed): (u32, usize) = (0, 0);
    loop {
        generation += 1;
        // Every generation races on the training seeds, the incumbents' scores there the
        // yardstick. Fresh seeds for each generation (tried: BENCHMARKS.md, "Tuning") make the
        // candidates' ranks noisier for the optimiser than the flattery of the seeds they were
        // chosen on costs, and that flattery is validation's to remove. The incumbents are
        // asked for again (found in the study, not charged to the budget) because under
        // self-play the copies they play change with the incumbent.
        let live: Vec<usize> = (0..runs.len()).filter(|&r| runs[r].alive).collect();
        // The live runs' incumbents, each distinct point once (runs often share one early on).
        let mut held: Vec<Point> = Vec::new();
        let slot: Vec<usize> = live
            .iter()
            .map(|&r| {
                let p = &runs[r].incumbent.0;
                held.iter().position(|h| key(h) == key(p)).unwrap_or_else(|| {
                    held.push(p.clone());
                    held.len() - 1
                })
            })
            .collect();
        let again: Vec<(usize, u64)> = (0..held.len())
            .flat_map(|i| (0..settings.race.last).map(move |s| (i, s)))
            .map(|(i, s)| (i, at(s)))
            .collect();
        let inc_all: Vec<f64> = match scores(&mut ev, &held, &again) {
            Ok(s) => s.into_iter().map(|x| x.unwrap_or(f64::NEG_INFINITY)).collect(),
            Err(Exhausted) => break,
        };
        for (&r, &k) in live.iter().zip(&slot) {
            let run = &mut runs[r];
            run.incumbent.1 = inc_all[k * settings.race.last..(k + 1) * settings.race.last].to_vec();
            let scores = &run.incumbent.1;
            hall.insert(key(&run.incumbent.0), (run.incumbent.0.clone(), mean(scores), stderr(scores)));
        }
        if live.len() > 1 {
            // The runs race: the leader is the incumbent with the best training mean.
            let lead = live
                .iter()
                .copied()
                .max_by(|&a, &b| mean(&runs[a].incumbent.1).total_cmp(&mean(&runs[b].incumbent.1)).then(b.cmp(&a)))
                .unwrap_or(live[0]);
            let half_spent = ev.used.saturating_mul(2) >= ev.limit;
            for &r in &live {
                if r != lead {
                    let d = paired(&runs[r].incumbent.1, &runs[lead].incumbent.1);
                    if half_spent || race::clearly_negative(&d, settings.race.z) {
                        runs[r].alive = false;
                        runs[r].stopped = Some(generation - 1);
                    }
                }
            }
        }
        let mut rows: Vec<TrialRow> = Vec::new();
        let mut any_unfinished = false;
        let mut ran = false;
        for run in runs.iter_mut().filter(|r| r.alive) {
            let inc_scores = run.incumbent.1.clone();
            let xs = run.cma.ask();
            let mut points: Vec<Point> = xs.iter().map(|u| space.point(u)).collect();
            // The distribution's mean races beside its samples. Under noise the mean is a better
            // estimate of the optimum than the best sample (Hansen, "The CMA Evolution Strategy:
            // A Tutorial", on the recommended solution), so it may become the incumbent and a
            // finalist; it is not told back to the optimiser (its update takes samples only).
            let sampled = points.len();
            // (The first mean is the start's coordinates, whose round trip through a log scale
            // changes the last digits: it is the start, already in the study.)
            let centre = run.cma.state().0;
            let mean_point = if centre == start_coordinates.as_slice() { start.clone() } else { space.point(centre) };
            if !points.iter().any(|p| key(p) == key(&mean_point)) {
                points.push(mean_point);
            }
            let entries: Vec<Entry> = race::race(points.len(), Some(&inc_scores), &settings.race, &mut |requests| {
                let mapped: Vec<(usize, u64)> = requests.iter().map(|&(c, s)| (c, at(s))).collect();
                scores(&mut ev, &points, &mapped)
            });
            let unfinished = entries.iter().any(|e| e.fate == Fate::Unfinished);
            any_unfinished |= unfinished;
            if unfinished && entries.iter().all(|e| e.scores.is_empty()) {
                continue; // nothing of this run's generation ran: the budget is spent
            }
            ran = true;
            let order = race::ranking(&entries[..sampled], Some(&inc_scores));
            let mut values = vec![0.0; sampled];
            for (rank, &i) in order.iter().enumerate() {
                values[i] = rank as f64;
            }
            let offset = rows.len() as u32;
            let trials: Vec<TrialRow> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| TrialRow {
                    generation,
                    index: offset + i as u32,
                    point: key(&points[i]),
                    fate: fate_name(e.fate),
                    seeds: e.scores.len() as u32,
                    mean: e.mean(),
                    stderr: stderr(&e.scores),
                })
                .collect();
            run.cma.tell(&values);
            tried.extend(trials.iter().zip(&points).map(|(t, p)| Trial {
                generation,
                params: p.clone(),
                fate: t.fate,
                seeds: t.seeds,
                mean: t.mean,
            }));
            rows.extend(trials);
            // A finished candidate's estimate is its training mean; the best one ahead of the
            // incumbent (paired, on the same seeds) replaces it.
            let mut best: Option<(usize, f64)> = None;
            for (i, e) in entries.iter().enumerate() {
                if e.fate == Fate::Finished && key(&points[i]) != key(&run.incumbent.0) {
                    let d = paired(&e.scores, &inc_scores);
                    hall.insert(key(&points[i]), (points[i].clone(), mean(&e.scores), stderr(&e.scores)));
                    if mean(&d) > best.map_or(0.0, |(_, m)| m) {
                        best = Some((i, mean(&d)));
                    }
                }
            }
            if let Some((i, _)) = best {
                run.incumbent = (points[i].clone(), entries[i].scores.clone());
                if field.self_copies > 0 {
                    // Self-play (one run): the copies now play the new incumbent, which changes
                    // the field; the next generation re-runs the incumbent against copies of
                    // itself first.
                    ev.opponent = run.incumbent.0.clone();
                }
            }
        }
        if !ran {
            break;
        }
        completed += 1;
        let shown = runs.iter().find(|r| r.alive).unwrap_or(&runs[0]);
        let (m, sigma) = shown.cma.state();
        let restarts: usize = runs.iter().map(|r| r.cma.restarts()).sum();
        ev.study.record_generation(generation, &rows, sigma, m, restarts)?;
        // Best so far: the live incumbent with the best estimate.
        let best_estimate = runs
            .iter()
            .filter(|r| r.alive)
            .filter_map(|r| hall.get(&key(&r.incumbent.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(_, e, se)| (*e, *se));
        if let Some((estimate, se)) = best_estimate {
            best_so_far.push((ev.used, estimate, se));
            ev.bar.set_message(format!(
                "· gen {generation} · best {estimate:.1} ± {se:.1} {}",
                settings.objective.name()
            ));
        }
        if any_unfinished {
            break;
        }
    }

    ev.check()?;
    // Validation: the best training points and the start, on fresh seeds (whatever the clock).
    ev.limit = settings.budget;
    ev.deadline = None;
    let mut ranked: Vec<&(Point, f64, f64)> = hall.values().filter(|(p, _, _)| key(p) != key(&start)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut finalists: Vec<(Point, f64, f64)> = vec![(start.clone(), mean(&start_scores), stderr(&start_scores))];
    finalists.extend(ranked.into_iter().take(settings.finalists).cloned());
    let finalist_points: Vec<Point> = finalists.iter().map(|f| f.0.clone()).collect();
    // The finalists race on the validation segment as the candidates did on training (an
    // eighth of the seeds first, doubling; one clearly behind the leader stops), so a clear
    // loser — often the start — costs a few seeds instead of all of them.
    let val_race = race::RaceSettings {
        first: (seg.validation_seeds as usize / 8).max(4),
        last: seg.validation_seeds as usize,
        z: settings.race.z,
    };
    let mut exhausted = false;
    let val = race::race(finalist_points.len(), None, &val_race, &mut |requests| {
        let mapped: Vec<(usize, u64)> = requests.iter().map(|&(c, s)| (c, seg.validation + s as u64)).collect();
        scores(&mut ev, &finalist_points, &mapped).inspect_err(|_| exhausted = true)
    });
    if exhausted {
        ev.check()?;
        return Err(TuneError::Settings("the budget does not cover validation".into()));
    }
    let order = race::ranking(&val, None);
    let mut rows: Vec<Finalist> = order
        .iter()
        .map(|&i| {
            let (p, tm, ts) = &finalists[i];
            let v = &val[i].scores;
            let d = paired(v, &val[0].scores);
            Finalist {
                params: p.clone(),
                train_mean: *tm,
                train_stderr: *ts,
                validation_mean: mean(v),
                validation_stderr: stderr(v),
                validation_seeds: v.len() as u32,
                validation_fate: fate_name(val[i].fate),
                vs_start_mean: mean(&d),
                vs_start_stderr: stderr(&d),
                is_start: i == 0,
            }
        })
        .collect();
    // The winner is the best of those that ran every validation seed (the leader always does).
    if let Some(pos) = rows.iter().position(|r| r.validation_fate == "finished") {
        let first = rows.remove(pos);
        rows.insert(0, first);
    }
    let winner = rows[0].params.clone();

    // Test: the winner and the start, once, on the test segment (under self-play, both against
    // copies of the winner: the field the winner would make).
    ev.opponent = winner.clone();
    let test_points = vec![winner.clone(), start.clone()];
    let test_requests: Vec<(usize, u64)> =
        (0..2).flat_map(|i| (0..seg.test_seeds).map(move |s| (i, seg.test + u64::from(s)))).collect();
    let test = ev.run(&test_points, &test_requests).map_err(|_| {
        ev.failure.take().unwrap_or_else(|| TuneError::Settings("the budget does not cover the test".into()))
    })?;
    let n = seg.test_seeds as usize;
    let (won, began) = (&test[..n], &test[n..]);
    let score = |e: &[Evaluation]| e.iter().map(|x| x.score.unwrap_or(f64::NEG_INFINITY)).collect::<Vec<f64>>();
    let (w, s) = (score(won), score(began));
    let mut comparisons = vec![Comparison {
        against: "the starting point".into(),
        measure: settings.objective.name().into(),
        mean: mean(&paired(&w, &s)),
        stderr: stderr(&paired(&w, &s)),
    }];
    let edge = |e: &Evaluation, i: usize| e.edges.get(i).copied().unwrap_or(f64::NAN);
    let pools = won.first().map_or(0, |e| e.edges.len());
    for j in 0..pools {
        if j == field.candidate {
            continue;
        }
        let name = field.pool_name(j);
        let d: Vec<f64> = won.iter().map(|e| edge(e, field.candidate) - edge(e, j)).collect();
        comparisons.push(Comparison { against: name, measure: "edge".into(), mean: mean(&d), stderr: stderr(&d) });
    }
    ev.bar.finish_and_clear();
    Ok(Outcome {
        objective: settings.objective.name(),
        objective_means: settings.objective.describe(),
        start: start.clone(),
        winner,
        generations: completed,
        restarts: runs.iter().map(|r| r.cma.restarts()).sum(),
        runs: runs.iter().map(|r| r.stopped.unwrap_or(completed as u32)).collect(),
        simulations: ev.used,
        best_so_far,
        finalists: rows,
        test_mean: mean(&w),
        test_stderr: stderr(&w),
        test_seeds: seg.test_seeds,
        test: comparisons,
        stopped_on_time: ev.timed_out,
        trials: tried,
        segments: settings.segments.clone(),
        race_seeds: settings.race.last,
        budget: settings.budget,
        seed: settings.seed,
    })
}

fn scores(ev: &mut Evaluator<'_>, points: &[Point], requests: &[(usize, u64)]) -> Result<Vec<Option<f64>>, Exhausted> {
    Ok(ev.run(points, requests)?.into_iter().map(|e| e.score).collect())
}

/// The runs a study makes: [`TuneSettings::runs`], one under self-play (whose copies play the
/// one incumbent).
fn runs(field: &Field, settings: &TuneSettings) -> usize {
    if field.self_copies > 0 { 1 } else { settings.runs.max(1) }
}

/// Run `r`'s optimiser seed: the study's for run 0, a fixed scramble of it for the others.
fn run_seed(seed: u64, r: usize) -> u64 {
    if r == 0 { seed } else { seed ^ 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(r as u64) }
}

fn fate_name(f: Fate) -> &'static str {
    match f {
        Fate::Finished => "finished",
        Fate::Dropped => "dropped",
        Fate::Disqualified => "disqualified",
        Fate::Unfinished => "unfinished",
    }
}
