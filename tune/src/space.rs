//! The search space: declared parameters mapped to and from the unit cube the optimiser sees.
//!
//! Each searched parameter is one coordinate `u ∈ [0, 1]`: linear ranges map `u` to
//! `min + u (max − min)`; log ranges to `exp(ln min + u (ln max − ln min))`; integers give each
//! whole value an equal share of `[0, 1]` (then the same on a log scale); a switch is on for
//! `u ≥ 1/2`. Parameters with an empty range are fixed and not searched.

use std::collections::BTreeMap;

use amm_engine::params::{Kind, ParamSchema, ParamSpec, ParamValues};

/// One searched coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct Dim {
    /// The parameter.
    pub spec: ParamSpec,
}

/// The parameters a study searches, and the values of the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Searched, in schema order.
    pub dims: Vec<Dim>,
    /// Every parameter's value when not searched (its start value).
    pub fixed: BTreeMap<String, f64>,
}

/// A point of the space: every declared parameter's value.
pub type Point = ParamValues;

/// Why a search space cannot be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpaceError {
    /// Nothing to tune.
    #[error(
        "the strategy declares no parameters to tune (no amm.params section, or every range is a single value); declare them with amm_strategy_sdk::export_params!"
    )]
    Empty,
    /// `--only` names a parameter the strategy does not declare.
    #[error("--only {name:?}: the strategy declares {declared}")]
    Unknown {
        /// The name given.
        name: String,
        /// What is declared.
        declared: String,
    },
}

impl Space {
    /// The space of `schema`, starting from `start` (every declared value); `only`, when not
    /// empty, restricts the search to those names (the rest stay at their start values).
    pub fn new(schema: &ParamSchema, start: &ParamValues, only: &[String]) -> Result<Space, SpaceError> {
        for name in only {
            if schema.get(name).is_none() {
                return Err(SpaceError::Unknown { name: name.clone(), declared: schema.names() });
            }
        }
        let dims: Vec<Dim> = schema
            .params
            .iter()
            .filter(|p| p.max > p.min && (only.is_empty() || only.contains(&p.name)))
            .map(|p| Dim { spec: p.clone() })
            .collect();
        if dims.is_empty() {
            return Err(SpaceError::Empty);
        }
        let fixed = schema
            .params
            .iter()
            .map(|p| (p.name.clone(), start.0.get(&p.name).copied().unwrap_or(p.default)))
            .collect();
        Ok(Space { dims, fixed })
    }

    /// Searched dimensions.
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether nothing is searched (never, for a space [`Space::new`] made).
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// The point at unit-cube coordinates `u` (one per dimension).
    pub fn point(&self, u: &[f64]) -> Point {
        let mut values = self.fixed.clone();
        for (dim, &u) in self.dims.iter().zip(u) {
            values.insert(dim.spec.name.clone(), to_value(&dim.spec, u.clamp(0.0, 1.0)));
        }
        ParamValues(values)
    }

    /// Unit-cube coordinates of `point` (the optimiser's start).
    pub fn coordinates(&self, point: &Point) -> Vec<f64> {
        self.dims
            .iter()
            .map(|d| to_unit(&d.spec, point.0.get(&d.spec.name).copied().unwrap_or(d.spec.default)))
            .collect()
    }
}

fn to_value(p: &ParamSpec, u: f64) -> f64 {
    match p.kind {
        Kind::Bool => f64::from(u8::from(u >= 0.5)),
        Kind::F64 if p.log => {
            libm::exp(libm::log(p.min) + u * (libm::log(p.max) - libm::log(p.min))).clamp(p.min, p.max)
        }
        Kind::F64 => (p.min + u * (p.max - p.min)).clamp(p.min, p.max),
        Kind::Int if p.log => {
            let (lo, hi) = (libm::log(p.min - 0.5).max(libm::log(0.5)), libm::log(p.max + 0.5));
            libm::round(libm::exp(lo + u * (hi - lo))).clamp(p.min, p.max)
        }
        Kind::Int => libm::floor(p.min + u * (p.max - p.min + 1.0)).clamp(p.min, p.max),
    }
}

fn to_unit(p: &ParamSpec, v: f64) -> f64 {
    let u = match p.kind {
        Kind::Bool => {
            if v != 0.0 {
                0.75
            } else {
                0.25
            }
        }
        Kind::F64 if p.log => (libm::log(v) - libm::log(p.min)) / (libm::log(p.max) - libm::log(p.min)),
        Kind::F64 => (v - p.min) / (p.max - p.min),
        Kind::Int if p.log => {
            let (lo, hi) = (libm::log(p.min - 0.5).max(libm::log(0.5)), libm::log(p.max + 0.5));
            (libm::log(v) - lo) / (hi - lo)
        }
        Kind::Int => (v - p.min + 0.5) / (p.max - p.min + 1.0),
    };
    if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.5 }
}

/// A point's canonical text: `name=value` pairs by name, values in Rust's shortest round-trip
/// form. Two evaluations of the same point have the same key (the study's cache key).
pub fn key(point: &Point) -> String {
    point.0.iter().map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: Kind, log: bool, min: f64, max: f64, default: f64) -> ParamSpec {
        ParamSpec { name: name.into(), kind, log, offset: 0, min, max, default }
    }

    #[test]
    fn coordinates_and_values_round_trip() {
        for p in [
            spec("a", Kind::F64, false, -2.0, 6.0, 1.0),
            spec("b", Kind::F64, true, 1.0, 1000.0, 30.0),
            spec("c", Kind::Int, false, 1.0, 10.0, 4.0),
            spec("d", Kind::Int, true, 1.0, 100.0, 10.0),
            spec("e", Kind::Bool, false, 0.0, 1.0, 1.0),
        ] {
            let u = to_unit(&p, p.default);
            let back = to_value(&p, u);
            assert!(
                (back - p.default).abs() < 1e-9 * p.default.abs().max(1.0),
                "{}: {} -> {u} -> {back}",
                p.name,
                p.default
            );
            assert!(to_value(&p, 0.0) >= p.min && to_value(&p, 1.0) <= p.max);
        }
    }

    #[test]
    fn integers_get_equal_shares_of_the_cube() {
        let p = spec("n", Kind::Int, false, 1.0, 4.0, 2.0);
        let counts = (0..4000).fold([0usize; 4], |mut c, i| {
            let v = to_value(&p, (i as f64 + 0.5) / 4000.0);
            c[v as usize - 1] += 1;
            c
        });
        assert_eq!(counts, [1000; 4]);
    }
}
