//! The self-contained HTML report: leaderboard, capital weight by epoch, edge distributions.
//!
//! Charts are inline SVG from [`super::figures`]; no scripts or external assets, so the file can be archived, mailed and
//! opened offline. Strategy names come from untrusted modules: everything is escaped. The
//! output is deterministic, like `results.json`.

use std::fmt::Write;

use super::RunResults;
use super::figures;

/// Escapes text for HTML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report.
pub fn render(results: &RunResults) -> String {
    let mut html = String::new();
    let title = "amm-engine report";
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}}\
         table{{border-collapse:collapse;font-size:14px}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}\
         td:nth-child(2),th:nth-child(2){{text-align:left}}h2{{margin-top:2em}}.note{{color:#666;font-size:13px}}\
         svg.chart{{display:block;max-width:900px}}.wide{{overflow-x:auto}}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let run = &results.config.run;
    let _ = writeln!(
        html,
        "<p class=\"note\">amm-engine {} · {} simulations × {} steps (epochs of {}) · seeds from {} stride {}</p>",
        escape(&results.engine_version),
        results.seeds.count,
        run.steps,
        run.epoch_len,
        results.seeds.start,
        results.seeds.stride
    );
    leaderboard_table(&mut html, results);
    html.push_str("<h2>Capital weight by epoch</h2>\n<p class=\"note\">Mean over simulations of each strategy's share of the strategies' capital after each epoch's rebalancing.</p>\n");
    html.push_str(&figures::capital_by_epoch(results, None));
    html.push_str("<h2>Edge distribution</h2>\n<p class=\"note\">Total edge per simulation (Y at the fair price): box from the 25th to the 75th percentile, line at the median, whiskers to the 5th and 95th, dot at the mean.</p>\n");
    html.push_str(&figures::edge_distribution(results));
    html.push_str(
        "<h2>Mean edge by epoch</h2>\n<p class=\"note\">Mean over simulations of the edge earned in each epoch.</p>\n",
    );
    html.push_str(&figures::edge_by_epoch(results, None));
    html.push_str("</body></html>\n");
    html
}

fn leaderboard_table(html: &mut String, results: &RunResults) {
    html.push_str("<h2>Leaderboard</h2>\n<div class=\"wide\"><table><tr><th>#</th><th>strategy</th><th>mean edge</th><th>± se</th><th>std</th><th>vs normalizer</th><th>sharpe</th><th>final capital</th><th>retail share</th><th>arb loss</th><th>disqualified</th></tr>\n");
    let ranked = super::ranked(results);
    for (rank, s) in ranked.iter().enumerate() {
        let vs = match (s.mean_edge_vs_normalizer, s.stderr_edge_vs_normalizer) {
            (Some(m), Some(se)) => format!("{m:+.2} ± {se:.2}"),
            _ => "—".into(),
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{vs}</td><td>{:.3}</td><td>{:.1}%</td><td>{:.1}%</td><td>{:.2}</td><td>{}</td></tr>",
            rank + 1,
            escape(&s.name),
            s.mean_edge,
            s.stderr_edge,
            s.std_edge,
            s.sharpe,
            100.0 * s.mean_final_capital_weight,
            100.0 * s.mean_retail_share,
            -s.mean_arb_edge,
            s.disqualified_sims
        );
    }
    if let Some(n) = &results.normalizer {
        let _ = writeln!(
            html,
            "<tr><td></td><td>[normalizer]</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td></td><td></td><td></td><td>{:.1}%</td><td>{:.2}</td><td></td></tr>",
            n.mean_edge,
            n.stderr_edge,
            n.std_edge,
            100.0 * n.mean_retail_share,
            -n.mean_arb_edge
        );
    }
    html.push_str("</table></div>\n");
    for s in &results.strategies {
        if let Some(reason) = &s.rejected {
            let _ = writeln!(html, "<p>Rejected: <b>{}</b>: {}</p>", escape(&s.name), escape(reason));
        }
        for d in &s.disqualification_reasons {
            let _ = writeln!(
                html,
                "<p>Disqualified: <b>{}</b> in {} simulations, in {}: {} (first: seed {}, step {}: {})</p>",
                escape(&s.name),
                d.simulations,
                d.call,
                d.kind,
                d.first_seed,
                d.first_step,
                escape(&d.example)
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{escape, render};
    use crate::report::RunResults;

    /// A run's results (three simulations of the quick line-up, one strategy renamed
    /// `<script>alert(1)</script>`), with the config parsed here so the fixture does not pin its
    /// schema.
    pub(crate) fn fixture() -> RunResults {
        let mut value: serde_json::Value =
            serde_json::from_str(include_str!("testdata/results.json")).expect("fixture parses");
        let config = crate::config::Config::parse(
            "[run]\nsimulations = 3\nsteps = 2000\nepoch_len = 500\n[[strategy]]\npath = \"a.wasm\"\n",
            std::path::Path::new("fixture.toml"),
        )
        .expect("config parses");
        value["config"] = serde_json::to_value(config).expect("config serialises");
        serde_json::from_value(value).expect("fixture is a RunResults")
    }

    /// Each chart's axes' tick values: numeric `<text>` labels grouped by their shared `y`
    /// (an x axis) or shared `x` attribute (a y axis).
    fn axes(html: &str) -> Vec<Vec<f64>> {
        let mut axes = Vec::new();
        for svg in html.split("<svg ").skip(1) {
            let svg = svg.split("</svg>").next().unwrap_or("");
            let mut labels: Vec<(String, String, f64)> = Vec::new();
            for t in svg.split("<text ").skip(1) {
                let Some((attrs, rest)) = t.split_once('>') else { continue };
                let Some((text, _)) = rest.split_once("</text>") else { continue };
                let attr = |name: &str| {
                    attrs
                        .split_once(&format!(" {name}=\""))
                        .or_else(|| attrs.strip_prefix(&format!("{name}=\"")).map(|r| ("", r)))
                        .and_then(|(_, r)| r.split_once('"'))
                        .map(|(v, _)| v.to_string())
                        .unwrap_or_default()
                };
                if let Ok(v) = text.trim().replace('\u{2212}', "-").parse::<f64>() {
                    labels.push((attr("x"), attr("y"), v));
                }
            }
            for by_x in [true, false] {
                let mut groups: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
                for (x, y, v) in &labels {
                    groups.entry(if by_x { x } else { y }).or_default().push(*v);
                }
                axes.extend(groups.into_values().filter(|g| g.len() >= 2));
            }
        }
        axes
    }

    #[test]
    fn the_report_draws_its_charts_with_round_ticks() {
        let results = fixture();
        let html = render(&results);
        assert_eq!(html, render(&results), "same results, same bytes");
        assert_eq!(html.matches("<svg ").count(), 3, "capital weight, edge distribution, edge by epoch");
        assert_eq!(html.matches("role=\"img\"").count(), 3);
        for text in [
            "capital weight (%)",
            "edge per simulation (Y)",
            "edge per epoch (Y)",
            "<title>Capital weight by epoch</title>",
            "Fixed 30 bps",
            "[normalizer]",
        ] {
            assert!(html.contains(text), "{text} missing");
        }
        assert!(!html.contains("<script"), "a strategy name was not escaped");
        assert!(html.matches("&lt;script&gt;alert(1)&lt;/script&gt;").count() >= 4, "table row and three charts");
        let axes = axes(&html);
        // Capital weight: epoch and weight axes; edge distribution: its value axis; edge by epoch: two.
        assert_eq!(axes.len(), 5, "{axes:?}");
        for mut ticks in axes {
            // Evenly spaced multiples of a step of 1, 2 or 5 × 10^k.
            ticks.sort_by(f64::total_cmp);
            let step = ticks[1] - ticks[0];
            let k = step.log10().floor();
            let mantissa = step / 10f64.powf(k);
            assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "step {step} in {ticks:?}");
            for pair in ticks.windows(2) {
                assert!(((pair[1] - pair[0]) / step - 1.0).abs() < 1e-9, "uneven {ticks:?}");
            }
            for v in &ticks {
                assert!((v / step - (v / step).round()).abs() < 1e-9, "{v} is not a multiple of {step}: {ticks:?}");
            }
        }
    }

    #[test]
    fn untrusted_names_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\u{7}b"), "a b");
    }
}
