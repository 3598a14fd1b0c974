//! The checks behind `amm-engine validate`: everything the engine will hold a strategy to, run
//! up front with a PASS/FAIL line each, so an author finds out before a tournament does.
//!
//! Order matters: each check assumes the ones before it passed (a module that does not load has
//! no quotes to check), so after a failure the rest are reported as skipped.

use amm_strategy_sdk::abi::NANO;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Storage};

use crate::market::curve::check_shape;
use crate::params::{ParamSchema, ParamSettings, ParamValues};
use crate::sandbox::{SandboxEngine, SandboxLimits, StrategyModule, WasmInstance, inspect};

/// Outcome of one check (serialized as its word: `"PASS"`, `"FAIL"`, `"SKIP"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// Not run because an earlier check failed.
    Skip,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        })
    }
}

/// One line of a validation report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Short name of the check.
    pub name: &'static str,
    /// Its outcome.
    pub outcome: Outcome,
    /// What was found (the reason, on failure).
    pub detail: String,
}

/// Every check run on one module.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.outcome == Outcome::Pass)
    }

    /// Records a check.
    pub fn push(&mut self, name: &'static str, result: Result<String, String>) -> bool {
        let (outcome, detail) = match result {
            Ok(detail) => (Outcome::Pass, detail),
            Err(detail) => (Outcome::Fail, detail),
        };
        self.checks.push(Check { name, outcome, detail });
        outcome == Outcome::Pass
    }

    /// Records checks that could not run.
    pub fn skip(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            self.checks.push(Check { name, outcome: Outcome::Skip, detail: why.to_string() });
        }
    }

    /// The first failure's detail, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome == Outcome::Fail)
    }
}

/// Names of the checks after loading, in order.
const AFTER_LOAD: &[&str] = &["metadata", "params", "limits", "hooks", "quotes", "purity", "smoke"];

/// Runs every check on module `bytes`. `stem` is the display-name fallback (the file stem);
/// `params` are values for its declared parameters (defaults elsewhere), which the hooks,
/// quotes, purity and smoke checks start from.
pub fn validate_module(
    engine: &SandboxEngine,
    bytes: &[u8],
    stem: &str,
    limits: &SandboxLimits,
    params: &ParamSettings,
) -> (Report, Option<StrategyModule>) {
    let mut report = Report::default();
    let info = match inspect(bytes, limits) {
        Ok(info) => info,
        Err(e) => {
            report.push("format", Err(e.to_string()));
            report.skip(&["interface"], "the module failed the format check");
            report.skip(AFTER_LOAD, "the module failed the format check");
            return (report, None);
        }
    };
    let imports = if info.uses_wasi { "imports only wasi_snapshot_preview1" } else { "no imports" };
    report.push("format", Ok(format!("core module, {} bytes, {imports}, sha256 {}", info.size, &info.sha256[..16])));

    let module = match engine.load(bytes, limits) {
        Ok(module) => module,
        Err(e) => {
            report.push("interface", Err(e.to_string()));
            report.skip(AFTER_LOAD, "the module failed the interface check");
            return (report, None);
        }
    };
    let exports: Vec<&str> = crate::sandbox::EXPECTED_EXPORTS.iter().map(|e| e.name).collect();
    report.push("interface", Ok(format!("exports {}; amm_buffer() in bounds", exports.join(", "))));

    report.push("metadata", check_metadata(module.info().name.as_deref(), module.info().model.as_deref(), stem));

    let schema = &module.info().params;
    let start = match schema.resolve(params) {
        Ok(values) => {
            report.push("params", Ok(describe_params(schema, &values)));
            schema.initial_storage(&values)
        }
        Err(e) => {
            report.push("params", Err(e.to_string()));
            report.skip(&AFTER_LOAD[2..], "the parameter values were refused");
            return (report, Some(module));
        }
    };

    let fresh = || module.instantiate(limits, 0).map_err(|e| e.to_string());
    let limits_ok = report.push("limits", check_limits(&module, limits));
    if !limits_ok {
        report.skip(&AFTER_LOAD[3..], "the module failed the limits check");
        return (report, Some(module));
    }
    let warmed = match check_hooks(&fresh, &start, limits) {
        Ok((detail, storage)) => {
            report.push("hooks", Ok(detail));
            storage
        }
        Err(e) => {
            report.push("hooks", Err(e));
            report.skip(&AFTER_LOAD[4..], "the module failed the hooks check");
            return (report, Some(module));
        }
    };
    let grid = QuoteGrid::standard();
    match fresh() {
        Ok(mut instance) => {
            let quotes = check_quotes(&mut instance, &grid, &start, &warmed, limits);
            let quotes_ok = report.push("quotes", quotes);
            if !quotes_ok {
                report.skip(&["purity", "smoke"], "the module failed the quotes check");
            } else if report.push("purity", check_purity(&mut instance, &fresh, &grid, &warmed)) {
                report.push("smoke", smoke_simulation(&module, &start, limits));
            } else {
                report.skip(&["smoke"], "the module failed the purity check");
            }
        }
        Err(e) => {
            report.push("quotes", Err(e));
            report.skip(&["purity", "smoke"], "the module could not be instantiated");
        }
    }
    (report, Some(module))
}

pub use crate::names::{is_display_name, is_hidden_char};

/// One line on the declared parameters and the values checked.
fn describe_params(schema: &ParamSchema, values: &ParamValues) -> String {
    if schema.params.is_empty() {
        return "none declared (no amm.params section)".into();
    }
    let each: Vec<String> = schema
        .params
        .iter()
        .map(|p| {
            let value = values.0.get(&p.name).copied().unwrap_or(p.default);
            let scale = if p.log { ", log" } else { "" };
            format!(
                "{} = {value} ({} {}..={}{scale}, offset {})",
                p.name,
                crate::params::kind_str(p.kind),
                p.min,
                p.max,
                p.offset
            )
        })
        .collect();
    format!("{} declared: {}", schema.params.len(), each.join("; "))
}

fn check_metadata(name: Option<&str>, model: Option<&str>, stem: &str) -> Result<String, String> {
    let printable = is_display_name;
    match name {
        Some(name) if !printable(name) => {
            return Err(format!("amm.name {name:?} must be {}", crate::names::NAME_RULE));
        }
        _ => {}
    }
    if let Some(model) = model
        && !printable(model)
    {
        return Err(format!("amm.model {model:?} must be {}", crate::names::NAME_RULE));
    }
    let shown_name = name.map_or_else(|| format!("{stem:?} (no amm.name section: file stem)"), |n| format!("{n:?}"));
    let shown_model = model.map_or_else(|| "None (no amm.model section)".to_string(), |m| format!("{m:?}"));
    Ok(format!("name {shown_name}, model {shown_model}"))
}

fn check_limits(module: &StrategyModule, limits: &SandboxLimits) -> Result<String, String> {
    let instance = module.instantiate(limits, 0).map_err(|e| e.to_string())?;
    let used = limits.instantiate_fuel - instance.fuel_left();
    Ok(format!(
        "memory {} of {} allowed; instantiation used {used} of {} fuel",
        human_bytes(instance.memory_bytes()),
        human_bytes(limits.max_memory_bytes),
        limits.instantiate_fuel
    ))
}

/// A sequence of hook calls resembling a simulation's first epoch.
fn sample_trades() -> Vec<AfterSwap> {
    let mut reserve_x = 100 * NANO;
    let mut reserve_y = 10_000 * NANO;
    (0..24u32)
        .map(|i| {
            let side = if i % 3 == 0 { Side::SellX } else { Side::BuyX };
            let input = (1 + u64::from(i % 5)) * NANO;
            let output = match side {
                Side::BuyX => amm_strategy_sdk::math::cp_output_fee_bps(input * 10, reserve_y, reserve_x, 30),
                Side::SellX => amm_strategy_sdk::math::cp_output_fee_bps(input / 10, reserve_x, reserve_y, 30),
            };
            match side {
                Side::BuyX => {
                    reserve_y += input * 10;
                    reserve_x -= output;
                }
                Side::SellX => {
                    reserve_x += input / 10;
                    reserve_y -= output;
                }
            }
            let mut competing = [f32::NAN; 8];
            competing[0] = 99.5 + (i % 4) as f32 * 0.3;
            competing[1] = 100.2;
            AfterSwap {
                side,
                input_amount: input,
                output_amount: output,
                reserve_x,
                reserve_y,
                sim_step: u64::from(i) * 7,
                epoch_step: i * 7,
                epoch_number: 0,
                n_pools: 3,
                pool_index: 0,
                flow_captured: if i % 2 == 0 { 0.0 } else { 0.25 + (i % 3) as f32 * 0.2 },
                capital_weight: 0.5,
                competing_spot_prices: competing,
            }
        })
        .collect()
}

fn sample_epoch() -> EpochBoundary {
    EpochBoundary {
        epoch_number: 0,
        new_reserve_x: 90 * NANO,
        new_reserve_y: 9_000 * NANO,
        epoch_edge: 12.5,
        cumulative_edge: 12.5,
        capital_weight: 0.45,
    }
}

/// Runs the sample hooks on a fresh instance; returns the max fuel used and the final storage.
fn run_hooks(instance: &mut WasmInstance, start: &Storage, limits: &SandboxLimits) -> Result<(u64, Storage), String> {
    let mut storage = start.clone();
    let mut max_fuel = 0;
    for (i, trade) in sample_trades().iter().enumerate() {
        instance.after_swap(trade, &mut storage).map_err(|f| format!("after_swap call {} faulted: {f}", i + 1))?;
        max_fuel = max_fuel.max(limits.hook_fuel - instance.fuel_left());
    }
    instance.epoch_boundary(&sample_epoch(), &mut storage).map_err(|f| format!("epoch_boundary faulted: {f}"))?;
    max_fuel = max_fuel.max(limits.hook_fuel - instance.fuel_left());
    Ok((max_fuel, storage))
}

fn check_hooks(
    fresh: &dyn Fn() -> Result<WasmInstance, String>,
    start: &Storage,
    limits: &SandboxLimits,
) -> Result<(String, Storage), String> {
    let (max_fuel, storage) = run_hooks(&mut fresh()?, start, limits)?;
    let (_, again) = run_hooks(&mut fresh()?, start, limits)?;
    if storage != again {
        return Err(
            "the same hook calls left different storage on two fresh instances: hooks must be deterministic".into()
        );
    }
    let calls = sample_trades().len();
    Ok((
        format!("{calls} after_swap + 1 epoch_boundary, max {max_fuel} of {} fuel; deterministic", limits.hook_fuel),
        storage,
    ))
}

/// The reserve states and trade sizes quotes are checked on.
pub struct QuoteGrid {
    /// (reserve_x, reserve_y) pairs, nano units.
    pub reserves: Vec<(u64, u64)>,
    /// Input sizes as fractions of the input-side reserve, increasing.
    pub fractions: Vec<f64>,
}

impl QuoteGrid {
    /// Reserves at the start state (100 X / 10,000 Y), scaled ×0.1 and ×10, and at prices 50 and
    /// 200; sizes from 1e-6 to 2× the input reserve, 30 points evenly spaced in log.
    pub fn standard() -> Self {
        let reserves = vec![
            (100 * NANO, 10_000 * NANO),
            (10 * NANO, 1_000 * NANO),
            (1_000 * NANO, 100_000 * NANO),
            (100 * NANO, 5_000 * NANO),
            (100 * NANO, 20_000 * NANO),
        ];
        let fractions = (0..30).map(|i| 1e-6 * libm::pow(2e6, f64::from(i) / 29.0)).collect();
        Self { reserves, fractions }
    }
}

/// Smallest input fraction at which a quote must be nonzero.
const NONZERO_FROM: f64 = 1e-4;

fn check_quotes(
    instance: &mut WasmInstance,
    grid: &QuoteGrid,
    start: &Storage,
    warmed: &Storage,
    limits: &SandboxLimits,
) -> Result<String, String> {
    let mut count = 0;
    let mut max_fuel = 0;
    // "fresh": as a simulation starts it (declared parameters written, zero elsewhere).
    let storages = [("fresh", start.clone()), ("after hooks", warmed.clone())];
    for (label, storage) in &storages {
        for &(rx, ry) in &grid.reserves {
            for side in Side::BOTH {
                let (reserve_in, reserve_out) = match side {
                    Side::BuyX => (ry, rx),
                    Side::SellX => (rx, ry),
                };
                let mut points: Vec<(u64, u64)> = Vec::with_capacity(grid.fractions.len());
                for &fraction in &grid.fractions {
                    let input = (reserve_in as f64 * fraction) as u64;
                    let at = || format!("{side:?} input {input} on reserves {rx}/{ry} ({label} storage)");
                    let request = QuoteRequest { side, input_amount: input, reserve_x: rx, reserve_y: ry, storage };
                    let output =
                        instance.quote(&request).map_err(|f| format!("compute_swap faulted: {f}, {}", at()))?;
                    count += 1;
                    max_fuel = max_fuel.max(limits.quote_fuel - instance.fuel_left());
                    // The rule a run applies: at the reserve, one unit less; above it, absurd.
                    let output = crate::market::delivered_output(output, reserve_out)
                        .map_err(|absurd| format!("{absurd}: {}", at()))?;
                    if output == 0 && fraction >= NONZERO_FROM {
                        return Err(format!("quote is 0 (offers no liquidity): {}", at()));
                    }
                    points.push((input, output));
                }
                check_shape(&points, reserve_out)
                    .map_err(|e| format!("{e} ({side:?} on reserves {rx}/{ry}, {label} storage)"))?;
            }
        }
    }
    let curves = storages.len() * grid.reserves.len() * 2;
    Ok(format!(
        "{count} quotes on {curves} curves: nonzero, within reserves, monotone, concave; max {max_fuel} of {} fuel",
        limits.quote_fuel
    ))
}

fn check_purity(
    instance: &mut WasmInstance,
    fresh: &dyn Fn() -> Result<WasmInstance, String>,
    grid: &QuoteGrid,
    warmed: &Storage,
) -> Result<String, String> {
    let mut samples = Vec::new();
    for (i, &(rx, ry)) in grid.reserves.iter().enumerate() {
        for (j, &fraction) in grid.fractions.iter().enumerate().step_by(4) {
            let side = if (i + j) % 2 == 0 { Side::BuyX } else { Side::SellX };
            let reserve_in = if side == Side::BuyX { ry } else { rx };
            samples.push((side, (reserve_in as f64 * fraction) as u64, rx, ry));
        }
    }
    for &(side, input, rx, ry) in &samples {
        let request = QuoteRequest { side, input_amount: input, reserve_x: rx, reserve_y: ry, storage: warmed };
        let faulted = |f| format!("compute_swap faulted: {f}");
        let used = instance.quote(&request).map_err(faulted)?;
        let again = instance.quote(&request).map_err(faulted)?;
        let pristine = fresh()?.quote(&request).map_err(faulted)?;
        if used != again || used != pristine {
            return Err(format!(
                "quote depends on hidden state: {side:?} input {input} on reserves {rx}/{ry} gave {pristine} on a fresh instance, {used} then {again} after other calls"
            ));
        }
    }
    Ok(format!("{} quotes identical on a fresh instance and after other calls", samples.len()))
}

/// Steps of the smoke simulation.
const SMOKE_STEPS: u32 = 2_000;

/// A short simulation against the normalizer, with every in-run check (shape, purity audit
/// of every quote and every hook, probe cross-checks, faults) on: it must run to the end
/// without disqualification.
fn smoke_simulation(module: &StrategyModule, start: &Storage, limits: &SandboxLimits) -> Result<String, String> {
    let mut config = crate::config::Config::parse(
        &format!(
            "[run]\nsimulations = 1\nsteps = {SMOKE_STEPS}\nepoch_len = 500\n[[strategy]]\npath = \"module.wasm\"\n"
        ),
        std::path::Path::new("smoke.toml"),
    )
    .map_err(|e| format!("internal: {e}"))?;
    config.sandbox = SandboxLimits { audit_rate: 1.0, hook_audit_rate: 1.0, ..limits.clone() };
    let program = crate::strategy::StrategyProgram::Wasm(module.clone());
    let entrants = [crate::market::Entrant { name: "strategy", program: &program, storage: start }];
    let result = crate::market::simulate(&config, &entrants, 1);
    let pool = &result.pools[0];
    if let Some(d) = &pool.disqualified {
        return Err(format!("disqualified at step {} in {}: {}", d.step, d.call, d.reason));
    }
    let calls = result.stats.arb_quotes + result.stats.router_quotes + result.stats.hook_calls;
    Ok(format!(
        "{SMOKE_STEPS} steps against the normalizer, every quote and hook audited: edge {:+.2} ({:.0}% of retail volume), {calls} calls",
        pool.edge,
        100.0 * pool.retail_share
    ))
}

/// `1.06 MiB`-style sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.2} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_with_controls_or_bidirectional_overrides_are_not_display_names() {
        assert!(super::is_display_name("Fixed 30 bps — ü"));
        for bad in ["", "a\nb", "evil\u{202E}sbp 03", "x\u{2066}y", "\u{200F}", &"x".repeat(65)] {
            assert!(!super::is_display_name(bad), "{bad:?} passed");
        }
        let refused = super::check_metadata(Some("alice\u{202E}"), None, "s").unwrap_err();
        assert!(refused.contains("amm.name") && refused.contains("printable"), "{refused}");
    }

    use super::*;

    #[test]
    fn shape_check_accepts_rounded_constant_product() {
        let points: Vec<(u64, u64)> = (1..200u64)
            .map(|i| {
                let x = i * i * 1_000;
                (x, amm_strategy_sdk::math::cp_output_fee_bps(x, 10_000 * NANO, 100 * NANO, 30))
            })
            .collect();
        assert_eq!(check_shape(&points, 100 * NANO), Ok(()));
    }

    #[test]
    fn shape_check_rejects_convex_and_decreasing_curves() {
        let convex: Vec<(u64, u64)> = (1..20u64).map(|i| (i * 1_000_000, i * i * 1_000_000)).collect();
        assert!(check_shape(&convex, 1_000 * NANO).unwrap_err().to_string().starts_with("quote curve not concave"));
        let falling = [(10, 100), (20, 150), (30, 120)];
        assert!(check_shape(&falling, 1_000).unwrap_err().to_string().starts_with("quote curve not monotone"));
    }
}
