//! The self-contained HTML report: leaderboard, capital weight by epoch, edge distributions.
//!
//! Plain inline SVG, no scripts or external assets, so the file can be archived, mailed and
//! opened offline. Strategy names come from untrusted modules: everything is escaped. The
//! output is deterministic, like `results.json`.

use std::fmt::Write;

use super::RunResults;

const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

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
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}}\
         table{{border-collapse:collapse;font-size:14px}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}\
         td:nth-child(2),th:nth-child(2){{text-align:left}}h2{{margin-top:2em}}.note{{color:#666;font-size:13px}}\
         svg text{{font-size:12px;font-family:system-ui,sans-serif}}</style></head><body>\n<h1>{title}</h1>\n"
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
    html.push_str(&capital_chart(results));
    html.push_str("<h2>Edge distribution</h2>\n<p class=\"note\">Total edge per simulation (Y at the fair price): box from the 25th to the 75th percentile, line at the median, whiskers to the 5th and 95th, dot at the mean.</p>\n");
    html.push_str(&edge_boxes(results));
    html.push_str(
        "<h2>Mean edge by epoch</h2>\n<p class=\"note\">Mean over simulations of the edge earned in each epoch.</p>\n",
    );
    html.push_str(&epoch_edge_chart(results));
    html.push_str("</body></html>\n");
    html
}

fn leaderboard_table(html: &mut String, results: &RunResults) {
    html.push_str("<h2>Leaderboard</h2>\n<table><tr><th>#</th><th>strategy</th><th>mean edge</th><th>± se</th><th>std</th><th>vs normalizer</th><th>sharpe</th><th>final capital</th><th>retail share</th><th>arb loss</th><th>disqualified</th></tr>\n");
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
    html.push_str("</table>\n");
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
                escape(&d.kind),
                d.first_seed,
                d.first_step,
                escape(&d.example)
            );
        }
    }
}

/// Strategy slots in the simulations: (name, pool index) for the non-rejected entrants.
fn running(results: &RunResults) -> Vec<(String, usize)> {
    results.strategies.iter().filter(|s| s.rejected.is_none()).enumerate().map(|(k, s)| (s.name.clone(), k)).collect()
}

/// Mean over simulations of `f(epoch record)` per epoch, per pool.
fn epoch_means(results: &RunResults, pool: usize, f: fn(&crate::market::EpochRecord) -> f64) -> Vec<f64> {
    let epochs = results.simulations.first().and_then(|s| s.pools.get(pool)).map_or(0, |p| p.epochs.len());
    (0..epochs)
        .map(|e| {
            let values: Vec<f64> =
                results.simulations.iter().filter_map(|s| s.pools.get(pool)?.epochs.get(e).map(f)).collect();
            if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
        })
        .collect()
}

fn capital_chart(results: &RunResults) -> String {
    let series: Vec<(String, Vec<f64>)> =
        running(results).into_iter().map(|(name, k)| (name, epoch_means(results, k, |e| e.capital_weight))).collect();
    line_chart(&series, "epoch", "capital weight", Some((0.0, 1.0)))
}

fn epoch_edge_chart(results: &RunResults) -> String {
    let mut series: Vec<(String, Vec<f64>)> =
        running(results).into_iter().map(|(name, k)| (name, epoch_means(results, k, |e| e.edge))).collect();
    if results.normalizer.is_some() {
        let k = series.len();
        series.push(("[normalizer]".into(), epoch_means(results, k, |e| e.edge)));
    }
    line_chart(&series, "epoch", "edge (Y)", None)
}

fn line_chart(series: &[(String, Vec<f64>)], x_label: &str, y_label: &str, y_range: Option<(f64, f64)>) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 340.0, 70.0, 220.0, 20.0, 40.0);
    let points = series.iter().map(|s| s.1.len()).max().unwrap_or(0);
    if points == 0 {
        return "<p class=\"note\">No data.</p>\n".into();
    }
    let (mut lo, mut hi) = y_range.unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
    if y_range.is_none() {
        for v in series.iter().flat_map(|s| s.1.iter()).filter(|v| v.is_finite()) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        if !(lo.is_finite() && hi.is_finite()) {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-9 {
            (lo, hi) = (lo - 1.0, hi + 1.0);
        }
    }
    let x = |i: usize| left + (w - left - right) * if points > 1 { i as f64 / (points - 1) as f64 } else { 0.5 };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo));
    let mut svg =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n");
    axes(&mut svg, w, h, left, right, top, bottom, lo, hi, x_label, y_label);
    for (i, label) in [0, points - 1].iter().enumerate() {
        if i == 1 && points == 1 {
            break;
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(*label),
            h - bottom + 16.0,
            label + 1
        );
    }
    for (n, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let path: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        legend(&mut svg, n, w - right + 15.0, top, color, name);
    }
    svg.push_str("</svg>\n");
    svg
}

#[allow(clippy::too_many_arguments)]
fn axes(
    svg: &mut String,
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    lo: f64,
    hi: f64,
    x_label: &str,
    y_label: &str,
) {
    let _ = writeln!(
        svg,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        w - left - right,
        h - top - bottom
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let yy = top + (h - top - bottom) * (1.0 - k as f64 / 4.0);
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            yy + 4.0,
            short(v)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        h - 6.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        "<text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0,
        escape(y_label)
    );
}

fn legend(svg: &mut String, n: usize, x: f64, top: f64, color: &str, name: &str) {
    let yy = top + 10.0 + 18.0 * n as f64;
    let shown: String = name.chars().take(28).collect();
    let _ = writeln!(
        svg,
        "<rect x=\"{x}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>",
        yy - 10.0,
        x + 18.0,
        yy,
        escape(&shown)
    );
}

fn short(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + frac * (next - sorted[i])
}

fn edge_boxes(results: &RunResults) -> String {
    let mut rows: Vec<(String, Vec<f64>)> = running(results)
        .into_iter()
        .map(|(name, k)| (name, results.simulations.iter().filter_map(|s| s.pools.get(k).map(|p| p.edge)).collect()))
        .collect();
    if results.normalizer.is_some() {
        let k = rows.len();
        rows.push((
            "[normalizer]".into(),
            results.simulations.iter().filter_map(|s| s.pools.get(k).map(|p| p.edge)).collect(),
        ));
    }
    for row in &mut rows {
        row.1.retain(|v| v.is_finite());
        row.1.sort_by(f64::total_cmp);
    }
    let (lo, hi) = rows
        .iter()
        .flat_map(|r| r.1.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    if !(lo.is_finite() && hi.is_finite()) {
        return "<p class=\"note\">No data.</p>\n".into();
    }
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let (w, left, right, row_h) = (900.0, 200.0, 30.0, 34.0);
    let h = 40.0 + row_h * rows.len() as f64;
    let x = |v: f64| left + (w - left - right) * (v - lo) / (hi - lo);
    let mut svg =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n");
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"10\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(v),
            x(v),
            h - 25.0,
            x(v),
            h - 8.0,
            short(v)
        );
    }
    for (n, (name, values)) in rows.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let cy = 25.0 + row_h * n as f64;
        let shown: String = name.chars().take(28).collect();
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            cy + 4.0,
            escape(&shown)
        );
        if values.is_empty() {
            continue;
        }
        let (p5, q1, med, q3, p95) = (
            quantile(values, 0.05),
            quantile(values, 0.25),
            quantile(values, 0.5),
            quantile(values, 0.75),
            quantile(values, 0.95),
        );
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" stroke=\"{color}\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" fill=\"{color}\" fill-opacity=\"0.3\" stroke=\"{color}\"/>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>\
             <circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"#222\"/>",
            x(p5),
            x(p95),
            x(q1),
            cy - 9.0,
            (x(q3) - x(q1)).max(1.0),
            x(med),
            x(med),
            cy - 9.0,
            cy + 9.0,
            x(mean)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn untrusted_names_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\u{7}b"), "a b");
    }
}
