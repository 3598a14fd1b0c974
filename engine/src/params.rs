//! Strategy parameters: the `amm.params` schema a module declares, and the values a run gives it.
//!
//! Why data and not code: a parameter's value is written into the strategy's storage at the
//! offset its schema declares, before the simulation's first call. Nothing is added to the
//! module's imports or exports, the purity audits see storage as always, and the same module
//! bytes (one sha256) run at every point a tuner tries. The schema format is documented in
//! `amm_strategy_sdk::params`; this module reads it (never trusting it), checks values against
//! it, and builds the initial storage.

use std::collections::BTreeMap;
use std::fmt;

use amm_strategy_sdk::Storage;
use amm_strategy_sdk::abi::STORAGE_LEN;
pub use amm_strategy_sdk::params::{Kind, MAX_NAME_LEN, MAX_PARAMS, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

/// Largest `amm.params` section accepted, bytes (64 parameters with 64-byte names fit).
pub const MAX_SECTION_BYTES: usize = 2 + MAX_PARAMS * (1 + MAX_NAME_LEN + amm_strategy_sdk::params::FIXED_BYTES);

/// One declared parameter (serialized as in `validate --json`; read back by distributed
/// tuning's workers, which rebuild a study's field from its description).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Name (ASCII letters, digits, `_`).
    pub name: String,
    /// Value type.
    #[serde(serialize_with = "kind_name", deserialize_with = "kind_from_name")]
    pub kind: Kind,
    /// Searched on a log scale.
    pub log: bool,
    /// Byte offset of the 8-byte value in storage.
    pub offset: u16,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Value when none is chosen.
    pub default: f64,
}

fn kind_name<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind_str(*kind))
}

fn kind_from_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
    let name = String::deserialize(d)?;
    [Kind::F64, Kind::Int, Kind::Bool]
        .into_iter()
        .find(|k| kind_str(*k) == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown parameter type {name:?}: f64, int or bool")))
}

/// `f64`, `int` or `bool`.
pub fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::F64 => "f64",
        Kind::Int => "int",
        Kind::Bool => "bool",
    }
}

/// A module's parameters, in declaration order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamSchema {
    /// The parameters.
    pub params: Vec<ParamSpec>,
}

/// Why an `amm.params` section was refused. Each message names the fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// Larger than [`MAX_SECTION_BYTES`].
    #[error("amm.params is {size} bytes, over the limit of {MAX_SECTION_BYTES}")]
    TooLarge {
        /// Section size.
        size: usize,
    },
    /// More than one `amm.params` section.
    #[error("the module has more than one amm.params section; declare every parameter in one export_params!")]
    Repeated,
    /// A version this engine does not read.
    #[error("amm.params schema version {found} is not supported (this engine reads version {SCHEMA_VERSION})")]
    Version {
        /// The version byte.
        found: u8,
    },
    /// The bytes end early or run on.
    #[error("amm.params is malformed: {what}")]
    Malformed {
        /// What is wrong, with the byte position.
        what: String,
    },
    /// A declaration that cannot be used.
    #[error("amm.params parameter {name:?}: {what}")]
    Invalid {
        /// The parameter (as far as it could be read).
        name: String,
        /// What is wrong.
        what: String,
    },
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], SchemaError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| SchemaError::Malformed {
            what: format!("it ends at byte {} while reading {what}", self.bytes.len()),
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self, what: &str) -> Result<u8, SchemaError> {
        Ok(self.take(1, what)?[0])
    }

    fn f64(&mut self, what: &str) -> Result<f64, SchemaError> {
        let raw = self.take(8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        Ok(f64::from_le_bytes(b))
    }
}

impl ParamSchema {
    /// Reads and checks an `amm.params` section.
    pub fn parse(bytes: &[u8]) -> Result<ParamSchema, SchemaError> {
        if bytes.len() > MAX_SECTION_BYTES {
            return Err(SchemaError::TooLarge { size: bytes.len() });
        }
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte("the version")?;
        if version != SCHEMA_VERSION {
            return Err(SchemaError::Version { found: version });
        }
        let count = r.byte("the parameter count")? as usize;
        if count == 0 || count > MAX_PARAMS {
            return Err(SchemaError::Malformed {
                what: format!("{count} parameters declared; 1 to {MAX_PARAMS} allowed"),
            });
        }
        let mut params: Vec<ParamSpec> = Vec::with_capacity(count);
        for index in 0..count {
            let len = r.byte("a name length")? as usize;
            let raw = r.take(len, "a name")?;
            let name = String::from_utf8_lossy(raw).into_owned();
            let invalid = |what: String| SchemaError::Invalid { name: name.clone(), what };
            let name_ok = (1..=MAX_NAME_LEN).contains(&len)
                && !raw[0].is_ascii_digit()
                && raw.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
            if !name_ok {
                return Err(invalid(format!(
                    "parameter {index}'s name must be 1-{MAX_NAME_LEN} ASCII letters, digits or _, not starting with a digit"
                )));
            }
            let kind = match r.byte("a kind")? {
                0 => Kind::F64,
                1 => Kind::Int,
                2 => Kind::Bool,
                k => return Err(invalid(format!("kind {k} is unknown (0 = f64, 1 = int, 2 = bool)"))),
            };
            let flags = r.byte("flags")?;
            if flags & !1 != 0 {
                return Err(invalid(format!(
                    "flags {flags:#04x} set unknown bits (only bit 0, log scale, is defined)"
                )));
            }
            let off = r.take(2, "an offset")?;
            let offset = u16::from_le_bytes([off[0], off[1]]);
            let (min, max, default) = (r.f64("min")?, r.f64("max")?, r.f64("default")?);
            let spec = ParamSpec { name: name.clone(), kind, log: flags & 1 == 1, offset, min, max, default };
            spec.check().map_err(invalid)?;
            if let Some(other) = params.iter().find(|p| p.name == spec.name) {
                return Err(invalid(format!("declared twice (also at offset {})", other.offset)));
            }
            if let Some(other) = params.iter().find(|p| p.offset.abs_diff(spec.offset) < 8) {
                return Err(invalid(format!(
                    "its 8 bytes at offset {} overlap parameter {:?} at offset {}",
                    spec.offset, other.name, other.offset
                )));
            }
            params.push(spec);
        }
        if r.at != bytes.len() {
            return Err(SchemaError::Malformed {
                what: format!("{} bytes follow the last parameter", bytes.len() - r.at),
            });
        }
        Ok(ParamSchema { params })
    }

    /// The schema's `amm.params` bytes (version 1), with each default replaced by its value in
    /// `defaults` where given: how a tuned module carries its tuned values.
    pub fn encode(&self, defaults: &ParamValues) -> Vec<u8> {
        let mut out = vec![SCHEMA_VERSION, self.params.len() as u8];
        for p in &self.params {
            let default = defaults.0.get(&p.name).copied().unwrap_or(p.default);
            out.push(p.name.len() as u8);
            out.extend_from_slice(p.name.as_bytes());
            out.push(p.kind as u8);
            out.push(u8::from(p.log));
            out.extend_from_slice(&p.offset.to_le_bytes());
            for v in [p.min, p.max, default] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// The parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every parameter's value: `chosen` where given, the default elsewhere. A chosen name the
    /// schema does not declare, or a value it does not accept, is an error naming it.
    pub fn resolve(&self, chosen: &ParamSettings) -> Result<ParamValues, ParamError> {
        for name in chosen.keys() {
            if self.get(name).is_none() {
                return Err(ParamError::Unknown { name: name.clone(), declared: self.names() });
            }
        }
        let values = self
            .params
            .iter()
            .map(|spec| match chosen.get(&spec.name) {
                Some(value) => spec.accept(value).map(|v| (spec.name.clone(), v)),
                None => Ok((spec.name.clone(), spec.default)),
            })
            .collect::<Result<_, _>>()?;
        Ok(ParamValues(values))
    }

    /// `values` as settings a config's `params` table can hold (switches as `true`/`false`,
    /// integers as whole numbers), so a resolved point can be written down and re-run.
    pub fn settings(&self, values: &ParamValues) -> ParamSettings {
        self.params
            .iter()
            .filter_map(|p| {
                let v = *values.0.get(&p.name)?;
                let value = match p.kind {
                    Kind::Bool => ParamValue::Bool(v != 0.0),
                    Kind::Int => ParamValue::Int(v as i64),
                    Kind::F64 => ParamValue::Float(v),
                };
                Some((p.name.clone(), value))
            })
            .collect()
    }

    /// The declared names, comma-separated (for messages).
    pub fn names(&self) -> String {
        if self.params.is_empty() {
            return "none".into();
        }
        self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The storage a simulation starts with for `values` (all other bytes zero).
    pub fn initial_storage(&self, values: &ParamValues) -> Storage {
        let mut storage = Storage::zeroed();
        for spec in &self.params {
            let value = values.0.get(&spec.name).copied().unwrap_or(spec.default);
            amm_strategy_sdk::params::write_at(spec.kind, spec.offset, value, &mut storage);
        }
        storage
    }
}

impl ParamSpec {
    /// Checks a declaration on its own (range, default, offset, kind rules).
    fn check(&self) -> Result<(), String> {
        if usize::from(self.offset) + 8 > STORAGE_LEN {
            return Err(format!("offset {} puts its 8 bytes outside the {STORAGE_LEN}-byte storage", self.offset));
        }
        if !(self.min.is_finite() && self.max.is_finite() && self.default.is_finite()) {
            return Err("min, max and default must be finite numbers".into());
        }
        if !(self.min <= self.default && self.default <= self.max) {
            return Err(format!("default {} lies outside its range {}..={}", self.default, self.min, self.max));
        }
        match self.kind {
            Kind::Int if [self.min, self.max, self.default].iter().any(|v| v.fract() != 0.0 || v.abs() > 9.0e15) => {
                Err("an integer parameter's min, max and default must be whole numbers below 9e15".into())
            }
            Kind::Bool if self.min != 0.0 || self.max != 1.0 || !(self.default == 0.0 || self.default == 1.0) => {
                Err("a bool parameter has range 0..=1 and default 0 or 1".into())
            }
            Kind::Bool if self.log => Err("a bool parameter cannot be on a log scale".into()),
            _ if self.log && self.min <= 0.0 => {
                Err(format!("a log-scale parameter needs min > 0 (min is {})", self.min))
            }
            _ => Ok(()),
        }
    }

    /// `value` as this parameter's number, or why not.
    pub fn accept(&self, value: &ParamValue) -> Result<f64, ParamError> {
        let wrong =
            |expected: String| ParamError::Value { name: self.name.clone(), value: value.to_string(), expected };
        let v = match (self.kind, value) {
            (Kind::Bool, ParamValue::Bool(b)) => return Ok(f64::from(u8::from(*b))),
            (Kind::Bool, _) => return Err(wrong("true or false".into())),
            (_, ParamValue::Bool(_)) => return Err(wrong(format!("a number in {}..={}", self.min, self.max))),
            (Kind::Int, ParamValue::Int(i)) => *i as f64,
            (Kind::Int, ParamValue::Float(f)) if f.fract() == 0.0 => *f,
            (Kind::Int, ParamValue::Float(_)) => {
                return Err(wrong(format!("a whole number in {}..={}", self.min, self.max)));
            }
            (Kind::F64, ParamValue::Int(i)) => *i as f64,
            (Kind::F64, ParamValue::Float(f)) => *f,
        };
        if !(self.min <= v && v <= self.max) {
            return Err(wrong(format!("a value in its declared range {}..={}", self.min, self.max)));
        }
        Ok(v)
    }
}

/// A value given for a parameter (config `params` table, `--param`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter value: a number, or true / false")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ParamValue, E> {
                i64::try_from(v)
                    .map(ParamValue::Int)
                    .map_err(|_| E::custom(format!("{v} is too large for a parameter")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Float(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
        }
    }
}

impl std::str::FromStr for ParamValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s {
            "true" => return Ok(ParamValue::Bool(true)),
            "false" => return Ok(ParamValue::Bool(false)),
            _ => {}
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(ParamValue::Int(i));
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(ParamValue::Float(x)),
            _ => Err(format!("{s:?} is not a number, true or false")),
        }
    }
}

/// Chosen values by parameter name (a config's `params = { … }`, `--param`s).
pub type ParamSettings = BTreeMap<String, ParamValue>;

/// Every declared parameter's value by name: what a simulation runs with and what
/// results.json records (`{"name": value, …}`; integers and switches as whole numbers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParamValues(pub BTreeMap<String, f64>);

impl ParamValues {
    /// No parameters (a module without `amm.params`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A chosen parameter value that cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The module declares no such parameter.
    #[error("parameter {name:?} is not declared by the strategy (declared: {declared})")]
    Unknown {
        /// The name given.
        name: String,
        /// What the schema declares.
        declared: String,
    },
    /// A value of the wrong type or out of range.
    #[error("parameter {name:?} = {value}: expected {expected}")]
    Value {
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// What it accepts.
        expected: String,
    },
    /// Several entrants declare an unqualified `--param` name.
    #[error(
        "--param {name}: strategies {entrants} all declare {name:?}; say which, e.g. --param 1:{name}=VALUE (entrant number or name)"
    )]
    Ambiguous {
        /// The parameter.
        name: String,
        /// The entrants declaring it (1-based numbers and names).
        entrants: String,
    },
    /// No entrant declares an unqualified `--param` name, or the `ENTRANT:` prefix names none.
    #[error("--param {text}: {why}")]
    NoTarget {
        /// The assignment as given.
        text: String,
        /// What was looked for.
        why: String,
    },
    /// A value given for one entrant (config `params` or `--param`) that it refuses.
    #[error("strategy {entrant}: {error}")]
    ForEntrant {
        /// The entrant, `#N name`.
        entrant: String,
        /// What is wrong.
        error: Box<ParamError>,
    },
    /// `--param` text that is not `NAME=VALUE`.
    #[error("--param {text:?}: {expected}")]
    Syntax {
        /// What was given.
        text: String,
        /// The accepted form.
        expected: String,
    },
}

/// One `--param [ENTRANT:]NAME=VALUE`: `entrant` (a 1-based index or a name) says which
/// strategy it is for when several declare the name.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamAssignment {
    /// `ENTRANT:` prefix, if given.
    pub entrant: Option<String>,
    /// Parameter name.
    pub name: String,
    /// Value.
    pub value: ParamValue,
}

impl fmt::Display for ParamAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entrant {
            Some(e) => write!(f, "{e}:{}={}", self.name, self.value),
            None => write!(f, "{}={}", self.name, self.value),
        }
    }
}

impl std::str::FromStr for ParamAssignment {
    type Err = ParamError;
    fn from_str(text: &str) -> Result<Self, ParamError> {
        let syntax = |expected: &str| ParamError::Syntax { text: text.to_string(), expected: expected.to_string() };
        let (lhs, value) = text
            .split_once('=')
            .ok_or_else(|| syntax("expected NAME=VALUE or ENTRANT:NAME=VALUE, e.g. base_fee_bps=25"))?;
        let (entrant, name) = match lhs.rsplit_once(':') {
            Some((e, n)) => (Some(e.trim().to_string()), n.trim()),
            None => (None, lhs.trim()),
        };
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(syntax("a parameter name is ASCII letters, digits and _, not starting with a digit"));
        }
        let value = value.parse::<ParamValue>().map_err(|e| syntax(&e))?;
        Ok(ParamAssignment { entrant, name: name.to_string(), value })
    }
}

#[cfg(test)]
mod tests {
    use amm_strategy_sdk::params::{Param, ParamDecl, section_bytes, section_len};

    use super::*;

    const FEE: Param<f64> = Param::<f64>::new("fee_bps", 100, 30.0, 1.0, 300.0).log();
    const WINDOW: Param<i64> = Param::<i64>::new("window", 101, 10, 1, 50);
    const SKEW: Param<bool> = Param::<bool>::new("skew", 102, false);
    const DECLS: &[ParamDecl] = &[FEE.decl(), WINDOW.decl(), SKEW.decl()];
    const LEN: usize = section_len(DECLS);
    const BYTES: [u8; LEN] = section_bytes::<LEN>(DECLS);

    fn schema() -> ParamSchema {
        ParamSchema::parse(&BYTES).expect("the SDK writes a schema the engine reads")
    }

    #[test]
    fn what_the_sdk_writes_the_engine_reads_back() {
        let s = schema();
        assert_eq!(s.names(), "fee_bps, window, skew");
        let fee = s.get("fee_bps").expect("declared");
        assert_eq!(
            (fee.kind, fee.log, fee.offset, fee.min, fee.max, fee.default),
            (Kind::F64, true, 800, 1.0, 300.0, 30.0)
        );
        assert_eq!(s.get("window").map(|p| p.kind), Some(Kind::Int));
    }

    #[test]
    fn encoding_writes_what_the_sdk_writes() {
        let s = schema();
        assert_eq!(s.encode(&ParamValues::default()), BYTES.to_vec());
        let tuned = ParamValues([("window".to_string(), 12.0)].into_iter().collect());
        let again = ParamSchema::parse(&s.encode(&tuned)).expect("valid");
        assert_eq!(again.get("window").map(|p| p.default), Some(12.0));
        assert_eq!(again.get("fee_bps"), s.get("fee_bps"));
    }

    #[test]
    fn the_initial_storage_holds_the_values_where_the_sdk_reads_them() {
        let s = schema();
        let mut chosen = ParamSettings::new();
        chosen.insert("window".into(), ParamValue::Int(7));
        chosen.insert("skew".into(), ParamValue::Bool(true));
        let values = s.resolve(&chosen).expect("valid");
        let expected = [("fee_bps", 30.0), ("skew", 1.0), ("window", 7.0)];
        assert_eq!(values.0, expected.iter().map(|(n, v)| (n.to_string(), *v)).collect());
        let storage = s.initial_storage(&values);
        assert_eq!(FEE.get(&storage), 30.0);
        assert_eq!(WINDOW.get(&storage), 7);
        assert!(SKEW.get(&storage));
        let mut sdk = Storage::zeroed();
        amm_strategy_sdk::params::write_defaults(DECLS, &mut sdk);
        assert_eq!(s.initial_storage(&s.resolve(&ParamSettings::new()).expect("defaults")), sdk);
    }

    #[test]
    fn values_outside_the_schema_are_refused_with_the_reason() {
        let s = schema();
        let one = |name: &str, v: ParamValue| s.resolve(&ParamSettings::from([(name.to_string(), v)]));
        assert!(
            matches!(one("fee", ParamValue::Int(3)), Err(ParamError::Unknown { declared, .. }) if declared == "fee_bps, window, skew")
        );
        let e = one("fee_bps", ParamValue::Float(301.0)).expect_err("out of range");
        assert_eq!(e.to_string(), "parameter \"fee_bps\" = 301: expected a value in its declared range 1..=300");
        assert!(
            matches!(one("window", ParamValue::Float(2.5)), Err(ParamError::Value { expected, .. }) if expected.contains("whole"))
        );
        assert!(
            matches!(one("skew", ParamValue::Int(1)), Err(ParamError::Value { expected, .. }) if expected == "true or false")
        );
        assert!(matches!(one("fee_bps", ParamValue::Bool(true)), Err(ParamError::Value { .. })));
    }

    fn with(edit: impl FnOnce(&mut Vec<u8>)) -> Result<ParamSchema, SchemaError> {
        let mut bytes = BYTES.to_vec();
        edit(&mut bytes);
        ParamSchema::parse(&bytes)
    }

    #[test]
    fn a_hostile_schema_is_refused_with_its_reason() {
        assert_eq!(with(|b| b[0] = 2), Err(SchemaError::Version { found: 2 }));
        assert!(
            matches!(with(|b| { b.pop(); }), Err(SchemaError::Malformed { what }) if what.contains("ends at byte"))
        );
        assert!(matches!(with(|b| b.push(0)), Err(SchemaError::Malformed { what }) if what.contains("1 bytes follow")));
        assert!(matches!(with(|b| b[1] = 0), Err(SchemaError::Malformed { what }) if what.contains("0 parameters")));
        assert!(
            matches!(with(|b| b[1] = 200), Err(SchemaError::Malformed { what }) if what.contains("200 parameters"))
        );
        assert_eq!(
            ParamSchema::parse(&vec![1u8; MAX_SECTION_BYTES + 1]),
            Err(SchemaError::TooLarge { size: MAX_SECTION_BYTES + 1 })
        );
        // fee_bps: name at 3..10, kind 10, flags 11, offset 12..14, min 14, max 22, default 30.
        let invalid = |r: Result<ParamSchema, SchemaError>, needle: &str| match r {
            Err(SchemaError::Invalid { what, .. }) => assert!(what.contains(needle), "{what}"),
            other => panic!("expected Invalid({needle}), got {other:?}"),
        };
        invalid(with(|b| b[12..14].copy_from_slice(&1020u16.to_le_bytes())), "outside the 1024-byte storage");
        invalid(with(|b| b[12..14].copy_from_slice(&812u16.to_le_bytes())), "overlap");
        invalid(with(|b| b[10] = 9), "kind 9");
        invalid(with(|b| b[11] = 4), "unknown bits");
        invalid(with(|b| b[30..38].copy_from_slice(&500f64.to_le_bytes())), "outside its range");
        invalid(with(|b| b[14..22].copy_from_slice(&f64::NAN.to_le_bytes())), "finite");
        invalid(with(|b| b[14..22].copy_from_slice(&0f64.to_le_bytes())), "log-scale");
        invalid(with(|b| b[3] = b'9'), "name");
        invalid(with(|b| b[4] = b'-'), "name");
    }

    #[test]
    fn param_assignments_parse_or_say_the_form() {
        let a: ParamAssignment = "2:fee_bps=25".parse().expect("valid");
        assert_eq!((a.entrant.as_deref(), a.name.as_str(), a.value), (Some("2"), "fee_bps", ParamValue::Int(25)));
        let b: ParamAssignment = "skew = true".parse().expect("valid");
        assert_eq!((b.entrant, b.value), (None, ParamValue::Bool(true)));
        assert!(
            matches!("fee_bps".parse::<ParamAssignment>(), Err(ParamError::Syntax { expected, .. }) if expected.contains("NAME=VALUE"))
        );
        assert!(
            matches!("fee=abc".parse::<ParamAssignment>(), Err(ParamError::Syntax { expected, .. }) if expected.contains("not a number"))
        );
        assert!(matches!("fee=inf".parse::<ParamAssignment>(), Err(ParamError::Syntax { .. })));
    }
}
