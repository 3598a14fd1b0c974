//! The API contract: what `GET /openapi.json` says a request may be is what the server accepts,
//! and every answer is one the document lists.
//!
//! The fixes a schema-driven fuzzer (schemathesis) led to each have a test of their own here,
//! and [`schemathesis_finds_nothing_against_a_live_server`] runs the fuzzer itself, as CI does
//! (`.ci/run` installs it in a venv and names it in `AMM_SCHEMATHESIS`). Without it the test
//! is skipped with a message, unless `CI=true`: then it fails, like the PostgreSQL and Chromium
//! tests.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::service::{Server, competition, get, request, token, upload, wasm_of};
use crate::support::{Scratch, example_wasm, workspace};

/// Quotas that never refuse a fuzzer (and a house field that evaluates in a moment).
const LIFTED: &str = "quotas = { requests_per_minute = 1000000000, requests_per_token_per_minute = 1000000000, \
                      per_day = 1000000, concurrent = 1000000 }";

/// `POST path` with a JSON `body` and an admin `token`.
fn post_json(addr: std::net::SocketAddr, path: &str, token: &str, body: &str) -> crate::service::Response {
    let headers = [("Authorization", format!("Bearer {token}")), ("Content-Type", "application/json".to_string())];
    request(addr, "POST", path, &headers, body.as_bytes())
}

fn error_of(r: &crate::service::Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_flag_reason_is_counted_in_characters_and_checked_as_the_document_says() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let admin = token(&data, "root", true);
    let addr = server.addr;
    // The house field's baseline is submission 1.
    let flag = "/api/admin/submissions/1/flag";

    // 200 characters of three bytes each: 600 bytes, within the rule (the server counted bytes).
    let euro = "€".repeat(200);
    let r = post_json(addr, flag, &admin, &format!(r#"{{"reason": "{euro}"}}"#));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = post_json(addr, flag, &admin, &format!(r#"{{"reason": "{euro}€"}}"#));
    assert_eq!(r.status, 422, "201 characters");
    assert!(error_of(&r).contains("1-200 characters"), "{}", error_of(&r));

    // Refused as sent, also when clearing the flag: a control character, only whitespace.
    for body in [
        r#"{"reason": "a\u0011b"}"#,
        r#"{"reason": "a\u0011b", "flagged": false}"#,
        r#"{"reason": "\u202Eevil"}"#,
        r#"{"reason": "   "}"#,
        r#"{"reason": "\t padded"}"#,
        r#"{"reason": ""}"#,
    ] {
        let r = post_json(addr, flag, &admin, body);
        assert_eq!(r.status, 422, "{body}: {}", String::from_utf8_lossy(&r.body));
        assert!(error_of(&r).starts_with("reason: "), "{body}: {}", error_of(&r));
    }

    // A reason with spaces around it is valid and stored trimmed.
    let r = post_json(addr, flag, &admin, r#"{"reason": "  copied from round 3  "}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["flag"], "copied from round 3");
}

#[test]
fn a_flag_or_hide_body_must_be_an_object_or_empty() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let admin = token(&data, "root", true);
    for path in ["/api/admin/submissions/1/flag", "/api/admin/submissions/1/hide"] {
        // serde reads a struct from an array of its fields: `[]` was every default (200).
        for body in ["[]", "[true]", "null", "\"x\"", "0", "\u{c}", " ", "\n"] {
            let r = post_json(server.addr, path, &admin, body);
            assert_eq!(r.status, 422, "{path} {body}: {}", String::from_utf8_lossy(&r.body));
            assert!(error_of(&r).contains("request body"), "{}", error_of(&r));
        }
        for body in ["", "{}"] {
            assert_eq!(post_json(server.addr, path, &admin, body).status, 200, "{path} {body:?}");
        }
    }
}

#[test]
fn an_upload_name_is_counted_in_characters_and_checked_as_sent() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let alice = token(&data, "alice", false);
    let module = wasm_of(&example_wasm("fixed-fee-100"));
    for bad in [&"ü".repeat(65), "\tname", "   ", "a\u{7}b"] {
        let r = upload(server.addr, Some(&alice), &module, Some(bad));
        assert_eq!(r.status, 422, "{bad:?}: {}", String::from_utf8_lossy(&r.body));
        assert!(error_of(&r).starts_with("name: 1-64 characters"), "{}", error_of(&r));
    }
    // 64 characters sent, two bytes each (the server counted bytes); stored trimmed.
    let name = "ü".repeat(62);
    let r = upload(server.addr, Some(&alice), &module, Some(&format!(" {name} ")));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["submission"].as_i64().unwrap();
    assert_eq!(get(server.addr, &format!("/api/submissions/{id}")).json()["name"], Value::from(name));
    // The same bytes again (200, the earlier submission) under a name of 64 characters: valid.
    let r = upload(server.addr, Some(&alice), &module, Some(&"ü".repeat(64)));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn the_served_document_states_every_request_rule_the_server_enforces() {
    for accept_source in [false, true] {
        let scratch = Scratch::new();
        let data = scratch.path().join("data");
        let extra = format!("accept_source = {accept_source}\n{LIFTED}");
        let server = Server::start(&competition(scratch.path(), 2, 100, &extra), &data);
        let doc = get(server.addr, "/openapi.json").json();

        // The upload: a multipart form whose parts carry this competition's limit.
        let post = &doc["paths"]["/api/submissions"]["post"];
        let form_ref = &post["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"];
        assert_eq!(form_ref, "#/components/schemas/UploadForm", "{post}");
        let form = &doc["components"]["schemas"]["UploadForm"];
        assert_eq!(form["additionalProperties"], false);
        assert_eq!(form["properties"]["module"]["maxLength"], 200_000, "competition() sets 200000");
        assert_eq!(form["properties"]["module"]["format"], "binary");
        let name = &form["properties"]["name"];
        assert_eq!((&name["minLength"], &name["maxLength"]), (&Value::from(1), &Value::from(64)), "{name}");
        assert_eq!(name["pattern"], amm_engine::names::FORM_TEXT_PATTERN);
        if accept_source {
            assert!(form["properties"]["source"]["maxLength"].as_u64().is_some_and(|n| n <= 200_000), "{form}");
            assert_eq!(form["oneOf"], serde_json::json!([{ "required": ["module"] }, { "required": ["source"] }]));
        } else {
            assert!(form["properties"].get("source").is_none(), "no part 'source' where it is refused: {form}");
            assert_eq!(form["required"], serde_json::json!(["module"]));
        }

        // Flag and hide bodies are optional; the reason carries its rule.
        for path in ["/api/admin/submissions/{id}/flag", "/api/admin/submissions/{id}/hide"] {
            let body = &doc["paths"][path]["post"]["requestBody"];
            assert!(body["required"].is_null() || body["required"] == false, "{path}: {body}");
        }
        let reason = &doc["components"]["schemas"]["FlagRequest"]["properties"]["reason"];
        assert_eq!((&reason["minLength"], &reason["maxLength"]), (&Value::from(1), &Value::from(200)), "{reason}");
        assert_eq!(reason["pattern"], amm_engine::names::FORM_TEXT_PATTERN);
        assert_eq!(doc["components"]["schemas"]["FlagRequest"]["additionalProperties"], false);
    }
}

/// The schemathesis executable `.ci/run` prepared (`AMM_SCHEMATHESIS`); `None` (skip) locally
/// without one, a failure under `CI=true`.
fn schemathesis() -> Option<PathBuf> {
    let found = std::env::var_os("AMM_SCHEMATHESIS").map(PathBuf::from).filter(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but AMM_SCHEMATHESIS does not name a schemathesis executable (.ci/run installs \
             it in a venv and sets it; `.ci/run schemathesis` prints it)"
        );
        eprintln!("skipped: set AMM_SCHEMATHESIS to a schemathesis 4 executable (`.ci/run schemathesis`)");
    }
    found
}

/// schemathesis, every check, the stateful phase included, against a live server with an
/// admin token and its rate limits lifted; event streams are left out (they never end).
/// Bounded: 30 examples an operation and `--max-time` (fuzzing and stateful testing repeat
/// until it is spent). Any failure fails the test, with schemathesis's report.
#[test]
fn schemathesis_finds_nothing_against_a_live_server() {
    let Some(schemathesis) = schemathesis() else { return };
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let admin = token(&data, "root", true);
    let config = workspace().join("tests/all/schemathesis.toml");
    let seconds = std::env::var("AMM_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "100".into());
    let started = Instant::now();
    let out = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.addr))
        .args(["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--exclude-path-regex", "/events$"])
        .args(["--max-examples", "30", "--max-time", &seconds, "--seed", "1"])
        .args(["--generation-database", "none", "--no-color", "--output-truncate", "true"])
        .current_dir(scratch.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", schemathesis.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = summary(&stdout);
    eprintln!("schemathesis in {:.0?}:\n{summary}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis found failures ({}):\n{}\n{}\nserver log: {}",
        out.status,
        tail(&stdout, 200),
        String::from_utf8_lossy(&out.stderr),
        tail(&crate::service::log_text(&data), 40)
    );
    assert!(stdout.contains("Stateful"), "the stateful phase ran:\n{summary}");
    assert!(started.elapsed() < Duration::from_secs(seconds.parse::<u64>().unwrap_or(100) + 120));
}

/// The report from its SUMMARY line on (the phases, failures, test cases), or its tail.
fn summary(report: &str) -> String {
    report.find("SUMMARY").map_or_else(|| tail(report, 40), |at| report[at..].to_string())
}

/// The last `n` lines of `text`, each cut to 400 characters (a failing upload's body is shown
/// whole otherwise).
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let cut = |l: &&str| l.chars().take(400).collect::<String>();
    lines[lines.len().saturating_sub(n)..].iter().map(cut).collect::<Vec<_>>().join("\n")
}

/// A bad path id (`abc`, past i64, 0, `%00`, an escaped `<script>`) is refused through the
/// service's one error type: the API answers 400 with the JSON error body saying what to send,
/// pages answer the site's HTML error page with its security headers; neither echoes the input
/// nor names a Rust type. Unknown paths get the same two kinds of 404.
#[test]
fn bad_ids_and_unknown_paths_answer_the_sites_own_errors() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let addr = server.addr;
    let bad = ["abc", "9223372036854775808", "0", "-1", "%00", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "1.5"];
    for id in bad {
        for (path, what) in [
            (format!("/api/submissions/{id}"), "submission"),
            (format!("/api/submissions/{id}/results.json"), "submission"),
            (format!("/api/jobs/{id}"), "job"),
            (format!("/api/rounds/{id}"), "round"),
        ] {
            let r = get(addr, &path);
            let body = String::from_utf8_lossy(&r.body).into_owned();
            assert_eq!(r.status, 400, "{path}: {body}");
            assert_eq!(
                error_of(&r),
                format!("{what} id must be a whole number from 1 to 9223372036854775807"),
                "{path}"
            );
            assert!(!body.contains("i64") && !body.contains("Cannot parse"), "{path}: {body}");
        }
        for path in [format!("/submissions/{id}"), format!("/rounds/{id}"), format!("/submissions/{id}/report.html")] {
            let r = get(addr, &path);
            let body = String::from_utf8_lossy(&r.body).into_owned();
            assert_eq!(r.status, 400, "{path}: {body}");
            assert!(r.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{path}");
            assert!(r.header("content-security-policy").is_some(), "{path}: no security headers");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
            assert!(body.contains("id must be a whole number from 1 to"), "{path}: {body}");
            assert!(!body.contains("<script>") && !body.contains('\0') && !body.contains("i64"), "{path}: {body}");
        }
    }
    // A post to an admin route with a bad id: also the JSON refusal (before authentication).
    let r = request(addr, "POST", "/api/admin/jobs/abc/requeue", &[], b"");
    assert_eq!((r.status, error_of(&r).starts_with("job id must be")), (400, true));

    // Unknown paths: JSON 404 on the API (also `/api` itself), the HTML 404 page elsewhere.
    for path in ["/api", "/api/nothing"] {
        let r = get(addr, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!error_of(&r).is_empty(), "{path}: {}", String::from_utf8_lossy(&r.body));
    }
    for path in ["/favicon.ico", "/leaderboard", "/submissions"] {
        let r = get(addr, path);
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, 404, "{path}");
        assert!(r.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path}");
        assert!(body.contains("There is no such page."), "{path}: {body}");
    }
    // A wrong method on a page: the HTML page too, still saying what is allowed.
    let r = request(addr, "POST", "/competition", &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.header("content-type").is_some_and(|v| v.starts_with("text/html")));
    assert!(r.header("allow").is_some_and(|v| v.contains("GET")));
}

/// `curl -F module=@a.wasm -F module=@b.wasm`: a part sent twice is refused naming it, not
/// resolved silently by the last one.
#[test]
fn an_upload_repeating_a_part_is_refused_naming_it() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let alice = token(&data, "alice", false);
    let a = wasm_of(&example_wasm("fixed-fee-100"));
    let b = wasm_of(&example_wasm("fixed-fee-500"));
    let boundary = "----amm-repeat";
    let part = |name: &str, file: Option<&str>, bytes: &[u8]| {
        let disposition = match file {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        let mut out = format!("--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").into_bytes();
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
        out
    };
    let cases: [(&str, Vec<Vec<u8>>); 2] = [
        ("module", vec![part("module", Some("a.wasm"), &a), part("module", Some("b.wasm"), &b)]),
        ("name", vec![part("module", Some("a.wasm"), &a), part("name", None, b"one"), part("name", None, b"two")]),
    ];
    for (repeated, parts) in cases {
        let mut body = parts.concat();
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let headers = [
            ("Content-Type", format!("multipart/form-data; boundary={boundary}")),
            ("Authorization", format!("Bearer {alice}")),
        ];
        let r = request(server.addr, "POST", "/api/submissions", &headers, &body);
        assert_eq!(r.status, 400, "{repeated}: {}", String::from_utf8_lossy(&r.body));
        assert!(error_of(&r).contains(&format!("'{repeated}' was sent more than once")), "{}", error_of(&r));
    }
    // Nothing was stored.
    let mine = get(server.addr, "/api/leaderboard").json();
    assert!(!mine.to_string().contains("alice"), "{mine}");
}

/// The document describes the bodies the server really sends: an upload's 422 carries `checks`
/// and `failed` beside `error` (a schema of its own, and a refused module's body has each of
/// its required fields), and a disqualification reason's `kind` is an enum of the engine's kinds.
#[test]
fn the_document_describes_the_refusal_body_and_the_disqualification_kinds() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let doc = get(server.addr, "/openapi.json").json();
    let upload_422 = &doc["paths"]["/api/submissions"]["post"]["responses"]["422"];
    assert!(upload_422.to_string().contains("#/components/schemas/ValidationFailure"), "{upload_422}");
    let failure = &doc["components"]["schemas"]["ValidationFailure"];
    let required: Vec<&str> = failure["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, ["error", "failed", "checks"], "{failure}");

    let alice = token(&data, "alice", false);
    let looping = crate::support::strategy_wat("(loop $l (br $l)) (i64.const 0)", "");
    let r = upload(server.addr, Some(&alice), &wat::parse_str(looping).unwrap(), None);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    for field in required {
        assert!(body.get(field).is_some(), "{field} missing: {body}");
    }
    assert!(!body["failed"].as_array().unwrap().is_empty(), "{body}");

    let item = &doc["components"]["schemas"]["EntrantSummary"]["properties"]["disqualification_reasons"]["items"];
    let kinds: Vec<&str> =
        item["properties"]["kind"]["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let engine: Vec<&str> = amm_engine::market::DisqualificationKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, engine, "{item}");
    assert!(kinds.contains(&"absurd_quote") && kinds.contains(&"audit_mismatch"), "{kinds:?}");
    assert!(item["properties"]["example"]["type"] == "string", "{item}");
}

/// The flag and hide bodies are documented as what the server takes: an object, or no body at
/// all. The document offered `oneOf: [object, null]` (utoipa's reading of `Option<T>`), so a
/// client sending the documented `null` got 422.
#[test]
fn the_flag_and_hide_bodies_are_documented_as_an_object_or_nothing() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let doc = get(server.addr, "/openapi.json").json();
    for (path, schema) in
        [("/api/admin/submissions/{id}/flag", "FlagRequest"), ("/api/admin/submissions/{id}/hide", "HideRequest")]
    {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert!(body["required"].is_null() || body["required"] == false, "{path}: {body}");
        let documented = &body["content"]["application/json"]["schema"];
        assert_eq!(documented, &serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") }), "{path}");
    }
}

/// An upload that is not `multipart/form-data` (a JSON body, no body): without a token 401
/// like any upload, with one 400 saying what to send. The multipart extractor answered first,
/// so a stranger got 400 and everyone axum's "Invalid `boundary` for `multipart/form-data`
/// request", which says nothing about the parts.
#[test]
fn an_upload_that_is_not_multipart_is_authenticated_first_and_told_what_to_send() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let server = Server::start(&competition(scratch.path(), 2, 100, LIFTED), &data);
    let alice = token(&data, "alice", false);
    let json = ("Content-Type", "application/json".to_string());
    for (headers, body) in [(vec![json.clone()], &b"{\"module\": 1}"[..]), (vec![], &b""[..])] {
        let r = request(server.addr, "POST", "/api/submissions", &headers, body);
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
        let mut with_token = headers.clone();
        with_token.push(("Authorization", format!("Bearer {alice}")));
        let r = request(server.addr, "POST", "/api/submissions", &with_token, body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        let error = error_of(&r);
        assert!(error.contains("multipart/form-data") && error.contains("'module'"), "{error}");
        assert!(!error.contains("boundary"), "{error}");
    }
}
