//! The leaderboard printed at the end of a run.

use std::fmt::Write;

use super::RunResults;

/// The leaderboard as text: strategies by mean edge, then the normalizer, then rejections and
/// disqualification reasons.
pub fn render(results: &RunResults) -> String {
    let mut out = String::new();
    let sims = results.seeds.count;
    let _ = writeln!(
        out,
        "{sims} simulations × {} steps, seeds {}..{} (stride {})",
        results.config.run.steps,
        results.seeds.start,
        results.seeds.start + u64::from(sims.saturating_sub(1)) * results.seeds.stride,
        results.seeds.stride,
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<28} {:>10} {:>9} {:>8} {:>18} {:>7} {:>8} {:>8} {:>9} {:>5}",
        "rank",
        "strategy",
        "mean edge",
        "std",
        "± se",
        "vs normalizer",
        "sharpe",
        "capital",
        "retail",
        "arb loss",
        "dq"
    );
    let ranked = super::ranked(results);
    for (rank, s) in ranked.iter().enumerate() {
        let vs = match (s.mean_edge_vs_normalizer, s.stderr_edge_vs_normalizer) {
            (Some(m), Some(se)) => format!("{m:+.2} ± {se:.2}"),
            _ => "—".to_string(),
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:>10.2} {:>9.2} {:>8.2} {:>18} {:>7.3} {:>7.1}% {:>7.1}% {:>9.2} {:>5}",
            rank + 1,
            truncate(&s.name, 28),
            s.mean_edge,
            s.std_edge,
            s.stderr_edge,
            vs,
            s.sharpe,
            100.0 * s.mean_final_capital_weight,
            100.0 * s.mean_retail_share,
            -s.mean_arb_edge,
            s.disqualified_sims,
        );
    }
    if let Some(n) = &results.normalizer {
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:>10.2} {:>9.2} {:>8.2} {:>18} {:>7} {:>8} {:>7.1}% {:>9.2} {:>5}",
            "",
            "[normalizer]",
            n.mean_edge,
            n.std_edge,
            n.stderr_edge,
            "",
            "",
            "",
            100.0 * n.mean_retail_share,
            -n.mean_arb_edge,
            "",
        );
    }
    for s in results.strategies.iter().filter(|s| s.rejected.is_some()) {
        let _ = writeln!(out, "rejected  {}: {}", s.name, s.rejected.as_deref().unwrap_or_default());
    }
    for s in &results.strategies {
        for d in &s.disqualification_reasons {
            let _ = writeln!(
                out,
                "disqualified  {} in {} of {sims} simulations, in {}: {} (first: seed {}, step {}: {})",
                s.name, d.simulations, d.call, d.kind, d.first_seed, d.first_step, d.example
            );
        }
    }
    let st = &results.stats;
    let _ = writeln!(
        out,
        "calls per step {:.2} (arbitrage {:.2} quotes per pool-step, router {:.2} quotes per pool-order)",
        st.calls_per_step, st.arb_quotes_per_pool_step, st.router_quotes_per_pool_order
    );
    out
}

/// One line per strategy: the engine's calls to it per step, the fuel they used and the engine
/// time its curve cost per simulation (what each strategy costs the run; fuel only on the wasm
/// backend, `—` there for a strategy with no completed call, one that faulted on its first).
pub fn render_costs(costs: &[super::StrategyCost], steps: u32) -> String {
    let mut out = String::from("cost per strategy (calls per step, fuel per call, engine ms per simulation):");
    for c in costs {
        let per_step = c.calls_per_simulation / f64::from(steps.max(1));
        let engine = c.engine_ms_per_simulation;
        let fuel = match (c.fuel_per_call, c.fuel_per_simulation) {
            (Some(fuel), _) => format!("  {fuel:>9.0} fuel"),
            (None, Some(_)) => format!("  {:>9} fuel", "—"),
            (None, None) => String::new(), // the native backend meters nothing
        };
        let _ = write!(out, "\n  {:<28} {per_step:>7.2} calls{fuel}  {engine:>8.2} ms engine", truncate(&c.name, 28));
    }
    out
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width { s.to_string() } else { s.chars().take(width - 1).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::StrategyCost;

    fn cost(name: &str, calls: f64, fuel: Option<f64>) -> StrategyCost {
        StrategyCost {
            name: name.to_string(),
            calls_per_simulation: calls,
            fuel_per_simulation: fuel,
            fuel_per_call: fuel.filter(|_| calls > 0.0).map(|f| f / calls),
            engine_ms_per_simulation: 1.5,
        }
    }

    #[test]
    fn a_strategy_without_a_completed_call_keeps_the_fuel_column() {
        let shown = render_costs(&[cost("Metered", 4000.0, Some(8e5)), cost("Faulted at once", 0.0, Some(0.0))], 1000);
        let lines: Vec<&str> = shown.lines().skip(1).collect();
        assert!(lines[0].contains("200 fuel"), "{shown}");
        assert!(lines[1].contains("— fuel"), "{shown}");
        // The columns line up: the engine time ends both lines at the same width.
        assert_eq!(lines[0].chars().count(), lines[1].chars().count(), "{shown}");
        let native = render_costs(&[cost("Native", 4000.0, None)], 1000);
        assert!(!native.lines().nth(1).expect("a line for the strategy").contains("fuel"), "{native}");
    }
}
