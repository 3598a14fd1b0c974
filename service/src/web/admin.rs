//! `/admin`: queue status (server-rendered, the same counts `/metrics` and `/readyz` give)
//! and, for an admin token kept in the browser, the admin actions of the API: rescore, start
//! a round, flag or hide a submission, requeue a failed job.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{Shared, error_page, layout, page as respond};

pub(super) async fn page(state: Shared) -> Response {
    let by_state = match state.db.jobs_by_state().await {
        Ok(s) => s,
        Err(e) => return error_page(&state, e.into(), "queue status"),
    };
    let body = html! {
        h1 { "Admin" }
        section aria-labelledby="queue-h" {
            h2 #queue-h { "Queue" }
            @if by_state.is_empty() { p.note { "No jobs yet." } }
            ul.stats #queue {
                @for (s, n) in &by_state { li { span.k { (s) } span.v data-state=(s) { (n) } } }
            }
            p.help { "Live figures: " a href="/readyz" { "/readyz" } " and " a href="/metrics" { "/metrics" } "." }
        }
        section aria-labelledby="actions-h" {
            h2 #actions-h { "Actions" }
            noscript { p.note { "The actions need JavaScript (or the API with an admin token: see /openapi.json)." } }
            form #admin-form novalidate {
                div.field {
                    label for="admin-token" { "Admin token" }
                    input #admin-token type="password" autocomplete="off" spellcheck="false" aria-describedby="admin-token-help";
                    p #admin-token-help .help { "Kept in this browser only (localStorage)." }
                }
                (action("rescore", "Rescore every active entry", "Re-evaluates every entry with this engine (after an upgrade).", html! {}))
                (action("round", "Start a round", "Races each submitter's best entry together on the hidden seeds.", html! {}))
                (action("flag", "Flag a submission", "Its board row shows the reason.", html! {
                    label for="flag-id" { "Submission id" } input #flag-id type="number" min="1";
                    label for="flag-reason" { "Reason" } input #flag-reason type="text" maxlength="200" value="flagged for review";
                }))
                (action("unflag", "Clear a flag", "", html! { label for="unflag-id" { "Submission id" } input #unflag-id type="number" min="1"; }))
                (action("hide", "Hide a submission", "The submitter's next best entry takes its place.", html! {
                    label for="hide-id" { "Submission id" } input #hide-id type="number" min="1"; }))
                (action("show", "Show a hidden submission", "", html! { label for="show-id" { "Submission id" } input #show-id type="number" min="1"; }))
                (action("requeue", "Requeue a failed job", "With fresh attempts, after an infrastructure fault.", html! {
                    label for="requeue-id" { "Job id" } input #requeue-id type="number" min="1"; }))
            }
            div #admin-message role="alert" {}
        }
    };
    respond(StatusCode::OK, layout(&state, "Admin", "/admin", "admin", body))
}

fn action(id: &str, label: &str, help: &str, inputs: Markup) -> Markup {
    html! {
        fieldset.action {
            legend { (label) }
            @if !help.is_empty() { p.help { (help) } }
            (inputs)
            button type="button" data-action=(id) { (label) }
        }
    }
}
