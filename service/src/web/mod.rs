//! The competition's web dashboard: server-rendered HTML pages (maud, which escapes every
//! interpolated value) over the same functions the JSON API answers with, plus one small
//! stylesheet and one small script embedded in the binary (no CDN, works offline).
//!
//! Read-only pages render completely without JavaScript; the script adds live updates over
//! Server-Sent Events, sortable columns and the submit flow. Every page is sent with a
//! Content-Security-Policy that allows only this origin's script and stylesheet.

mod admin;
mod competition;
mod layout;
pub(crate) mod leaderboard;
mod rounds;
mod submission;
mod submit;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::State;

/// The stylesheet, embedded.
const CSS: &str = include_str!("assets/app.css");
/// The script, embedded.
const JS: &str = include_str!("assets/app.js");

/// The dashboard's routes (merged with [`crate::api::router`] in `serve`).
pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(leaderboard::page))
        .route("/partials/leaderboard", get(leaderboard::partial))
        .route("/submit", get(submit::page))
        .route("/submissions/{id}", get(submission::page))
        .route("/submissions/{id}/report.html", get(submission::report))
        .route("/rounds", get(rounds::list))
        .route("/rounds/{id}", get(rounds::page))
        .route("/competition", get(competition::page))
        .route("/admin", get(admin::page))
        .route("/assets/app.css", get(|| async { asset("text/css; charset=utf-8", stylesheet()) }))
        .route("/assets/app.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
}

/// The dashboard's stylesheet followed by the charts' own rules ([`amm_engine::report::chart::CSS`]:
/// pages inline charts without their `<style>` element, which the Content-Security-Policy
/// refuses).
fn stylesheet() -> &'static str {
    static SHEET: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{CSS}\n/* report::chart */\n{}\n", amm_engine::report::chart::CSS));
    SHEET.as_str()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
