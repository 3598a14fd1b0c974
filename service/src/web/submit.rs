//! `/submit`: token (kept in the browser's localStorage), a `.wasm` by drag-and-drop or file
//! picker, checked for size before it is sent, then the live pipeline the script drives:
//! upload → checks → queued → simulating → scored, ending in a result card with the real
//! numbers and rank. Without JavaScript the page shows the equivalent `curl` command.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{Shared, layout, page as respond};

/// The pipeline's stages: (id, label).
const STAGES: &[(&str, &str)] = &[
    ("upload", "Upload"),
    ("checks", "Checks"),
    ("queued", "Queued"),
    ("simulating", "Simulating"),
    ("scored", "Scored"),
];

pub(super) async fn page(state: Shared) -> Response {
    let definition = crate::views::competition(&state);
    let c = &state.file.competition;
    let accept_source = definition.accept_source;
    let seeds = definition.public_seeds.count;
    let body = html! {
        h1 { "Submit a strategy" }
        p.lede {
            "Your module races the house field and the normalizer on the " (seeds) " public seeds. "
            "It must pass every check of " code { "amm-engine validate" } " first; a refused module is never queued. "
            a href="/competition#sdk" { "SDK quick start" } "."
        }
        noscript {
            p.note {
                "This page needs JavaScript to upload. Without it, upload with curl:"
            }
            pre { code { "curl -H 'Authorization: Bearer YOUR_TOKEN' -F module=@strategy.wasm -F name=my-strategy "
                "http://HOST/api/submissions" } }
        }
        form #submit-form data-max-bytes=(c.max_upload_bytes) novalidate {
            div.field {
                label for="token" { "Token" }
                input #token name="token" type="password" autocomplete="off" spellcheck="false" required
                    aria-describedby="token-help";
                p #token-help .help { "Your bearer token (amm_…). Kept in this browser only (localStorage), sent only to this server. "
                    button #forget-token type="button" .link { "Forget it" } }
            }
            div.field {
                label for="name" { "Strategy name (optional)" }
                input #name name="name" type="text" maxlength="64" aria-describedby="name-help";
                p #name-help .help { "1–64 printable characters; default: the module's amm.name." }
            }
            div.field {
                label for="module" { "Module (.wasm)" }
                div #drop .drop {
                    p { "Drop a " code { ".wasm" } " file here, or choose one:" }
                    input #module name="module" type="file" accept=".wasm,application/wasm" required aria-describedby="module-help";
                    p #module-help .help { "At most " (c.max_upload_bytes) " bytes (checked before anything is sent)." }
                    p #file-info .help aria-live="polite" {}
                }
            }
            @if accept_source {
                div.field {
                    label for="source" { "Or paste Rust source (lib.rs)" }
                    textarea #source name="source" rows="14" spellcheck="false" aria-describedby="source-help" {}
                    p #source-help .help { "Built by the server's hardened single-file builder, then checked like a module." }
                }
            }
            button #send type="submit" .primary { "Submit" }
        }
        div #message role="alert" {}
        section #pipeline aria-labelledby="pipeline-h" hidden {
            h2 #pipeline-h { "Pipeline" }
            ol.stages {
                @for (id, label) in STAGES {
                    li data-stage=(id) data-state="todo" { span.dot aria-hidden="true" {} span.label { (label) } " " span.state { "waiting" } }
                }
            }
            p #queue-info .help {}
            div #progress-box hidden {
                label for="progress" { "Simulations " span #progress-text {} }
                progress #progress max="1" value="0" {}
            }
            div #checks {}
        }
        section #result hidden aria-labelledby="result-h" {
            h2 #result-h { "Result" }
            div #result-body {}
        }
    };
    respond(StatusCode::OK, layout(&state, "Submit", "/submit", "submit", body))
}
