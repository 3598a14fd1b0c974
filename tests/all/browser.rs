//! The web dashboard in a real headless Chromium, driven over WebDriver (chromedriver, started
//! here) against a real `amm-engine serve`: the whole submit flow, a hostile upload, the
//! client-side size check and a refused token explained in words, the leaderboard updating
//! live when an evaluation finishes, an admin action, no script errors, every page readable
//! without JavaScript, and screenshots of every page at desktop and phone width saved to
//! `target/screenshots/` for a person to look at.
//!
//! Without Chromium the test is skipped with a message, unless `CI=true`: then it fails.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::webdriver::{Client, Key, Locator};
use serde_json::{Value, json};

use crate::service::{Server, competition, get, log_text, token, upload, wait_for_submission, wasm_of};
use crate::support::{Scratch, example_wasm, workspace};

/// chromedriver and the Chromium binary, when both are installed.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    // Debian's /usr/bin/chromium is a wrapper script; the binary proper sits beside its data.
    let chromium = ["/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| on_path("chromium"))
        .or_else(|| on_path("chromium-browser"));
    match (on_path("chromedriver"), chromium) {
        (Some(driver), Some(chromium)) => Some((driver, chromium)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but chromium and chromedriver are not both installed (.ci/run installs \
                 Debian's chromium and chromium-driver)"
            );
            eprintln!(
                "SKIPPED the browser test: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// A running chromedriver, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(path: &Path, log: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Screen sizes of the screenshots: (name, width, height) in CSS pixels.
const SCREENS: &[(&str, u32, u32)] = &[("desktop", 1280, 900), ("phone", 390, 844)];

fn js(client: &Client, script: &str) -> Value {
    client.execute(script, Vec::new()).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Waits up to `timeout` for `script` to return something truthy; returns it.
fn until(client: &Client, script: &str, timeout: Duration, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = js(client, script);
        if !(v.is_null() || v == Value::Bool(false) || v == json!("") || v == json!(0)) {
            return v;
        }
        if started.elapsed() > timeout {
            let text = js(client, "return document.body ? document.body.innerText : ''");
            panic!("timed out waiting for {what} ({script}); page text:\n{}", text.as_str().unwrap_or(""));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The page's script error log (window.onerror, unhandled rejections, CSP violations, failed
/// resources) must exist — the script ran — and be empty.
fn assert_no_script_errors(client: &Client, page: &str) {
    let errors = js(client, "return window.__ammErrors === undefined ? null : window.__ammErrors");
    assert_eq!(errors, json!([]), "script errors on {page} (null: the script did not run)");
}

/// Saves a screenshot of the whole page (the window is made as tall as the page, up to
/// 5,000 px, then put back).
fn shoot(client: &Client, path: &Path) {
    let (width, height) = client.get_window_size().unwrap();
    js(client, "window.scrollTo(0, 0); return 1");
    // The window's height includes whatever the browser draws around the page.
    let sizes = js(client, "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]");
    let page = sizes[0].as_u64().unwrap_or(height) + sizes[1].as_u64().unwrap_or(0);
    client.set_window_size(width as u32, page.clamp(height, 5_000) as u32).unwrap();
    let png = client.screenshot().unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(path, png).unwrap();
    client.set_window_size(width as u32, height as u32).unwrap();
}

fn text_of(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).unwrap_or_else(|e| panic!("{css}: {e}")).text().unwrap()
}

/// Sets a file input to `path` (WebDriver sends the path as keys).
fn choose_file(client: &Client, path: &Path) {
    let input = client.find(Locator::Css("#module")).unwrap();
    input.clear().ok();
    let path = std::fs::canonicalize(path).unwrap();
    input.send_keys(path.to_str().unwrap()).unwrap();
}

/// Chooses `file`, presses Submit and waits up to `timeout` for the message to mention
/// `needle` (`what` names the wait); returns the message.
fn send_until_message(client: &Client, file: &Path, needle: &str, timeout: Duration, what: &str) -> String {
    choose_file(client, file);
    client.find(Locator::Css("#send")).unwrap().click().unwrap();
    let script =
        format!("const m = document.getElementById('message').textContent; return m.includes({needle:?}) && m");
    until(client, &script, timeout, what).as_str().unwrap().to_string()
}

fn set_field(client: &Client, css: &str, value: &str) {
    let input = client.find(Locator::Css(css)).unwrap();
    input.clear().unwrap();
    input.send_keys(value).unwrap();
}

fn uploads_answered(addr: SocketAddr) -> u64 {
    let text = String::from_utf8(get(addr, "/metrics").body).unwrap();
    text.lines()
        .filter(|l| l.starts_with("amm_uploads_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn post_json(addr: SocketAddr, path: &str, token: &str) -> Value {
    let r = crate::service::request(addr, "POST", path, &[("Authorization", format!("Bearer {token}"))], b"");
    assert!(r.status < 300, "{path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

#[test]
fn the_dashboard_works_in_headless_chromium() {
    let Some((driver_path, chromium)) = browser() else { return };
    let started = Instant::now();
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 8, 1_000, "");
    let alice = token(&data, "alice", false);
    let bob = token(&data, "bob", false);
    let root = token(&data, "root", true);
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let base = format!("http://{addr}");
    let honest = example_wasm("fixed-fee-30");
    let other = std::fs::read(example_wasm("fixed-fee-100")).unwrap();

    // The house field's baseline rows first.
    let t = Instant::now();
    while get(addr, "/api/leaderboard").json().as_array().is_none_or(Vec::is_empty) {
        assert!(t.elapsed() < Duration::from_secs(30), "no baseline rows: {}", log_text(&data));
        std::thread::sleep(Duration::from_millis(100));
    }

    // Every read-only page renders its data without JavaScript (a plain GET).
    for (path, needles) in [
        ("/", &["house 30 bps", "normalizer", "baseline", "Tie group", "/api/leaderboard.csv"][..]),
        ("/competition", &["test cup", "Scoring and tie groups", "1000", "SDK quick start", "amm-engine validate"][..]),
        ("/submit", &["type=\"file\"", "200000", "curl"][..]),
        ("/rounds", &["No rounds yet"][..]),
        ("/admin", &["Queue", "succeeded"][..]),
    ] {
        let r = get(addr, path);
        let html = String::from_utf8(r.body.clone()).unwrap();
        assert_eq!(r.status, 200, "{path}: {html}");
        for needle in needles {
            assert!(html.contains(needle), "{path} lacks {needle:?} without JavaScript:\n{html}");
        }
    }
    assert_eq!(get(addr, "/submissions/999").status, 404);

    let driver = Driver::start(&driver_path, &scratch.path().join("chromedriver.log"));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--window-size=1280,900"],
        },
    });
    let context = Context {
        addr,
        base,
        alice,
        bob,
        root,
        data: data.clone(),
        scratch: scratch.path().to_path_buf(),
        honest,
        other,
    };
    let client = Client::connect(driver.port, capabilities).unwrap_or_else(|e| panic!("WebDriver session: {e}"));
    // The session is closed (and Chromium quits) whether the checks pass or panic.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exercise(client.clone(), context)));
    let _ = client.close();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    drop(driver);
    drop(server);
    eprintln!("browser test: {:.1} s; screenshots in target/screenshots/", started.elapsed().as_secs_f64());
}

/// What the browser session needs of the test's set-up.
struct Context {
    addr: SocketAddr,
    base: String,
    alice: String,
    bob: String,
    root: String,
    data: PathBuf,
    scratch: PathBuf,
    honest: PathBuf,
    other: Vec<u8>,
}

/// Everything done in the browser.
/// A WebAssembly custom section named `name` holding `payload` (bytes), ready to append to a module.
fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut section = vec![0u8];
    leb(body.len(), &mut section);
    section.extend(body);
    section
}

fn exercise(client: Client, cx: Context) {
    let Context { addr, base, alice, bob, root, data, scratch, honest, other } = cx;
    let shots = workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    client.set_window_size(1280, 900).unwrap();

    // --- The leaderboard updates live when an evaluation finishes (no reload). ---
    client.goto(&base).unwrap();
    until(
        &client,
        "return document.querySelector('table.board tbody tr') !== null",
        Duration::from_secs(10),
        "the board",
    );
    js(&client, "window.__kept = 'same page'; return 1");
    let hostile_name = "<img src=x onerror=window.__pwned=1>";
    let r = upload(addr, Some(&bob), &other, Some(hostile_name));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let bob_submission = r.json()["submission"].as_i64().unwrap();
    let row = "return Array.from(document.querySelectorAll('table.board tbody tr')).some(r => r.cells[2].textContent === 'bob')";
    until(&client, row, Duration::from_secs(30), "bob's row to appear live");
    assert_eq!(js(&client, "return window.__kept"), json!("same page"), "the page was reloaded");
    let cell = js(
        &client,
        "return Array.from(document.querySelectorAll('table.board tbody tr')).find(r => r.cells[2].textContent === 'bob').cells[3].querySelector('a').textContent",
    );
    assert_eq!(cell, json!(hostile_name), "a hostile name shows as text");
    assert_eq!(js(&client, "return window.__pwned === undefined"), json!(true), "markup in a name ran");
    // Sorting: by submitter, ascending.
    let submitters =
        "return Array.from(document.querySelectorAll('table.board tbody tr')).map(r => r.cells[2].textContent)";
    // (with the keyboard: Enter on the header's button)
    let sort = client.find(Locator::Css("table.board thead th:nth-child(3) button")).unwrap();
    sort.send_keys(&Key::Enter.to_string()).unwrap();
    let sorted: Vec<String> = serde_json::from_value(js(&client, submitters)).unwrap();
    let mut expected = sorted.clone();
    expected.sort();
    assert_eq!(sorted, expected, "sorted by submitter");
    assert_eq!(
        js(&client, "return document.querySelector('table.board thead th:nth-child(3)').getAttribute('aria-sort')"),
        json!("ascending")
    );
    assert_no_script_errors(&client, "/");

    // --- The whole submit flow. ---
    client.goto(&format!("{base}/submit")).unwrap();
    set_field(&client, "#token", &alice);
    set_field(&client, "#name", "alice 30");
    choose_file(&client, &honest);
    assert!(text_of(&client, "#file-info").contains("bytes"), "the chosen file is described");
    client.find(Locator::Css("#send")).unwrap().click().unwrap();
    let rank = until(
        &client,
        "const r = document.getElementById('rank'); return r && r.textContent",
        Duration::from_secs(60),
        "the result card",
    );
    let stages = js(
        &client,
        "return Array.from(document.querySelectorAll('ol.stages li')).map(l => l.dataset.stage + ':' + l.dataset.state)",
    );
    assert_eq!(stages, json!(["upload:done", "checks:done", "queued:done", "simulating:done", "scored:done"]));
    let bar = js(&client, "const p = document.getElementById('progress'); return [p.value, p.max]");
    assert_eq!(bar[0], bar[1], "the progress bar is full");
    assert_eq!(bar[1], json!(8), "8 simulations");
    let checks = js(&client, "return Array.from(document.querySelectorAll('#checks li')).map(l => l.dataset.outcome)");
    let checks: Vec<String> = serde_json::from_value(checks).unwrap();
    assert!(checks.len() >= 5 && checks.iter().all(|c| c != "FAIL"), "{checks:?}");
    // The card's numbers and rank are the API's.
    let board = get(addr, "/api/leaderboard").json();
    let mine = board.as_array().unwrap().iter().find(|r| r["submitter"] == "alice").unwrap().clone();
    assert_eq!(rank, json!(format!("#{}", mine["rank"])), "{board}");
    let card = text_of(&client, "#result-body");
    let edge = format!("{:.2} ± {:.2}", mine["mean_edge"].as_f64().unwrap(), mine["stderr_edge"].as_f64().unwrap());
    assert!(card.contains(&edge), "the card shows {edge}: {card}");
    let alice_submission = mine["submission"].as_i64().unwrap();
    shoot(&client, &shots.join("submit-result-desktop.png"));
    assert_no_script_errors(&client, "/submit");

    // The token stays in the browser.
    client.goto(&format!("{base}/submit")).unwrap();
    let kept = js(&client, "return document.getElementById('token').value");
    assert_eq!(kept, json!(alice), "the token is kept in localStorage");

    // --- A hostile upload shows its reason. ---
    let hostile = scratch.join("loop_in_quote.wasm");
    std::fs::write(&hostile, wasm_of(&workspace().join("tests/fixtures/hostile/loop_in_quote.wat"))).unwrap();
    choose_file(&client, &hostile);
    client.find(Locator::Css("#send")).unwrap().click().unwrap();
    let said =
        until(&client, "return document.getElementById('message').textContent", Duration::from_secs(30), "the refusal");
    let said = said.as_str().unwrap().to_string();
    assert!(said.contains("refused (422)") && said.contains("out of fuel"), "{said}");
    let failed = text_of(&client, "#checks li[data-outcome=FAIL]");
    assert!(failed.contains("quotes") && failed.contains("out of fuel"), "{failed}");
    assert_eq!(js(&client, "return document.querySelector('li[data-stage=checks]').dataset.state"), json!("failed"));
    shoot(&client, &shots.join("submit-refused-desktop.png"));

    // --- A refusal quoting a long unbroken amm.name wraps at phone width (no sideways scroll). ---
    let long_name = "W".repeat(2_000);
    let mut named = wasm_of(&workspace().join("tests/fixtures/hostile/loop_in_quote.wat"));
    named.extend(custom_section("amm.name", long_name.as_bytes()));
    let named_path = scratch.join("long_name.wasm");
    std::fs::write(&named_path, named).unwrap();
    client.set_window_size(390, 844).unwrap();
    client.goto(&format!("{base}/submit")).unwrap();
    let said =
        send_until_message(&client, &named_path, "refused (422)", Duration::from_secs(30), "the long-name refusal");
    assert!(said.contains("WWWWWWWW"), "{said}");
    let widths = js(&client, "return [document.documentElement.scrollWidth, window.innerWidth]");
    let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(scroll <= inner, "a refusal quoting a long name scrolls sideways at phone width: {scroll} > {inner}");
    shoot(&client, &shots.join("submit-refused-long-name-phone.png"));
    client.set_window_size(1280, 900).unwrap();
    client.goto(&format!("{base}/submit")).unwrap();

    // --- Over the limit: refused in the browser, nothing sent. ---
    let before = uploads_answered(addr);
    let big = scratch.join("big.wasm");
    std::fs::write(&big, vec![0u8; 300_000]).unwrap();
    let said = send_until_message(&client, &big, "nothing was sent", Duration::from_secs(10), "the size check");
    assert!(said.contains("over the upload limit of 200000 bytes"), "{said}");
    assert_eq!(uploads_answered(addr), before, "the browser sent an over-limit file");

    // --- A wrong token: 401 explained with what to do. ---
    set_field(&client, "#token", "amm_not_a_token");
    let said = send_until_message(&client, &honest, "401", Duration::from_secs(10), "the 401");
    assert!(said.contains("amm-engine token create"), "{said}");
    assert_no_script_errors(&client, "/submit (refusals)");

    // --- Admin: flag bob's entry from the admin page; the board shows it. ---
    client.goto(&format!("{base}/admin")).unwrap();
    set_field(&client, "#admin-token", &root);
    set_field(&client, "#flag-id", &bob_submission.to_string());
    set_field(&client, "#flag-reason", "looks copied");
    client.find(Locator::Css("button[data-action=flag]")).unwrap().click().unwrap();
    let said = until(
        &client,
        "return document.getElementById('admin-message').textContent",
        Duration::from_secs(10),
        "the admin answer",
    );
    assert!(said.as_str().unwrap().starts_with("Done (200)"), "{said}");
    assert_no_script_errors(&client, "/admin");
    let front = String::from_utf8(get(addr, "/").body).unwrap();
    assert!(front.contains("looks copied") && front.contains("flagged"), "the flag is on the board");

    // A round, so that its page has a board.
    let round = post_json(addr, "/api/rounds", &root)["round"].as_i64().unwrap();
    let t = Instant::now();
    while get(addr, &format!("/api/rounds/{round}")).json()["state"] != "completed" {
        assert!(t.elapsed() < Duration::from_secs(30), "round {round}: {}", log_text(&data));
        std::thread::sleep(Duration::from_millis(100));
    }
    let submission = wait_for_submission(addr, alice_submission, Duration::from_secs(5));
    assert_eq!(submission["status"], "evaluated");
    let job = submission["jobs"][0]["id"].as_i64().unwrap();
    let place = get(addr, &format!("/api/jobs/{job}/queue")).json();
    assert_eq!((place["state"].as_str(), place["ahead"].as_i64()), (Some("succeeded"), Some(0)), "{place}");
    assert_eq!(get(addr, "/api/jobs/99999/queue").status, 404);

    // --- Every page at desktop and phone width: no script errors, no sideways scrolling
    // of the page itself (wide tables scroll in their own box), a screenshot of each. ---
    let pages = [
        ("leaderboard", "/".to_string()),
        ("submit", "/submit".to_string()),
        ("submission", format!("/submissions/{alice_submission}")),
        ("rounds", "/rounds".to_string()),
        ("round", format!("/rounds/{round}")),
        ("competition", "/competition".to_string()),
        ("admin", "/admin".to_string()),
    ];
    for (screen, width, height) in SCREENS {
        client.set_window_size(*width, *height).unwrap();
        for (name, path) in &pages {
            client.goto(&format!("{base}{path}")).unwrap();
            until(&client, "return document.readyState === 'complete'", Duration::from_secs(10), "the page");
            let h1 = text_of(&client, "main h1");
            assert!(!h1.is_empty(), "{path} has a heading");
            assert_no_script_errors(&client, path);
            // Landmarks, one heading, every form control labelled, the skip link first.
            let a11y = js(
                &client,
                "return [document.querySelectorAll('header nav[aria-label], main#main, footer').length, \
                 document.querySelectorAll('h1').length, \
                 Array.from(document.querySelectorAll('input, textarea, select')) \
                   .filter(i => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')).map(i => i.id), \
                 document.querySelector('body a').className, document.documentElement.lang]",
            );
            assert_eq!(
                a11y,
                json!([3, 1, [], "skip", "en"]),
                "{path}: landmarks, h1, unlabelled controls, skip link, lang"
            );
            let widths = js(&client, "return [document.documentElement.scrollWidth, window.innerWidth]");
            let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
            assert!(scroll <= inner, "{path} at {screen} scrolls sideways: {scroll} > {inner}");
            shoot(&client, &shots.join(format!("{name}-{screen}.png")));
        }
        if *screen == "phone" {
            let inner = js(&client, "return window.innerWidth").as_u64().unwrap();
            assert!(inner <= 400, "the phone screenshots are {inner} px wide");
        }
    }
    // The submission page carries the evaluation and its downloads.
    client.goto(&format!("{base}/submissions/{alice_submission}")).unwrap();
    let page = text_of(&client, "main");
    for needle in ["Validation report", "Edge per seed", "Capital weight and edge by epoch", "Bundle", "alice 30"] {
        assert!(page.contains(needle), "the submission page lacks {needle:?}");
    }
    // Three charts (edge per seed, capital weight and edge by epoch), each an accessible SVG
    // with axis labels; they are in the page without JavaScript too.
    let charts = js(
        &client,
        "return Array.from(document.querySelectorAll('figure.chart svg[role=img]')).map(s => s.getAttribute('aria-label'))",
    );
    assert_eq!(charts.as_array().map(Vec::len), Some(3), "{charts}");
    let plain = String::from_utf8(get(addr, &format!("/submissions/{alice_submission}")).body).unwrap();
    assert!(plain.contains("capital weight (%)") && plain.contains("edge per simulation (Y)"), "chart axis labels");
}

/// `/competition` (and `/api/competition`) name a house strategy given without `name` by its
/// module's amm.name, not by the sha256 its bundled copy in the data directory is named after.
#[test]
fn the_competition_page_names_an_unnamed_house_strategy_by_its_amm_name() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 200, "");
    let text = std::fs::read_to_string(&comp).unwrap().replace("name = \"house 30 bps\"\n", "");
    assert!(!text.contains("house 30 bps"), "{text}");
    std::fs::write(&comp, text).unwrap();
    let server = Server::start(&comp, &data);
    let house = get(server.addr, "/api/competition").json()["house"].clone();
    assert_eq!(house, json!(["Fixed 30 bps"]), "the house field by name");
    let html = String::from_utf8(get(server.addr, "/competition").body).unwrap();
    assert!(html.contains("Fixed 30 bps"), "{html}");
}

/// The submit page's "position N in the queue": `Db::queued_before` counts the queued jobs
/// claimed before a job (claims take the lowest id), and none once it left the queue.
#[test]
fn a_jobs_place_in_the_queue_counts_the_queued_jobs_claimed_before_it() {
    use amm_service::db::{Db, Inserted, NewJob, Submission};
    let scratch = Scratch::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let db = Db::open(&amm_service::db::sqlite_url(scratch.path())).await.unwrap();
        let plan: Vec<NewJob> =
            (0..3).map(|i| NewJob { shard_lo: i, shard_hi: i + 1, shard_count: 3, total: 4 }).collect();
        let sub = |who: &str| Submission {
            id: 0,
            submitter: who.into(),
            name: format!("{who}'s"),
            model: "None".into(),
            sha256: format!("{who:0>64}"),
            bytes_path: String::new(),
            size: 0,
            baseline: false,
            status: amm_service::states::SubmissionStatus::Pending,
            validation: "[]".into(),
            summary: None,
            engine_version: "test".into(),
            error: None,
            created_at: 0,
            evaluated_at: None,
            salt: "salt".into(),
            flag: None,
            hidden: false,
            round: None,
            entries: None,
            study: None,
        };
        let Inserted::New(_, first) = db.insert_submission(&sub("a"), None, &plan).await.unwrap() else { panic!() };
        let Inserted::New(_, second) = db.insert_submission(&sub("b"), None, &plan).await.unwrap() else { panic!() };
        assert_eq!(db.queued_before(first[0]).await.unwrap(), 0, "the first job is next");
        assert_eq!(db.queued_before(second[0]).await.unwrap(), 3, "behind the first submission's three jobs");
        let claimed = db.claim("w", 30_000, false).await.unwrap().unwrap();
        assert_eq!(claimed.id, first[0], "claims take the lowest id");
        assert_eq!(db.queued_before(second[0]).await.unwrap(), 2, "one fewer ahead once it runs");
        db.close().await;
    });
}
