//! What every page shares: the layout (head, navigation, footer), the error page, number and
//! time formats, badges for states.

use std::sync::Arc;

use axum::extract::State as Extract;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::error::ApiError;
use crate::state::State;
use crate::states::{JobState, RoundState, SubmissionStatus};

pub(super) type Shared = Extract<Arc<State>>;

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
pub(super) fn layout(state: &State, title: &str, active: &str, page: &str, body: Markup) -> Markup {
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
pub(super) fn page(status: StatusCode, markup: Markup) -> Response {
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
pub(super) fn error_page(state: &State, error: ApiError, what: &str) -> Response {
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

/// The site's error page for `status` with `message` (escaped, as every interpolated value),
/// under the usual layout and security headers.
pub(super) fn status_page(state: &State, status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p { (message) }
        p { a href="/" { "Back to the leaderboard" } }
    };
    page(status, layout(state, "Error", "", "error", body))
}

/// `value` with `digits` decimals, or an en dash when absent or not finite.
pub(super) fn num(value: Option<f64>, digits: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

/// `mean ± se` with two decimals.
pub(super) fn pm(mean: Option<f64>, se: Option<f64>) -> String {
    match (mean, se) {
        (Some(_), Some(_)) => format!("{} ± {}", num(mean, 2), num(se, 2)),
        (Some(_), None) => num(mean, 2),
        _ => "–".into(),
    }
}

/// A share 0–1 as a percentage with one decimal.
pub(super) fn percent(share: f64) -> String {
    if share.is_finite() { format!("{:.1} %", share * 100.0) } else { "–".into() }
}

/// An ISO 8601 instant shortened for tables (`2026-11-29 09:27 UTC`), in a `<time>` element.
pub(super) fn when(iso: &str) -> Markup {
    let short = if iso.len() >= 16 { format!("{} {} UTC", &iso[..10], &iso[11..16]) } else { iso.to_string() };
    html! { time datetime=(iso) { (short) } }
}

/// The model badge of a strategy (`amm.model`), nothing for human-written ones.
pub(super) fn model_badge(model: &str) -> Markup {
    html! {
        @if !model.is_empty() && model != "None" {
            " " span.badge.model title="Model that wrote it (amm.model)" { (model) }
        }
    }
}

/// A state shown as a badge: its word, coloured by whether it is good, bad or not over yet.
pub(super) trait Badge {
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
pub(super) fn status_badge(state: &impl Badge) -> Markup {
    html! { span class={ "badge " (state.tone()) } { (state.word()) } }
}
