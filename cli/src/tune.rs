//! `amm-engine tune`: set up the field, run the study, write the winner, the report and the table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use amm_engine::build::{self, BuildOptions, Source, SourceOptions};
use amm_engine::config::{Config, StrategyEntry};
use amm_engine::params::{ParamAssignment, ParamValue};
use amm_engine::run::{self, RunOptions};
use amm_engine::sandbox::sha256_hex;
use amm_service::competition::load_run_config;
use amm_tune::race::RaceSettings;
use amm_tune::source::SourceCandidate;
use amm_tune::study::Study;
use amm_tune::{CandidateKind, Field, FieldEntrant, Objective, Segments, TuneSettings};
use anyhow::{Context, Result};

use crate::{classify, file_stem};

/// Most training seeds `--race-seeds` takes (the stratified seeds are sorted into as many
/// buckets, rounded up to a power of two).
const MAX_RACE_SEEDS: usize = 4096;

/// `tune`'s arguments.
#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// The strategy to tune: a .wasm/.wat module, a single-file .rs strategy or a crate
    /// directory, declaring its parameters (`amm_strategy_sdk::export_params!`).
    #[arg(required_unless_present = "worker")]
    strategy: Option<PathBuf>,
    /// Its opponents: one configuration (its market and its field; without `[[strategy]]`
    /// entries, the market alone: the candidate against the normalizer), or strategies to put
    /// in the built-in default market. Nothing: the default market with the normalizer alone.
    /// An entrant with the candidate's own module is the candidate's seat. `self:K` adds K
    /// copies of the incumbent (the best point so far, updated as it improves): self-play.
    #[arg(value_name = "CONFIG_OR_OPPONENT")]
    field: Vec<PathBuf>,
    /// What to maximise: edge (the leaderboard's mean edge), edge-over-normalizer (paired
    /// per simulation) or reward (Σ over epochs of edge − λ·max(0, −edge)).
    #[arg(long, default_value = "edge")]
    objective: Objective,
    /// The study file (SQLite). An existing study with the same definition resumes.
    /// Default: OUT/study.db. With --db: the study's name in the database (a-z, 0-9, _;
    /// default: the strategy's file name).
    #[arg(long)]
    study: Option<PathBuf>,
    /// Keep the study in this PostgreSQL database (postgres://USER:PASSWORD@HOST/DB) and queue
    /// its simulations as jobs on the service's queue, for workers on any machine
    /// (`amm-engine tune --worker --db URL`, or `serve --role worker` on the same database).
    /// The result is the same as on this machine alone, byte for byte.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Run as a worker: claim tuning studies' jobs from --db and evaluate them, until
    /// interrupted (a job in hand goes back to the queue). Modules are kept in OUT/modules
    /// (default OUT: tune/worker).
    #[arg(long, requires = "db", conflicts_with_all = ["strategy", "population", "field", "study", "objective", "budget", "time", "param", "only"])]
    worker: bool,
    /// Worker: lease of a claimed job, seconds, renewed every third of it; a job whose worker
    /// died is queued again this long after its last renewal.
    #[arg(long, default_value_t = 30, requires = "worker", value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease: u64,
    /// Output directory: the winner module, report.html, summary.json. Default: tune/<strategy>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Total simulations, including validation and test.
    #[arg(long, default_value_t = 20_000)]
    budget: u64,
    /// Stop searching after this wall time (e.g. 90s, 20m, 2h), then validate and test. A study
    /// stopped on time is not reproducible step for step; one stopped on --budget is.
    #[arg(long, value_parser = parse_duration)]
    time: Option<Duration>,
    /// Optimiser seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Search only these parameters (repeatable); the others stay at their start values.
    #[arg(long)]
    only: Vec<String>,
    /// NAME=VALUE: start from this value instead of the default. NAME=LO..HI (optionally
    /// :log, :int): search NAME in this range — for a declared parameter, within its declared
    /// range; for a single .rs file, a `const NAME: T = literal;` of the file, each candidate
    /// being the file with the literal replaced. Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE|NAME=LO..HI[:log][:int]")]
    params: Vec<String>,
    /// Seeds every candidate races on first.
    #[arg(long, default_value_t = RaceSettings::default().first)]
    first_seeds: usize,
    /// Seeds a candidate that survives its race ends on.
    #[arg(long, default_value_t = RaceSettings::default().last)]
    race_seeds: usize,
    /// Standard errors of paired deficit that stop a candidate early (one-sided; Student's t
    /// for few seeds; divided among the runners against the rung's leader).
    #[arg(long, default_value_t = RaceSettings::default().z)]
    z: f64,
    /// Best training points compared on the validation segment (besides the start).
    #[arg(long, default_value_t = 4)]
    finalists: usize,
    /// Independent CMA-ES runs from the start, raced on the training seeds: a run whose
    /// incumbent is clearly behind the leading run's stops, and at half the search budget only
    /// the leader goes on (one under self-play).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    runs: u8,
    /// Validation seeds per finalist.
    #[arg(long, default_value_t = 200)]
    validation_seeds: u32,
    /// Test seeds (the winner's reported scores).
    #[arg(long, default_value_t = 500)]
    test_seeds: u32,
    /// First seed of the training segment (validation and test follow at +1e9 and +2e9).
    #[arg(long, default_value_t = 1_000_000_000)]
    seed_base: u64,
    /// Steps per simulation (default: the config's).
    #[arg(long)]
    steps: Option<u32>,
    /// Worker threads (0 = one per core); results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Iterated best response: tune a best response to the population (at first the start
    /// alone, seated beside the field as `Member 1`), add it, repeat ROUNDS times; then one
    /// more study against the final population estimates its exploitability. Prints the
    /// population's payoff table. Each round is a study of --budget simulations in OUT/round-N/.
    #[arg(long, value_name = "ROUNDS")]
    population: Option<usize>,
    /// Seeds per pair of the population's payoff table.
    #[arg(long, default_value_t = 200)]
    payoff_seeds: u32,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len()));
    let value: f64 = number.parse().map_err(|_| format!("{text:?}: expected a duration such as 90s, 20m or 2h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?}: must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A configuration as a field: a run configuration or competition file, or a market without
/// `[[strategy]]` entries (the candidate then races the normalizer alone).
fn load_field(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if table.contains_key("strategy") || table.contains_key("competition") {
        return Ok(load_run_config(path)?);
    }
    // A market alone: checked in full once the candidate has its seat.
    let mut config: Config = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    config.base_dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    Ok(config)
}

/// Checks the racing and selection settings a user gave.
fn check_settings(args: &TuneArgs) -> Result<()> {
    if !(args.z.is_finite() && args.z > 0.0) {
        anyhow::bail!("--z {}: must be a number > 0 (standard errors of paired deficit)", args.z);
    }
    if args.race_seeds > MAX_RACE_SEEDS {
        anyhow::bail!(
            "--race-seeds {}: at most {MAX_RACE_SEEDS} (every candidate of the study runs on these seeds; more precision per candidate is cheaper bought from validation)",
            args.race_seeds
        );
    }
    if args.race_seeds < 3 {
        anyhow::bail!(
            "--race-seeds {}: a race ends on at least 3 seeds (a standard error needs a few)",
            args.race_seeds
        );
    }
    if args.first_seeds < 3 || args.first_seeds > args.race_seeds {
        anyhow::bail!(
            "--first-seeds {} with --race-seeds {}: a race starts on at least 3 seeds (a standard error needs a few) and at most --race-seeds",
            args.first_seeds,
            args.race_seeds
        );
    }
    if args.finalists == 0 || args.validation_seeds < 2 || args.test_seeds < 2 {
        anyhow::bail!("--finalists, --validation-seeds and --test-seeds must be at least 1, 2 and 2");
    }
    if let Some(rounds) = args.population {
        if !(1..=16).contains(&rounds) {
            anyhow::bail!("--population {rounds}: give 1 to 16 rounds of best response");
        }
        if args.field.iter().any(|p| p.to_str().is_some_and(|s| s.starts_with("self:"))) {
            anyhow::bail!("self-play (self:K) and a population (--population) do not combine: choose one");
        }
        if args.study.is_some() && args.db.is_none() {
            anyhow::bail!(
                "--study with --population: a population keeps one study per round, in OUT/round-N/study.db (choose OUT with --out; with --db, --study NAME names the rounds' studies NAME_rN)"
            );
        }
    }
    if let Some(url) = &args.db {
        check_queue_url(url)?;
    }
    Ok(())
}

/// Runs `amm-engine tune`.
pub fn command(args: &TuneArgs) -> Result<ExitCode> {
    let (Some(strategy), false) = (&args.strategy, args.worker) else {
        return worker(args);
    };
    check_settings(args)?;
    let candidate_inputs = classify(std::slice::from_ref(strategy))?;
    let Some(candidate_path) = candidate_inputs.strategies.first().cloned() else {
        anyhow::bail!(
            "{}: the strategy to tune must be a module, a .rs file or a crate directory, not a configuration",
            strategy.display()
        );
    };
    let (self_play, paths): (Vec<&PathBuf>, Vec<&PathBuf>) =
        args.field.iter().partition(|p| p.to_str().is_some_and(|s| s.starts_with("self:")));
    let self_copies = match self_play.as_slice() {
        [] => 0,
        [one] => {
            let text = one.to_string_lossy();
            match text["self:".len()..].parse::<usize>() {
                Ok(k @ 1..=16) => k,
                _ => anyhow::bail!(
                    "{text}: self-play takes self:K with K copies of the incumbent, 1 to 16 (e.g. self:2)"
                ),
            }
        }
        _ => anyhow::bail!("give self:K once (K copies of the incumbent)"),
    };
    let paths: Vec<PathBuf> = paths.into_iter().cloned().collect();
    let inputs = classify(&paths)?;
    if inputs.configs.len() > 1 {
        anyhow::bail!("tune takes at most one configuration (its market and field), got {}", inputs.configs.len());
    }
    let mut config = match inputs.configs.first() {
        Some(path) => {
            let mut c = load_field(path)?;
            c.check_strategy_paths(path)?;
            for s in &inputs.strategies {
                c.strategies.push(StrategyEntry { path: s.clone(), name: None, params: Default::default() });
            }
            c
        }
        None => Config::with_strategies(&inputs.strategies),
    };
    if let Some(steps) = args.steps {
        config.run.steps = steps;
    }
    if let Some(threads) = args.threads {
        config.run.threads = threads;
    }
    if args.objective == Objective::EdgeOverNormalizer && !config.normalizer.enabled {
        anyhow::bail!(
            "--objective edge-over-normalizer needs the normalizer, which this config disables ([normalizer] enabled = false)"
        );
    }

    // The candidate's seat: an entrant with the same module, or a new first seat.
    let build = BuildOptions::default();
    // Classified once: whether the candidate is a single file decides how it is tuned below.
    let candidate_source = Source::classify(&candidate_path, &build)?;
    let candidate_wasm = candidate_source.build(&build)?.path;
    let candidate_sha = sha256_hex(&build::read_module(&candidate_wasm)?);
    let mut seat = None;
    for (i, entry) in config.strategies.iter().enumerate() {
        let path = config.strategy_path(entry);
        let same = build::resolve_module(&path, &build)
            .ok()
            .and_then(|m| build::read_module(&m).ok())
            .is_some_and(|b| sha256_hex(&b) == candidate_sha);
        if same && seat.is_none() {
            seat = Some(i);
        }
    }
    let candidate_entry = StrategyEntry { path: candidate_wasm.clone(), name: None, params: Default::default() };
    let candidate = match seat {
        Some(i) => {
            let name = config.strategies[i].name.clone();
            config.strategies[i] = StrategyEntry { name, ..candidate_entry };
            i
        }
        None => {
            config.strategies.insert(0, candidate_entry);
            0
        }
    };
    config.check(Path::new("tune settings"))?;
    let mut ranges = Vec::new();
    let mut starts: Vec<ParamAssignment> = Vec::new();
    for text in &args.params {
        match amm_tune::source::parse_range(text) {
            Some(range) => ranges.push(range.map_err(anyhow::Error::msg)?),
            None => starts.push(ParamAssignment { entrant: Some((candidate + 1).to_string()), ..text.parse()? }),
        }
    }
    // Ranges on a single file tune its `const` literals: each candidate is the file rewritten.
    let source_text = match &candidate_source {
        Source::SdkFile(file) | Source::PropAmmFile(file) if !ranges.is_empty() => Some(file.text().to_string()),
        _ => None,
    };
    let source_mode = source_text.is_some();
    let engine = run::engine_for(&config)?;
    let options = RunOptions {
        progress: false,
        build,
        shard: None,
        params: if source_mode { Vec::new() } else { starts.clone() },
    };
    let loaded = run::load_entrants(&config, &engine, &options)?;
    for e in &loaded {
        if let Some(reason) = &e.info.rejected {
            anyhow::bail!("{} was refused at load: {reason}", e.info.name);
        }
    }
    let declared = loaded[candidate].schema.clone();
    let (schema, start, kind) = if let Some(text) = source_text {
        // Absolute: cargo runs in each candidate's build directory.
        let target = std::path::absolute(out_dir(args, &candidate_path).join("target"))?;
        let options = SourceOptions { shared_target: Some(target), ..SourceOptions::default() };
        let source =
            SourceCandidate::new(candidate_path.clone(), text, options, engine.clone(), config.sandbox.clone());
        let given: Vec<(String, f64)> = starts
            .iter()
            .map(|a| match a.value {
                ParamValue::Bool(b) => (a.name.clone(), f64::from(u8::from(b))),
                ParamValue::Int(i) => (a.name.clone(), i as f64),
                ParamValue::Float(x) => (a.name.clone(), x),
            })
            .collect();
        let schema = source.schema(&ranges, &given).map_err(anyhow::Error::msg)?;
        let chosen = starts.iter().map(|a| (a.name.clone(), a.value)).collect();
        let start = schema.resolve(&chosen)?;
        (schema, start, CandidateKind::Source(Box::new(source)))
    } else {
        let mut schema = declared.clone();
        for r in &ranges {
            let Some(spec) = schema.params.iter_mut().find(|p| p.name == r.name) else {
                anyhow::bail!(
                    "--param {}: the strategy declares no parameter {:?} (declared: {}); ranges for `const` items work on single .rs files",
                    r.name,
                    r.name,
                    declared.names()
                );
            };
            if r.lo >= r.hi {
                anyhow::bail!("--param {}={}..{}: LO must be below HI", r.name, r.lo, r.hi);
            }
            if r.lo < spec.min || r.hi > spec.max {
                anyhow::bail!(
                    "--param {}={}..{}: must lie within its declared range {}..={}",
                    r.name,
                    r.lo,
                    r.hi,
                    spec.min,
                    spec.max
                );
            }
            if r.log && r.lo <= 0.0 {
                anyhow::bail!("--param {}={}..{}:log: a log range needs LO > 0", r.name, r.lo, r.hi);
            }
            let integral = spec.kind == amm_engine::params::Kind::Int;
            if r.int && !integral {
                anyhow::bail!(
                    "--param {}: :int applies to integer parameters and source constants; {} is declared {}",
                    r.name,
                    r.name,
                    amm_engine::params::kind_str(spec.kind)
                );
            }
            if integral && (r.lo.fract() != 0.0 || r.hi.fract() != 0.0) {
                anyhow::bail!(
                    "--param {}={}..{}: {} is an integer parameter: give whole-number bounds",
                    r.name,
                    r.lo,
                    r.hi,
                    r.name
                );
            }
            (spec.min, spec.max, spec.log) = (r.lo, r.hi, spec.log || r.log);
        }
        let start = loaded[candidate].info.params.clone();
        for (name, v) in &start.0 {
            if let Some(p) = schema.get(name)
                && !(p.min <= *v && *v <= p.max)
            {
                anyhow::bail!(
                    "the start value {name} = {v} lies outside --param {name}={}..{}; give a start inside it",
                    p.min,
                    p.max
                );
            }
        }
        (schema, start, CandidateKind::Declared)
    };
    let identity = loaded
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let role = if i == candidate { "candidate" } else { "opponent" };
            format!(
                "{role} {} {} {}",
                e.info.name,
                e.info.sha256,
                serde_json::to_string(&e.info.params).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    // A distributed study's workers fetch every entrant's module by hash from the database.
    let modules: Vec<(String, Vec<u8>)> = if args.db.is_some() {
        loaded
            .iter()
            .map(|e| {
                let path = e.module_path.as_deref().context("an entrant without a module")?;
                Ok((e.info.sha256.clone(), build::read_module(path)?))
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let entrants: Vec<FieldEntrant> = loaded
        .into_iter()
        .filter_map(|e| Some(FieldEntrant { name: e.info.name, program: e.program?, storage: e.storage }))
        .collect();
    let identity = match &kind {
        CandidateKind::Source(s) => format!("{identity}; source {}", sha256_hex(s.source.as_bytes())),
        CandidateKind::Declared => identity,
    };
    if let Some(clash) = entrants.iter().find(|e| (0..self_copies).any(|k| amm_tune::self_name(k) == e.name)) {
        anyhow::bail!(
            "an entrant is named {:?}, the name of a self-play copy: rename it in the config (name = \"…\")",
            clash.name
        );
    }
    let mut field =
        Field { config, entrants, candidate, schema, start, identity, kind, self_copies, members: Vec::new() };

    let fits = |first: Option<u64>, count: u64| first.and_then(|f| f.checked_add(count)).is_some();
    let (validation, test) = (args.seed_base.checked_add(1_000_000_000), args.seed_base.checked_add(2_000_000_000));
    if !(fits(Some(args.seed_base), args.race_seeds as u64)
        && fits(validation, u64::from(args.validation_seeds))
        && fits(test, u64::from(args.test_seeds)))
    {
        anyhow::bail!(
            "--seed-base {}: the training, validation and test segments (+0, +1e9, +2e9) must fit below 2^64",
            args.seed_base
        );
    }
    let segments = Segments {
        train: args.seed_base,
        validation: args.seed_base + 1_000_000_000,
        test: args.seed_base + 2_000_000_000,
        validation_seeds: args.validation_seeds,
        test_seeds: args.test_seeds,
    };
    // The training seeds are stratified (`amm_tune::seeds`), so they spread a little past
    // `--race-seeds` consecutive seeds: check the range they actually take.
    let training_last = amm_tune::seeds::Windows::span(segments.train, args.race_seeds, 1);
    if training_last >= segments.validation {
        anyhow::bail!(
            "--race-seeds {}: the training seeds would reach the validation seeds ({}); lower --race-seeds",
            args.race_seeds,
            segments.validation
        );
    }
    check_segments(&field.config, &segments, training_last.saturating_sub(segments.train).saturating_add(1))?;
    let settings = TuneSettings {
        objective: args.objective,
        race: RaceSettings { first: args.first_seeds, last: args.race_seeds, z: args.z },
        segments,
        budget: args.budget,
        wall: args.time,
        seed: args.seed,
        finalists: args.finalists,
        runs: usize::from(args.runs),
        only: args.only.clone(),
        progress: !args.quiet,
    };
    let stem = file_stem(&candidate_path);
    let out = out_dir(args, &candidate_path);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let space = amm_tune::space::Space::new(&field.schema, &field.start, &settings.only)?;
    let name = field.entrants[field.candidate].name.clone();
    let written = Written { declared: &declared, candidate_wasm: &candidate_wasm, stem: &stem, name: &name };
    let queue = args.db.as_deref().map(|url| Queue {
        url,
        name: match &args.study {
            Some(name) => name.to_string_lossy().into_owned(),
            None => stem.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect(),
        },
        modules: &modules,
    });
    if let Some(rounds) = args.population {
        return population(args, &mut field, &settings, rounds, &out, &written, queue.as_ref());
    }
    if let Some(queue) = &queue {
        return distributed(args, queue, &field, &settings, &space, &out, &written);
    }
    let study_path = args.study.clone().unwrap_or_else(|| out.join("study.db"));
    let mut study = Study::open(&study_path, &amm_tune::definition(&field, &settings, &space))?;
    if study.recorded() > 0 {
        note!("resuming {} ({} evaluations recorded)", study_path.display(), study.recorded());
    }
    note!(
        "tuning {name}: {} of {} parameters against {}{}{}, objective {}",
        space.len(),
        field.schema.params.len(),
        match field.entrants.len() - 1 {
            1 => "1 opponent".to_string(),
            n => format!("{n} opponents"),
        },
        if self_copies > 0 { format!(" and {self_copies} copies of the incumbent (self-play)") } else { String::new() },
        if field.config.normalizer.enabled { " and the normalizer" } else { "" },
        args.objective.name()
    );
    // Every evaluation is committed as it completes, so an interrupted study loses nothing.
    note!("study {} (interrupted? the same command resumes it where it stopped)", study_path.display());
    let outcome = amm_tune::tune(&field, &settings, &mut study)?;
    write_outcome(&out, &outcome, &field, &written)?;
    say!("{}", amm_tune::report::table(&outcome));
    say_outputs(args, &out, &outcome, &field, &written)?;
    Ok(ExitCode::SUCCESS)
}

/// `--db` must name a PostgreSQL database (said before anything is built or queued).
fn check_queue_url(url: &str) -> Result<()> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        anyhow::bail!(
            "--db: a distributed study needs a PostgreSQL URL (postgres://USER:PASSWORD@HOST/DB), not {scheme:?}; without --db a study is a SQLite file on this machine (--study FILE)"
        );
    }
    Ok(())
}

/// Where a distributed study goes (`--db`): the database, the study's name, every entrant's
/// module (sha256, bytes) for the workers.
struct Queue<'a> {
    url: &'a str,
    name: String,
    modules: &'a [(String, Vec<u8>)],
}

impl Queue<'_> {
    /// Study `name` of `field` in the database, and the queue its simulations go to (the
    /// results its jobs recorded before a coordinator stopped are recorded in the study).
    fn open(
        &self,
        name: &str,
        field: &Field,
        settings: &TuneSettings,
        space: &amm_tune::space::Space,
        who: &str,
    ) -> Result<(Study, amm_service::studies::StudyQueue)> {
        let mut study = Study::open_postgres(self.url, name, &amm_tune::definition(field, settings, space))?;
        let shas: Vec<String> = self.modules.iter().map(|(sha, _)| sha.clone()).collect();
        let spec = amm_tune::spec::FieldSpec::new(field, settings.objective, &shas).map_err(anyhow::Error::msg)?;
        let (mut queue, earlier) = amm_service::studies::StudyQueue::open(self.url, name, &spec, self.modules)?;
        let found = earlier.len();
        study.record(earlier.into_iter().map(|(item, e)| (item.key(), item.seed, e)).collect())?;
        if study.recorded() > 0 {
            note!(
                "resuming study {name} ({} evaluations recorded, {found} found in the queue's results)",
                study.recorded()
            );
        }
        note!(
            "tuning {who}: study {name} in the database; its simulations are queued as jobs: start workers with `amm-engine tune --worker --db URL` (or `serve --role worker`) on any machine (interrupted? the same command resumes)"
        );
        let study_name = name.to_string();
        queue.on_interrupt(move || {
            note!("interrupted: study {study_name}'s waiting jobs are off the queue; the same command resumes it");
            std::process::exit(130);
        });
        queue.on_idle = Some(Box::new(|waiting| {
            note!(
                "no worker has claimed any of the {waiting} jobs queued {} s ago: start one with `amm-engine tune --worker --db URL` (or `serve --role worker` on this database)",
                amm_service::studies::IDLE_NOTICE.as_secs()
            );
        }));
        Ok((study, queue))
    }
}

/// The coordinator's own cost, said after a distributed study.
fn say_overhead(queue: &amm_service::studies::StudyQueue) {
    if queue.evaluations > 0 {
        note!(
            "coordinator: {} evaluations in {} jobs; {:.2} ms of its own time per evaluation (queueing, polling, reading results)",
            queue.evaluations,
            queue.jobs_queued,
            queue.busy.as_secs_f64() * 1e3 / queue.evaluations as f64
        );
    }
}

/// `tune --db URL`: the study kept in PostgreSQL, its simulations queued as jobs for workers.
fn distributed(
    args: &TuneArgs,
    queue: &Queue<'_>,
    field: &Field,
    settings: &TuneSettings,
    space: &amm_tune::space::Space,
    out: &Path,
    written: &Written<'_>,
) -> Result<ExitCode> {
    let (mut study, mut jobs) = queue.open(&queue.name, field, settings, space, written.name)?;
    let outcome = amm_tune::tune_with(field, settings, &mut study, &mut jobs)?;
    write_outcome(out, &outcome, field, written)?;
    say!("{}", amm_tune::report::table(&outcome));
    say_outputs(args, out, &outcome, field, written)?;
    say_overhead(&jobs);
    Ok(ExitCode::SUCCESS)
}

/// `tune --worker --db URL`: evaluates tuning studies' jobs until interrupted.
fn worker(args: &TuneArgs) -> Result<ExitCode> {
    let Some(url) = &args.db else {
        anyhow::bail!("tune --worker needs --db URL: the queue to take jobs from");
    };
    check_queue_url(url)?;
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("tune").join("worker")).join("modules");
    let options = amm_service::StudyWorkerOptions {
        db: url.clone(),
        dir,
        threads: args.threads.unwrap_or(0),
        lease: Duration::from_secs(args.lease),
    };
    amm_service::work_on_studies(options)?;
    Ok(ExitCode::SUCCESS)
}

/// What a study's result is written from.
struct Written<'a> {
    declared: &'a amm_engine::params::ParamSchema,
    candidate_wasm: &'a Path,
    stem: &'a str,
    name: &'a str,
}

/// The winner's module or source, summary.json and report.html, in `out`.
fn write_outcome(out: &Path, outcome: &amm_tune::Outcome, field: &Field, w: &Written<'_>) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let summary = serde_json::to_string_pretty(outcome)? + "\n";
    std::fs::write(out.join("summary.json"), summary).with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::write(out.join("report.html"), amm_tune::report::html(outcome, w.name))
        .with_context(|| format!("cannot write {}", out.display()))?;
    let tuned = match &field.kind {
        CandidateKind::Declared => {
            amm_tune::winner::with_defaults(&build::read_module(w.candidate_wasm)?, w.declared, &outcome.winner)?
        }
        CandidateKind::Source(source) => source.source_for(&outcome.winner)?.into_bytes(),
    };
    let path = tuned_path(out, field, w);
    std::fs::write(&path, tuned).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Where the winner's module (`STEM.tuned.wasm`) or source (`STEM.tuned.rs`) goes in `out`.
fn tuned_path(out: &Path, field: &Field, w: &Written<'_>) -> PathBuf {
    match field.kind {
        CandidateKind::Declared => out.join(format!("{}.tuned.wasm", w.stem)),
        CandidateKind::Source(_) => out.join(format!("{}.tuned.rs", w.stem)),
    }
}

/// Where the winner went and how to run its point again.
fn say_outputs(args: &TuneArgs, out: &Path, outcome: &amm_tune::Outcome, field: &Field, w: &Written<'_>) -> Result<()> {
    if let CandidateKind::Source(source) = &field.kind
        && let (failed @ 1.., Some(first)) = source.failures()
    {
        note!("warning: {failed} candidates did not build (counted as disqualified); the first:\n{first}");
    }
    let path = tuned_path(out, field, w);
    match field.kind {
        CandidateKind::Declared => {
            say!("winner module {} (its amm.params defaults are the tuned values)", path.display())
        }
        CandidateKind::Source(_) => say!("winner source {} (the file with the tuned constants)", path.display()),
    }
    say!("report {}", out.join("report.html").display());
    if let CandidateKind::Declared = field.kind {
        let values: Vec<String> =
            w.declared.settings(&outcome.winner).iter().map(|(k, v)| format!("--param {k}={}", show(v))).collect();
        let strategy = args.strategy.as_deref().unwrap_or(Path::new("STRATEGY"));
        say!("same point from the original: amm-engine run {} {}", strategy.display(), values.join(" "));
    }
    Ok(())
}

/// `tune --population ROUNDS`: iterated best response, one study per round in OUT/round-N/.
fn population(
    args: &TuneArgs,
    field: &mut Field,
    settings: &TuneSettings,
    rounds: usize,
    out: &Path,
    w: &Written<'_>,
    queue: Option<&Queue<'_>>,
) -> Result<ExitCode> {
    let population = amm_tune::population::PopulationSettings { rounds, payoff_seeds: args.payoff_seeds };
    let first = amm_tune::population::payoff_first_seed(settings);
    if first.checked_add(u64::from(args.payoff_seeds)).is_none() || args.payoff_seeds < 2 {
        anyhow::bail!("--payoff-seeds {}: give at least 2, with the segments below 2^64", args.payoff_seeds);
    }
    let public = field.config.seed(0)..=field.config.seed(field.config.run.simulations.saturating_sub(1));
    let last = first + u64::from(args.payoff_seeds) - 1;
    if first <= *public.end() && *public.start() <= last {
        anyhow::bail!(
            "the payoff seeds {first}..={last} meet the config's own seeds {}..={}: choose another --seed-base",
            public.start(),
            public.end()
        );
    }
    note!(
        "iterated best response for {}: {rounds} rounds, each a study of {} simulations against the field and the population so far, then one more against the final population (its exploitability); objective {}",
        w.name,
        settings.budget,
        settings.objective.name()
    );
    let space = amm_tune::space::Space::new(&field.schema, &field.start, &settings.only)?;
    let mut failed: Option<anyhow::Error> = None;
    let outcome = amm_tune::population::iterate(
        field,
        settings,
        &population,
        &mut |round, field| {
            let dir = out.join(format!("round-{round}"));
            std::fs::create_dir_all(&dir)
                .map_err(|e| amm_tune::TuneError::Settings(format!("cannot create {}: {e}", dir.display())))?;
            let failed = |e: anyhow::Error| amm_tune::TuneError::Executor(format!("{e:#}"));
            if let Some(queue) = queue {
                // Each round a study of its own in the database: NAME_rN.
                let name = format!("{}_r{round}", queue.name);
                note!("round {round}: a best response to {} member(s), study {name}", field.members.len());
                let (study, jobs) = queue.open(&name, field, settings, &space, w.name).map_err(failed)?;
                let jobs: Box<dyn amm_tune::execute::Executor> = Box::new(jobs);
                return Ok((study, jobs));
            }
            let path = dir.join("study.db");
            note!(
                "round {round}: a best response to {} member{} (study {}; interrupted? the same command resumes)",
                field.members.len(),
                if field.members.len() == 1 { "" } else { "s" },
                path.display()
            );
            let study = Study::open(&path, &amm_tune::definition(field, settings, &space))?;
            if study.recorded() > 0 {
                note!("resuming {} ({} evaluations recorded)", path.display(), study.recorded());
            }
            let local = amm_tune::execute::Local::new(amm_engine::run::threads(&field.config))
                .map_err(amm_tune::TuneError::Threads)?;
            let jobs: Box<dyn amm_tune::execute::Executor> = Box::new(local);
            Ok((study, jobs))
        },
        &mut |round, field, outcome| {
            let dir = out.join(format!("round-{round}"));
            if failed.is_none()
                && let Err(e) = write_outcome(&dir, outcome, field, w)
            {
                failed = Some(e);
            }
            note!(
                "round {round}: best response {} {:.1} ± {:.1} on the test seeds ({})",
                outcome.objective,
                outcome.test_mean,
                outcome.test_stderr,
                amm_tune::report::values(&outcome.winner)
            );
        },
    )?;
    if let Some(e) = failed {
        return Err(e);
    }
    let json = serde_json::to_string_pretty(&outcome)? + "\n";
    let path = out.join("population.json");
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    say!("{}", amm_tune::population::table(&outcome));
    say!("population {} (each round's study, report and module in {}/round-N/)", path.display(), out.display());
    Ok(ExitCode::SUCCESS)
}

fn out_dir(args: &TuneArgs, candidate: &Path) -> PathBuf {
    args.out.clone().unwrap_or_else(|| PathBuf::from("tune").join(file_stem(candidate)))
}

fn show(v: &ParamValue) -> String {
    v.to_string()
}

/// The segments must not meet the config's own seeds (a competition's public seeds).
fn check_segments(config: &Config, s: &Segments, training_seeds: u64) -> Result<()> {
    let public = config.seed(0)..=config.seed(config.run.simulations.saturating_sub(1));
    let ranges = [
        ("training", s.train, training_seeds),
        ("validation", s.validation, u64::from(s.validation_seeds)),
        ("test", s.test, u64::from(s.test_seeds)),
    ];
    for (what, first, count) in ranges {
        let last = first.saturating_add(count.saturating_sub(1));
        if first <= *public.end() && *public.start() <= last {
            anyhow::bail!(
                "the {what} seeds {first}..={last} meet the config's own seeds {}..={}: tuning on the seeds a result is reported on overfits them; choose another --seed-base",
                public.start(),
                public.end()
            );
        }
    }
    Ok(())
}
