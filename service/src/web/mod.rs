//! The competition's web dashboard: server-rendered HTML pages (maud, which escapes every
//! interpolated value) over the same functions the JSON API answers with, plus one small
//! stylesheet and one small script embedded in the binary (no CDN, works offline).
//!
//! Read-only pages render completely without JavaScript; the script adds live updates over
//! Server-Sent Events, sortable columns and the submit flow. Every page is sent with a
//! Content-Security-Policy that allows only this origin's script and stylesheet.

mod admin;
mod competition;
pub(crate) mod leaderboard;
mod rounds;
mod submission;
mod submit;

use std::sync::Arc;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use crate::State;
use crate::api::ApiError;
use crate::states::{JobState, RoundState, SubmissionStatus};

type Shared = Extract<Arc<State>>;

/// The stylesheet, embedded.
const CSS: &str = include_str!("assets/app.css");
/// The script, embedded.
const JS: &str = include_str!("assets/app.js");

/// The dashboard's routes (merged into [`crate::api::router`]).
pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(leaderboard::page))
        .route("/partials/leaderboard", get(leaderboard::partial))
        .route("/api/leaderboard/events", get(leaderboard::events))
        .route("/api/jobs/{id}/queue", get(queue_place))
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

/// `GET /api/jobs/{id}/queue`: the job's place in the queue — `ahead`, the queued jobs that
/// will be claimed before it (0 when it is next, or no longer queued), and the queue's
/// `queued` and `running` counts.
#[utoipa::path(get, path = "/api/jobs/{id}/queue", params(("id" = i64, Path, description = "job id")), responses(
    (status = 200, description = "`{job, state, ahead, queued, running}`"),
    (status = 404, description = "no such job")))]
pub(crate) async fn queue_place(
    state: Shared,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Response, ApiError> {
    let job = state.db.job(id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let ahead = if job.state == crate::states::JobState::Queued { state.db.queued_before(id).await? } else { 0 };
    let (queued, running) = state.db.queue_depth().await?;
    let body =
        serde_json::json!({ "job": id, "state": job.state, "ahead": ahead, "queued": queued, "running": running });
    Ok(axum::Json(body).into_response())
}

/// The navigation: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/", "Leaderboard"),
    ("/submit", "Submit"),
    ("/rounds", "Rounds"),
    ("/competition", "Competition"),
    ("/admin", "Admin"),
];

/// A whole page: skip link, header with navigation (`active` marked as the current page),
/// `<main>` with `body`, footer; `page` names the page for the script (`data-page`).
fn layout(state: &State, title: &str, active: &str, page: &str, body: Markup) -> Markup {
    let name = &state.file.competition.name;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (name) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body data-page=(page) {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href="/" { (name) }
                    nav aria-label="Main" {
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if *path == active {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                footer.site {
                    "amm-engine " (amm_engine::ENGINE_VERSION) " · "
                    a href="/api/competition" { "API" } " · "
                    a href="/openapi.json" { "OpenAPI" } " · "
                    a href="/api/leaderboard.csv" { "CSV" }
                }
            }
        }
    }
}

/// An HTML response with the dashboard's security headers.
fn page(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
             form-action 'self'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A page for an API error (`what` says what was asked for).
fn error_page(state: &State, error: ApiError, what: &str) -> Response {
    let status = error.into_response().status();
    let message = if status == StatusCode::NOT_FOUND {
        format!("There is no {what}.")
    } else {
        format!("The {what} could not be shown ({status}). Try again in a moment.")
    };
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p { (message) }
        p { a href="/" { "Back to the leaderboard" } }
    };
    page(status, layout(state, "Error", "", "error", body))
}

/// `value` with `digits` decimals, or an en dash when absent or not finite.
fn num(value: Option<f64>, digits: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

/// `mean ± se` with two decimals.
fn pm(mean: Option<f64>, se: Option<f64>) -> String {
    match (mean, se) {
        (Some(_), Some(_)) => format!("{} ± {}", num(mean, 2), num(se, 2)),
        (Some(_), None) => num(mean, 2),
        _ => "–".into(),
    }
}

/// A share 0–1 as a percentage with one decimal.
fn percent(share: f64) -> String {
    if share.is_finite() { format!("{:.1} %", share * 100.0) } else { "–".into() }
}

/// An ISO 8601 instant shortened for tables (`2026-11-29 09:27 UTC`), in a `<time>` element.
fn when(iso: &str) -> Markup {
    let short = if iso.len() >= 16 { format!("{} {} UTC", &iso[..10], &iso[11..16]) } else { iso.to_string() };
    html! { time datetime=(iso) { (short) } }
}

/// The model badge of a strategy (`amm.model`), nothing for human-written ones.
fn model_badge(model: &str) -> Markup {
    html! {
        @if !model.is_empty() && model != "None" {
            " " span.badge.model title="Model that wrote it (amm.model)" { (model) }
        }
    }
}

/// A state shown as a badge: its word, coloured by whether it is good, bad or not over yet.
trait Badge {
    /// The word shown.
    fn word(&self) -> &str;
    /// The badge's class: `ok`, `bad` or `wait`.
    fn tone(&self) -> &'static str;
}

impl Badge for JobState {
    fn word(&self) -> &str {
        self.as_str()
    }
    fn tone(&self) -> &'static str {
        match self {
            JobState::Succeeded => "ok",
            JobState::Failed | JobState::Cancelled => "bad",
            JobState::Queued | JobState::Running => "wait",
        }
    }
}

impl Badge for SubmissionStatus {
    fn word(&self) -> &str {
        self.as_str()
    }
    fn tone(&self) -> &'static str {
        match self {
            SubmissionStatus::Evaluated => "ok",
            SubmissionStatus::Failed | SubmissionStatus::Cancelled => "bad",
            SubmissionStatus::Pending => "wait",
        }
    }
}

impl Badge for RoundState {
    fn word(&self) -> &str {
        self.as_str()
    }
    fn tone(&self) -> &'static str {
        match self {
            RoundState::Completed => "ok",
            RoundState::Failed | RoundState::Cancelled => "bad",
            RoundState::Queued | RoundState::Running => "wait",
        }
    }
}

/// A validation check's outcome (`PASS`, `FAIL`, `SKIP`).
impl Badge for amm_engine::validate::Outcome {
    fn word(&self) -> &str {
        match self {
            amm_engine::validate::Outcome::Pass => "PASS",
            amm_engine::validate::Outcome::Fail => "FAIL",
            amm_engine::validate::Outcome::Skip => "SKIP",
        }
    }
    fn tone(&self) -> &'static str {
        match self {
            amm_engine::validate::Outcome::Pass => "ok",
            amm_engine::validate::Outcome::Fail => "bad",
            amm_engine::validate::Outcome::Skip => "wait",
        }
    }
}

/// A state as a badge.
fn status_badge(state: &impl Badge) -> Markup {
    html! { span class={ "badge " (state.tone()) } { (state.word()) } }
}
