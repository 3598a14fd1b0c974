//! `/rounds` and `/rounds/{id}`: rounds from [`crate::views::rounds`] and
//! [`crate::views::round`] — the best entries trading together in N-way markets on the
//! hidden seeds.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{Shared, error_page, layout, page as respond, pm, status_badge, when};
use crate::views::RoundView;

pub(super) async fn list(state: Shared) -> Response {
    let rounds = match crate::views::rounds(&state).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e, "list of rounds"),
    };
    let body = html! {
        h1 { "Rounds" }
        p.lede {
            "In a round, each submitter's best entry trades together with the others and the house field in shared "
            "markets on hidden seeds (never published before the round), in groups of at most "
            (state.file.competition.round_size) " entries drawn by a shuffle seeded from the round's salt. "
            "Rounds are started by an admin."
        }
        @if rounds.is_empty() { p.note { "No rounds yet." } }
        @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Round" } th scope="col" { "State" } th scope="col" { "Progress" } th scope="col" { "Groups" }
                    th scope="col" { "Leader" } th scope="col" { "Started" } } }
                tbody { @for r in &rounds {
                    tr {
                        td { a href={ "/rounds/" (r.id) } { "Round " (r.id) } }
                        td { (status_badge(&r.state)) }
                        td { (r.progress.done) " / " (r.progress.total) }
                        td { (r.groups.len()) }
                        td { @if let Some(b) = r.board.first() { (b.submitter) " · " (b.strategy) } @else { "–" } }
                        td { (when(&r.created_at)) }
                    }
                } }
            } }
        }
    };
    respond(StatusCode::OK, layout(&state, "Rounds", "/rounds", "rounds", body))
}

pub(super) async fn page(state: Shared, crate::error::Id(id, _): crate::error::Id<crate::error::RoundIds>) -> Response {
    let round = match crate::views::round(&state, id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e, &format!("round {id}")),
    };
    let title = format!("Round {id}");
    respond(StatusCode::OK, layout(&state, &title, "/rounds", "round", body(&round)))
}

fn body(r: &RoundView) -> Markup {
    html! {
        h1 { "Round " (r.id) }
        dl.facts {
            dt { "State" } dd { (status_badge(&r.state)) }
            dt { "Progress" } dd {
                progress max=(r.progress.total.max(1)) value=(r.progress.done) aria-label="Simulations done" {}
                " " (r.progress.done) " of " (r.progress.total) " simulations"
            }
            dt { "Entries per market" } dd { "at most " (r.round_size) }
            dt { "Started by" } dd { (r.created_by) " at " (when(&r.created_at)) }
            @if let Some(s) = &r.salt { dt { "Salt" } dd { code.hash { (s) } } }
        }
        h2 { "Board" }
        @if r.board.is_empty() { p.note { "The board appears once every group is evaluated." } }
        @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Rank" } th scope="col" { "Group" } th scope="col" { "Submitter" } th scope="col" { "Strategy" }
                    th scope="col" { "Mean edge ± se (Y)" } th scope="col" { "Edge vs normalizer ± se (Y)" } th scope="col" { "Disqualified" } } }
                tbody { @for b in &r.board {
                    tr {
                        td { "#" (b.rank) } td { (b.group) } td { (b.submitter) }
                        td { a href={ "/submissions/" (b.submission) } { (b.strategy) }
                            @if let Some(why) = &b.rejected { " " span.badge.bad title=(why) { "refused" } } }
                        td { (pm(Some(b.mean_edge), Some(b.stderr_edge))) }
                        td { (pm(b.edge_vs_normalizer, b.stderr_vs_normalizer)) }
                        td { (b.disqualified_sims) }
                    }
                } }
            } }
        }
        h2 { "Groups" }
        ul { @for g in &r.groups {
            li { "Group " (g.group) ": " (status_badge(&g.status)) " · " (g.entries.len()) (if g.entries.len() == 1 { " entry" } else { " entries" })
                @if let Some(e) = &g.error { " — " span.error { (e) } } }
        } }
    }
}
