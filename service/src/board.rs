//! The public board's rows and its ranking: one row per submitter (their best entry), ranked
//! by the engine's rule, with tie groups a paired test cannot separate.

use serde::Serialize;

use crate::db::Submission;
use crate::db::iso8601;
use crate::eval::EntrantSummary;

/// One row of the board.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct BoardRow {
    /// Rank among entries (baselines are unranked).
    pub rank: Option<u32>,
    /// Tie group: consecutive entries a paired test on their common seeds cannot separate
    /// (|mean paired difference| < 2 standard errors) share one (baselines have none).
    pub tie_group: Option<u32>,
    /// A baseline: the normalizer or a house strategy, racing without any entry.
    pub baseline: bool,
    /// Submitter handle ('house' for baselines).
    pub submitter: String,
    /// Strategy name.
    pub strategy: String,
    /// Model that wrote it (`amm.model`; "None" for human-written).
    pub model: String,
    /// Submission id.
    pub submission: i64,
    /// The submitter's evaluated submissions (1 for baselines).
    pub attempts: u32,
    /// Mean edge per simulation, Y.
    pub mean_edge: f64,
    /// Its standard error, Y.
    pub stderr_edge: f64,
    /// Mean paired edge over the normalizer, Y.
    pub edge_vs_normalizer: Option<f64>,
    /// Its standard error, Y.
    pub stderr_vs_normalizer: Option<f64>,
    /// Sharpe ratio of edge.
    pub sharpe: f64,
    /// Mean share of retail volume, 0–1.
    pub retail_share: f64,
    /// Mean arbitrage loss, Y.
    pub arb_loss: f64,
    /// Simulations disqualified.
    pub disqualified_sims: u32,
    /// Upload time, ISO 8601 UTC.
    pub submitted_at: String,
    /// Engine version that evaluated it.
    pub engine_version: String,
    /// Why an admin flagged it for review, if flagged.
    pub flag: Option<String>,
}

/// The board row of submission `sub` whose evaluation gave entry `e`.
pub fn row(sub: &Submission, e: &EntrantSummary, engine_version: &str) -> BoardRow {
    BoardRow {
        rank: None,
        tie_group: None,
        baseline: sub.baseline,
        submitter: sub.submitter.clone(),
        strategy: e.name.clone(),
        model: sub.model.clone(),
        submission: sub.id,
        attempts: 1,
        mean_edge: e.mean_edge,
        stderr_edge: e.stderr_edge,
        edge_vs_normalizer: e.edge_vs_normalizer,
        stderr_vs_normalizer: e.stderr_vs_normalizer,
        sharpe: e.sharpe,
        retail_share: e.retail_share,
        arb_loss: e.arb_loss,
        disqualified_sims: e.disqualified_sims,
        submitted_at: iso8601(sub.created_at),
        engine_version: engine_version.to_string(),
        flag: sub.flag.clone(),
    }
}

/// The board's order: `amm-engine run`'s ranking by mean edge, then the earlier submission.
pub fn better(a: &BoardRow, b: &BoardRow) -> std::cmp::Ordering {
    use amm_engine::report::{Standing, rank_order};
    let standing = |r: &BoardRow| Standing { failed: r.disqualified_sims > 0, score: r.mean_edge };
    rank_order(standing(a), standing(b)).then(a.submission.cmp(&b.submission))
}

/// Tie groups of entries in rank order: an entry shares its neighbour's group when a paired
/// test on their common seeds cannot separate them (|mean difference| < 2 standard errors of
/// the paired difference, or fewer than 2 common seeds).
pub fn tie_groups(edges: &[&[(u64, f64)]]) -> Vec<u32> {
    let mut groups = Vec::with_capacity(edges.len());
    let mut group = 1;
    for (i, e) in edges.iter().enumerate() {
        if i > 0 && separable(edges[i - 1], e) {
            group += 1;
        }
        groups.push(group);
    }
    groups
}

/// Whether a paired test separates per-seed edges `a` from `b` (else they share a tie group).
pub fn separable(a: &[(u64, f64)], b: &[(u64, f64)]) -> bool {
    let by_seed: std::collections::HashMap<u64, f64> = b.iter().copied().collect();
    let diffs: Vec<f64> = a.iter().filter_map(|(seed, x)| by_seed.get(seed).map(|y| x - y)).collect();
    let n = diffs.len();
    if n < 2 {
        return false;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    mean.abs() > 2.0 * se && mean != 0.0
}

/// Quotes a CSV field when needed, and defuses spreadsheet formulas (a leading = + - @).
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}
