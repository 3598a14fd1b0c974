//! `/submissions/{id}`: one submission from [`crate::views::submission`] (validation report,
//! evaluation summary, per-seed edges, disqualification reasons, downloads), with capital
//! weight and edge by epoch from its merged `results.json`; `/submissions/{id}/report.html`
//! is the engine's own report of that evaluation.

use crate::states::SubmissionStatus;
use amm_engine::report::chart;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

use super::layout::{Shared, error_page, layout, model_badge, num, page as respond, percent, pm, status_badge, when};
use crate::error::ApiError;
use crate::eval::EntrantSummary;
use crate::views::SubmissionView;
use amm_engine::report::RunResults;

/// The merged results of an evaluated submission, when there are any.
async fn results(state: &crate::state::State, id: i64) -> Result<Option<RunResults>, ApiError> {
    let Some(text) = state.db.results(id).await? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|e| ApiError::corrupt("results", e))
}

pub(super) async fn page(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
) -> Response {
    let view = match crate::views::submission(&state, id).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, e, &format!("submission {id}")),
    };
    let results = match results(&state, id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e, &format!("results of submission {id}")),
    };
    let title = format!("{} by {}", view.name, view.submitter);
    let body = body(&view, results.as_ref());
    respond(StatusCode::OK, layout(&state, &title, "", "submission", body))
}

fn body(v: &SubmissionView, results: Option<&RunResults>) -> Markup {
    let entry = v.summary.as_ref().and_then(|s| s.entrants.last());
    html! {
        h1 { (v.name) (model_badge(&v.model)) }
        dl.facts data-submission=(v.id) data-status=(v.status) {
            dt { "Submitter" } dd { (v.submitter) }
            dt { "Status" } dd { (status_badge(&v.status)) @if v.hidden { " " span.badge.bad { "hidden" } } }
            @if let Some(f) = &v.flag { dt { "Flagged" } dd { (f) } }
            @if let Some(e) = &v.error { dt { "Error" } dd.error { (e) } }
            dt { "Progress" } dd { (v.progress.done) " of " (v.progress.total) " simulations" }
            dt { "Submitted" } dd { (when(&v.submitted_at)) }
            @if let Some(t) = &v.evaluated_at { dt { "Evaluated" } dd { (when(t)) } }
            dt { "Module" } dd { code.hash { (v.sha256) } " · " (v.size) " bytes" }
            dt { "Engine" } dd { (v.engine_version) }
            @if let Some(s) = &v.salt { dt { "Salt" } dd { code.hash { (s) } } }
        }
        @if v.status == SubmissionStatus::Evaluated {
            p.downloads {
                a href={ "/api/submissions/" (v.id) "/bundle.tar" } download { "Bundle (.tar: module, config, results.json, receipt.json)" }
                " · " a href={ "/api/submissions/" (v.id) "/results.json" } { "results.json" }
                " · " a href={ "/submissions/" (v.id) "/report.html" } { "The engine's report" }
            }
            p.help { "Check it offline: " code { "tar xf submission-" (v.id) ".tar && amm-engine verify bundle/receipt.json" } }
        }
        @if let Some(e) = entry {
            section aria-labelledby="result-h" {
                h2 #result-h { "Result" }
                dl.facts {
                    dt { "Mean edge" } dd data-value="mean_edge" { (pm(Some(e.mean_edge), Some(e.stderr_edge))) " Y" }
                    dt { "Edge vs normalizer" } dd { (pm(e.edge_vs_normalizer, e.stderr_vs_normalizer)) " Y" }
                    dt { "Sharpe" } dd { (num(Some(e.sharpe), 3)) }
                    dt { "Retail share" } dd { (percent(e.retail_share)) }
                    dt { "Arbitrage loss" } dd { (num(Some(e.arb_loss), 2)) " Y" }
                    dt { "Disqualified simulations" } dd { (e.disqualified_sims) }
                    @if let Some(r) = &e.rejected { dt { "Refused at load" } dd.error { (r) } }
                }
                (reasons(e))
            }
        }
        @if let Some(s) = &v.summary {
            section aria-labelledby="field-h" {
                h2 #field-h { "Everyone in the evaluation" }
                div.scroll { table {
                    thead { tr { th scope="col" { "Entrant" } th scope="col" { "Mean edge ± se (Y)" } th scope="col" { "Edge vs normalizer (Y)" }
                        th scope="col" { "Sharpe" } th scope="col" { "Retail share" } th scope="col" { "Arbitrage loss (Y)" } th scope="col" { "Disqualified" } } }
                    tbody {
                        @for e in s.entrants.iter().chain(s.normalizer.iter()) {
                            tr { td { (e.name) } td { (pm(Some(e.mean_edge), Some(e.stderr_edge))) } td { (pm(e.edge_vs_normalizer, e.stderr_vs_normalizer)) }
                                td { (num(Some(e.sharpe), 3)) } td { (percent(e.retail_share)) } td { (num(Some(e.arb_loss), 2)) } td { (e.disqualified_sims) } }
                        }
                    }
                } }
            }
            (per_seed(&s.per_seed_edges, s.normalizer.as_ref().map(|n| n.mean_edge)))
        }
        @if let Some(r) = results { (by_epoch(r)) }
        section aria-labelledby="checks-h" {
            h2 #checks-h { "Validation report" }
            (checks(&v.validation))
        }
        section aria-labelledby="jobs-h" {
            h2 #jobs-h { "Jobs" }
            div.scroll { table {
                thead { tr { th scope="col" { "Job" } th scope="col" { "State" } th scope="col" { "Progress" } th scope="col" { "Attempts" } th scope="col" { "Error" } } }
                tbody { @for j in &v.jobs {
                    tr { td { (j.id) } td { (status_badge(&j.state)) } td { (j.progress.done) " / " (j.progress.total) } td { (j.attempts) }
                        td { (j.error.as_deref().unwrap_or("")) } }
                } }
            } }
        }
    }
}

/// The validation checks as a list: name, PASS/FAIL/SKIP, what was found.
pub(super) fn checks(checks: &[crate::eval::CheckView]) -> Markup {
    html! {
        @if checks.is_empty() { p.note { "No checks recorded." } }
        ul.checks {
            @for c in checks {
                li data-outcome=(c.outcome) { (status_badge(&c.outcome)) " " strong { (c.name) } " — " (c.detail) }
            }
        }
    }
}

fn reasons(e: &EntrantSummary) -> Markup {
    let reasons = &e.disqualification_reasons;
    html! {
        @if !reasons.is_empty() {
            h3 { "Disqualifications and faults" }
            ul.reasons {
                @for r in reasons {
                    li data-kind=(r.kind.as_str()) {
                        strong { (r.call) ": " (r.kind) }
                        " — " (r.simulations) " simulation(s); first at seed "
                        (r.first_seed) ", step " (r.first_step) ": " (r.example)
                    }
                }
            }
        }
    }
}

/// The entry's per-seed edges: quantiles and the full list.
fn per_seed(edges: &[(u64, f64)], normalizer: Option<f64>) -> Markup {
    let mut sorted: Vec<f64> = edges.iter().map(|e| e.1).filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| -> Option<f64> {
        if sorted.is_empty() {
            return None;
        }
        let i = ((sorted.len() - 1) as f64 * p).round() as usize;
        sorted.get(i).copied()
    };
    html! {
        @if !edges.is_empty() {
            section aria-labelledby="seeds-h" {
                h2 #seeds-h { "Edge per seed" }
                (edge_histogram(&sorted, normalizer))
                dl.facts {
                    dt { "Seeds" } dd { (sorted.len()) }
                    dt { "Minimum" } dd { (num(q(0.0), 2)) " Y" }
                    dt { "25th percentile" } dd { (num(q(0.25), 2)) " Y" }
                    dt { "Median" } dd { (num(q(0.5), 2)) " Y" }
                    dt { "75th percentile" } dd { (num(q(0.75), 2)) " Y" }
                    dt { "Maximum" } dd { (num(q(1.0), 2)) " Y" }
                }
                details {
                    summary { "Every seed" }
                    div.scroll { table {
                        thead { tr { th scope="col" { "Seed" } th scope="col" { "Edge (Y)" } } }
                        tbody { @for (seed, edge) in edges { tr { td { (seed) } td { (num(Some(*edge), 2)) } } } }
                    } }
                }
            }
        }
    }
}

/// Mean capital weight and edge per epoch, over simulations, for every pool.
fn by_epoch(results: &RunResults) -> Markup {
    let names: Vec<String> =
        results.simulations.first().map(|s| s.pools.iter().map(|p| p.name.clone()).collect()).unwrap_or_default();
    // The pools: the strategies not refused at load, in config order, then the normalizer.
    let strategies = results.strategies.iter().filter(|s| s.rejected.is_none()).count().min(names.len());
    let epochs = results.simulations.iter().flat_map(|s| s.pools.iter().map(|p| p.epochs.len())).max().unwrap_or(0);
    // (epoch from 1, mean over simulations) per pool.
    let series = |f: fn(&amm_engine::market::EpochRecord) -> f64| -> Vec<Vec<(f64, f64)>> {
        (0..names.len())
            .map(|k| {
                (0..epochs)
                    .filter_map(|e| {
                        let values: Vec<f64> = results
                            .simulations
                            .iter()
                            .filter_map(|s| s.pools.get(k).and_then(|p| p.epochs.get(e)).map(f))
                            .collect();
                        (!values.is_empty()).then(|| ((e + 1) as f64, values.iter().sum::<f64>() / values.len() as f64))
                    })
                    .collect()
            })
            .collect()
    };
    let weights = series(|r| r.capital_weight);
    let edges = series(|r| r.edge);
    let at = |data: &[Vec<(f64, f64)>], k: usize, e: usize| {
        data.get(k).and_then(|p| p.iter().find(|(x, _)| *x == (e + 1) as f64)).map(|p| p.1)
    };
    html! {
        @if epochs > 0 {
            section aria-labelledby="epochs-h" {
                h2 #epochs-h { "Capital weight and edge by epoch" }
                (epoch_charts(&names, strategies, &weights, &edges))
                p.help { "Means over the simulations. Capital weight: share of the strategies' capital after the epoch's rebalancing (0–1); edge in Y." }
                div.scroll { table {
                    thead { tr {
                        th scope="col" { "Epoch" }
                        @for n in &names { th scope="col" { (n) " weight" } th scope="col" { (n) " edge (Y)" } }
                    } }
                    tbody { @for e in 0..epochs {
                        tr { td { (e + 1) }
                            @for k in 0..names.len() {
                                td { (num(at(&weights, k, e), 3)) } td { (num(at(&edges, k, e), 2)) }
                            }
                        }
                    } }
                } }
            }
        }
    }
}

/// Line charts of mean capital weight (%) and edge (Y) by epoch, one series per pool (the
/// first `strategies` are strategies, then the normalizer, which holds no capital weight), the
/// entry (the last strategy) highlighted.
fn epoch_charts(names: &[String], strategies: usize, weights: &[Vec<(f64, f64)>], edges: &[Vec<(f64, f64)>]) -> Markup {
    let percent: Vec<Vec<(f64, f64)>> =
        weights.iter().take(strategies).map(|p| p.iter().map(|&(x, w)| (x, w * 100.0)).collect()).collect();
    let (weight_series, edge_series) = (series(names, &percent, strategies), series(names, edges, strategies));
    let weight_svg = chart::lines(&chart::LineChart {
        title: "Capital weight by epoch",
        desc: "",
        x_label: "epoch",
        y_label: "capital weight (%)",
        series: &weight_series,
        y_range: Some((0.0, 100.0)),
    });
    let edge_svg = chart::lines(&chart::LineChart {
        title: "Edge by epoch",
        desc: "",
        x_label: "epoch",
        y_label: "edge per epoch (Y)",
        series: &edge_series,
        y_range: None,
    });
    html! {
        figure.chart { (inline_svg(&weight_svg)) figcaption { "Capital weight by epoch (mean over simulations)" } }
        figure.chart { (inline_svg(&edge_svg)) figcaption { "Edge by epoch (mean over simulations)" } }
    }
}

/// Named series over `data`, the `entry`-th (1-based: the entry is the last strategy) highlighted.
fn series<'a>(names: &'a [String], data: &'a [Vec<(f64, f64)>], entry: usize) -> Vec<chart::Series<'a>> {
    data.iter()
        .zip(names)
        .enumerate()
        .map(|(k, (p, name))| {
            let s = chart::Series::new(name.as_str(), p);
            if k + 1 == entry { s.highlighted() } else { s }
        })
        .collect()
}

/// The engine's self-contained report of the evaluation (no scripts; its inline styles only).
pub(super) async fn report(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
) -> Response {
    let results = match results(&state, id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(&state, ApiError::new(StatusCode::NOT_FOUND, ""), &format!("evaluated submission {id}"));
        }
        Err(e) => return error_page(&state, e, &format!("results of submission {id}")),
    };
    let html = amm_engine::report::html::render(&results);
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    response
}

/// The histogram of the entry's per-seed edges, with its mean and the normalizer's.
fn edge_histogram(sorted: &[f64], normalizer: Option<f64>) -> Markup {
    let mean = sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
    let mut markers = vec![chart::Marker { name: "mean", value: mean }];
    if let Some(n) = normalizer {
        markers.push(chart::Marker { name: "normalizer's mean", value: n });
    }
    let svg = chart::histogram(&chart::Histogram {
        title: "Edge per seed",
        desc: "",
        x_label: "edge per simulation (Y)",
        y_label: "seeds",
        values: sorted,
        markers: &markers,
    });
    html! { figure.chart { (inline_svg(&svg)) } }
}

/// A chart's SVG for inlining in a page: without its `<style>` element, whose rules
/// ([`chart::CSS`]) the dashboard's stylesheet serves, since the pages' Content-Security-Policy
/// admits no inline style elements.
fn inline_svg(svg: &str) -> Markup {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(start) = rest.find("<style>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</style>") {
            Some(end) => rest = &rest[start + end + "</style>".len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    PreEscaped(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_charts_lose_their_style_elements_and_keep_the_rest() {
        let svg = "<svg><style>.a{x:1}</style>\n<g>1</g><style>.b{}</style><title>t</title></svg>";
        assert_eq!(inline_svg(svg).into_string(), "<svg>\n<g>1</g><title>t</title></svg>");
        // A real chart: no <style> left, the hover rule lives in the stylesheet.
        let data = [(1.0, 2.0), (2.0, 3.0)];
        let chart = chart::lines(&chart::LineChart {
            title: "t",
            desc: "",
            x_label: "epoch",
            y_label: "edge (Y)",
            series: &[chart::Series::new("a", &data)],
            y_range: None,
        });
        let inlined = inline_svg(&chart).into_string();
        assert!(inlined.starts_with("<svg") && !inlined.contains("<style"), "{inlined}");
        assert!(chart.contains(&format!("<style>{}</style>", chart::CSS)), "the rules dropped are chart::CSS");
        assert!(super::super::stylesheet().contains(chart::CSS), "the stylesheet carries the charts' rules");
    }
}
