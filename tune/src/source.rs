//! Tuning the constants of a single-file source: each point is the file with its
//! `const NAME: T = literal;` values replaced, screened and built like any source.
//!
//! Builds of one study share a cargo target directory, so the dependencies (for a Prop AMM
//! Challenge file, `pinocchio` and `wincode`) are compiled once and a candidate costs the
//! strategy's own compile, not a full rebuild; each distinct point is built once per process
//! (and once ever: the single-file cache is content-addressed).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use amm_engine::build::constants::{self, ConstError, ConstType};
use amm_engine::build::{Screened, SourceOptions, read_module};
use amm_engine::params::{Kind, ParamSchema, ParamSpec};
use amm_engine::sandbox::{SandboxEngine, SandboxLimits};
use amm_engine::strategy::StrategyProgram;

use crate::space::{Point, key};

/// A source whose constants are tuned.
pub struct SourceCandidate {
    /// The file (messages name it).
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// How candidates are built (with a shared target directory).
    pub options: SourceOptions,
    /// The sandbox that loads each built module.
    pub engine: SandboxEngine,
    /// Limits the modules are loaded under.
    pub limits: SandboxLimits,
    programs: Mutex<HashMap<String, Result<StrategyProgram, String>>>,
    failures: std::sync::atomic::AtomicUsize,
    first_failure: Mutex<Option<String>>,
}

/// A `--param NAME=LO..HI` range for a source constant.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstRange {
    /// The constant.
    pub name: String,
    /// Smallest value.
    pub lo: f64,
    /// Largest value.
    pub hi: f64,
    /// Search on a log scale.
    pub log: bool,
    /// Whole numbers only (also implied by an integer type).
    pub int: bool,
}

impl SourceCandidate {
    /// A candidate for `source` at `path`.
    pub fn new(
        path: PathBuf,
        source: String,
        options: SourceOptions,
        engine: SandboxEngine,
        limits: SandboxLimits,
    ) -> Self {
        SourceCandidate {
            path,
            source,
            options,
            engine,
            limits,
            programs: Mutex::new(HashMap::new()),
            failures: std::sync::atomic::AtomicUsize::new(0),
            first_failure: Mutex::new(None),
        }
    }

    /// The schema of the ranges: one parameter per constant, its current literal as the
    /// default. A constant that is missing, not a literal, of another type, or whose literal
    /// lies outside its range is an error naming it.
    /// `starts` are `--param NAME=VALUE` start values (instead of the file's literals).
    pub fn schema(&self, ranges: &[ConstRange], starts: &[(String, f64)]) -> Result<ParamSchema, String> {
        let mut params = Vec::new();
        for r in ranges {
            let c = constants::find(&self.source, &r.name).map_err(|e| format!("--param {}: {e}", r.name))?;
            let start = starts.iter().find(|(n, _)| n == &r.name).map_or(c.value, |(_, v)| *v);
            let kind = match c.ty {
                ConstType::Bool => Kind::Bool,
                ConstType::Int(_) => Kind::Int,
                ConstType::Float(_) if r.int => Kind::Int,
                ConstType::Float(_) => Kind::F64,
            };
            let (lo, hi) = if kind == Kind::Bool { (0.0, 1.0) } else { (r.lo, r.hi) };
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(format!("--param {}={}..{}: the range must have LO < HI", r.name, r.lo, r.hi));
            }
            for bound in [lo, hi] {
                if let Err(why) = constants::literal(c.ty, bound.round()) {
                    return Err(format!(
                        "--param {}: {bound} cannot be a `{}` ({why})",
                        r.name,
                        constants::type_name(c.ty)
                    ));
                }
            }
            if r.log && lo <= 0.0 {
                return Err(format!("--param {}: a log range needs LO > 0", r.name));
            }
            if kind == Kind::Int && (lo.fract() != 0.0 || hi.fract() != 0.0) {
                return Err(format!(
                    "--param {}: `const {}` is {}: give whole-number bounds",
                    r.name,
                    r.name,
                    constants::type_name(c.ty)
                ));
            }
            if !(lo <= start && start <= hi) {
                return Err(format!(
                    "--param {}={lo}..{hi}: the start value {start} (the file's, line {}, unless given) lies outside the range; widen it or give a start inside",
                    r.name, c.line
                ));
            }
            params.push(ParamSpec {
                name: r.name.clone(),
                kind,
                log: r.log,
                offset: 0,
                min: lo,
                max: hi,
                default: start,
            });
        }
        Ok(ParamSchema { params })
    }

    /// The source of `point`.
    pub fn source_for(&self, point: &Point) -> Result<String, ConstError> {
        let values: Vec<(String, f64)> = point.0.iter().map(|(k, v)| (k.clone(), *v)).collect();
        constants::rewrite(&self.source, &values)
    }

    /// The built and loaded program of `point` (built on first use).
    pub fn program(&self, point: &Point) -> Result<StrategyProgram, String> {
        let k = key(point);
        let mut programs = self.programs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = programs.get(&k) {
            return p.clone();
        }
        let built = self
            .source_for(point)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                // Screened again: a rewritten literal is a number, but nothing unscreened is built.
                let file = Screened::new(&self.path, &text, &self.options).map_err(|e| e.to_string())?;
                file.build(&self.options).map_err(|e| e.to_string())
            })
            .and_then(|b| read_module(&b.wasm).map_err(|e| e.to_string()))
            .and_then(|bytes| self.engine.load(&bytes, &self.limits).map_err(|e| e.to_string()))
            .map(StrategyProgram::Wasm);
        if let Err(e) = &built {
            let mut first = self.first_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| e.clone());
            self.failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        programs.insert(k, built.clone());
        built
    }

    /// How many distinct candidates failed to build or load, and the first reason.
    pub fn failures(&self) -> (usize, Option<String>) {
        let first = self.first_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        (self.failures.load(std::sync::atomic::Ordering::Relaxed), first)
    }
}

/// Parses `NAME=LO..HI`, `NAME=LO..HI:log`, `NAME=LO..HI:int` (or both, `:log:int`).
pub fn parse_range(text: &str) -> Option<Result<ConstRange, String>> {
    let (name, rest) = text.split_once('=')?;
    let (range, flags) = rest.split_once(':').map_or((rest, ""), |(r, f)| (r, f));
    let (lo, hi) = range.split_once("..")?;
    let bad =
        |what: &str| Err(format!("--param {text:?}: {what}; the form is NAME=LO..HI, optionally :log and/or :int"));
    let (Ok(lo), Ok(hi)) = (lo.trim().parse::<f64>(), hi.trim().parse::<f64>()) else {
        return Some(bad("LO and HI must be numbers"));
    };
    let mut log = false;
    let mut int = false;
    for flag in flags.split(':').filter(|f| !f.is_empty()) {
        match flag {
            "log" => log = true,
            "int" => int = true,
            _ => return Some(bad(&format!("unknown flag {flag:?}"))),
        }
    }
    Some(Ok(ConstRange { name: name.trim().to_string(), lo, hi, log, int }))
}
