//! Recombining shard results into the result of the whole run.
//!
//! A tournament can run as N independent shards (`run --shard K/N`, one per machine or job
//! array task), each over a contiguous range of the seeds. Merging checks that the shards belong
//! together (same engine, configuration and modules, each shard once, every seed exactly once)
//! and re-aggregates, giving a `results.json` byte-identical to a single-machine run.

use std::path::{Path, PathBuf};

use super::{EntrantInfo, RunResults};

/// Why shard results cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A results file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        message: String,
    },
    /// Results from different runs.
    #[error("{path} does not belong with {first}: {what} differs")]
    Mismatch {
        /// The odd one out.
        path: PathBuf,
        /// The first results given.
        first: PathBuf,
        /// What differs.
        what: &'static str,
    },
    /// Shards missing, repeated, or seeds not covered exactly once.
    #[error("incomplete set of shards: {0}")]
    Coverage(String),
}

/// Reads `results.json` from a file or a run's output directory.
pub fn read(path: &Path) -> Result<RunResults, MergeError> {
    let file = if path.is_dir() { path.join("results.json") } else { path.to_path_buf() };
    let text =
        std::fs::read_to_string(&file).map_err(|e| MergeError::Read { path: file.clone(), message: e.to_string() })?;
    serde_json::from_str(&text)
        .map_err(|e| MergeError::Read { path: file, message: format!("not amm-engine results: {e}") })
}

fn identity(results: &RunResults) -> Vec<(String, String, String, Option<String>)> {
    results.strategies.iter().map(|s| (s.name.clone(), s.model.clone(), s.sha256.clone(), s.rejected.clone())).collect()
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Merges shard results (any order) into the whole run's results.
pub fn merge(parts: Vec<(PathBuf, RunResults)>) -> Result<RunResults, MergeError> {
    let Some((first_path, first)) = parts.first() else {
        return Err(MergeError::Coverage("no results given".into()));
    };
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![false; count as usize];
    for (path, part) in &parts {
        let mismatch = |what| MergeError::Mismatch { path: path.clone(), first: first_path.clone(), what };
        if part.engine_version != first.engine_version {
            return Err(mismatch("the engine version"));
        }
        if json(&part.config) != json(&first.config) {
            return Err(mismatch("the configuration"));
        }
        if identity(part) != identity(first) {
            return Err(mismatch("the strategies (names, models or module hashes)"));
        }
        let shard = part
            .shard
            .ok_or_else(|| MergeError::Coverage(format!("{} is a whole run, not a shard", path.display())))?;
        if shard.count != count {
            return Err(mismatch("the number of shards"));
        }
        if std::mem::replace(&mut seen[shard.index as usize], true) {
            return Err(MergeError::Coverage(format!("shard {}/{count} given twice", shard.index)));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(MergeError::Coverage(format!("shard {missing}/{count} is missing")));
    }
    let config = first.config.clone();
    let entrants: Vec<EntrantInfo> = first
        .strategies
        .iter()
        .map(|s| EntrantInfo {
            name: s.name.clone(),
            model: s.model.clone(),
            sha256: s.sha256.clone(),
            rejected: s.rejected.clone(),
            params: s.params.clone(),
        })
        .collect();
    let mut simulations: Vec<_> = parts.into_iter().flat_map(|(_, part)| part.simulations).collect();
    simulations.sort_by_key(|s| s.seed);
    let expected: Vec<u64> = (0..config.run.simulations).map(|k| config.seed(k)).collect();
    let got: Vec<u64> = simulations.iter().map(|s| s.seed).collect();
    if got != expected {
        return Err(MergeError::Coverage(format!(
            "the shards hold {} simulations, the run has {} (seeds must each appear exactly once)",
            got.len(),
            expected.len()
        )));
    }
    Ok(RunResults::aggregate(&config, &entrants, simulations, None))
}
