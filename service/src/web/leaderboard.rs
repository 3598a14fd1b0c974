//! `/`: the leaderboard, from [`crate::views::board`] and [`crate::views::competition`]; live over
//! `GET /api/leaderboard/events` (an event whenever the set of evaluated submissions changes).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{Shared, layout, model_badge, num, page as respond, percent, pm, when};
use crate::board::BoardRow;
use crate::error::ApiError;
use crate::state::State;
use crate::views::{CompetitionView, board};

/// The page.
async fn page_(state: &State, definition: &CompetitionView) -> Result<Markup, ApiError> {
    let rows = board(state).await?;
    let body = html! {
        h1 { "Leaderboard" }
        p.lede {
            "One row per submitter (their best entry), ranked by mean edge; entries a paired test on the common seeds "
            "cannot separate share a tie group. Baselines race without any entry and are not ranked. "
            a href="/competition#scoring" { "How scoring works" } "."
        }
        div #board aria-live="polite" { (board_markup(definition, &rows)) }
        p { a href="/api/leaderboard.csv" download="leaderboard.csv" { "Download the board as CSV" } }
    };
    Ok(layout(state, "Leaderboard", "/", "leaderboard", body))
}

pub(super) async fn page(state: Shared) -> Response {
    let definition = crate::views::competition(&state);
    match page_(&state, &definition).await {
        Ok(markup) => respond(StatusCode::OK, markup),
        Err(e) => super::layout::error_page(&state, e, "leaderboard"),
    }
}

/// The stats strip and the table alone (what the script swaps in on a board event).
pub(super) async fn partial(state: Shared) -> Response {
    let definition = crate::views::competition(&state);
    match board(&state).await {
        Ok(rows) => respond(StatusCode::OK, board_markup(&definition, &rows)),
        Err(e) => e.into_response(),
    }
}

fn board_markup(definition: &CompetitionView, rows: &[BoardRow]) -> Markup {
    let entries = rows.iter().filter(|r| !r.baseline).count();
    let best = rows.iter().find(|r| r.rank == Some(1));
    // One scale for every interval bar: the widest |paired edge ± 2 se| on the board.
    let scale = rows
        .iter()
        .filter_map(|r| Some(r.edge_vs_normalizer?.abs() + 2.0 * r.stderr_vs_normalizer.unwrap_or(0.0)))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let seeds = definition.public_seeds.count;
    let steps = definition.steps;
    let house = definition.house.len();
    html! {
        ul.stats aria-label="Competition at a glance" {
            li { span.k { "Entries" } span.v data-stat="entries" { (entries) } }
            li { span.k { "Best mean edge" } span.v { (best.map_or_else(|| "–".into(), |b| num(Some(b.mean_edge), 2))) " Y" } }
            li { span.k { "Public seeds" } span.v { (seeds) } }
            li { span.k { "Steps per simulation" } span.v { (steps) } }
            li { span.k { "House strategies" } span.v { (house) } }
            li { span.k { "Engine" } span.v { (amm_engine::ENGINE_VERSION) } }
        }
        @if rows.is_empty() {
            p.note { "No evaluated entries yet: the house field's baseline evaluation is still running." }
        }
        div.scroll {
            table.board.sortable {
                caption.visually-hidden { "Leaderboard: rank, submitter, strategy, edges and risk figures" }
                thead {
                    tr {
                        (th("Rank", "num", true))
                        (th("Tie group", "num", false))
                        (th("Submitter", "text", false))
                        (th("Strategy", "text", false))
                        (th("Mean edge ± se (Y)", "num", false))
                        (th("Edge vs normalizer ± se (Y)", "num", false))
                        (th("Sharpe", "num", false))
                        (th("Retail share", "num", false))
                        (th("Arbitrage loss (Y)", "num", false))
                        (th("Disqualified sims", "num", false))
                        (th("Attempts", "num", false))
                        (th("Submitted", "text", false))
                    }
                }
                tbody {
                    @for r in rows {
                        (row(r, scale))
                    }
                }
            }
        }
    }
}

/// A sortable header cell: a button (keyboard reachable) the script wires up.
fn th(label: &str, kind: &str, sorted: bool) -> Markup {
    html! {
        th scope="col" data-kind=(kind) aria-sort=[sorted.then_some("ascending")] {
            button type="button" { (label) }
        }
    }
}

fn row(r: &BoardRow, scale: f64) -> Markup {
    let class = match (r.baseline, r.tie_group) {
        (true, _) => "baseline".to_string(),
        (false, Some(g)) => format!("tie-{}", g % 2),
        _ => String::new(),
    };
    let rank_key = r.rank.map_or(1e9, f64::from);
    html! {
        tr class=(class) data-submission=(r.submission) {
            td data-sort=(rank_key) {
                @match r.rank { Some(n) => { "#" (n) }, None => { span.badge.base { "baseline" } } }
            }
            td data-sort=(r.tie_group.map_or(1e9, f64::from)) {
                @if let Some(g) = r.tie_group { span.tie title="Entries in one tie group cannot be separated by a paired test" { "T" (g) } }
            }
            td data-sort=(r.submitter) { (r.submitter) }
            td data-sort=(r.strategy) {
                @if r.baseline { (r.strategy) } @else { a href={ "/submissions/" (r.submission) } { (r.strategy) } }
                (model_badge(&r.model))
                @if let Some(f) = &r.flag { " " span.badge.bad title=(f) { "flagged" } }
            }
            td data-sort=(r.mean_edge) { (pm(Some(r.mean_edge), Some(r.stderr_edge))) }
            td data-sort=(r.edge_vs_normalizer.unwrap_or(-1e300)) {
                (pm(r.edge_vs_normalizer, r.stderr_vs_normalizer))
                (interval(r.edge_vs_normalizer, r.stderr_vs_normalizer, scale))
            }
            td data-sort=(r.sharpe) { (num(Some(r.sharpe), 3)) }
            td data-sort=(r.retail_share) { (percent(r.retail_share)) }
            td data-sort=(r.arb_loss) { (num(Some(r.arb_loss), 2)) }
            td data-sort=(r.disqualified_sims) { (r.disqualified_sims) }
            td data-sort=(r.attempts) { (r.attempts) }
            td data-sort=(r.submitted_at) { (when(&r.submitted_at)) }
        }
    }
}

/// A small bar: the 95 % interval (mean ± 2 se) of the paired edge on a scale of ±`scale`,
/// with a tick at zero (the normalizer).
fn interval(mean: Option<f64>, se: Option<f64>, scale: f64) -> Markup {
    let (Some(m), Some(s)) = (mean, se) else { return html! {} };
    if !(m.is_finite() && s.is_finite()) || scale <= 0.0 {
        return html! {};
    }
    let at = |v: f64| ((v / scale).clamp(-1.0, 1.0) + 1.0) * 50.0;
    let (lo, hi) = (at(m - 2.0 * s), at(m + 2.0 * s));
    let label = format!("95 % interval {:.2} to {:.2} Y", m - 2.0 * s, m + 2.0 * s);
    html! {
        span.ci role="img" aria-label=(label) title=(label) {
            span.ci-zero {}
            span class={ "ci-range " (if m - 2.0 * s > 0.0 { "pos" } else if m + 2.0 * s < 0.0 { "neg" } else { "mid" }) }
                style={ "left:" (format!("{lo:.1}")) "%;width:" (format!("{:.1}", (hi - lo).max(1.0))) "%" } {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_row(strategy: &str, submitter: &str, model: &str) -> BoardRow {
        BoardRow {
            rank: Some(1),
            tie_group: Some(1),
            baseline: false,
            submitter: submitter.into(),
            strategy: strategy.into(),
            model: model.into(),
            submission: 7,
            attempts: 2,
            mean_edge: 12.5,
            stderr_edge: 1.25,
            edge_vs_normalizer: Some(1.0),
            stderr_vs_normalizer: Some(0.5),
            sharpe: 0.5,
            retail_share: 0.25,
            arb_loss: 3.0,
            disqualified_sims: 0,
            submitted_at: "2026-11-29T09:27:49.123Z".into(),
            engine_version: "0.1.0".into(),
            flag: Some("<b>why</b>".into()),
        }
    }

    #[test]
    fn names_models_and_flags_from_users_are_escaped() {
        let html = row(&board_row("<script>alert(1)</script>", "eve\"><img src=x>", "<i>gpt</i>"), 4.0).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(html.contains("eve&quot;&gt;&lt;img src=x&gt;"), "{html}");
        assert!(html.contains("&lt;i&gt;gpt&lt;/i&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;why&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<i>") && !html.contains("<b>"));
    }

    #[test]
    fn the_interval_bar_spans_mean_plus_minus_two_standard_errors_on_the_board_scale() {
        // Scale ±5: mean 2 ± 2·0.5 covers [1, 3], i.e. 60 % to 80 % of the bar, clear of zero.
        let html = interval(Some(2.0), Some(0.5), 5.0).into_string();
        assert!(html.contains("left:60.0%;width:20.0%"), "{html}");
        assert!(html.contains("ci-range pos") && html.contains("95 % interval 1.00 to 3.00 Y"), "{html}");
        // Straddling zero: neutral; below zero: negative; clamped to the bar.
        assert!(interval(Some(0.5), Some(0.5), 4.0).into_string().contains("ci-range mid"));
        let below = interval(Some(-10.0), Some(0.5), 4.0).into_string();
        assert!(below.contains("ci-range neg") && below.contains("left:0.0%;width:1.0%"), "{below}");
        // Nothing without a paired edge or a scale.
        assert_eq!(interval(None, None, 4.0).into_string(), "");
        assert_eq!(interval(Some(1.0), Some(0.5), 0.0).into_string(), "");
    }

    #[test]
    fn a_model_badge_shows_only_for_a_model() {
        assert!(model_badge("claude").into_string().contains("badge model"));
        assert_eq!(model_badge("None").into_string(), "");
        assert_eq!(model_badge("").into_string(), "");
    }
}
