//! The study's `report.html` and its terminal table.
//!
//! The page shows, with the engine's own charts: the best training score so far against
//! simulations spent (± one standard error), each parameter's trace over generations, and a
//! sensitivity view (each parameter against the training score of the candidates that ran
//! every seed of their race); then the validation and test tables.

use amm_engine::report::chart::{self, LineChart, Series};
use amm_engine::report::html::escape;

use crate::Outcome;

/// The terminal table: validation finalists, then the test comparisons.
pub fn table(o: &Outcome) -> String {
    let mut s = String::new();
    s.push_str(&format!("objective: {} — {}\n", o.objective, o.objective_means));
    let seg = &o.segments;
    s.push_str(&format!(
        "{}{}, {} restarts, {} of {} simulations (search, validation and test){}; optimiser seed {}\n",
        if o.generations == 1 { "1 generation".to_string() } else { format!("{} generations", o.generations) },
        if o.runs.len() > 1 {
            format!(
                " ({} CMA-ES runs raced, stopped after generations {})",
                o.runs.len(),
                o.runs.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
            )
        } else {
            String::new()
        },
        o.restarts,
        o.simulations,
        o.budget,
        if o.stopped_on_time { " (search stopped on wall time)" } else { "" },
        o.seed
    ));
    s.push_str(&format!(
        "seeds: training {}.. ({} of them, stratified on volatility, the same for every candidate), validation {}..{}, test {}..{}; a ± b = mean ± one standard error over those seeds\n\n",
        seg.train,
        o.race_seeds,
        seg.validation,
        seg.validation + u64::from(seg.validation_seeds).saturating_sub(1),
        seg.test,
        seg.test + u64::from(seg.test_seeds).saturating_sub(1)
    ));
    s.push_str(
        "validation (finalists raced on fresh seeds, best first; a finalist clearly behind the leader stops early)\n",
    );
    s.push_str(&format!(
        "  {:>14}  {:>14}  {:>6}  {:>18}  params\n",
        "train (est.)", "validation", "seeds", "vs start (paired)"
    ));
    for f in &o.finalists {
        s.push_str(&format!(
            "  {:>14}  {:>14}  {:>6}  {:>18}  {}{}\n",
            pm(f.train_mean, f.train_stderr),
            pm(f.validation_mean, f.validation_stderr),
            f.validation_seeds,
            pm(f.vs_start_mean, f.vs_start_stderr),
            values(&f.params),
            if f.is_start { "  (start)" } else { "" }
        ));
    }
    s.push_str(&format!(
        "\ntest ({} seeds never used to search or choose): winner {} = {}\n",
        o.test_seeds,
        o.objective,
        pm(o.test_mean, o.test_stderr)
    ));
    for c in &o.test {
        s.push_str(&format!(
            "  winner − {:<28} {:>20}  ({}, paired per seed)\n",
            c.against,
            pm(c.mean, c.stderr),
            c.measure
        ));
    }
    s.push_str(&format!("\nwinner: {}\n", values(&o.winner)));
    s
}

fn pm(mean: f64, se: f64) -> String {
    format!("{mean:.1} ± {se:.1}")
}

/// Values as `name=value` pairs: whole numbers without decimals, others to the chart's precision.
pub fn values(p: &amm_engine::params::ParamValues) -> String {
    p.0.iter().map(|(k, v)| format!("{k}={}", value(*v))).collect::<Vec<_>>().join(" ")
}

/// A parameter's value as an author would write it: a whole number without decimals (an
/// integer parameter, or a float that landed on one), anything else to the chart's precision.
fn value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { chart::format_value(v) }
}

/// The whole page.
pub fn html(o: &Outcome, title: &str) -> String {
    let best: Vec<(f64, f64)> = o.best_so_far.iter().map(|&(n, m, _)| (n as f64, m)).collect();
    let hi: Vec<(f64, f64)> = o.best_so_far.iter().map(|&(n, m, se)| (n as f64, m + se)).collect();
    let lo: Vec<(f64, f64)> = o.best_so_far.iter().map(|&(n, m, se)| (n as f64, m - se)).collect();
    let y_label = format!("{} (Y)", o.objective);
    let mut body = String::new();
    body.push_str(&format!("<h1>Tuning study: {}</h1>\n", escape(title)));
    body.push_str(&format!("<p>Objective: <b>{}</b> — {}.</p>\n", escape(o.objective), escape(o.objective_means)));
    body.push_str(&format!("<h2>Result</h2>\n<pre>{}</pre>\n", escape(&table(o))));
    body.push_str("<h2>Best so far</h2>\n");
    body.push_str(&chart::lines(&LineChart {
        title: "Best training score so far",
        desc: "",
        x_label: "simulations",
        y_label: &y_label,
        series: &[Series::new("best", &best).highlighted(), Series::new("+1 se", &hi), Series::new("−1 se", &lo)],
        y_range: None,
    }));
    let names: Vec<String> = o.start.0.keys().cloned().collect();
    for name in &names {
        let trace: Vec<(f64, f64)> =
            o.trials.iter().filter_map(|t| Some((f64::from(t.generation), *t.params.0.get(name)?))).collect();
        let finished: Vec<(f64, f64)> = o
            .trials
            .iter()
            .filter(|t| t.fate == "finished" && t.mean.is_finite())
            .filter_map(|t| Some((*t.params.0.get(name)?, t.mean)))
            .collect();
        body.push_str(&format!("<h2>{}</h2>\n<div class=\"pair\">", escape(name)));
        body.push_str(&chart::scatter(&LineChart {
            title: &format!("{name} by generation"),
            desc: "",
            x_label: "generation",
            y_label: name,
            series: &[Series::new("candidates", &trace)],
            y_range: None,
        }));
        body.push_str(&chart::scatter(&LineChart {
            title: &format!("training score against {name}"),
            desc: "",
            x_label: name,
            y_label: &y_label,
            series: &[Series::new("finished candidates", &finished)],
            y_range: None,
        }));
        body.push_str("</div>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}.pair{{display:grid;grid-template-columns:1fr 1fr;gap:1em}}svg{{max-width:100%;height:auto}}</style></head><body>\n{body}</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::value;

    /// An integer parameter printed as `20.00` reads as a float an author could not have declared.
    #[test]
    fn whole_values_print_without_decimals_and_others_keep_the_charts_precision() {
        assert_eq!(value(20.0), "20");
        assert_eq!(value(-3.0), "-3");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(2.5), "2.50");
        assert_eq!(value(0.04062), "0.04062");
    }
}
