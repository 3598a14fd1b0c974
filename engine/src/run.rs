//! Running a configuration: load the entrants, run the simulations in parallel, aggregate.
//!
//! Entrants that fail to build or load are rejected with their reason and take no part; the
//! others run as if the rejected had never been entered (same pool indices), so a broken
//! submission cannot change how anyone else is treated.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use amm_strategy_sdk::Storage;
use rayon::prelude::*;

use crate::build::{self, BuildOptions};
use crate::config::Config;
use crate::market::{Entrant, SimulationResult, simulate};
use crate::native;
use crate::params::{ParamAssignment, ParamError, ParamSchema, ParamSettings, ParamValues};
use crate::report::{EntrantInfo, RunResults};
use crate::sandbox::{EngineSettings, ModuleCache, SandboxEngine, inspect, sha256_hex};
use crate::strategy::{Backend, StrategyProgram};

/// An entrant after loading: identity, and either a program or the reason it was refused.
pub struct LoadedEntrant {
    /// Name, model, hash, rejection, parameter values.
    pub info: EntrantInfo,
    /// Where its module came from.
    pub module_path: Option<PathBuf>,
    /// What runs it (absent when rejected).
    pub program: Option<StrategyProgram>,
    /// The parameters its module declares (empty without `amm.params`).
    pub schema: ParamSchema,
    /// The storage each of its simulations starts with: its parameter values, zero elsewhere.
    pub storage: Storage,
}

/// Settings that apply across a whole invocation.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// How to build strategy sources (crates and single files).
    pub build: BuildOptions,
    /// Run only this part of the simulations.
    pub shard: Option<crate::report::Shard>,
    /// `--param [ENTRANT:]NAME=VALUE` values, applied over the config's `params` tables.
    pub params: Vec<ParamAssignment>,
}

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The sandbox could not be created.
    #[error(transparent)]
    Engine(#[from] crate::sandbox::EngineError),
    /// The thread pool could not be created.
    #[error("could not start {threads} worker threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        message: String,
    },
}

/// A sandbox engine able to serve `config` on its thread count (no module cache).
pub fn engine_for(config: &Config) -> Result<SandboxEngine, RunError> {
    engine_with_cache(config, None)
}

/// A sandbox engine able to serve `config`, compiling through `cache` when given.
pub fn engine_with_cache(config: &Config, cache: Option<ModuleCache>) -> Result<SandboxEngine, RunError> {
    let threads = threads(config);
    // Each worker holds one instance per strategy, plus room for purity audits and validation.
    let instances = (threads * (config.strategies.len() + 1) * 2 + 8).min(u32::MAX as usize) as u32;
    Ok(SandboxEngine::with_cache(EngineSettings::for_limits(&config.sandbox, instances), cache)?)
}

/// Worker threads for `config` (0 = one per core).
pub fn threads(config: &Config) -> usize {
    match config.run.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "strategy".into(), |s| s.to_string_lossy().into_owned())
}

/// Builds and loads every entrant of `config`, then gives each its parameter values: its
/// `[[strategy]] params` table, overridden by `options.params`. An entrant that cannot be
/// built or loaded is returned rejected with its reason; a parameter value that a module does
/// not accept, or a `--param` that fits no entrant or several, is an error of the run's input.
pub fn load_entrants(
    config: &Config,
    engine: &SandboxEngine,
    options: &RunOptions,
) -> Result<Vec<LoadedEntrant>, ParamError> {
    let mut loaded: Vec<LoadedEntrant> =
        config.strategies.iter().map(|entry| load_one(config, entry, engine, options)).collect();
    let mut chosen: Vec<ParamSettings> = config.strategies.iter().map(|e| e.params.clone()).collect();
    let declared: Vec<(&str, &ParamSchema)> = loaded.iter().map(|e| (e.info.name.as_str(), &e.schema)).collect();
    apply_assignments(&options.params, &declared, &mut chosen)?;
    for (i, (entrant, chosen)) in loaded.iter_mut().zip(&chosen).enumerate() {
        if entrant.program.is_none() {
            continue;
        }
        let values = entrant.schema.resolve(chosen).map_err(|error| ParamError::ForEntrant {
            entrant: format!("#{} {}", i + 1, entrant.info.name),
            error: Box::new(error),
        })?;
        entrant.storage = entrant.schema.initial_storage(&values);
        entrant.info.params = values;
    }
    Ok(loaded)
}

/// Adds each `--param` to the settings of the entrant it is for. `declared` lists every
/// entrant's display name and schema, in config order, beside `chosen`. An `ENTRANT:` prefix
/// (1-based number or name) picks the entrant; without one, the one entrant declaring the name.
pub fn apply_assignments(
    assignments: &[ParamAssignment],
    declared: &[(&str, &ParamSchema)],
    chosen: &mut [ParamSettings],
) -> Result<(), ParamError> {
    let mut seen: Vec<(usize, &str)> = Vec::new();
    for assignment in assignments {
        let target = param_target(assignment, declared)?;
        if seen.contains(&(target, assignment.name.as_str())) {
            return Err(ParamError::NoTarget {
                text: assignment.to_string(),
                why: format!("{} is set twice for {}; give each parameter once", assignment.name, declared[target].0),
            });
        }
        seen.push((target, assignment.name.as_str()));
        chosen[target].insert(assignment.name.clone(), assignment.value);
    }
    Ok(())
}

/// Which entrant (index) `assignment` is for.
fn param_target(assignment: &ParamAssignment, declared: &[(&str, &ParamSchema)]) -> Result<usize, ParamError> {
    let no_target = |why: String| ParamError::NoTarget { text: assignment.to_string(), why };
    let names = || declared.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    if let Some(which) = &assignment.entrant {
        let by_number = which.parse::<usize>().ok().filter(|n| (1..=declared.len()).contains(n)).map(|n| n - 1);
        return by_number.or_else(|| declared.iter().position(|(n, _)| n == which)).ok_or_else(|| {
            no_target(format!(
                "no entrant {which:?}: give its number (1 to {}) or its name ({})",
                declared.len(),
                names()
            ))
        });
    }
    let declaring: Vec<usize> =
        (0..declared.len()).filter(|&i| declared[i].1.get(&assignment.name).is_some()).collect();
    match declaring.as_slice() {
        [one] => Ok(*one),
        [] => Err(no_target(format!(
            "no strategy declares {:?} ({})",
            assignment.name,
            declared.iter().map(|(n, s)| format!("{n} declares {}", s.names())).collect::<Vec<_>>().join("; ")
        ))),
        many => Err(ParamError::Ambiguous {
            name: assignment.name.clone(),
            entrants: many.iter().map(|&i| format!("{} ({})", i + 1, declared[i].0)).collect::<Vec<_>>().join(", "),
        }),
    }
}

fn load_one(
    config: &Config,
    entry: &crate::config::StrategyEntry,
    engine: &SandboxEngine,
    options: &RunOptions,
) -> LoadedEntrant {
    let path = config.strategy_path(entry);
    let fallback_name = entry.name.clone().unwrap_or_else(|| file_stem(&path));
    let reject = |name: String, sha256: String, reason: String| LoadedEntrant {
        info: EntrantInfo {
            name,
            model: "None".into(),
            sha256,
            rejected: Some(reason),
            params: ParamValues::default(),
        },
        module_path: None,
        program: None,
        schema: ParamSchema::default(),
        storage: Storage::zeroed(),
    };
    let module_path = match build::resolve_module(&path, &options.build) {
        Ok(p) => p,
        Err(e) => return reject(fallback_name, String::new(), e.to_string()),
    };
    let bytes = match build::read_module(&module_path) {
        Ok(b) => b,
        Err(e) => return reject(fallback_name, String::new(), e.to_string()),
    };
    let sha256 = sha256_hex(&bytes);
    // Name, model and parameters come from the module's sections, read without running anything.
    let info = inspect(&bytes, &config.sandbox).ok();
    let section_name = info.as_ref().and_then(|i| i.name.clone()).filter(|n| !n.is_empty());
    let name = entry.name.clone().or(section_name.clone()).unwrap_or_else(|| file_stem(&module_path));
    let model = info.as_ref().and_then(|i| i.model.clone()).unwrap_or_else(|| "None".into());
    let schema = info.map(|i| i.params).unwrap_or_default();
    let program = match engine.load(&bytes, &config.sandbox) {
        Err(e) => return reject(name, sha256, e.to_string()),
        Ok(module) => match config.run.backend {
            Backend::Wasm => StrategyProgram::Wasm(module),
            Backend::Native => {
                let key = section_name.unwrap_or_default();
                match native::find(&key) {
                    Some(n) => StrategyProgram::Native(n),
                    None => {
                        return reject(
                            name,
                            sha256,
                            format!(
                                "no native build of {key:?}: --backend native runs only the strategies compiled into amm-engine ({})",
                                native::names().join(", ")
                            ),
                        );
                    }
                }
            }
        },
    };
    LoadedEntrant {
        info: EntrantInfo { name, model, sha256, rejected: None, params: ParamValues::default() },
        module_path: Some(module_path),
        program: Some(program),
        schema,
        storage: Storage::zeroed(),
    }
}

/// Runs every simulation of `config` with `entrants` and aggregates the results.
pub fn run(config: &Config, entrants: Vec<LoadedEntrant>, options: &RunOptions) -> Result<RunResults, RunError> {
    let threads = threads(config);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("amm-sim-{i}"))
        .build()
        .map_err(|e| RunError::Threads { threads, message: e.to_string() })?;
    let racing: Vec<(String, StrategyProgram, Storage)> = entrants
        .iter()
        .filter_map(|e| e.program.clone().map(|p| (e.info.name.clone(), p, e.storage.clone())))
        .collect();
    let racing = Arc::new(racing);
    let range = options.shard.map_or(0..config.run.simulations, |s| s.range(config.run.simulations));
    let bar = if options.progress {
        let bar = indicatif::ProgressBar::new(u64::from(range.end - range.start));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:40}] {pos}/{len} sims, {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix("simulating");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let results: Vec<SimulationResult> = pool.install(|| {
        range
            .clone()
            .into_par_iter()
            .map(|k| {
                let entrants: Vec<Entrant<'_>> =
                    racing.iter().map(|(name, program, storage)| Entrant { name, program, storage }).collect();
                let result = simulate(config, &entrants, config.seed(k));
                bar.inc(1);
                result
            })
            .collect()
    });
    bar.finish_and_clear();
    let infos: Vec<EntrantInfo> = entrants.into_iter().map(|e| e.info).collect();
    Ok(RunResults::aggregate(config, &infos, results, options.shard))
}
