//! `amm-engine`: the command-line front end. Parsing and printing only; the work is in the
//! library.

// Printing is the binary's business, and only through writers that cannot panic: a closed or
// full stdout/stderr must never turn a finished computation into a crash (`say!`/`note!` in the
// CLI). `println!`/`eprintln!` panic on a write error, so they are refused outside tests.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use amm_engine::build::{self, BuildOptions, Origin, Source};
use amm_engine::config::{Config, StrategyEntry};
use amm_engine::params::ParamAssignment;
use amm_engine::report::{RunFacts, Shard, StrategyCost, html, leaderboard, merge};
use amm_engine::run::{self, RunOptions};
use amm_engine::sandbox::{EngineSettings, ModuleCache, SandboxEngine, SandboxLimits, default_cache_dir};
use amm_engine::strategy::Backend;
use amm_engine::{scaffold, validate};
use amm_service::competition::load_run_config;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Stdout was closed before we finished writing (`amm-engine run … | head -1`). Not a fault:
/// `main` ends quietly with status 0, as ripgrep and the usual Unix filters do. Its own type, so
/// that a broken pipe anywhere else (a compiler's output, a socket) is still reported.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// `println!` that returns instead of panicking: std ignores SIGPIPE, so a write to a closed
/// pipe fails with `BrokenPipe`, and `println!` turns that into a panic with a backtrace hint.
/// Any other write error (a full disk behind a redirect) is reported as an error.
macro_rules! say {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*))).map_err(|e| -> anyhow::Error {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                $crate::StdoutClosed.into()
            } else {
                anyhow::Error::new(e).context("cannot write to stdout")
            }
        })?
    };
}

/// `eprintln!` that cannot panic: stderr carries diagnostics (progress, warnings, the final
/// error line), and losing them to a closed or full stderr (`run … 2>&1 | head -1`,
/// `2>/dev/full`) must not lose the results the run is about to write. A write error here is
/// ignored on purpose; the only channel to report it on is the one that failed.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(&mut std::io::stderr().lock(), format_args!("{}\n", format_args!($($arg)*)));
    }};
}

mod tune;

#[derive(Parser)]
#[command(name = "amm-engine", version, about = "Sandboxed AMM strategy competition engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Compile every module afresh instead of using the compiled-module cache
    /// ($AMM_ENGINE_CACHE, else ~/.cache/amm-engine).
    #[arg(long, global = true)]
    no_cache: bool,
}

/// The compiled-module cache, unless disabled or unavailable (then modules are compiled).
fn module_cache(disabled: bool) -> Option<ModuleCache> {
    if disabled {
        return None;
    }
    let dir = default_cache_dir()?;
    match ModuleCache::open(&dir) {
        Ok(cache) => Some(cache),
        Err(e) => {
            note!("warning: {e}; compiling without a cache");
            None
        }
    }
}

/// Overrides of a config's `[run]` table.
#[derive(clap::Args, Clone, Debug, Default)]
struct RunOverrides {
    /// Number of simulations, 1 or more (alias: --simulations).
    #[arg(long, visible_alias = "simulations", value_parser = clap::value_parser!(u32).range(1..))]
    sims: Option<u32>,
    /// Steps per simulation.
    #[arg(long)]
    steps: Option<u32>,
    /// Steps per epoch.
    #[arg(long)]
    epoch_len: Option<u32>,
    /// Seed of the first simulation.
    #[arg(long)]
    seed_start: Option<u64>,
    /// Worker threads (0 = one per core); results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Run strategies sandboxed (wasm) or as compiled-in native code (examples only).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// Set a parameter the strategy declares (`amm.params`): NAME=VALUE, or ENTRANT:NAME=VALUE
    /// (entrant number from 1, or its name) when several entrants declare NAME; repeatable.
    /// Overrides the config's `params` tables; results.json records every value.
    #[arg(long = "param", value_name = "[ENTRANT:]NAME=VALUE")]
    params: Vec<ParamAssignment>,
}

impl RunOverrides {
    fn apply(&self, config: &mut Config) {
        let run = &mut config.run;
        if let Some(v) = self.sims {
            run.simulations = v;
        }
        if let Some(v) = self.steps {
            run.steps = v;
        }
        if let Some(v) = self.epoch_len {
            run.epoch_len = v;
        }
        if let Some(v) = self.seed_start {
            run.seed_start = v;
        }
        if let Some(v) = self.threads {
            run.threads = v;
        }
        if let Some(v) = self.backend {
            run.backend = v;
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run each configuration: simulate, print the leaderboard, write results.json and
    /// report.html.
    Run {
        /// Configuration files (.toml) and strategies (.wasm, .wat, single .rs files or crate
        /// directories). The strategies race in every config given, or, with no config, in the
        /// built-in default market (the values of configs/default.toml). A competition file runs
        /// its house field on its public seeds.
        #[arg(required = true, value_name = "CONFIG_OR_STRATEGY")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        overrides: RunOverrides,
        /// Output directory (default: results/<config name>, or results/<strategy names> with
        /// no config; with several configs, one subdirectory each).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Run only the K-th (0-based) of N disjoint seed ranges, e.g. `--shard 0/4`; combine
        /// the shards' outputs with `amm-engine merge`.
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<Shard>,
    },
    /// Combine the outputs of `run --shard K/N` into the whole run's results.json and report
    /// (byte-identical to running everything on one machine).
    Merge {
        /// Shard output directories (or their results.json files), any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Where to write the merged results.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a configuration into a verifiable bundle: modules, resolved config, results and a
    /// receipt.json with the sha256 of each.
    Submit {
        /// At most one configuration file (.toml) and any strategies (.wasm, .wat, single .rs
        /// files or crate directories); with no config, the built-in default market.
        #[arg(required = true, value_name = "CONFIG_OR_STRATEGY")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        overrides: RunOverrides,
        /// Bundle directory (default: submissions/<config or strategy names>); must be empty or
        /// absent.
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Re-run a bundle and confirm it reproduces its results exactly; exit 0 only if so.
    Verify {
        /// The bundle's receipt.json.
        receipt: PathBuf,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check strategies (.wasm or .wat files, single-file .rs strategies, strategy crate
    /// directories, or every strategy of a .toml configuration) against everything the engine
    /// enforces; exit 0 only if every check passes.
    Validate {
        /// Modules, single .rs files, crate directories or configurations.
        #[arg(required = true, value_name = "STRATEGY_OR_CONFIG")]
        paths: Vec<PathBuf>,
        /// Check with this value of a declared parameter (NAME=VALUE; ENTRANT:NAME=VALUE for the
        /// ENTRANT-th strategy validated, from 1); repeatable. Default: the declared defaults
        /// (and a configuration's `params` tables).
        #[arg(long = "param", value_name = "[ENTRANT:]NAME=VALUE")]
        params: Vec<ParamAssignment>,
    },
    /// Host a competition: the HTTP API, the job queue and the evaluation workers over one
    /// database (SQLite in DIR by default).
    Serve {
        /// Competition file: a run configuration plus a `[competition]` table.
        competition: PathBuf,
        /// Address to listen on (port 0: any free port; the address is printed on stdout).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Data directory: the SQLite database, uploaded modules, the module cache.
        #[arg(long, default_value = "competition-data")]
        data: PathBuf,
        /// Database URL (default: sqlite://DIR/amm-service.db).
        #[arg(long)]
        db: Option<String>,
        /// What this process does: serve HTTP and evaluate (all), only HTTP (web), only
        /// evaluate (worker).
        #[arg(long, value_enum, default_value = "all")]
        role: amm_service::Role,
    },
    /// Manage the bearer tokens of a competition.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Tune the parameters a strategy declares against a field: CMA-ES, racing on common
    /// seeds, held-out validation and test seeds; writes the winner as a ready module.
    Tune(tune::TuneArgs),
    /// Create a strategy crate (or, with --single-file, one .rs file) from the starter.
    New {
        /// Directory to create; its name is the crate name (with --single-file: the .rs file).
        name: PathBuf,
        /// Path to an amm-strategy-sdk directory to depend on (default: the SDK embedded in
        /// this binary, written into NAME/.amm-sdk/<version>/).
        #[arg(long, conflicts_with = "single_file")]
        sdk: Option<PathBuf>,
        /// Write one Rust file NAME (ending in .rs) instead of a crate: the starter, built
        /// against the embedded SDK by `amm-engine validate NAME`.
        #[arg(long)]
        single_file: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for HANDLE and print it on stdout (only its sha256 is stored).
    Create {
        /// The submitter's handle, shown on the leaderboard.
        handle: String,
        /// Data directory of the competition.
        #[arg(long)]
        data: PathBuf,
        /// Database URL (default: sqlite://DIR/amm-service.db).
        #[arg(long)]
        db: Option<String>,
        /// An administrator's token: may cancel anyone's jobs, re-score every entry, flag or hide a
        /// submission and requeue a failed job (the `/api/admin/*` endpoints).
        #[arg(long)]
        admin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cache = module_cache(cli.no_cache);
    let result = match cli.command {
        Command::Run { inputs, overrides, out, quiet, shard } => {
            run_command(&inputs, &overrides, out.as_deref(), quiet, shard, cache)
        }
        Command::Merge { shards, out } => merge_command(&shards, &out),
        Command::Submit { inputs, overrides, out, quiet } => submit_command(&inputs, &overrides, out.as_deref(), quiet),
        Command::Verify { receipt, quiet } => verify_command(&receipt, quiet),
        Command::Validate { paths, params } => validate_command(&paths, &params, cache),
        Command::Tune(args) => tune::command(&args),
        Command::New { name, sdk, single_file } => new_command(&name, sdk.as_deref(), single_file),
        Command::Serve { competition, listen, data, db, role } => {
            let options = amm_service::ServeOptions { competition, listen, data, db, role };
            amm_service::serve_blocking(options).map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from)
        }
        Command::Token { command: TokenCommand::Create { handle, data, db, admin } } => {
            token_command(&data, db.as_deref(), &handle, admin)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is::<StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn token_command(data: &Path, db: Option<&str>, handle: &str, admin: bool) -> Result<ExitCode> {
    // Shown before it is stored: a token printed to nowhere (`> /dev/full`) is never stored.
    let show = |token: &str| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        std::io::Write::write_fmt(&mut out, format_args!("{token}\n"))?;
        std::io::Write::flush(&mut out)
    };
    amm_service::create_token_blocking(data, db, handle, admin, &show)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text)
}

/// What each command-line argument may be, for error messages.
const ACCEPTED_ARGUMENTS: &str = "each argument may be a run configuration (a .toml file), a strategy module (a .wasm \
     or .wat file), a single-file Rust strategy (a .rs file using amm_strategy_sdk) or a strategy crate directory (one \
     holding a Cargo.toml)";

/// The arguments of `run`, `submit` or `validate`, sorted into configuration files (in order)
/// and strategies (canonical paths, in order).
struct Inputs {
    configs: Vec<PathBuf>,
    strategies: Vec<PathBuf>,
}

/// Sorts `inputs`: a `.toml` is a configuration (a crate's `Cargo.toml` stands for its crate);
/// an existing `.wasm`/`.wat`/`.rs` file or a directory with a `Cargo.toml` is a strategy; anything
/// else is an error saying what each argument may be.
fn classify(inputs: &[PathBuf]) -> Result<Inputs> {
    let mut sorted = Inputs { configs: Vec::new(), strategies: Vec::new() };
    for path in inputs {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let strategy = if path.file_name().is_some_and(|n| n == "Cargo.toml") && path.is_file() {
            path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        } else if extension.as_deref() == Some("toml") && !path.is_dir() {
            sorted.configs.push(path.clone());
            continue;
        } else if path.is_dir() {
            if !path.join("Cargo.toml").is_file() {
                anyhow::bail!(
                    "{}: a directory without a Cargo.toml, so not a strategy crate; {ACCEPTED_ARGUMENTS}",
                    path.display()
                );
            }
            path.clone()
        } else if !path.exists() {
            anyhow::bail!("{}: no such file or directory; {ACCEPTED_ARGUMENTS}", path.display());
        } else if matches!(extension.as_deref(), Some("wasm" | "wat" | "rs")) {
            path.clone()
        } else {
            anyhow::bail!("{}: not a .toml, .wasm, .wat or .rs file; {ACCEPTED_ARGUMENTS}", path.display());
        };
        let strategy = strategy.canonicalize().with_context(|| format!("cannot read {}", strategy.display()))?;
        sorted.strategies.push(strategy);
    }
    Ok(sorted)
}

/// One configuration to run: how to name it in messages, its output stem, the config itself.
struct Planned {
    shown: PathBuf,
    stem: String,
    config: Config,
}

/// The configurations `inputs` ask for: each config file with the given strategies added, or,
/// with no config file, the built-in default market with the given strategies. Overrides are
/// applied, every value and every strategy path checked.
fn plan(inputs: &Inputs, overrides: &RunOverrides) -> Result<Vec<Planned>> {
    let extra =
        inputs.strategies.iter().map(|p| StrategyEntry { path: p.clone(), name: None, params: Default::default() });
    let mut planned = Vec::new();
    if inputs.configs.is_empty() {
        let shown = PathBuf::from("built-in default market");
        let stems: Vec<String> = inputs.strategies.iter().map(|p| file_stem(p)).collect();
        let mut stem = stems.join("-vs-");
        if stem.len() > 100 {
            stem = stem.chars().take(100).collect();
        }
        planned.push(Planned { shown, stem, config: Config::with_strategies(&inputs.strategies) });
    }
    for path in &inputs.configs {
        let mut config = load_run_config(path)?;
        config.strategies.extend(extra.clone());
        planned.push(Planned { shown: path.clone(), stem: file_stem(path), config });
    }
    for p in &mut planned {
        overrides.apply(&mut p.config);
        p.config.check(&p.shown)?;
        p.config.check_strategy_paths(&p.shown)?;
    }
    Ok(planned)
}

fn run_command(
    inputs: &[PathBuf],
    overrides: &RunOverrides,
    out: Option<&Path>,
    quiet: bool,
    shard: Option<Shard>,
    cache: Option<ModuleCache>,
) -> Result<ExitCode> {
    let planned = plan(&classify(inputs)?, overrides)?;
    let several = planned.len() > 1;
    let mut engine: Option<SandboxEngine> = None;
    for Planned { shown, stem, config } in planned {
        let out_dir = match out {
            Some(dir) if several => dir.join(&stem),
            Some(dir) => dir.to_path_buf(),
            None => PathBuf::from("results").join(&stem),
        };
        let out_dir = match shard {
            Some(s) if out.is_none() => out_dir.join(format!("shard-{}-of-{}", s.index, s.count)),
            _ => out_dir,
        };
        // Before anything is loaded or run: a run whose output cannot be written is lost.
        let mut made = OutDir::create(&out_dir)?;
        let wanted = run::engine_with_cache(&config, cache.clone())?;
        let engine = match &engine {
            Some(e)
                if e.settings().covers(&config.sandbox)
                    && e.settings().max_instances >= wanted.settings().max_instances =>
            {
                e.clone()
            }
            _ => {
                engine = Some(wanted.clone());
                wanted
            }
        };
        let count = config.strategies.len();
        note!("== {} ({count} {})", shown.display(), if count == 1 { "strategy" } else { "strategies" });
        let options =
            RunOptions { progress: !quiet, build: BuildOptions::default(), shard, params: overrides.params.clone() };
        let entrants = run::load_entrants(&config, &engine, &options)?;
        for e in &entrants {
            match &e.info.rejected {
                Some(reason) => note!("  rejected  {}: {reason}", e.info.name),
                None => note!("  loaded    {} ({})", e.info.name, &e.info.sha256[..12]),
            }
        }
        if entrants.iter().all(|e| e.info.rejected.is_some()) {
            note!("error: {}: every strategy was refused at load (reasons above); nothing to run", shown.display());
            return Ok(ExitCode::FAILURE);
        }
        let started = std::time::Instant::now();
        let results = run::run(&config, entrants, &options)?;
        let elapsed = started.elapsed().as_secs_f64();
        let (json, report) = write_results(&out_dir, &results)?;
        made.keep();
        write_logs(&out_dir, &results)?;
        let threads = run::threads(&config);
        let sims = results.simulations.len() as u32;
        let facts = RunFacts::now(config.run.backend, threads, elapsed, sims, StrategyCost::of(&results));
        let facts_path = out_dir.join("run.json");
        std::fs::write(&facts_path, facts.to_json())
            .with_context(|| format!("cannot write {}", facts_path.display()))?;
        say!("{}", leaderboard::render(&results));
        say!("{}", leaderboard::render_costs(&facts.strategy_costs, config.run.steps));
        say!(
            "wall time {elapsed:.2} s ({:.4} s per simulation per core on {threads} threads, {} backend)",
            facts.seconds_per_simulation_per_core,
            match config.run.backend {
                Backend::Wasm => "wasm",
                Backend::Native => "native",
            }
        );
        say!("wrote {}, {} and {}", json.display(), report.display(), facts_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A run's output directory, made before the run so that an unwritable one is refused before
/// any work. The directories it had to make are removed again (those still empty) when the run
/// ends without results — a refused or failed run leaves no empty `results/…` behind.
struct OutDir {
    /// The directories this made, deepest first.
    made: Vec<PathBuf>,
    keep: bool,
}

impl OutDir {
    fn create(dir: &Path) -> Result<OutDir> {
        let made: Vec<PathBuf> =
            dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).map(Path::to_path_buf).collect();
        // Made before creating: a chain created only in part is removed too.
        let guard = OutDir { made, keep: false };
        std::fs::create_dir_all(dir).with_context(|| {
            format!("cannot create {} (the output directory; choose a writable one with --out)", dir.display())
        })?;
        Ok(guard)
    }

    /// The results are written: keep the directories.
    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.keep {
            for d in &self.made {
                let _ = std::fs::remove_dir(d); // only if still empty
            }
        }
    }
}

/// Writes `results.json` and `report.html` into `out` (created if absent); returns their paths.
fn write_results(out: &Path, results: &amm_engine::report::RunResults) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let json = out.join("results.json");
    std::fs::write(&json, results.to_json()).with_context(|| format!("cannot write {}", json.display()))?;
    let report = out.join("report.html");
    std::fs::write(&report, html::render(results)).with_context(|| format!("cannot write {}", report.display()))?;
    Ok((json, report))
}

fn merge_command(shards: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let mut parts = Vec::new();
    for path in shards {
        parts.push((path.clone(), merge::read(path)?));
    }
    let results = merge::merge(parts)?;
    let (json, report) = write_results(out, &results)?;
    say!("{}", leaderboard::render(&results));
    say!("merged {} shards into {} and {}", shards.len(), json.display(), report.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes what WASI strategies printed to `out/logs/<strategy>/seed-<seed>.log`.
fn write_logs(out: &Path, results: &amm_engine::report::RunResults) -> Result<()> {
    for sim in &results.simulations {
        for pool in &sim.pools {
            let Some((bytes, dropped)) = &pool.log else { continue };
            if bytes.is_empty() && *dropped == 0 {
                continue;
            }
            let safe: String =
                pool.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            let dir = out.join("logs").join(safe);
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut text = bytes.clone();
            if *dropped > 0 {
                text.extend_from_slice(
                    format!("\n[{dropped} more bytes dropped: sandbox.max_log_bytes reached]\n").as_bytes(),
                );
            }
            let file = dir.join(format!("seed-{}.log", sim.seed));
            std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    Ok(())
}

fn submit_command(inputs: &[PathBuf], overrides: &RunOverrides, out: Option<&Path>, quiet: bool) -> Result<ExitCode> {
    let inputs = classify(inputs)?;
    if inputs.configs.len() > 1 {
        anyhow::bail!("submit takes at most one configuration (.toml), got {}", inputs.configs.len());
    }
    let Some(Planned { stem, config, .. }) = plan(&inputs, overrides)?.pop() else {
        anyhow::bail!("nothing to submit; {ACCEPTED_ARGUMENTS}");
    };
    let out = out.map_or_else(|| PathBuf::from("submissions").join(stem), Path::to_path_buf);
    let options =
        RunOptions { progress: !quiet, build: BuildOptions::default(), shard: None, params: overrides.params.clone() };
    let (receipt, results) = amm_engine::receipt::submit(&config, &out, &options)?;
    say!("{}", leaderboard::render(&results));
    for (name, reason) in &receipt.excluded {
        say!("excluded {name}: {reason}");
    }
    say!("bundle {} (results sha256 {})", out.display(), receipt.results_sha256);
    say!("check it with: amm-engine verify {}", out.join("receipt.json").display());
    if results.strategies.iter().all(|s| s.rejected.is_some()) {
        note!("error: every strategy was refused at load; the bundle ranks nobody");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_command(receipt: &Path, quiet: bool) -> Result<ExitCode> {
    let options = RunOptions { progress: !quiet, ..RunOptions::default() };
    match amm_engine::receipt::verify(receipt, &options) {
        Ok((r, amm_engine::receipt::Verdict::Identical)) => {
            say!(
                "VERIFIED: {} modules and the config match their hashes, and re-running {} simulations reproduced results.json exactly (sha256 {})",
                r.modules.len(),
                r.seeds.count,
                r.results_sha256
            );
            if r.engine_version != amm_engine::ENGINE_VERSION {
                say!("note: produced by amm-engine {}, verified with {}", r.engine_version, amm_engine::ENGINE_VERSION);
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok((_, amm_engine::receipt::Verdict::Differs(where_))) => {
            say!("NOT VERIFIED: the re-run differs from the bundle's results: {where_}");
            Ok(ExitCode::FAILURE)
        }
        Err(e @ amm_engine::receipt::ReceiptError::Tampered { .. }) => {
            say!("NOT VERIFIED: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn validate_command(
    paths: &[PathBuf],
    assignments: &[ParamAssignment],
    cache: Option<ModuleCache>,
) -> Result<ExitCode> {
    let inputs = classify(paths)?;
    let mut strategies = Vec::new();
    let mut next = inputs.strategies.iter();
    // In argument order: a configuration stands for its strategies, checked under its
    // `[sandbox]` limits (what `run` gives them); a strategy given alone, under the defaults.
    for arg in paths {
        if inputs.configs.contains(arg) {
            let config = load_run_config(arg)?;
            config.check_strategy_paths(arg)?;
            strategies.extend(
                config.strategies.iter().map(|e| (config.strategy_path(e), e.params.clone(), config.sandbox.clone())),
            );
        } else if let Some(strategy) = next.next() {
            strategies.push((strategy.clone(), Default::default(), SandboxLimits::default()));
        }
    }
    for a in assignments {
        if let Some(which) = &a.entrant
            && !which.parse::<usize>().is_ok_and(|n| (1..=strategies.len()).contains(&n))
        {
            anyhow::bail!("--param {a}: {which:?} is not a strategy number here (1 to {})", strategies.len());
        }
    }
    let mut used = vec![false; assignments.len()];
    let mut all_passed = true;
    // One engine per set of limits it cannot share (most runs: one).
    let mut engines: Vec<SandboxEngine> = Vec::new();
    for (index, (path, settings, limits)) in strategies.iter().enumerate() {
        say!("validate {}", path.display());
        let engine = match engines.iter().find(|e| e.settings().covers(limits)) {
            Some(engine) => engine.clone(),
            None => {
                let engine = SandboxEngine::with_cache(EngineSettings::for_limits(limits, 16), cache.clone())?;
                engines.push(engine.clone());
                engine
            }
        };
        // Classified once: a crate or a single file is built (a single file screened first);
        // a module file is read as it is.
        let build = BuildOptions::default();
        let built = Source::classify(path, &build).and_then(|source| Ok((source.build(&build)?, source)));
        let (module, source) = match built {
            Ok(built) => built,
            Err(e) => {
                say!("  {:<10} FAIL  {e}", "build");
                all_passed = false;
                continue;
            }
        };
        match module.origin {
            Origin::Given => {}
            Origin::Built if matches!(source, Source::Crate(_)) => {
                say!("  {:<10} PASS  {}", "build", module.path.display())
            }
            origin => say!("  {:<10} PASS  {} ({})", "build", module.path.display(), origin.as_str()),
        }
        let bytes = match build::read_module(&module.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                say!("  {:<10} FAIL  {e}", "format");
                all_passed = false;
                continue;
            }
        };
        // A single file's module is strategy.wasm in its build directory: name it after the file.
        let stem = if source.is_single_file() { file_stem(path) } else { file_stem(&module.path) };
        // `--param`s for this strategy: numbered ones, and unnumbered names its module declares.
        let schema = amm_engine::sandbox::inspect(&bytes, limits).map(|i| i.params).unwrap_or_default();
        let mut settings = settings.clone();
        for (a, used) in assignments.iter().zip(used.iter_mut()) {
            let mine = match &a.entrant {
                Some(n) => n.parse::<usize>().ok() == Some(index + 1),
                None => schema.get(&a.name).is_some(),
            };
            if mine {
                settings.insert(a.name.clone(), a.value);
                *used = true;
            }
        }
        let (report, _) = validate::validate_module(&engine, &bytes, &stem, limits, &settings);
        for check in &report.checks {
            say!("  {:<10} {}  {}", check.name, check.outcome, check.detail);
        }
        all_passed &= report.passed();
        say!("  => {}", if report.passed() { "PASS" } else { "FAIL" });
    }
    if let Some((a, _)) = assignments.iter().zip(&used).find(|(_, used)| !**used) {
        note!("error: --param {a}: no strategy validated here declares {:?} (see each params check above)", a.name);
        return Ok(ExitCode::FAILURE);
    }
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn new_command(name: &Path, sdk: Option<&Path>, single_file: bool) -> Result<ExitCode> {
    if single_file {
        let written = scaffold::new_single_file(name)?;
        say!("created {}", written.display());
        say!("\nnext: amm-engine validate {}", written.display());
        return Ok(ExitCode::SUCCESS);
    }
    let written = scaffold::new_strategy(name, sdk)?;
    let embedded = name.join(scaffold::sdk_dir());
    for file in written.iter().filter(|f| !f.starts_with(&embedded)) {
        say!("created {}", file.display());
    }
    if sdk.is_none() {
        say!("created {} (amm-strategy-sdk {}, embedded in this binary)", embedded.display(), scaffold::SDK_VERSION);
    }
    say!("\nnext: amm-engine validate {}", name.display());
    Ok(ExitCode::SUCCESS)
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "strategy".into(), |s| s.to_string_lossy().into_owned())
}
