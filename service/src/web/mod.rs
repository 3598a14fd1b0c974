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
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
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

/// Paths outside the dashboard that answer JSON or plain text (their errors stay as they are).
const NOT_PAGES: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// Every error answer off the API is the site's HTML error page with the usual security
/// headers, also those no page handler made: an unknown path (axum's empty 404), a wrong
/// method (405), a bad path id (the [`crate::error::Id`] refusal, JSON until here), an
/// oversized body. The counterpart of [`crate::error::json_errors`] for pages: a client only
/// ever gets the kind of body the path promises, and never a raw echo of its input.
pub async fn html_errors(
    Extract(state): Extract<Arc<State>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let page = !crate::error::is_api(path) && !NOT_PAGES.contains(&path);
    let response = next.run(request).await;
    let status = response.status();
    let is_html = crate::error::has_content_type(&response, "text/html");
    if !page || !(status.is_client_error() || status.is_server_error()) || is_html {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Only the service's own JSON message is shown (it never holds raw input); any other text
    // (axum's or hyper's) is replaced by a sentence of ours.
    let ours = axum::body::to_bytes(body, 16 * 1024)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("error").and_then(serde_json::Value::as_str).map(str::to_string))
        .filter(|m| !m.is_empty());
    let message = ours.unwrap_or_else(|| match status {
        StatusCode::NOT_FOUND => "There is no such page.".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "This page cannot be asked for that way.".to_string(),
        _ => format!("The page could not be shown ({status})."),
    });
    let mut answer = layout::status_page(&state, status, &message);
    // Keep what the client needs from the original answer (Allow, Retry-After).
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
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
