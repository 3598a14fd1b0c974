//! `/competition`: the rules, from [`crate::views::competition`] — market parameters, sizes,
//! limits, the SDK quick start, and how scoring and tie groups work.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{Shared, layout, page as respond};

pub(super) async fn page(state: Shared) -> Response {
    let d = crate::views::competition(&state);
    let max = d.max_upload_bytes;
    let body = html! {
        h1 { (d.name) }
        dl.facts {
            dt { "Engine" } dd { (d.engine_version) }
            dt { "Public seeds" } dd { (d.public_seeds.count) " seeds from " (d.public_seeds.start) }
            dt { "Hidden seeds (rounds)" } dd { (d.hidden_seeds.count) " seeds, never published" }
            dt { "Steps per simulation" } dd { (d.steps) " (epochs of " (d.epoch_len) " steps)" }
            dt { "House field" } dd { @for (i, h) in d.house.iter().enumerate() {
                @if i > 0 { ", " } (h) } }
            dt { "Upload limit" } dd { (max) " bytes" }
            dt { "Source uploads" } dd { @if d.accept_source { "accepted" } @else { "not accepted: upload .wasm" } }
        }
        section #rules aria-labelledby="rules-h" {
            h2 #rules-h { "Rules" }
            ul {
                li { "Upload a WebAssembly strategy with your token. It must pass every check of "
                    code { "amm-engine validate" } " (format, interface, limits, hooks, quotes, purity, a smoke simulation); a refused module is never queued." }
                li { "Accepted entries race the house field and the normalizer on every public seed: every entry sees the same markets." }
                li { "Quotas: " (d.quotas.per_day) " accepted uploads per day, " (d.quotas.concurrent)
                    " being evaluated at once; " (d.quotas.requests_per_minute) " requests per minute per address. Over them: 429 with Retry-After." }
                li { "The same bytes from the same submitter are never evaluated twice." }
                li { "Strategies run only in the sandbox, metered: a strategy fault or an overrun disqualifies the simulation; it is never retried." }
            }
        }
        section #scoring aria-labelledby="scoring-h" {
            h2 #scoring-h { "Scoring and tie groups" }
            p { "Edge is what a pool earns measured at the fair price, in Y per simulation. The board ranks each submitter's best entry by mean edge "
                "(entries never disqualified first). Next to it: the paired edge over the normalizer — the mean, over the common seeds, of "
                "(your edge − the normalizer's edge) — with its standard error. Pairing removes the market's own noise, so it separates entries "
                "that unpaired errors cannot." }
            p { "Two neighbours on the board share a " strong { "tie group" } " when a paired test on their common seeds cannot separate them: "
                "the mean of their per-seed differences is within two standard errors of zero. Entries in one tie group are, statistically, level." }
            p { "The small bar beside the paired edge is its 95 % interval (mean ± 2 se); the tick marks zero (the normalizer)." }
        }
        section #market aria-labelledby="market-h" {
            h2 #market-h { "Market parameters" }
            (tree(&serde_json::to_value(&d.market).unwrap_or_default()))
            h3 { "Pools" } (tree(&serde_json::to_value(&d.pools).unwrap_or_default()))
            h3 { "Normalizer" } (tree(&serde_json::to_value(&d.normalizer).unwrap_or_default()))
            h3 { "Capital" } (tree(&serde_json::to_value(&d.capital).unwrap_or_default()))
            h3 { "Sandbox limits" } (tree(&serde_json::to_value(&d.sandbox).unwrap_or_default()))
        }
        section #sdk aria-labelledby="sdk-h" {
            h2 #sdk-h { "SDK quick start" }
            ol {
                li { "Start from the example: " code { "amm-engine new my-strategy" } " (a crate on the strategy SDK)." }
                li { "Build it: " code { "cargo build --release --target wasm32-unknown-unknown" } "." }
                li { "Check it as the server will: " code { "amm-engine validate target/wasm32-unknown-unknown/release/my_strategy.wasm" } "." }
                li { "Race it locally on the house field: " code { "amm-engine run configs/default.toml" } "." }
                li { "Submit it on the " a href="/submit" { "submit page" } ", or with curl:" }
            }
            pre { code { "curl -H 'Authorization: Bearer YOUR_TOKEN' \\\n     -F module=@my_strategy.wasm -F name=my-strategy \\\n     http://HOST/api/submissions" } }
        }
    };
    respond(StatusCode::OK, layout(&state, "Competition", "/competition", "competition", body))
}

/// A JSON value as nested definition lists (keys and values escaped like everything else).
fn tree(value: &serde_json::Value) -> Markup {
    html! {
        @match value {
            serde_json::Value::Object(map) => {
                dl.tree { @for (k, v) in map { dt { (k) } dd { (tree(v)) } } }
            }
            serde_json::Value::Array(items) => {
                @if items.iter().all(|i| !i.is_object()) {
                    (items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
                } @else {
                    ol { @for i in items { li { (tree(i)) } } }
                }
            }
            serde_json::Value::String(s) => { (s) }
            serde_json::Value::Null => { "–" }
            other => { (other.to_string()) }
        }
    }
}
