//! A field as data: what a worker on another machine needs to rebuild a study's [`Field`]
//! exactly — the market, every entrant by module sha256 with its starting storage, the
//! candidate's seat and parameters, the population and self-play copies, the objective.
//!
//! Why not a path: a worker shares no files with the coordinator. The modules travel by hash
//! (the service's `modules` table) and are checked against it; everything else is here, in
//! JSON whose floats round-trip exactly, so a simulation on a worker is the simulation the
//! coordinator would have run.

use std::path::{Path, PathBuf};

use amm_engine::config::{Config, StrategyEntry};
use amm_engine::params::{ParamSchema, ParamValues};
use amm_engine::run::{self, RunOptions};
use amm_strategy_sdk::Storage;
use serde::{Deserialize, Serialize};

use crate::space::Point;
use crate::{CandidateKind, Field, FieldEntrant, Objective};

/// The format written in [`FieldSpec::format`]; a worker refuses another.
pub const FORMAT: u32 = 1;

/// One entrant of a field, by its module's hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntrantSpec {
    /// Display name.
    pub name: String,
    /// sha256 of the module bytes, hex.
    pub sha256: String,
    /// Starting storage (the entrant's parameter values written in), hex; the candidate's is
    /// written per point instead.
    pub storage: String,
}

/// A field as data ([`FieldSpec::new`], [`FieldSpec::field`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// [`FORMAT`].
    pub format: u32,
    /// Market and run settings; `strategies` empty (the entrants are below).
    pub config: Config,
    /// Entrants in seat order.
    pub entrants: Vec<EntrantSpec>,
    /// The candidate's seat.
    pub candidate: usize,
    /// The candidate's parameters.
    pub schema: ParamSchema,
    /// The start point (self-play copies play it until the first incumbent).
    pub start: ParamValues,
    /// Self-play copies.
    pub self_copies: usize,
    /// Population members.
    pub members: Vec<Point>,
    /// What a simulation's score is.
    pub objective: Objective,
}

impl FieldSpec {
    /// `field` as data, its entrants' modules named by `sha256` (seat order). Only a field of
    /// declared parameters can travel: a single-file candidate is built per point, on the
    /// machine that has the source and the toolchain.
    pub fn new(field: &Field, objective: Objective, sha256: &[String]) -> Result<FieldSpec, String> {
        if let CandidateKind::Source(_) = field.kind {
            return Err("a study of a single file's constants builds every candidate from the source, on this machine; distribute a module that declares its parameters (amm_strategy_sdk::export_params!)".into());
        }
        if sha256.len() != field.entrants.len() {
            return Err(format!("{} module hashes for {} entrants", sha256.len(), field.entrants.len()));
        }
        let mut config = field.config.clone();
        config.strategies.clear();
        Ok(FieldSpec {
            format: FORMAT,
            config,
            entrants: field
                .entrants
                .iter()
                .zip(sha256)
                .map(|(e, sha)| EntrantSpec {
                    name: e.name.clone(),
                    sha256: sha.clone(),
                    storage: hex(e.storage.as_bytes()),
                })
                .collect(),
            candidate: field.candidate,
            schema: field.schema.clone(),
            start: field.start.clone(),
            self_copies: field.self_copies,
            members: field.members.clone(),
            objective,
        })
    }

    /// The field, its modules read from `dir/SHA256.wasm` (`dir` absolute, or relative to the
    /// working directory) (checked against their hashes) and
    /// loaded on `threads` threads' worth of instances. Errors name what is missing or wrong.
    pub fn field(&self, dir: &Path, threads: usize) -> Result<Field, String> {
        if self.format != FORMAT {
            return Err(format!(
                "field format {} (this worker reads {FORMAT}): run the same amm-engine version",
                self.format
            ));
        }
        let mut config = self.config.clone();
        config.run.threads = threads;
        config.base_dir = dir.to_path_buf();
        config.strategies = self
            .entrants
            .iter()
            .map(|e| {
                let safe = e.sha256.len() == 64 && e.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                safe.then(|| StrategyEntry {
                    path: PathBuf::from(format!("{}.wasm", e.sha256)),
                    name: Some(e.name.clone()),
                    params: Default::default(),
                })
                .ok_or_else(|| format!("entrant {:?}: {:?} is not a sha256", e.name, e.sha256))
            })
            .collect::<Result<_, _>>()?;
        let engine = run::engine_for(&config).map_err(|e| e.to_string())?;
        let options = RunOptions { progress: false, ..RunOptions::default() };
        let loaded = run::load_entrants(&config, &engine, &options).map_err(|e| e.to_string())?;
        let mut entrants = Vec::with_capacity(loaded.len());
        for (e, spec) in loaded.into_iter().zip(&self.entrants) {
            let Some(program) = e.program else {
                return Err(format!(
                    "entrant {:?} was refused at load: {}",
                    spec.name,
                    e.info.rejected.unwrap_or_default()
                ));
            };
            if e.info.sha256 != spec.sha256 {
                return Err(format!("entrant {:?}: module {} does not match its hash", spec.name, spec.sha256));
            }
            entrants.push(FieldEntrant { name: spec.name.clone(), program, storage: storage(&spec.storage)? });
        }
        if self.candidate >= entrants.len() {
            return Err(format!("candidate seat {} of {} entrants", self.candidate, entrants.len()));
        }
        Ok(Field {
            config,
            entrants,
            candidate: self.candidate,
            schema: self.schema.clone(),
            start: self.start.clone(),
            identity: String::new(),
            kind: CandidateKind::Declared,
            self_copies: self.self_copies,
            members: self.members.clone(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn storage(text: &str) -> Result<Storage, String> {
    let mut s = Storage::zeroed();
    let bytes = s.as_bytes_mut();
    if text.len() != 2 * bytes.len() || !text.is_ascii() {
        return Err(format!("a storage of {} hex digits (expected {})", text.len(), 2 * bytes.len()));
    }
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| format!("storage: {e}"))?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_round_trips_through_hex_and_refuses_a_wrong_length() {
        let mut s = Storage::zeroed();
        s.as_bytes_mut()[3] = 0xab;
        s.as_bytes_mut()[1023] = 7;
        let back = storage(&hex(s.as_bytes())).unwrap();
        assert_eq!(back.as_bytes(), s.as_bytes());
        assert!(storage("abcd").unwrap_err().contains("hex digits"));
        assert!(storage(&"zz".repeat(1024)).unwrap_err().contains("storage"));
    }
}
