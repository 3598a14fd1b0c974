//! Run configurations: TOML files with `[run]`, `[market]`, `[pools]`, `[normalizer]`,
//! `[capital]`, `[sandbox]` and one `[[strategy]]` per entrant.
//!
//! Every key is optional except the strategies, and documents its default here. Unknown keys
//! are errors that name the key (a typo must not silently run the default), and every value is
//! range-checked before anything runs.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::sandbox::SandboxLimits;
use crate::strategy::Backend;

/// A market parameter: a fixed value, or a `{ min, max }` range drawn uniformly once per
/// simulation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Param {
    /// Always this value.
    Fixed(f64),
    /// Uniform on `[min, max]`.
    Range {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
}

impl Param {
    const fn range(min: f64, max: f64) -> Self {
        Param::Range { min, max }
    }

    /// Smallest value it can take.
    pub fn min(&self) -> f64 {
        match *self {
            Param::Fixed(v) => v,
            Param::Range { min, .. } => min,
        }
    }

    /// Largest value it can take.
    pub fn max(&self) -> f64 {
        match *self {
            Param::Fixed(v) => v,
            Param::Range { max, .. } => max,
        }
    }
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamVisitor;
        impl<'de> Visitor<'de> for ParamVisitor {
            type Value = Param;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a table { min = …, max = … }")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Param, E> {
                Ok(Param::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Param, E> {
                Ok(Param::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Param, E> {
                Ok(Param::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<f64>()?),
                        "max" => max = Some(map.next_value::<f64>()?),
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                let min = min.ok_or_else(|| de::Error::missing_field("min"))?;
                let max = max.ok_or_else(|| de::Error::missing_field("max"))?;
                Ok(Param::Range { min, max })
            }
        }
        deserializer.deserialize_any(ParamVisitor)
    }
}

/// `[run]`: how many simulations, how long, which seeds, how many threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Simulations to run. Default 100.
    pub simulations: u32,
    /// Steps per simulation. Default 10,000.
    pub steps: u32,
    /// Steps per epoch (capital is rebalanced between epochs). Default 1,000.
    pub epoch_len: u32,
    /// Seed of the first simulation. Default 0.
    pub seed_start: u64,
    /// Distance between consecutive seeds. Default 1.
    pub seed_stride: u64,
    /// Worker threads; 0 = one per core. Default 0. Results do not depend on it, so it is
    /// not written into `results.json` (see [`crate::report::RunFacts`]).
    #[serde(skip_serializing)]
    pub threads: usize,
    /// `wasm` (sandboxed, default) or `native` (example strategies compiled in). Results do
    /// not depend on it, so it is not written into `results.json` either.
    #[serde(skip_serializing)]
    pub backend: Backend,
    /// A secret mixed into every draw a strategy must not be able to predict: the
    /// arbitrageur's probe sizes and cross-checks, which quotes and hooks are audited, and each
    /// strategy's WASI randomness (never into the price path or the order flow). Default empty:
    /// then a strategy that knows the seed and its own name could compute them, which is fine
    /// for local runs. A competition sets a fresh secret per evaluation and publishes it
    /// afterwards: `results.json` and bundles record it, so `verify` reproduces the run.
    pub salt: String,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            simulations: 100,
            steps: 10_000,
            epoch_len: 1_000,
            seed_start: 0,
            seed_stride: 1,
            threads: 0,
            backend: Backend::Wasm,
            salt: String::new(),
        }
    }
}

/// `[market]`: the fair price process, the retail flow and the arbitrageur.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketConfig {
    /// Volatility σ of the fair price per step. Default U[0.0001, 0.007].
    pub volatility: Param,
    /// Retail orders per step (Poisson mean). Default U[0.4, 1.2].
    pub arrival_rate: Param,
    /// Mean retail order size, in Y. Default U[12, 28].
    pub mean_order_size: Param,
    /// σ of the log of order sizes (log-normal). Default 1.2.
    pub order_size_sigma: Param,
    /// Probability a retail order buys X. Default 0.5.
    pub buy_probability: Param,
    /// Smallest profit, in Y, for which the arbitrageur trades. Default 0.01.
    pub min_arb_profit: f64,
    /// Starting fair price, Y per X. Default 100.
    pub initial_price: f64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            volatility: Param::range(0.0001, 0.007),
            arrival_rate: Param::range(0.4, 1.2),
            mean_order_size: Param::range(12.0, 28.0),
            order_size_sigma: Param::Fixed(1.2),
            buy_probability: Param::Fixed(0.5),
            min_arb_profit: 0.01,
            initial_price: 100.0,
        }
    }
}

/// `[pools]`: every strategy pool's starting reserves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolsConfig {
    /// Starting reserve of X. Default 100.
    pub reserve_x: f64,
    /// Starting reserve of Y. Default 10,000.
    pub reserve_y: f64,
}

impl Default for PoolsConfig {
    fn default() -> Self {
        Self { reserve_x: 100.0, reserve_y: 10_000.0 }
    }
}

/// `[normalizer]`: the reference constant-product pool every strategy competes with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizerConfig {
    /// Whether the normalizer takes part. Default true.
    pub enabled: bool,
    /// Its fee in basis points (a range draws a whole number uniformly). Default U{30..80}.
    pub fee_bps: Param,
    /// Its reserves as a multiple of a strategy pool's. Default U[0.4, 2.0].
    pub liquidity: Param,
}

impl Default for NormalizerConfig {
    fn default() -> Self {
        Self { enabled: true, fee_bps: Param::range(30.0, 80.0), liquidity: Param::range(0.4, 2.0) }
    }
}

/// How a strategy's epoch is scored for capital.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// Edge in Y (default).
    #[default]
    Edge,
    /// Edge per unit of the pool's capital at the epoch's start, in basis points.
    ReturnBps,
}

/// `[capital]`: how capital moves between strategies at each epoch boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapitalConfig {
    /// Whether capital is rebalanced at all. Default true.
    pub enabled: bool,
    /// Downside penalty λ in `s = e − λ·max(0, −e)`. Default 2.
    pub lambda: f64,
    /// Softmax temperature T. Default 1.
    pub temperature: f64,
    /// Weight floor per strategy, `w = w_min + (1 − n·w_min)·softmax(s/T)`. Default 0.02.
    pub min_weight: f64,
    /// `edge` (default) or `return_bps`.
    pub score: Score,
}

impl Default for CapitalConfig {
    fn default() -> Self {
        Self { enabled: true, lambda: 2.0, temperature: 1.0, min_weight: 0.02, score: Score::Edge }
    }
}

/// One `[[strategy]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyEntry {
    /// A `.wasm` file or a strategy crate directory (built on demand), relative to the config.
    pub path: PathBuf,
    /// Display name; default: the module's `amm.name`, else the file stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Values for parameters the strategy declares (`amm.params`), e.g.
    /// `params = { base_fee_bps = 25.0, skew = true }`; default: every declared default.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: crate::params::ParamSettings,
}

/// A whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[run]`.
    #[serde(default)]
    pub run: RunConfig,
    /// `[market]`.
    #[serde(default)]
    pub market: MarketConfig,
    /// `[pools]`.
    #[serde(default)]
    pub pools: PoolsConfig,
    /// `[normalizer]`.
    #[serde(default)]
    pub normalizer: NormalizerConfig,
    /// `[capital]`.
    #[serde(default)]
    pub capital: CapitalConfig,
    /// `[sandbox]`.
    #[serde(default)]
    pub sandbox: SandboxLimits,
    /// `[[strategy]]` entries, in pool order, paths as written.
    #[serde(default, rename = "strategy")]
    pub strategies: Vec<StrategyEntry>,
    /// Directory strategy paths are relative to (the config file's); not part of the record.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause: part of the message, deliberately not a `source()`, so a reader that
        /// prints the chain (`{:#}`) says it once.
        cause: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A value out of range.
    #[error("{path}: {key} = {value}: {expected}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, as `table.key`.
        key: String,
        /// The value found.
        value: String,
        /// What is accepted.
        expected: String,
    },
}

/// Largest token amount a reserve may start with (so nano units fit u64 with room to grow).
const MAX_TOKENS: f64 = 1e9;

impl Config {
    /// Reads, parses and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|cause| ConfigError::Read { path: path.to_path_buf(), cause })?;
        let mut config = Config::parse(&text, path)?;
        config.base_dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        Ok(config)
    }

    /// The built-in default market (the values of `configs/default.toml`) with `paths` as its
    /// strategies, in order (relative paths are relative to the working directory). Every value
    /// is the documented default; call [`Config::check`] after applying overrides.
    pub fn with_strategies(paths: &[PathBuf]) -> Config {
        Config {
            run: RunConfig::default(),
            market: MarketConfig::default(),
            pools: PoolsConfig::default(),
            normalizer: NormalizerConfig::default(),
            capital: CapitalConfig::default(),
            sandbox: SandboxLimits::default(),
            strategies: paths
                .iter()
                .map(|p| StrategyEntry { path: p.clone(), name: None, params: Default::default() })
                .collect(),
            base_dir: PathBuf::new(),
        }
    }

    /// Checks that every strategy path exists and can be read: a file that opens, or a
    /// directory that lists (`path` is the config's, for messages). A missing or unreadable
    /// entry is an error naming its index and path, so a typo cannot run an empty tournament.
    pub fn check_strategy_paths(&self, path: &Path) -> Result<(), ConfigError> {
        for (i, entry) in self.strategies.iter().enumerate() {
            let resolved = self.strategy_path(entry);
            // A directory must be a crate: refused here like a missing file (one status for every
            // bad input), not later at load.
            let readable = if resolved.is_dir() {
                std::fs::read_dir(&resolved)
                    .map(|_| ())
                    .map_err(|e| format!("cannot read {}: {e}", resolved.display()))
                    .and_then(|()| {
                        if resolved.join("Cargo.toml").is_file() {
                            Ok(())
                        } else {
                            Err(format!(
                                "{} is a directory without a Cargo.toml, so not a strategy crate",
                                resolved.display()
                            ))
                        }
                    })
            } else {
                std::fs::File::open(&resolved)
                    .map(|_| ())
                    .map_err(|e| format!("cannot read {}: {e}", resolved.display()))
            };
            if let Err(e) = readable {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: format!("strategy[{i}].path"),
                    value: format!("{:?}", entry.path.display().to_string()),
                    expected: format!(
                        "{e}; a strategy path must be an existing .wasm, .wat or single-file .rs strategy, or a strategy crate directory"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Where strategy `entry`'s path points (relative paths are relative to the config file).
    pub fn strategy_path(&self, entry: &StrategyEntry) -> PathBuf {
        if entry.path.is_relative() { self.base_dir.join(&entry.path) } else { entry.path.clone() }
    }

    /// Parses and checks TOML `text` (`path` is for messages only).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        config.check(path)?;
        Ok(config)
    }

    /// Checks every value is in range.
    pub fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: String, expected: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            value,
            expected: expected.to_string(),
        };
        let param = |key: &str, p: &Param, lo: f64, hi: f64, expected: &str| -> Result<(), ConfigError> {
            let shown = match p {
                Param::Fixed(v) => v.to_string(),
                Param::Range { min, max } => format!("{{ min = {min}, max = {max} }}"),
            };
            if !(p.min().is_finite() && p.max().is_finite()) || p.min() > p.max() {
                return Err(invalid(key, shown, "a finite number, or a range with min ≤ max"));
            }
            if p.min() < lo || p.max() > hi {
                return Err(invalid(key, shown, expected));
            }
            Ok(())
        };
        let run = &self.run;
        if run.simulations == 0 {
            return Err(invalid("run.simulations", "0".into(), "at least 1"));
        }
        if run.steps == 0 {
            return Err(invalid("run.steps", "0".into(), "at least 1"));
        }
        if run.epoch_len == 0 {
            return Err(invalid("run.epoch_len", "0".into(), "at least 1"));
        }
        if run.seed_stride == 0 {
            return Err(invalid("run.seed_stride", "0".into(), "at least 1 (seeds must differ)"));
        }
        let last_seed =
            u64::from(run.simulations - 1).checked_mul(run.seed_stride).and_then(|d| d.checked_add(run.seed_start));
        if last_seed.is_none() {
            return Err(invalid(
                "run.seed_start",
                run.seed_start.to_string(),
                "small enough that every seed fits in u64",
            ));
        }
        if run.threads > 1024 {
            return Err(invalid("run.threads", run.threads.to_string(), "0 (one per core) to 1024"));
        }
        let m = &self.market;
        param("market.volatility", &m.volatility, 0.0, 0.5, "between 0 and 0.5 per step")?;
        param("market.arrival_rate", &m.arrival_rate, 0.0, 100.0, "between 0 and 100 orders per step")?;
        param("market.mean_order_size", &m.mean_order_size, 1e-6, 1e6, "between 1e-6 and 1e6 Y")?;
        param("market.order_size_sigma", &m.order_size_sigma, 0.0, 5.0, "between 0 and 5")?;
        param("market.buy_probability", &m.buy_probability, 0.0, 1.0, "a probability, 0 to 1")?;
        if !(m.min_arb_profit > 0.0 && m.min_arb_profit < 1e6) {
            return Err(invalid(
                "market.min_arb_profit",
                m.min_arb_profit.to_string(),
                "a positive amount of Y below 1e6",
            ));
        }
        if !(m.initial_price > 1e-6 && m.initial_price < 1e6) {
            return Err(invalid("market.initial_price", m.initial_price.to_string(), "between 1e-6 and 1e6 Y per X"));
        }
        for (key, v) in [("pools.reserve_x", self.pools.reserve_x), ("pools.reserve_y", self.pools.reserve_y)] {
            if !(1e-3..=MAX_TOKENS).contains(&v) {
                return Err(invalid(key, v.to_string(), "between 0.001 and 1e9 tokens"));
            }
        }
        let n = &self.normalizer;
        param("normalizer.fee_bps", &n.fee_bps, 0.0, 9_999.0, "0 to 9999 basis points")?;
        param("normalizer.liquidity", &n.liquidity, 1e-3, 1e3, "a multiple between 0.001 and 1000")?;
        let c = &self.capital;
        if !(c.lambda >= 0.0 && c.lambda.is_finite()) {
            return Err(invalid("capital.lambda", c.lambda.to_string(), "a finite number ≥ 0"));
        }
        if !(c.temperature > 0.0 && c.temperature.is_finite()) {
            return Err(invalid("capital.temperature", c.temperature.to_string(), "a finite number > 0"));
        }
        let strategies = self.strategies.len();
        if strategies == 0 {
            return Err(invalid("strategy", "none".into(), "at least one [[strategy]] entry with a path"));
        }
        if strategies > 254 {
            return Err(invalid(
                "strategy",
                strategies.to_string(),
                "at most 254 strategies (pool indices are one byte)",
            ));
        }
        if !(c.min_weight >= 0.0 && c.min_weight * strategies as f64 <= 1.0) {
            return Err(invalid(
                "capital.min_weight",
                c.min_weight.to_string(),
                &format!("between 0 and 1/{strategies} (the floors of all {strategies} strategies must fit in 1)"),
            ));
        }
        for (i, s) in self.strategies.iter().enumerate() {
            if let Some(name) = &s.name
                && !crate::validate::is_display_name(name)
            {
                return Err(invalid(&format!("strategy[{i}].name"), format!("{name:?}"), crate::names::NAME_RULE));
            }
        }
        self.sandbox.check().map_err(|e| invalid(&format!("sandbox.{}", e.key), e.value, e.expected))?;
        Ok(())
    }

    /// The seed of simulation `index`.
    pub fn seed(&self, index: u32) -> u64 {
        self.run.seed_start + u64::from(index) * self.run.seed_stride
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    const ONE: &str = "[[strategy]]\npath = \"a.wasm\"\n";

    #[test]
    fn defaults_match_the_specification() {
        let c = parse(ONE).unwrap();
        assert_eq!(c.run.steps, 10_000);
        assert_eq!(c.run.epoch_len, 1_000);
        assert_eq!(c.market.volatility, Param::Range { min: 0.0001, max: 0.007 });
        assert_eq!(c.market.arrival_rate, Param::Range { min: 0.4, max: 1.2 });
        assert_eq!(c.market.mean_order_size, Param::Range { min: 12.0, max: 28.0 });
        assert_eq!(c.market.order_size_sigma, Param::Fixed(1.2));
        assert_eq!(c.market.min_arb_profit, 0.01);
        assert_eq!(c.normalizer.fee_bps, Param::Range { min: 30.0, max: 80.0 });
        assert_eq!(c.normalizer.liquidity, Param::Range { min: 0.4, max: 2.0 });
        assert_eq!((c.capital.lambda, c.capital.temperature, c.capital.min_weight), (2.0, 1.0, 0.02));
        assert_eq!((c.pools.reserve_x, c.pools.reserve_y), (100.0, 10_000.0));
    }

    #[test]
    fn the_built_in_market_is_configs_default_toml() {
        let file = parse(include_str!("../../configs/default.toml")).unwrap();
        let built_in = Config::with_strategies(&[PathBuf::from("a.wasm")]);
        assert_eq!(built_in.run, file.run);
        assert_eq!(built_in.market, file.market);
        assert_eq!(built_in.pools, file.pools);
        assert_eq!(built_in.normalizer, file.normalizer);
        assert_eq!(built_in.capital, file.capital);
        assert_eq!(built_in.sandbox, file.sandbox);
        assert_eq!(
            built_in.strategies,
            vec![StrategyEntry { path: PathBuf::from("a.wasm"), name: None, params: Default::default() }]
        );
        built_in.check(Path::new("built-in")).unwrap();
    }

    #[test]
    fn missing_strategy_paths_are_named_with_their_index() {
        let dir = std::env::temp_dir().join(format!("amm-config-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok.wasm"), b"\0asm").unwrap();
        let mut c = parse("[[strategy]]\npath = \"ok.wasm\"\n[[strategy]]\npath = \"missing.wasm\"\n").unwrap();
        c.base_dir = dir.clone();
        let err = c.check_strategy_paths(Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("t.toml: strategy[1].path = \"missing.wasm\": cannot read"), "{err}");
        c.strategies.truncate(1);
        c.check_strategy_paths(Path::new("t.toml")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn params_take_numbers_or_ranges() {
        let c = parse(&format!("[market]\nvolatility = 0.003\narrival_rate = {{ min = 1, max = 2 }}\n{ONE}")).unwrap();
        assert_eq!(c.market.volatility, Param::Fixed(0.003));
        assert_eq!(c.market.arrival_rate, Param::Range { min: 1.0, max: 2.0 });
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse(&format!("[market]\nvolatilty = 0.003\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("unknown field `volatilty`"), "{err}");
        let err = parse(&format!("[market]\nvolatility = {{ min = 1, mx = 2 }}\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("unknown field `mx`"), "{err}");
        let err = parse(&format!("[runn]\nsteps = 5\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("unknown field `runn`"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key_and_the_range() {
        let err = parse(&format!("[market]\nbuy_probability = 1.5\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("market.buy_probability = 1.5: a probability"), "{err}");
        let err =
            parse(&format!("[market]\nvolatility = {{ min = 0.01, max = 0.001 }}\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("market.volatility") && err.contains("min ≤ max"), "{err}");
        let err = parse(&format!("[run]\nepoch_len = 0\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("run.epoch_len = 0"), "{err}");
        let err = parse("[run]\nsteps = 5\n").unwrap_err().to_string();
        assert!(err.contains("at least one [[strategy]]"), "{err}");
        let err = parse(&format!("[capital]\nmin_weight = 0.6\n{ONE}{ONE}")).unwrap_err().to_string();
        assert!(err.contains("capital.min_weight = 0.6") && err.contains("1/2"), "{err}");
        let err = parse(&format!("[sandbox]\nquote_fuel = 5\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("sandbox.quote_fuel"), "{err}");
    }
}
