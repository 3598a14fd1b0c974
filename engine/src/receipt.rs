//! Submission bundles and their verification.
//!
//! `submit` freezes a run so anyone can check it: the modules (named by hash), the exact
//! configuration (pointing at those modules, CLI overrides applied), the results, and a
//! `receipt.json` tying them together with SHA-256 hashes. `verify` re-checks every hash and
//! re-runs the bundle; because runs are deterministic, an honest bundle reproduces its
//! `results.json` byte for byte, and any edit to a module, the config or the results shows.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, StrategyEntry};
use crate::report::{RunResults, Seeds};
use crate::run::{self, RunOptions};
use crate::sandbox::sha256_hex;
use crate::strategy::Backend;

/// Version of the receipt format.
pub const RECEIPT_VERSION: u32 = 1;

/// One module in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledModule {
    /// Display name.
    pub name: String,
    /// SHA-256 of the module.
    pub sha256: String,
    /// Its file, relative to the bundle.
    pub file: String,
}

/// One line of the leaderboard, for people reading the receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// Display name.
    pub name: String,
    /// Mean edge.
    pub mean_edge: f64,
    /// Its standard error.
    pub stderr_edge: f64,
}

/// `receipt.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Receipt format version.
    pub receipt_version: u32,
    /// amm-engine version that produced the results.
    pub engine_version: String,
    /// Backend the results were produced on.
    pub backend: Backend,
    /// Seeds simulated.
    pub seeds: Seeds,
    /// The configuration file, relative to the bundle.
    pub config: String,
    /// Its SHA-256.
    pub config_sha256: String,
    /// Every module, in config order.
    pub modules: Vec<BundledModule>,
    /// Entrants left out because no module could be built or read, with the reason.
    pub excluded: Vec<(String, String)>,
    /// The results file, relative to the bundle.
    pub results: String,
    /// Its SHA-256.
    pub results_sha256: String,
    /// The leaderboard, for reading.
    pub standings: Vec<Standing>,
}

impl Receipt {
    /// The receipt of `results` as a bundle writes them: `config_text` as `config.toml`,
    /// `results_json` (the results serialised) as `results.json`, the `modules` bundled and the
    /// entrants `excluded` (name, reason). Version and backend are those of `results`.
    pub fn of_run(
        results: &RunResults,
        config_text: &str,
        results_json: &str,
        modules: Vec<BundledModule>,
        excluded: Vec<(String, String)>,
    ) -> Self {
        Self {
            receipt_version: RECEIPT_VERSION,
            engine_version: results.engine_version.clone(),
            backend: results.config.run.backend,
            seeds: results.seeds,
            config: "config.toml".into(),
            config_sha256: sha256_hex(config_text.as_bytes()),
            modules,
            excluded,
            results: "results.json".into(),
            results_sha256: sha256_hex(results_json.as_bytes()),
            standings: results
                .strategies
                .iter()
                .map(|s| Standing { name: s.name.clone(), mean_edge: s.mean_edge, stderr_edge: s.stderr_edge })
                .collect(),
        }
    }
}

/// A bundle that could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// File system trouble.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause: part of the message, deliberately not a `source()`, so a reader that
        /// prints the chain (`{:#}`) says it once.
        cause: std::io::Error,
    },
    /// A malformed receipt.
    #[error("{path} is not a valid receipt: {message}")]
    Malformed {
        /// The receipt.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file no longer matches its hash.
    #[error("{file} was modified: its sha256 is {actual}, the receipt says {expected}")]
    Tampered {
        /// The file.
        file: String,
        /// Hash in the receipt.
        expected: String,
        /// Hash now.
        actual: String,
    },
    /// The bundled configuration does not load.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The run could not start.
    #[error(transparent)]
    Run(#[from] run::RunError),
    /// A parameter value that a module refuses, or a `--param` that fits no entrant.
    #[error(transparent)]
    Params(#[from] crate::params::ParamError),
    /// The output directory already holds a bundle.
    #[error("{0} is not empty; choose another --out directory")]
    NotEmpty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReceiptError + '_ {
    move |cause| ReceiptError::Io { path: path.to_path_buf(), cause }
}

/// Makes a bundle of `config` in `out` and runs it; returns the receipt and the results.
pub fn submit(config: &Config, out: &Path, options: &RunOptions) -> Result<(Receipt, RunResults), ReceiptError> {
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(ReceiptError::NotEmpty(out.to_path_buf()));
    }
    let modules_dir = out.join("modules");
    std::fs::create_dir_all(&modules_dir).map_err(io(&modules_dir))?;
    let mut bundled = config.clone();
    bundled.strategies.clear();
    let mut modules = Vec::new();
    let mut excluded = Vec::new();
    // Each bundled module's display name and declared parameters, for `--param` targeting.
    let mut declared: Vec<(String, crate::params::ParamSchema)> = Vec::new();
    for entry in &config.strategies {
        let path = config.strategy_path(entry);
        let name = entry
            .name
            .clone()
            .unwrap_or_else(|| path.file_stem().map_or("strategy".into(), |s| s.to_string_lossy().into()));
        let bytes = crate::build::resolve_module(&path, &options.build)
            .map_err(|e| e.to_string())
            .and_then(|m| crate::build::read_module(&m).map_err(|e| e.to_string()));
        match bytes {
            Err(reason) => excluded.push((name, reason)),
            Ok(bytes) => {
                let sha256 = sha256_hex(&bytes);
                let file = format!("modules/{sha256}.wasm");
                let target = out.join(&file);
                std::fs::write(&target, &bytes).map_err(io(&target))?;
                bundled.strategies.push(StrategyEntry {
                    path: PathBuf::from(&file),
                    name: entry.name.clone(),
                    params: entry.params.clone(),
                });
                let info = crate::sandbox::inspect(&bytes, &config.sandbox).ok();
                let shown =
                    entry.name.clone().or_else(|| info.as_ref().and_then(|i| i.name.clone())).unwrap_or(name.clone());
                declared.push((shown, info.map(|i| i.params).unwrap_or_default()));
                modules.push(BundledModule { name, sha256, file });
            }
        }
    }
    // `--param` values are written into the bundled config, so `verify` re-runs the same point.
    let mut chosen: Vec<_> = bundled.strategies.iter().map(|e| e.params.clone()).collect();
    let named: Vec<(&str, &crate::params::ParamSchema)> = declared.iter().map(|(n, s)| (n.as_str(), s)).collect();
    run::apply_assignments(&options.params, &named, &mut chosen)?;
    for (entry, chosen) in bundled.strategies.iter_mut().zip(chosen) {
        entry.params = chosen;
    }
    let options = &RunOptions { params: Vec::new(), ..options.clone() };
    let config_path = out.join("config.toml");
    let text = toml::to_string_pretty(&bundled).map_err(|e| ReceiptError::Malformed {
        path: config_path.clone(),
        message: format!("cannot serialise the configuration: {e}"),
    })?;
    std::fs::write(&config_path, &text).map_err(io(&config_path))?;

    let results = run_bundle(&config_path, options)?;
    let json = results.to_json();
    let results_path = out.join("results.json");
    std::fs::write(&results_path, &json).map_err(io(&results_path))?;
    for (module, summary) in modules.iter_mut().zip(results.strategies.iter()) {
        module.name = summary.name.clone();
    }
    // A fresh run: its version is this engine's and its backend the bundled config's.
    let receipt = Receipt::of_run(&results, &text, &json, modules, excluded);
    let receipt_path = out.join("receipt.json");
    let receipt_json = serde_json::to_string_pretty(&receipt)
        .map_err(|e| ReceiptError::Malformed { path: receipt_path.clone(), message: e.to_string() })?;
    std::fs::write(&receipt_path, receipt_json + "\n").map_err(io(&receipt_path))?;
    Ok((receipt, results))
}

fn run_bundle(config_path: &Path, options: &RunOptions) -> Result<RunResults, ReceiptError> {
    let config = Config::load(config_path)?;
    let engine = run::engine_for(&config)?;
    let entrants = run::load_entrants(&config, &engine, options)?;
    Ok(run::run(&config, entrants, options)?)
}

/// How a verification went.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The re-run reproduced the results exactly.
    Identical,
    /// The re-run differs: where, first.
    Differs(String),
}

/// Checks every hash in the receipt at `receipt_path` and re-runs the bundle.
pub fn verify(receipt_path: &Path, options: &RunOptions) -> Result<(Receipt, Verdict), ReceiptError> {
    let text = std::fs::read_to_string(receipt_path).map_err(io(receipt_path))?;
    let receipt: Receipt = serde_json::from_str(&text)
        .map_err(|e| ReceiptError::Malformed { path: receipt_path.to_path_buf(), message: e.to_string() })?;
    let bundle = receipt_path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let check = |file: &str, expected: &str| -> Result<Vec<u8>, ReceiptError> {
        let path = bundle.join(file);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(ReceiptError::Tampered { file: file.to_string(), expected: expected.to_string(), actual });
        }
        Ok(bytes)
    };
    for module in &receipt.modules {
        check(&module.file, &module.sha256)?;
    }
    check(&receipt.config, &receipt.config_sha256)?;
    let recorded = check(&receipt.results, &receipt.results_sha256)?;
    let results = run_bundle(&bundle.join(&receipt.config), options)?;
    let rerun = results.to_json();
    if rerun.as_bytes() == recorded.as_slice() {
        return Ok((receipt, Verdict::Identical));
    }
    let recorded = String::from_utf8_lossy(&recorded);
    let line = rerun.lines().zip(recorded.lines()).position(|(a, b)| a != b).unwrap_or(0);
    let show = |text: &str| text.lines().nth(line).unwrap_or("").trim().to_string();
    Ok((
        receipt,
        Verdict::Differs(format!(
            "results.json line {}: the re-run gives `{}`, the bundle has `{}`",
            line + 1,
            show(&rerun),
            show(&recorded)
        )),
    ))
}
