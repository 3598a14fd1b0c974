//! The standard charts of a run's results, as SVG strings from [`super::chart`]: the ones in
//! `report.html`, and the per-submission ones the web dashboard shows.
//!
//! Strategies are named by their index in [`RunResults::strategies`] (config order; a
//! submission's entry is the last). A rejected strategy took part in no simulation: its charts
//! say "No data". The normalizer is drawn as `[normalizer]` when the run had one.

use super::RunResults;
use super::chart::{self, BoxChart, BoxRow, Histogram, LineChart, Marker, Series};
use crate::market::EpochRecord;

/// A series' name, points and whether it is highlighted.
type Named = (String, Vec<(f64, f64)>, bool);

/// The normalizer's display name in charts.
pub const NORMALIZER: &str = "[normalizer]";

/// The pool slot of strategy `index` in the simulations (the strategies that were not rejected,
/// in config order), or `None` for a rejected or unknown strategy.
fn slot(results: &RunResults, index: usize) -> Option<usize> {
    let s = results.strategies.get(index)?;
    if s.rejected.is_some() {
        return None;
    }
    Some(results.strategies[..index].iter().filter(|s| s.rejected.is_none()).count())
}

/// (strategy index, name, pool slot) of the strategies that ran.
fn running(results: &RunResults) -> Vec<(usize, &str, usize)> {
    results
        .strategies
        .iter()
        .enumerate()
        .filter(|(_, s)| s.rejected.is_none())
        .enumerate()
        .map(|(slot, (index, s))| (index, s.name.as_str(), slot))
        .collect()
}

/// The normalizer's pool slot (after the strategies'), when the run had one.
fn normalizer_slot(results: &RunResults) -> Option<usize> {
    results.normalizer.as_ref().map(|_| running(results).len())
}

/// Mean over simulations of `f(epoch record)` per epoch, for pool `slot`, as (epoch number from
/// 1, mean × scale) points.
fn epoch_means(results: &RunResults, slot: usize, f: fn(&EpochRecord) -> f64, scale: f64) -> Vec<(f64, f64)> {
    let epochs =
        results.simulations.iter().filter_map(|s| s.pools.get(slot)).map(|p| p.epochs.len()).max().unwrap_or(0);
    (0..epochs)
        .filter_map(|e| {
            let values: Vec<f64> =
                results.simulations.iter().filter_map(|s| s.pools.get(slot)?.epochs.get(e).map(f)).collect();
            if values.is_empty() {
                return None;
            }
            Some(((e + 1) as f64, scale * values.iter().sum::<f64>() / values.len() as f64))
        })
        .collect()
}

/// Total edge per simulation of pool `slot`, Y, in seed order, as (seed, edge).
fn seed_edges(results: &RunResults, slot: usize) -> Vec<(f64, f64)> {
    results.simulations.iter().filter_map(|s| s.pools.get(slot).map(|p| (s.seed as f64, p.edge))).collect()
}

fn series_of<'a>(data: &'a [Named]) -> Vec<Series<'a>> {
    data.iter().map(|(name, points, highlight)| Series { name, points, highlight: *highlight }).collect()
}

/// Capital weight by epoch (%), one line per strategy that ran (the normalizer holds no
/// capital weight); `highlight`: a strategy index to draw over the others.
pub fn capital_by_epoch(results: &RunResults, highlight: Option<usize>) -> String {
    let data: Vec<Named> = running(results)
        .into_iter()
        .map(|(index, name, slot)| {
            (name.to_string(), epoch_means(results, slot, |e| e.capital_weight, 100.0), highlight == Some(index))
        })
        .collect();
    chart::lines(&LineChart {
        title: "Capital weight by epoch",
        desc: "",
        x_label: "epoch",
        y_label: "capital weight (%)",
        series: &series_of(&data),
        y_range: Some((0.0, 100.0)),
    })
}

/// Mean edge earned in each epoch (Y), one line per strategy that ran and the normalizer;
/// `highlight`: a strategy index to draw over the others.
pub fn edge_by_epoch(results: &RunResults, highlight: Option<usize>) -> String {
    let mut data: Vec<Named> = running(results)
        .into_iter()
        .map(|(index, name, slot)| {
            (name.to_string(), epoch_means(results, slot, |e| e.edge, 1.0), highlight == Some(index))
        })
        .collect();
    if let Some(slot) = normalizer_slot(results) {
        data.push((NORMALIZER.into(), epoch_means(results, slot, |e| e.edge, 1.0), false));
    }
    chart::lines(&LineChart {
        title: "Mean edge by epoch",
        desc: "",
        x_label: "epoch",
        y_label: "edge per epoch (Y)",
        series: &series_of(&data),
        y_range: None,
    })
}

/// Total edge per simulation (Y) of each strategy that ran and of the normalizer, as box
/// plots: box from the 25th to the 75th percentile, line at the median, whiskers to the 5th and
/// 95th, dot at the mean.
pub fn edge_distribution(results: &RunResults) -> String {
    let mut data: Vec<(String, Vec<f64>)> = running(results)
        .into_iter()
        .map(|(_, name, slot)| (name.to_string(), seed_edges(results, slot).into_iter().map(|p| p.1).collect()))
        .collect();
    if let Some(slot) = normalizer_slot(results) {
        data.push((NORMALIZER.into(), seed_edges(results, slot).into_iter().map(|p| p.1).collect()));
    }
    let rows: Vec<BoxRow<'_>> = data.iter().map(|(name, values)| BoxRow { name, values }).collect();
    chart::boxes(&BoxChart {
        title: "Edge distribution per strategy",
        desc: "",
        x_label: "edge per simulation (Y)",
        rows: &rows,
    })
}

/// Histogram of strategy `index`'s total edge per simulation (Y), one count per seed, with
/// dashed lines at its mean and at the normalizer's mean.
pub fn seed_edge_histogram(results: &RunResults, index: usize) -> String {
    let name = results.strategies.get(index).map_or("", |s| s.name.as_str());
    let title = format!("Edge per seed: {name}");
    let values: Vec<f64> =
        slot(results, index).map(|k| seed_edges(results, k).into_iter().map(|p| p.1).collect()).unwrap_or_default();
    let mean = if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 };
    let normalizer = results.normalizer.as_ref().map_or(f64::NAN, |n| n.mean_edge);
    let mean_name = format!("mean of {name}");
    let normalizer_name = format!("{NORMALIZER} mean");
    let markers = [Marker { name: &mean_name, value: mean }, Marker { name: &normalizer_name, value: normalizer }];
    chart::histogram(&Histogram {
        title: &title,
        desc: "",
        x_label: "edge per simulation (Y)",
        y_label: "seeds",
        values: &values,
        markers: if values.is_empty() { &[] } else { &markers },
    })
}

/// Strategy `index`'s total edge (Y) in each simulation against its seed, with the
/// normalizer's in the same simulations for comparison.
pub fn edge_by_seed(results: &RunResults, index: usize) -> String {
    let name = results.strategies.get(index).map_or("", |s| s.name.as_str());
    let title = format!("Edge by seed: {name}");
    let mut data: Vec<Named> = Vec::new();
    if let Some(k) = slot(results, index) {
        data.push((name.to_string(), seed_edges(results, k), true));
        if let Some(n) = normalizer_slot(results) {
            data.push((NORMALIZER.into(), seed_edges(results, n), false));
        }
    }
    chart::scatter(&LineChart {
        title: &title,
        desc: "",
        x_label: "seed",
        y_label: "edge per simulation (Y)",
        series: &series_of(&data),
        y_range: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunResults {
        super::super::html::tests::fixture()
    }

    #[test]
    fn the_entry_is_highlighted_and_the_others_muted() {
        let results = fixture();
        let last = results.strategies.len() - 1;
        let svg = capital_by_epoch(&results, Some(last));
        assert_eq!(svg.matches("stroke-width=\"3\"").count(), 1, "one highlighted line");
        let plain = capital_by_epoch(&results, None);
        assert_eq!(plain.matches("stroke-width=\"3\"").count(), 0);
        assert!(edge_by_epoch(&results, Some(last)).contains("[normalizer]"));
    }

    #[test]
    fn per_seed_charts_carry_each_seeds_edge() {
        let results = fixture();
        let index = 1;
        let edges: Vec<f64> = results.simulations.iter().map(|s| s.pools[index].edge).collect();
        let scatter = edge_by_seed(&results, index);
        for (sim, edge) in results.simulations.iter().zip(&edges) {
            let tip = format!(
                "seed: {}\nedge per simulation (Y): {}",
                chart::format_value(sim.seed as f64),
                chart::format_value(*edge)
            );
            assert!(scatter.contains(&tip), "{tip} missing");
        }
        let histogram = seed_edge_histogram(&results, index);
        let counted: usize =
            histogram.split("\nseeds: ").skip(1).filter_map(|t| t.split('<').next()?.parse::<usize>().ok()).sum();
        assert_eq!(counted, edges.len());
        assert!(histogram.contains("[normalizer] mean"));
    }

    #[test]
    fn a_rejected_or_unknown_strategy_has_no_data() {
        let mut results = fixture();
        results.strategies[0].rejected = Some("bad module".into());
        for svg in [seed_edge_histogram(&results, 0), edge_by_seed(&results, 0), edge_by_seed(&results, 99)] {
            assert!(svg.contains("No data"), "{svg}");
        }
        // The others keep their own pools: strategy 1 now has pool slot 0.
        assert_eq!(slot(&results, 1), Some(0));
    }
}
