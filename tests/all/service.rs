//! `amm-engine serve` as operators and contestants use it: a real server process on a loopback
//! port, a real SQLite file in a scratch data directory, real HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Scratch, example_wasm, postgres_url, workspace};

/// A small competition: the house field is fixed-fee-30 (a built example), `seeds` public
/// seeds of `steps` steps. `extra` lands in the `[competition]` table.
pub(crate) fn competition(dir: &Path, seeds: u32, steps: u32, extra: &str) -> PathBuf {
    let house = example_wasm("fixed-fee-30");
    let text = format!(
        r#"[run]
steps = {steps}
epoch_len = 500
threads = 2

[[strategy]]
path = "{}"
name = "house 30 bps"

[competition]
name = "test cup"
public_seeds = {{ start = 1, count = {seeds} }}
hidden_seeds = {{ start = 1000000, count = 10 }}
max_upload_bytes = 200000
{extra}
"#,
        house.display()
    );
    let path = dir.join("competition.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn token(data: &Path, handle: &str, admin: bool) -> String {
    let mut args = vec!["token", "create", handle, "--data", data.to_str().unwrap()];
    if admin {
        args.push("--admin");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_amm-engine")).args(&args).output().unwrap();
    assert!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text.trim().to_string();
    assert!(token.starts_with("amm_") && token.len() == 68 && !token.contains('\n'), "one token line: {text:?}");
    token
}

/// A running `amm-engine serve`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(competition: &Path, data: &Path) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(data.with_extension("log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(["serve", competition.to_str().unwrap(), "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("AMM_ENGINE_CACHE", data.with_extension("cache"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line {line:?}; log: {}", log_text(data)))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn log_text(data: &Path) -> String {
    std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
}

/// A response: status, headers (lower-case names), body.
pub(crate) struct Response {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (the server closes it after the response).
pub(crate) fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    // The server may answer (413) and stop reading before the body is sent: keep the answer.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response to {method} {path}: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

fn post(addr: SocketAddr, path: &str, token: Option<&str>) -> Response {
    let auth: Vec<(&str, String)> = token.map(|t| ("Authorization", format!("Bearer {t}"))).into_iter().collect();
    request(addr, "POST", path, &auth, b"")
}

/// Uploads `module` (and `name`) as multipart/form-data, as `curl -F` does.
pub(crate) fn upload(addr: SocketAddr, token: Option<&str>, module: &[u8], name: Option<&str>) -> Response {
    upload_part(addr, token, "module", "s.wasm", module, name)
}

/// Uploads one multipart file part `part` named `filename` holding `bytes` (a `module` or a
/// `source`), then a `name` part when given, as `curl -F` does.
fn upload_part(
    addr: SocketAddr,
    token: Option<&str>,
    part: &str,
    filename: &str,
    bytes: &[u8],
    name: Option<&str>,
) -> Response {
    let boundary = "----amm-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n");
    if let Some(name) = name {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut headers = vec![("Content-Type", format!("multipart/form-data; boundary={boundary}"))];
    if let Some(t) = token {
        headers.push(("Authorization", format!("Bearer {t}")));
    }
    request(addr, "POST", "/api/submissions", &headers, &body)
}

/// Polls job `id` until it is in a final state (or `timeout`), returning its last view.
fn wait_for_job(addr: SocketAddr, id: i64, timeout: Duration) -> Value {
    let started = Instant::now();
    loop {
        let job = get(addr, &format!("/api/jobs/{id}")).json();
        let state = job["state"].as_str().unwrap().to_string();
        if ["succeeded", "failed", "cancelled"].contains(&state.as_str()) || started.elapsed() > timeout {
            return job;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls submission `id` until it leaves `pending` (or `timeout`), returning its last view.
pub(crate) fn wait_for_submission(addr: SocketAddr, id: i64, timeout: Duration) -> Value {
    let started = Instant::now();
    loop {
        let view = get(addr, &format!("/api/submissions/{id}")).json();
        if view["status"] != "pending" || started.elapsed() > timeout {
            return view;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn board(addr: SocketAddr) -> Vec<Value> {
    let r = get(addr, "/api/leaderboard");
    assert_eq!(r.status, 200);
    r.json().as_array().unwrap().clone()
}

pub(crate) fn wasm_of(fixture: &Path) -> Vec<u8> {
    let bytes = std::fs::read(fixture).unwrap();
    if fixture.extension().is_some_and(|e| e == "wat") { wat::parse_bytes(&bytes).unwrap().into_owned() } else { bytes }
}

#[test]
fn serve_authenticates_validates_evaluates_and_ranks() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    // 8 seeds in two jobs of 4 (so the evaluation is merged from shards).
    let comp = competition(scratch.path(), 8, 1_000, "[competition.jobs]\nseeds_per_job = 4\n");
    let alice = token(&data, "alice", false);
    let mut server = Server::start(&comp, &data);
    let addr = server.addr;

    // Health, readiness, the public definition, the OpenAPI document.
    assert_eq!(get(addr, "/healthz").json()["status"], "ok");
    let ready = get(addr, "/readyz");
    assert_eq!((ready.status, ready.json()["database"].as_str()), (200, Some("ok")), "{}", ready.json());
    let definition = get(addr, "/api/competition").json();
    assert_eq!(definition["name"], "test cup");
    assert_eq!(definition["public_seeds"]["count"], 8);
    assert!(definition["hidden_seeds"].get("start").is_none(), "hidden seeds stay hidden: {definition}");
    let openapi = get(addr, "/openapi.json").json();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/submissions",
        "/api/submissions/{id}/bundle.tar",
        "/api/jobs/{id}",
        "/api/jobs/{id}/events",
        "/api/jobs/{id}/cancel",
        "/api/leaderboard",
        "/metrics",
        "/api/admin/rescore",
        "/api/admin/submissions/{id}/flag",
        "/api/admin/submissions/{id}/hide",
        "/api/admin/jobs/{id}/requeue",
        "/api/leaderboard.csv",
        "/api/leaderboard/events",
        "/api/jobs/{id}/queue",
        "/api/competition",
        "/api/rounds",
        "/api/rounds/{id}",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }

    let honest = std::fs::read(example_wasm("fixed-fee-30")).unwrap();
    // 401 without a token or with a wrong one.
    let r = upload(addr, None, &honest, None);
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(upload(addr, Some("amm_wrong"), &honest, None).status, 401);
    // 413 over the upload limit (200,000 bytes); just under it, the bytes reach validation.
    let r = upload(addr, Some(&alice), &vec![0u8; 300_000], None);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    let r = upload(addr, Some(&alice), &vec![0u8; 199_000], None);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["failed"][0]["name"], "format");
    // 422 with the failed check for every hostile fixture; none is queued.
    let mut refused = 0;
    for entry in std::fs::read_dir(workspace().join("tests/fixtures/hostile")).unwrap() {
        let path = entry.unwrap().path();
        let r = upload(addr, Some(&alice), &wasm_of(&path), None);
        assert_eq!(r.status, 422, "{} was not refused: {}", path.display(), String::from_utf8_lossy(&r.body));
        let body = r.json();
        let failed = body["failed"].as_array().unwrap();
        assert!(!failed.is_empty() && failed[0]["detail"].as_str().unwrap().len() > 10, "{body}");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let (check, detail) = (failed[0]["name"].as_str().unwrap(), failed[0]["detail"].as_str().unwrap());
        match file.as_str() {
            "loop_in_quote.wat" => assert!(check == "quotes" && detail.contains("out of fuel"), "{body}"),
            "env_import.wat" => assert!(check == "format" && detail.contains("env.read_secret"), "{body}"),
            "not_wasm.wasm" => assert_eq!(check, "format", "{body}"),
            _ => {}
        }
        refused += 1;
    }
    assert!(refused >= 30, "only {refused} fixtures");

    // 202 for an honest module; its job reaches `succeeded` with full progress.
    let r = upload(addr, Some(&alice), &honest, Some("alice 30"));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let accepted = r.json();
    let (submission, job) = (accepted["submission"].as_i64().unwrap(), accepted["job"].as_i64().unwrap());
    // Follow it as Server-Sent Events meanwhile: the stream ends after the final state.
    let events = std::thread::spawn(move || get(addr, &format!("/api/jobs/{job}/events")));
    let done = wait_for_job(addr, job, Duration::from_secs(30));
    assert_eq!(done["state"], "succeeded", "{done}\n{}", log_text(&data));
    assert_eq!(done["progress"]["done"], done["progress"]["total"]);
    assert_eq!(done["progress"]["total"], 4);
    assert_eq!(done["attempts"], 1);
    let events = events.join().unwrap();
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    let events = String::from_utf8(events.body).unwrap();
    let views: Vec<Value> =
        events.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert!(events.lines().filter(|l| l.starts_with("event: ")).all(|l| l == "event: job"), "{events}");
    assert_eq!(views.last().map(|v| v["state"].clone()), Some(Value::from("succeeded")), "{events}");
    assert_eq!(views.last().unwrap()["progress"], done["progress"]);
    let jobs: Vec<i64> = accepted["jobs"].as_array().unwrap().iter().map(|j| j.as_i64().unwrap()).collect();
    assert_eq!(jobs.len(), 2, "{accepted}");
    assert_eq!(wait_for_job(addr, jobs[1], Duration::from_secs(30))["state"], "succeeded");

    // The same bytes again: the earlier submission, nothing re-evaluated.
    let r = upload(addr, Some(&alice), &honest, Some("again"));
    assert_eq!(r.status, 200);
    assert_eq!((r.json()["duplicate"].as_bool(), r.json()["submission"].as_i64()), (Some(true), Some(submission)));

    // The submission page: validation, summary, per-seed edges.
    let view = wait_for_submission(addr, submission, Duration::from_secs(30));
    assert_eq!(view["status"], "evaluated", "{view}");
    assert_eq!(view["name"], "alice 30");
    assert!(view["validation"].as_array().unwrap().iter().all(|c| c["outcome"] == "PASS"), "{view}");
    let edges = view["summary"]["per_seed_edges"].as_array().unwrap();
    assert_eq!(edges.iter().map(|e| e[0].as_u64().unwrap()).collect::<Vec<_>>(), (1..=8).collect::<Vec<u64>>());
    let entry = view["summary"]["entrants"].as_array().unwrap().last().unwrap().clone();
    let mean = edges.iter().map(|e| e[1].as_f64().unwrap()).sum::<f64>() / 8.0;
    assert!((entry["mean_edge"].as_f64().unwrap() - mean).abs() < 1e-9, "{entry}");

    // Prometheus metrics count what happened, rejections by reason.
    let metrics = String::from_utf8(get(addr, "/metrics").body).unwrap();
    for line in [
        "amm_uploads_total{outcome=\"unauthorized\"} 2".to_string(),
        "amm_uploads_total{outcome=\"too_large\"} 1".to_string(),
        format!("amm_uploads_total{{outcome=\"invalid\"}} {}", refused + 1),
        "amm_uploads_total{outcome=\"accepted\"} 1".to_string(),
        "amm_uploads_total{outcome=\"duplicate\"} 1".to_string(),
        "amm_jobs{state=\"failed\"} 0".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }

    // The merged evaluation is byte for byte what `amm-engine run` gives for the same config
    // under the evaluation's salt (published now that it is evaluated).
    let served = get(addr, &format!("/api/submissions/{submission}/results.json"));
    assert_eq!(served.status, 200);
    // A run config in the data directory, naming its modules as the service (and a bundle) does.
    let house_sha = amm_engine::sandbox::sha256_hex(&std::fs::read(example_wasm("fixed-fee-30")).unwrap());
    let run_config = data.join("same.toml");
    std::fs::write(
        &run_config,
        format!(
            "[run]\nsimulations = 8\nseed_start = 1\nsteps = 1000\nepoch_len = 500\nthreads = 2\nsalt = \"{}\"\n\n\
             [[strategy]]\npath = \"modules/{house_sha}.wasm\"\nname = \"house 30 bps\"\n\n\
             [[strategy]]\npath = \"modules/{}.wasm\"\nname = \"alice 30\"\n",
            view["salt"].as_str().unwrap(),
            view["sha256"].as_str().unwrap()
        ),
    )
    .unwrap();
    let out = scratch.path().join("same-out");
    let status = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["run", run_config.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let expected = std::fs::read(out.join("results.json")).unwrap();
    assert!(served.body == expected, "the service's results.json differs from amm-engine run's");

    // The evaluation as a bundle that `amm-engine verify` reproduces offline.
    let tar = get(addr, &format!("/api/submissions/{submission}/bundle.tar"));
    assert_eq!((tar.status, tar.header("content-type")), (200, Some("application/x-tar")));
    let unpacked = scratch.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    std::fs::write(unpacked.join("b.tar"), &tar.body).unwrap();
    assert!(Command::new("tar").arg("-xf").arg("b.tar").current_dir(&unpacked).status().unwrap().success());
    assert_eq!(std::fs::read(unpacked.join("bundle/results.json")).unwrap(), expected);
    let verify = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["verify", "--quiet"])
        .arg(unpacked.join("bundle/receipt.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && text.starts_with("VERIFIED"),
        "{text}{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The board: alice's row, and the baselines (house field, normalizer) flagged.
    let started = Instant::now();
    let rows = loop {
        let rows = board(addr);
        if rows.iter().any(|r| r["baseline"] == true) || started.elapsed() > Duration::from_secs(30) {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mine: Vec<&Value> = rows.iter().filter(|r| r["submitter"] == "alice").collect();
    assert_eq!(mine.len(), 1, "{rows:?}");
    assert_eq!((mine[0]["rank"].as_u64(), mine[0]["submission"].as_i64()), (Some(1), Some(submission)));
    assert_eq!(mine[0]["mean_edge"], entry["mean_edge"]);
    assert!(mine[0]["edge_vs_normalizer"].is_f64() && mine[0]["stderr_vs_normalizer"].is_f64());
    let baselines: Vec<&str> =
        rows.iter().filter(|r| r["baseline"] == true).map(|r| r["strategy"].as_str().unwrap()).collect();
    assert_eq!(baselines.len(), 2, "{rows:?}");
    assert!(baselines.contains(&"house 30 bps") && baselines.contains(&"normalizer"), "{baselines:?}");
    assert!(rows.iter().filter(|r| r["baseline"] == true).all(|r| r["rank"].is_null()));
    let csv = get(addr, "/api/leaderboard.csv");
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv.body).unwrap();
    assert!(csv.starts_with("rank,tie_group,baseline,submitter,strategy,submission,mean_edge,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with(&format!("1,1,false,alice,alice 30,{submission},"))), "{csv}");
    assert_eq!(csv.lines().count(), 1 + rows.len());

    // The README's curl upload, verbatim but for the address, token and file.
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let curl = readme
        .lines()
        .find(|l| l.trim_start().starts_with("curl ") && l.contains("/api/submissions"))
        .expect("a curl upload example in the README");
    if Command::new("curl").arg("--version").output().is_ok() {
        let bob = token(&data, "bob", false);
        let command = curl
            .replace("$TOKEN", &bob)
            .replace("http://127.0.0.1:8080", &format!("http://{addr}"))
            .replace("my-strategy.wasm", example_wasm("fixed-fee-100").to_str().unwrap());
        let out = Command::new("sh").arg("-c").arg(&command).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let view = wait_for_submission(addr, body["submission"].as_i64().unwrap(), Duration::from_secs(30));
        assert_eq!(view["status"], "evaluated", "{view}");
        let rows = board(addr);
        assert_eq!(rows.iter().filter(|r| r["submitter"] == "bob").count(), 1, "{rows:?}");
    }
    server.kill();
}

#[test]
fn serve_enforces_quotas_and_cancels_on_request() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    // Long enough that a job is still running when cancelled; one at a time per submitter,
    // three a day.
    let comp = competition(
        scratch.path(),
        100,
        10_000,
        "[competition.quotas]\nper_day = 3\nconcurrent = 1\nrequests_per_minute = 60\n[competition.jobs]\nseeds_per_job = 100\n",
    );
    let carol = token(&data, "carol", false);
    let dave = token(&data, "dave", false);
    let admin = token(&data, "root", true);
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let a = std::fs::read(example_wasm("fixed-fee-100")).unwrap();
    let b = std::fs::read(example_wasm("fixed-fee-500")).unwrap();
    let c = std::fs::read(example_wasm("fixed-fee-0")).unwrap();

    let first = upload(addr, Some(&carol), &a, None);
    assert_eq!(first.status, 202, "{}", String::from_utf8_lossy(&first.body));
    let job = first.json()["job"].as_i64().unwrap();
    // A second upload while the first is evaluated: over the concurrency quota.
    let r = upload(addr, Some(&carol), &b, None);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(r.json()["error"].as_str().unwrap().contains("at most 1 at once"));

    // Cancel: not by someone else, by the owner; then it is over.
    assert_eq!(post(addr, &format!("/api/jobs/{job}/cancel"), None).status, 401);
    assert_eq!(post(addr, &format!("/api/jobs/{job}/cancel"), Some(&dave)).status, 403);
    let r = post(addr, &format!("/api/jobs/{job}/cancel"), Some(&carol));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["state"], "cancelled");
    assert_eq!(post(addr, &format!("/api/jobs/{job}/cancel"), Some(&carol)).status, 409);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(addr, &format!("/api/jobs/{job}")).json()["state"], "cancelled", "stays cancelled");
    assert!(board(addr).iter().all(|r| r["submitter"] != "carol"), "a cancelled entry has no row");

    // The concurrency slot is free again; an admin may cancel anyone's job.
    let r = upload(addr, Some(&carol), &b, None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json()["job"].as_i64().unwrap();
    assert_eq!(post(addr, &format!("/api/jobs/{job}/cancel"), Some(&admin)).status, 200);
    // Three uploads accepted today: the daily quota answers 429 with the wait until the oldest
    // leaves the 24-hour window.
    let r = upload(addr, Some(&carol), &c, None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json()["job"].as_i64().unwrap();
    assert_eq!(post(addr, &format!("/api/jobs/{job}/cancel"), Some(&carol)).status, 200);
    let d = std::fs::read(example_wasm("volatility-fee")).unwrap();
    let r = upload(addr, Some(&carol), &d, None);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&retry), "{retry}");

    // 60 requests a minute from one address: a burst beyond it gets 429 with Retry-After;
    // probes are never limited.
    let statuses: Vec<Response> = (0..70).map(|_| get(addr, "/api/competition")).collect();
    let limited: Vec<&Response> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty() && limited.len() < 70, "{} of 70 limited", limited.len());
    assert_eq!(limited[0].header("retry-after"), Some("1"));
    assert_eq!(get(addr, "/healthz").status, 200);
}

/// Uploads the example `module` with `token` (202) and waits until its job is running with
/// progress made but not finished. Returns (submission, job).
fn upload_until_running(addr: SocketAddr, token: &str, module: &str) -> (i64, i64) {
    let r = upload(addr, Some(token), &std::fs::read(example_wasm(module)).unwrap(), None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let (submission, job) = (r.json()["submission"].as_i64().unwrap(), r.json()["job"].as_i64().unwrap());
    let started = Instant::now();
    loop {
        let view = get(addr, &format!("/api/jobs/{job}")).json();
        assert!(started.elapsed() < Duration::from_secs(30), "never ran: {view}");
        assert_ne!(view["state"], "succeeded", "finished before the interruption: make the job longer");
        if view["state"] == "running" && view["progress"]["done"].as_i64().unwrap() > 0 {
            return (submission, job);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_job_running_when_the_server_is_killed_completes_once_after_a_restart() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 200, 10_000, "[competition.jobs]\nseeds_per_job = 200\nlease_seconds = 2\n");
    let erin = token(&data, "erin", false);
    let mut server = Server::start(&comp, &data);
    let addr = server.addr;
    // Wait until the job has made progress, then kill -9 mid-evaluation.
    let (submission, job) = upload_until_running(addr, &erin, "starter");
    server.kill();

    // Restart on the same data directory: the lease expires, the reaper re-queues, the job
    // runs again and is recorded once.
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let done = wait_for_job(addr, job, Duration::from_secs(40));
    assert_eq!(done["state"], "succeeded", "{done}\n{}", log_text(&data));
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["progress"]["done"], 200);
    let view = wait_for_submission(addr, submission, Duration::from_secs(30));
    assert_eq!(view["status"], "evaluated", "{view}");
    let seeds: Vec<u64> =
        view["summary"]["per_seed_edges"].as_array().unwrap().iter().map(|e| e[0].as_u64().unwrap()).collect();
    assert_eq!(seeds, (1..=200).collect::<Vec<u64>>(), "every seed exactly once");
    let rows = board(addr);
    assert_eq!(rows.iter().filter(|r| r["submitter"] == "erin").count(), 1, "{rows:?}");
    let metrics = String::from_utf8(get(addr, "/metrics").body).unwrap();
    assert!(metrics.lines().any(|l| l == "amm_lease_expiries_total 1"), "{metrics}");
}

#[test]
fn concurrent_uploads_from_several_tokens_are_each_evaluated_once() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 8, 1_000, "");
    let handles = ["p1", "p2", "p3", "p4"];
    let tokens: Vec<String> = handles.iter().map(|h| token(&data, h, false)).collect();
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let modules = ["fixed-fee-0", "fixed-fee-100", "fixed-fee-500", "volatility-fee"];
    // Each token uploads its module twice at once: one upload is accepted, the other answers
    // with the same submission as a duplicate.
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|s| {
        let mut threads = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            for _ in 0..2 {
                let bytes = std::fs::read(example_wasm(modules[i])).unwrap();
                threads.push(s.spawn(move || {
                    let r = upload(addr, Some(t), &bytes, None);
                    (i, r.status, r.json())
                }));
            }
        }
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut submissions = Vec::new();
    for i in 0..handles.len() {
        let mine: Vec<&(usize, u16, Value)> = answers.iter().filter(|a| a.0 == i).collect();
        let mut statuses: Vec<u16> = mine.iter().map(|a| a.1).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 202], "{mine:?}");
        assert_eq!(mine[0].2["submission"], mine[1].2["submission"], "{mine:?}");
        submissions.push(mine[0].2["submission"].as_i64().unwrap());
    }
    submissions.sort_unstable();
    submissions.dedup();
    assert_eq!(submissions.len(), handles.len());
    for id in &submissions {
        let view = wait_for_submission(addr, *id, Duration::from_secs(40));
        assert_eq!(view["status"], "evaluated", "{view}");
        assert!(view["jobs"].as_array().unwrap().iter().all(|j| j["attempts"] == 1), "{view}");
    }
    let rows = board(addr);
    for h in handles {
        assert_eq!(rows.iter().filter(|r| r["submitter"] == h).count(), 1, "{h}: {rows:?}");
    }
    let ranks: Vec<u64> = rows.iter().filter_map(|r| r["rank"].as_u64()).collect();
    assert_eq!(ranks, vec![1, 2, 3, 4], "{rows:?}");
    // Tie groups: the leader's is 1, and each neighbour shares the group or opens the next.
    let groups: Vec<u64> = rows.iter().filter_map(|r| r["tie_group"].as_u64()).collect();
    assert_eq!(groups.len(), 4);
    assert_eq!(groups[0], 1);
    assert!(groups.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1), "{groups:?}");
    assert!(rows.iter().filter(|r| r["baseline"] == true).all(|r| r["tie_group"].is_null()));
}

#[test]
fn sigterm_hands_a_running_job_back_and_a_restart_finishes_it_without_a_lost_attempt() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 200, 10_000, "[competition.jobs]\nseeds_per_job = 200\n");
    let fay = token(&data, "fay", false);
    let mut server = Server::start(&comp, &data);
    let addr = server.addr;
    let (submission, job) = upload_until_running(addr, &fay, "inventory-skew");
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}\n{}", log_text(&data));
    assert!(log_text(&data).contains("handed back to the queue"), "{}", log_text(&data));

    // No lease to wait out: the restart takes the job at once, as the same attempt.
    let server = Server::start(&comp, &data);
    let done = wait_for_job(server.addr, job, Duration::from_secs(30));
    assert_eq!((done["state"].as_str(), done["attempts"].as_i64()), (Some("succeeded"), Some(1)), "{done}");
    let view = wait_for_submission(server.addr, submission, Duration::from_secs(30));
    assert_eq!(view["status"], "evaluated", "{view}");
}

/// Starts `amm-engine serve --role worker` (no HTTP), killed when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn workers_on_one_postgresql_queue_do_each_job_once() {
    // Runs where a PostgreSQL database is at hand: AMM_TEST_POSTGRES_URL, e.g.
    // postgres://amm:amm@127.0.0.1:5432/amm_test as `.ci/run postgres` prints it (data from
    // earlier runs is left alone: this run's handle is unique). In CI it must run.
    let Some(url) = postgres_url() else { return };
    let scratch = Scratch::new();
    // Jobs long enough (4 seeds × 10,000 steps) that both workers poll while some are queued.
    let comp = competition(scratch.path(), 16, 10_000, "[competition.jobs]\nseeds_per_job = 4\n");
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let handle = format!("pg{}t{}", std::process::id(), since_epoch.as_millis());
    let web_data = scratch.path().join("web");
    let out = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["token", "create", &handle, "--db", &url, "--data"])
        .arg(&web_data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let workers: Vec<Worker> = (0..2)
        .map(|i| {
            let data = scratch.path().join(format!("worker-{i}"));
            std::fs::create_dir_all(&data).unwrap();
            let log = std::fs::File::create(data.with_extension("log")).unwrap();
            Worker(
                Command::new(env!("CARGO_BIN_EXE_amm-engine"))
                    .args(["serve", comp.to_str().unwrap(), "--role", "worker", "--db", &url, "--data"])
                    .arg(&data)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    // The web process evaluates nothing: it only serves (its database URL via --db).
    let log = std::fs::File::create(web_data.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["serve", comp.to_str().unwrap(), "--role", "web", "--listen", "127.0.0.1:0", "--db", &url, "--data"])
        .arg(&web_data)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let server = Server { addr: line.trim().strip_prefix("listening on http://").unwrap().parse().unwrap(), child };
    let addr = server.addr;
    assert_eq!(get(addr, "/readyz").json()["workers"], "elsewhere");
    let mut submissions = Vec::new();
    for module in ["fixed-fee-100", "fixed-fee-500"] {
        let r = upload(addr, Some(&token), &std::fs::read(example_wasm(module)).unwrap(), None);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        submissions.push(r.json()["submission"].as_i64().unwrap());
    }
    for id in submissions {
        let view = wait_for_submission(addr, id, Duration::from_secs(40));
        assert_eq!(view["status"], "evaluated", "{view}");
        let jobs = view["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 4);
        assert!(jobs.iter().all(|j| j["state"] == "succeeded" && j["attempts"] == 1), "{view}");
        let seeds: Vec<u64> =
            view["summary"]["per_seed_edges"].as_array().unwrap().iter().map(|e| e[0].as_u64().unwrap()).collect();
        assert_eq!(seeds, (1..=16).collect::<Vec<u64>>());
    }
    let claims: Vec<usize> =
        (0..2).map(|i| log_text(&scratch.path().join(format!("worker-{i}"))).matches("job claimed").count()).collect();
    assert!(claims.iter().all(|&n| n > 0), "both workers took jobs: {claims:?}");
    for i in 0..2 {
        let log = log_text(&scratch.path().join(format!("worker-{i}")));
        assert!(log.contains("listening for queued jobs"), "worker {i} wakes on NOTIFY: {log}");
    }
    let mine = |rows: Vec<Value>| rows.into_iter().find(|r| r["submitter"] == handle.as_str());
    let best = mine(board(addr)).expect("a row")["submission"].as_i64().unwrap();
    assert_eq!(board(addr).iter().filter(|r| r["submitter"] == handle.as_str()).count(), 1);
    // The admin's flag and hide on PostgreSQL too.
    let out = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["token", "create", &format!("{handle}a"), "--admin", "--db", &url, "--data"])
        .arg(&web_data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let r = post(addr, &format!("/api/admin/submissions/{best}/flag"), Some(&admin));
    assert_eq!((r.status, r.json()["flag"].as_str()), (200, Some("flagged for review")));
    assert_eq!(mine(board(addr)).unwrap()["flag"], "flagged for review");
    // A round on PostgreSQL: its groups' jobs go to the worker processes.
    let r = post(addr, "/api/rounds", Some(&admin));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let round = r.json()["round"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let view = loop {
        let view = get(addr, &format!("/api/rounds/{round}")).json();
        if view["state"] != "queued" && view["state"] != "running" || Instant::now() > deadline {
            break view;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(view["state"], "completed", "{view}");
    let rows = view["board"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|r| r["submitter"] == handle.as_str()).count(), 1, "{view}");
    assert_eq!(post(addr, &format!("/api/admin/submissions/{best}/hide"), Some(&admin)).status, 200);
    let next = mine(board(addr)).expect("the next best")["submission"].as_i64().unwrap();
    assert_ne!(next, best);
    assert_eq!(post(addr, &format!("/api/admin/submissions/{next}/hide"), Some(&admin)).status, 200);
    assert!(mine(board(addr)).is_none(), "hidden rows leave the board");
    drop(workers);
}

/// The `[run] salt` an evaluated submission publishes (asserted non-empty, 64 hex digits) and
/// the one its results.json records (asserted equal).
fn published_salt(addr: SocketAddr, id: i64) -> String {
    let view = get(addr, &format!("/api/submissions/{id}")).json();
    assert_eq!(view["status"], "evaluated", "{view}");
    let salt = view["salt"].as_str().unwrap_or_else(|| panic!("no salt: {view}")).to_string();
    assert!(salt.len() == 64 && salt.bytes().all(|b| b.is_ascii_hexdigit()), "{salt:?}");
    let results = get(addr, &format!("/api/submissions/{id}/results.json")).json();
    assert_eq!(results["config"]["run"]["salt"].as_str(), Some(salt.as_str()), "results.json records the salt");
    salt
}

/// Unpacks submission `id`'s bundle into `dir` and runs `amm-engine verify` on it.
fn verify_bundle(addr: SocketAddr, id: i64, dir: &Path) {
    let tar = get(addr, &format!("/api/submissions/{id}/bundle.tar"));
    assert_eq!(tar.status, 200);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("b.tar"), &tar.body).unwrap();
    assert!(Command::new("tar").arg("-xf").arg("b.tar").current_dir(dir).status().unwrap().success());
    let verify = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["verify", "--quiet"])
        .arg(dir.join("bundle/receipt.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && text.starts_with("VERIFIED"),
        "{text}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn every_evaluation_runs_under_its_own_salt_published_only_once_evaluated() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    // Two jobs per evaluation: they must share the salt for the merge to succeed.
    let comp = competition(scratch.path(), 8, 1_000, "[competition.jobs]\nseeds_per_job = 4\n");
    let gus = token(&data, "gus", false);
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let mut ids = Vec::new();
    for module in ["fixed-fee-100", "fixed-fee-500"] {
        let r = upload(addr, Some(&gus), &std::fs::read(example_wasm(module)).unwrap(), None);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let id = r.json()["submission"].as_i64().unwrap();
        // Until it is evaluated, the salt is a secret (a small evaluation may already be done by
        // now: then it must be published; never anything in between).
        let view = get(addr, &format!("/api/submissions/{id}")).json();
        if view["status"] == "evaluated" {
            assert!(view["salt"].as_str().is_some_and(|s| s.len() == 64), "{view}");
        } else {
            assert_eq!(view["salt"], Value::Null, "{view}");
            assert_eq!(get(addr, &format!("/api/submissions/{id}/results.json")).status, 404);
        }
        ids.push(id);
    }
    for id in &ids {
        let view = wait_for_submission(addr, *id, Duration::from_secs(40));
        assert_eq!(view["status"], "evaluated", "{view}\n{}", log_text(&data));
    }
    let salts: Vec<String> = ids.iter().map(|id| published_salt(addr, *id)).collect();
    assert_ne!(salts[0], salts[1], "each evaluation has its own salt");
    // The baseline (the house field's own evaluation) is salted too.
    let started = Instant::now();
    let baseline = loop {
        let rows = board(addr);
        if let Some(r) = rows.iter().find(|r| r["baseline"] == true) {
            break r["submission"].as_i64().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no baseline: {rows:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let house = published_salt(addr, baseline);
    assert!(!salts.contains(&house), "{house} reused");
    // The salted evaluation's bundle reproduces offline.
    verify_bundle(addr, ids[1], &scratch.path().join("unpacked"));
}

/// Competition text for a restart with other job limits (same config and data directory).
fn with_jobs(dir: &Path, jobs: &str) -> PathBuf {
    competition(dir, 8, 1_000, &format!("[competition.jobs]\nseeds_per_job = 4\n{jobs}"))
}

#[test]
fn an_admin_requeues_a_failed_job_and_the_evaluation_completes() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let hal = token(&data, "hal", false);
    let root = token(&data, "root", true);
    // One attempt a job and a lease of 2 s: a worker killed mid-job leaves it failed (an
    // infrastructure fault that outlasted its retries). Two jobs of 100 seeds × 10,000 steps.
    let comp = competition(
        scratch.path(),
        200,
        10_000,
        "[competition.jobs]\nseeds_per_job = 100\nlease_seconds = 2\nmax_attempts = 1\n",
    );
    let mut server = Server::start(&comp, &data);
    let r = upload(server.addr, Some(&hal), &std::fs::read(example_wasm("fixed-fee-100")).unwrap(), None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let (submission, jobs) = (
        r.json()["submission"].as_i64().unwrap(),
        r.json()["jobs"].as_array().unwrap().iter().map(|j| j.as_i64().unwrap()).collect::<Vec<i64>>(),
    );
    assert_eq!(jobs.len(), 2);
    let started = Instant::now();
    loop {
        let view = get(server.addr, &format!("/api/jobs/{}", jobs[0])).json();
        assert!(started.elapsed() < Duration::from_secs(30), "never ran: {view}");
        assert_ne!(view["state"], "succeeded", "finished before the kill: make the job longer");
        if view["state"] == "running" && view["progress"]["done"].as_i64().unwrap() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();

    // Restarted: the reaper fails the job (no attempt left) and cancels its sibling. Only an
    // admin may requeue, and only a failed job.
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let view = wait_for_submission(addr, submission, Duration::from_secs(30));
    assert_eq!(view["status"], "failed", "{view}");
    let states: Vec<&str> = view["jobs"].as_array().unwrap().iter().map(|j| j["state"].as_str().unwrap()).collect();
    // The sibling either ran before the reaper failed the first job, or was cancelled by it.
    assert!(states[0] == "failed" && ["succeeded", "cancelled"].contains(&states[1]), "{view}");
    let to_requeue: Vec<i64> = if states[1] == "cancelled" { jobs.clone() } else { vec![jobs[0]] };
    assert!(view["error"].as_str().unwrap_or("").contains("lease expired"), "{view}");
    let failed = [jobs[0]];
    let path = format!("/api/admin/jobs/{}/requeue", failed[0]);
    assert_eq!(post(addr, &path, None).status, 401);
    assert_eq!(post(addr, &path, Some(&hal)).status, 403);
    assert_eq!(post(addr, "/api/admin/jobs/999999/requeue", Some(&root)).status, 404);
    let cancelled = jobs.iter().find(|j| **j != failed[0]).unwrap();
    let r = post(addr, &format!("/api/admin/jobs/{cancelled}/requeue"), Some(&root));
    assert_eq!(
        r.status,
        409,
        "only the failed job is re-queued by id, not its sibling: {}",
        String::from_utf8_lossy(&r.body)
    );
    let r = post(addr, &path, Some(&root));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut requeued: Vec<i64> = r.json()["jobs"].as_array().unwrap().iter().map(|j| j.as_i64().unwrap()).collect();
    requeued.sort_unstable();
    assert_eq!(requeued, to_requeue, "the failed job and any its failure cancelled");
    let view = wait_for_submission(addr, submission, Duration::from_secs(30));
    assert_eq!(view["status"], "evaluated", "{view}\n{}", log_text(&data));
    assert!(view["jobs"].as_array().unwrap().iter().all(|j| j["state"] == "succeeded" && j["attempts"] == 1), "{view}");
    assert_eq!(board(addr).iter().filter(|r| r["submitter"] == "hal").count(), 1);
    // Requeued again now that it succeeded: 409.
    assert_eq!(post(addr, &path, Some(&root)).status, 409);
}

#[test]
fn an_admin_flags_hides_and_rescores_entries() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let ida = token(&data, "ida", false);
    let root = token(&data, "root", true);
    let comp = with_jobs(scratch.path(), "");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let mut ids = Vec::new();
    for module in ["fixed-fee-100", "fixed-fee-500"] {
        let r = upload(addr, Some(&ida), &std::fs::read(example_wasm(module)).unwrap(), None);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.json()["submission"].as_i64().unwrap());
    }
    for id in &ids {
        assert_eq!(wait_for_submission(addr, *id, Duration::from_secs(40))["status"], "evaluated");
    }
    let row_of = |rows: &[Value]| rows.iter().find(|r| r["submitter"] == "ida").cloned();
    let best = row_of(&board(addr)).expect("ida on the board")["submission"].as_i64().unwrap();
    let other = *ids.iter().find(|i| **i != best).unwrap();

    // Admin only.
    for path in [
        "/api/admin/rescore".to_string(),
        format!("/api/admin/submissions/{best}/flag"),
        format!("/api/admin/submissions/{best}/hide"),
    ] {
        assert_eq!(post(addr, &path, None).status, 401, "{path}");
        let r = post(addr, &path, Some(&ida));
        assert_eq!((r.status, r.json()["error"].as_str()), (403, Some("an admin token is required")), "{path}");
    }
    assert_eq!(post(addr, "/api/admin/submissions/999999/flag", Some(&root)).status, 404);

    // Flag: the row stays and shows the reason; clearing it removes it.
    let auth = |t: &str| vec![("Authorization", format!("Bearer {t}")), ("Content-Type", "application/json".into())];
    let flag = format!("/api/admin/submissions/{best}/flag");
    let r = request(addr, "POST", &flag, &auth(&root), br#"{"reason": "same as another entry"}"#);
    assert_eq!((r.status, r.json()["flag"].as_str()), (200, Some("same as another entry")));
    assert_eq!(row_of(&board(addr)).unwrap()["flag"], "same as another entry");
    let csv = String::from_utf8(get(addr, "/api/leaderboard.csv").body).unwrap();
    assert!(csv.lines().any(|l| l.contains(",ida,") && l.ends_with(",same as another entry")), "{csv}");
    assert_eq!(request(addr, "POST", &flag, &auth(&root), br#"{"bogus": 1}"#).status, 422);
    let r = request(addr, "POST", &flag, &auth(&root), br#"{"flagged": false}"#);
    assert_eq!((r.status, &r.json()["flag"]), (200, &Value::Null));
    assert_eq!(row_of(&board(addr)).unwrap()["flag"], Value::Null);

    // Hide: the best leaves the board and the next best takes its place; then none; then back.
    let hide =
        |id: i64, body: &[u8]| request(addr, "POST", &format!("/api/admin/submissions/{id}/hide"), &auth(&root), body);
    assert_eq!(hide(best, b"").status, 200);
    assert_eq!(row_of(&board(addr)).unwrap()["submission"].as_i64(), Some(other));
    assert_eq!(hide(other, b"").json()["hidden"], true);
    assert_eq!(row_of(&board(addr)), None, "hidden rows leave the board");
    assert_eq!(hide(best, br#"{"hidden": false}"#).status, 200);
    assert_eq!(row_of(&board(addr)).unwrap()["submission"].as_i64(), Some(best));

    // Rescore: every visible evaluated entry and the baseline, each under a fresh salt; the
    // previous rows stand until the new evaluations land.
    let baseline =
        board(addr).iter().find(|r| r["baseline"] == true).expect("baseline row")["submission"].as_i64().unwrap();
    let before = [published_salt(addr, best), published_salt(addr, baseline)];
    let old_jobs: Vec<i64> = get(addr, &format!("/api/submissions/{best}")).json()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    let r = post(addr, "/api/admin/rescore", Some(&root));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    let mut rescored: Vec<i64> =
        body["entries"].as_array().unwrap().iter().map(|e| e["submission"].as_i64().unwrap()).collect();
    rescored.sort_unstable();
    let mut expected = vec![best, baseline];
    expected.sort_unstable();
    assert_eq!(rescored, expected, "the hidden entry is not re-scored: {body}");
    assert_eq!(body["jobs"], 4, "{body}");
    assert_eq!(body["simulations"], 16, "{body}");
    let view = get(addr, &format!("/api/submissions/{best}")).json();
    if view["status"] == "evaluated" {
        // Already re-evaluated (a small competition): then under a new, published salt.
        assert!(view["salt"].as_str().is_some_and(|s| s.len() == 64 && s != before[0]), "{view}");
    } else {
        assert_eq!(view["salt"], Value::Null, "the new salt is secret: {view}");
    }
    assert_eq!(row_of(&board(addr)).unwrap()["submission"].as_i64(), Some(best), "the row stands meanwhile");
    assert_eq!(get(addr, &format!("/api/jobs/{}", old_jobs[0])).status, 404, "old jobs are replaced");
    for entry in body["entries"].as_array().unwrap() {
        for job in entry["jobs"].as_array().unwrap() {
            let done = wait_for_job(addr, job.as_i64().unwrap(), Duration::from_secs(40));
            assert_eq!(done["state"], "succeeded", "{done}\n{}", log_text(&data));
            assert_eq!(done["progress"]["done"], done["progress"]["total"]);
        }
    }
    for (id, old) in [best, baseline].into_iter().zip(before) {
        wait_for_submission(addr, id, Duration::from_secs(30));
        assert_ne!(published_salt(addr, id), old, "a fresh salt for submission {id}");
    }
    assert_eq!(board(addr).iter().filter(|r| r["submitter"] == "ida").count(), 1);
    verify_bundle(addr, best, &scratch.path().join("unpacked"));
}

#[test]
fn a_round_races_each_submitters_best_entry_once_in_seeded_groups() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let handles = ["ann", "bob", "cyd"];
    let tokens: Vec<String> = handles.iter().map(|h| token(&data, h, false)).collect();
    let root = token(&data, "root", true);
    // Three entries, at most two a market: two groups (2 + 1).
    let comp = competition(scratch.path(), 4, 1_000, "round_size = 2");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let modules = ["fixed-fee-0", "fixed-fee-100", "volatility-fee"];
    let mut ids = Vec::new();
    for (t, m) in tokens.iter().zip(modules) {
        let r = upload(addr, Some(t), &std::fs::read(example_wasm(m)).unwrap(), None);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.json()["submission"].as_i64().unwrap());
    }
    // A second, worse entry of ann's: only her best races.
    let r = upload(addr, Some(&tokens[0]), &std::fs::read(example_wasm("fixed-fee-500")).unwrap(), None);
    assert_eq!(r.status, 202);
    let extra = r.json()["submission"].as_i64().unwrap();
    for id in ids.iter().chain([&extra]) {
        assert_eq!(wait_for_submission(addr, *id, Duration::from_secs(40))["status"], "evaluated");
    }
    let best: Vec<(String, i64)> = board(addr)
        .iter()
        .filter(|r| r["baseline"] == false)
        .map(|r| (r["submitter"].as_str().unwrap().to_string(), r["submission"].as_i64().unwrap()))
        .collect();
    assert_eq!(best.len(), 3, "{best:?}");

    // Admin only.
    assert_eq!(post(addr, "/api/rounds", None).status, 401);
    let r = post(addr, "/api/rounds", Some(&tokens[1]));
    assert_eq!((r.status, r.json()["error"].as_str()), (403, Some("an admin token is required")));
    assert_eq!(get(addr, "/api/rounds/1").status, 404, "no round yet");

    let r = post(addr, "/api/rounds", Some(&root));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let started = r.json();
    assert_eq!(started["entries"], 3, "{started}");
    let round = started["round"].as_i64().unwrap();
    assert_eq!(started["groups"].as_array().unwrap().len(), 2, "{started}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        let view = get(addr, &format!("/api/rounds/{round}")).json();
        if view["state"] != "queued" && view["state"] != "running" || Instant::now() > deadline {
            break view;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(view["state"], "completed", "{view}\n{}", log_text(&data));
    assert_eq!(view["progress"]["done"], view["progress"]["total"], "{view}");
    assert_eq!(view["progress"]["total"], 20, "10 hidden seeds in each of 2 groups: {view}");
    assert_eq!(view["salt"].as_str().map(str::len), Some(64), "the round's salt, published: {view}");
    let mut sizes: Vec<usize> =
        view["groups"].as_array().unwrap().iter().map(|g| g["entries"].as_array().unwrap().len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1, 2], "{view}");
    let rows = view["board"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{view}");
    for (handle, submission) in &best {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["submitter"] == handle.as_str()).collect();
        assert_eq!(mine.len(), 1, "{handle}: {view}");
        assert_eq!(mine[0]["submission"].as_i64(), Some(*submission), "{handle}'s best entry: {view}");
        assert!(mine[0]["stderr_edge"].as_f64().unwrap() > 0.0, "{view}");
        assert!(mine[0]["edge_vs_normalizer"].is_f64(), "{view}");
        let group = mine[0]["group"].as_u64().unwrap();
        let listed = &view["groups"][group as usize - 1]["entries"];
        assert!(listed.as_array().unwrap().contains(&Value::from(*submission)), "{view}");
    }
    let worse = if best.iter().any(|(_, id)| *id == extra) { ids[0] } else { extra };
    assert!(rows.iter().all(|r| r["submission"] != worse), "only ann's best entry races: {view}");
    let ranks: Vec<u64> = rows.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, vec![1, 2, 3]);
    // The groups are not entries: the public board is unchanged.
    let after = board(addr);
    assert_eq!(after.iter().filter(|r| r["baseline"] == false).count(), 3, "{after:?}");
    assert!(after.iter().all(|r| !r["submitter"].as_str().unwrap().starts_with("round")), "{after:?}");
    let list = get(addr, "/api/rounds").json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"].as_i64(), Some(round));
}

#[test]
fn a_token_over_its_request_rate_gets_429_while_others_pass() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(
        scratch.path(),
        4,
        1_000,
        "[competition.quotas]\nrequests_per_minute = 600\nrequests_per_token_per_minute = 6\n",
    );
    let fay = token(&data, "fay", false);
    let gus = token(&data, "gus", false);
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let with = |t: &str| request(addr, "GET", "/api/competition", &[("Authorization", format!("Bearer {t}"))], b"");
    // A bucket of 6: six pass at once, the seventh waits for the refill (one every 10 s).
    for i in 0..6 {
        assert_eq!(with(&fay).status, 200, "request {i}");
    }
    let r = with(&fay);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"], "too many requests with your token");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    // The same address without the token, and another token, are not limited by fay's bucket;
    // an unknown token has a bucket of its own too (and then fails authentication).
    assert_eq!(get(addr, "/api/competition").status, 200);
    assert_eq!(with(&gus).status, 200);
    assert_eq!(post(addr, "/api/rounds", Some("amm_not-a-token")).status, 401);
    assert_eq!(post(addr, "/api/rounds", Some(&fay)).status, 429, "the limit applies before authentication");
}

/// Reads one HTTP/1.1 response with a Content-Length body from a kept-alive connection;
/// returns its status.
fn read_keep_alive(stream: &mut BufReader<TcpStream>) -> u16 {
    let mut status = 0;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stream.read_line(&mut line).unwrap() > 0, "connection closed mid-response");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if status == 0 {
            status = l.split(' ').nth(1).unwrap().parse().unwrap();
        } else if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    status
}

/// 200 concurrent leaderboard readers (kept-alive connections, one request after another) for
/// 10 s while an evaluation runs (1,000 seeds × 20,000 steps: still running at the end): every answer is 200 and p99 stays under a generous bound.
/// `cargo test --release -p amm-engine-cli --test all service::two_hundred -- --nocapture`
/// prints the figures recorded in BENCHMARKS.md.
#[test]
fn two_hundred_concurrent_leaderboard_readers_during_an_evaluation() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    // The per-address limit would refuse 200 readers on one address: lifted here.
    let comp = competition(
        scratch.path(),
        1_000,
        20_000,
        "[competition.quotas]\nrequests_per_minute = 10000000\n[competition.jobs]\nseeds_per_job = 1000\n",
    );
    let hal = token(&data, "hal", false);
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let r = upload(addr, Some(&hal), &std::fs::read(example_wasm("fixed-fee-100")).unwrap(), None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json()["job"].as_i64().unwrap();
    assert_eq!(board(addr).len(), 0, "nothing evaluated yet (the baseline runs first)");
    let readers = 200;
    let window = Duration::from_secs(10);
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, Vec<u16>)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..readers)
            .map(|_| {
                s.spawn(move || {
                    let stream = TcpStream::connect(addr).unwrap();
                    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let (mut latencies, mut statuses) = (Vec::new(), Vec::new());
                    while started.elapsed() < window {
                        let t = Instant::now();
                        writer
                            .write_all(format!("GET /api/leaderboard HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
                            .unwrap();
                        statuses.push(read_keep_alive(&mut reader));
                        latencies.push(t.elapsed());
                    }
                    (latencies, statuses)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let job_view = get(addr, &format!("/api/jobs/{job}")).json();
    let metrics = String::from_utf8(get(addr, "/metrics").body).unwrap();
    assert!(metrics.lines().any(|l| l == "amm_jobs{state=\"running\"} 1"), "an evaluation ran throughout: {metrics}");
    let mut latencies: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    let statuses: Vec<u16> = results.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    assert!(results.iter().all(|(l, _)| !l.is_empty()), "every reader was answered");
    assert!(
        statuses.iter().all(|&s| s == 200),
        "non-200 answers: {:?}",
        statuses.iter().filter(|&&s| s != 200).count()
    );
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let (p50, p99, max) = (at(0.50), at(0.99), *latencies.last().unwrap());
    eprintln!(
        "load: {readers} readers, {} requests in {:.1} s ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         at the end the house field's baseline evaluation was running and the entry's job {} ({}/{} simulations)",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        job_view["state"],
        job_view["progress"]["done"],
        job_view["progress"]["total"],
    );
    assert!(p99 < Duration::from_secs(2), "p99 {p99:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

/// Sends `GET /api/jobs/{job}/events` and reads the response head. Returns the status, the
/// Retry-After header and the connection (a stream stays open while it is held).
fn open_events(addr: SocketAddr, job: i64) -> (u16, Option<String>, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /api/jobs/{job}/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let (mut status, mut retry_after, mut line) = (0, None, String::new());
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "connection closed mid-head");
        let l = line.trim_end();
        if l.is_empty() {
            return (status, retry_after, reader);
        }
        if status == 0 {
            status = l.split(' ').nth(1).unwrap().parse().unwrap();
        } else if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("retry-after")
        {
            retry_after = Some(value.trim().to_string());
        }
    }
}

#[test]
fn a_stranger_is_refused_past_the_event_stream_body_and_header_limits() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(
        scratch.path(),
        200,
        10_000,
        "[competition.quotas]\nevent_streams = 2\n[competition.jobs]\nseeds_per_job = 200\n",
    );
    let hal = token(&data, "hal", false);
    let server = Server::start(&comp, &data);
    let addr = server.addr;

    // Bodies: 64 KiB outside uploads, refused before authentication is even looked at.
    let hide = "/api/admin/submissions/1/hide";
    assert_eq!(request(addr, "POST", hide, &[], &[b' '; 1000]).status, 401, "under the limit: authentication");
    let r = request(addr, "POST", hide, &[], &vec![b' '; 70 * 1024]);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    // The refusal names the limit and what to do, not axum's "Failed to buffer the request body".
    let said = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("64 KiB") && said.contains("smaller body") && !said.contains("Failed to buffer"), "{said}");

    // Headers: at most 100 in a request (with the helper's Host, Connection, Content-Length).
    let many: Vec<(&str, String)> = (0..98).map(|i| ("X-Filler", i.to_string())).collect();
    assert_eq!(request(addr, "GET", "/api/competition", &many[..97], b"").status, 200);
    assert_eq!(request(addr, "GET", "/api/competition", &many, b"").status, 431);

    // Event streams: two open at once; a third is refused until one closes.
    let r = upload(addr, Some(&hal), &std::fs::read(example_wasm("starter")).unwrap(), None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json()["job"].as_i64().unwrap();
    let (status, _, first) = open_events(addr, job);
    assert_eq!(status, 200);
    let (status, _, _second) = open_events(addr, job);
    assert_eq!(status, 200);
    let r = get(addr, &format!("/api/jobs/{job}/events"));
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(r.json()["error"].as_str().unwrap().starts_with("2 job event streams are open"), "{}", r.json());
    assert_eq!(get(addr, &format!("/api/jobs/{job}")).status, 200, "polling is not limited");
    drop(first);
    let started = Instant::now();
    loop {
        let (status, retry_after, _stream) = open_events(addr, job);
        if status == 200 {
            break;
        }
        assert_eq!((status, retry_after.as_deref()), (503, Some("5")));
        assert!(started.elapsed() < Duration::from_secs(30), "the closed stream's place never freed");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The place was freed by the client leaving, not by the job ending.
    let state = get(addr, &format!("/api/jobs/{job}")).json()["state"].clone();
    assert!(state == "queued" || state == "running", "{state}: make the job longer");
}

/// Reads until the peer closes the connection; returns when it did (None: still open at
/// `limit`).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {} // a 408 or similar before closing is fine
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()), // reset
        }
    }
    None
}

#[test]
fn slow_clients_are_cut_off_at_the_header_timeout_and_cannot_hold_more_than_the_connection_cap() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp =
        competition(scratch.path(), 2, 100, "[competition.quotas]\nconnections = 3\nheader_timeout_seconds = 2\n");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    assert_eq!(get(addr, "/healthz").status, 200);

    // Three slow clients fill the cap: one silent, one with half a header block, one trickling
    // a header byte every 300 ms (it never completes the block).
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let trickler = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if s.write_all(&[*byte]).is_err() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        closed_within(&mut s, Duration::from_secs(10)).map(|d| d + started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));

    // A fourth client is not served while the cap is full: it is served once the header
    // timeout has freed a slot.
    let started = Instant::now();
    let answer = get(addr, "/healthz");
    let waited = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(waited >= Duration::from_millis(1200), "the cap of 3 connections let a 4th through after {waited:?}");
    assert!(waited < Duration::from_secs(8), "the 4th client waited {waited:?}: slow clients were not cut off");

    for (what, stream) in [("silent", &mut silent), ("half a header", &mut half)] {
        let closed = closed_within(stream, Duration::from_secs(10)).map(|_| opened.elapsed());
        let closed = closed.unwrap_or_else(|| panic!("the {what} client was never cut off"));
        assert!(
            closed >= Duration::from_millis(1500) && closed < Duration::from_secs(8),
            "{what}: closed after {closed:?}"
        );
    }
    let trickled = trickler.join().unwrap().expect("the trickling client was never cut off");
    assert!(trickled < Duration::from_secs(8), "a client trickling its headers held its connection {trickled:?}");
    // And the server still answers.
    assert_eq!(get(addr, "/healthz").status, 200);
}

/// Sends `head` (request headers and the start of a body), then a byte every 300 ms until the
/// server answers and closes or 12 s pass: how long the connection was held, and the answer.
fn trickle(addr: SocketAddr, head: &str) -> (Duration, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if s.write_all(b"a").is_err() {
            break;
        }
    }
    let held = started.elapsed();
    (held, String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn a_token_holder_trickling_an_upload_body_is_cut_off_at_the_body_timeout() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "[competition.quotas]\nbody_timeout_seconds = 2\n");
    let alice = token(&data, "alice", false);
    let server = Server::start(&comp, &data);
    let addr = server.addr;

    // Valid headers and the start of a multipart body, then a byte every 300 ms: the headers
    // arrived in time, so only a limit on the whole body can free the connection.
    let head = format!(
        "POST /api/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000\r\n\r\n\
         --zz\r\nContent-Disposition: form-data; name=\"module\"\r\n\r\n"
    );
    let (held, text) = trickle(addr, &head);
    assert!(held < Duration::from_secs(8), "a trickled upload body held its connection {held:?}: {text}");
    assert!(held >= Duration::from_millis(1500), "cut off after {held:?}, before the body timeout: {text}");
    assert!(text.starts_with("HTTP/1.1 408"), "the answer to a body over its time: {text:?}");
    assert!(text.contains("2 s"), "the answer names the limit: {text:?}");
    assert_eq!(get(addr, "/healthz").status, 200);
}

#[test]
fn a_stranger_trickling_a_body_to_an_admin_route_is_cut_off_at_the_body_timeout() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "[competition.quotas]\nbody_timeout_seconds = 2\n");
    let server = Server::start(&comp, &data);
    let addr = server.addr;

    // flag and hide read their body before authentication (an oversized one is refused first):
    // without a token, a body trickled to them must still be cut off.
    for route in ["hide", "flag"] {
        let head =
            format!("POST /api/admin/submissions/1/{route} HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{{");
        let (held, text) = trickle(addr, &head);
        assert!(held < Duration::from_secs(8), "{route}: a trickled body held its connection {held:?}: {text}");
        assert!(
            held >= Duration::from_millis(1500),
            "{route}: cut off after {held:?}, before the body timeout: {text}"
        );
        assert!(text.starts_with("HTTP/1.1 408"), "{route}: the answer to a body over its time: {text:?}");
        assert!(text.contains("2 s"), "{route}: the answer names the limit: {text:?}");
    }
    assert_eq!(get(addr, "/healthz").status, 200);
}

#[test]
fn the_log_written_to_a_file_has_no_terminal_colour_codes() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "");
    let mut server = Server::start(&comp, &data);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    server.kill();
    // Server::start sends stderr to a file, as `serve ... 2> serve.log` or a service manager does.
    let log = log_text(&data);
    assert!(log.contains("serving"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in a log file: {log:?}");
}

#[test]
fn probes_read_the_database_at_most_once_a_second_however_often_they_are_asked() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let refreshes = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("amm_probe_refreshes_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no amm_probe_refreshes_total in {text}"))
    };
    let before = refreshes(&String::from_utf8_lossy(&get(addr, "/metrics").body));
    let started = Instant::now();
    let mut asked = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        for path in ["/readyz", "/metrics"] {
            let r = get(addr, path);
            assert!(r.status == 200 || r.status == 503, "{path}: {}", r.status);
            asked += 1;
        }
    }
    let after_text = String::from_utf8_lossy(&get(addr, "/metrics").body).into_owned();
    let elapsed = started.elapsed().as_secs_f64();
    let made = refreshes(&after_text) - before;
    assert!(asked >= 40, "only {asked} probes were asked");
    assert!(
        made as f64 <= elapsed.ceil() + 2.0,
        "{asked} probe requests in {elapsed:.1} s made {made} database reads (at most one a second allowed)"
    );
    // The figures are still real: readyz reports the queue from the database.
    let ready = get(addr, "/readyz").json();
    assert_eq!(ready["database"], "ok", "{ready}");
    assert!(ready["queued"].is_i64() && ready["running"].is_i64(), "{ready}");
}

#[test]
fn an_oversized_or_non_utf8_source_upload_is_refused_before_anything_is_stored() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    // An upload limit above the source limit (256 KiB), so the source limit is what refuses.
    let comp = competition(scratch.path(), 2, 100, "accept_source = true\n");
    let text =
        std::fs::read_to_string(&comp).unwrap().replace("max_upload_bytes = 200000", "max_upload_bytes = 1000000");
    std::fs::write(&comp, text).unwrap();
    let server = Server::start(&comp, &data);
    let alice = token(&data, "alice", false);
    let limit = amm_engine::build::MAX_SOURCE_BYTES;
    let r = upload_part(server.addr, Some(&alice), "source", "big.rs", &vec![b' '; limit + 1], None);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains(&limit.to_string()), "the refusal names the source limit: {error}");
    let r = upload_part(server.addr, Some(&alice), "source", "bin.rs", b"fn f() {}\xff\xfe", None);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    // Nothing of either is kept in the data directory.
    let stored: Vec<PathBuf> =
        std::fs::read_dir(data.join("sources")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(stored.is_empty(), "refused sources were stored: {stored:?}");
}

#[test]
fn source_uploads_are_refused_unless_accepted_then_screened_built_and_ranked() {
    let honest = std::fs::read(workspace().join("tests/fixtures/source/honest.rs")).unwrap();
    let hostile = std::fs::read(workspace().join("tests/fixtures/source/unsafe.rs")).unwrap();

    // Off (the default): refused with what to do instead, nothing built or queued.
    {
        let scratch = Scratch::new();
        let data = scratch.path().join("data");
        let comp = competition(scratch.path(), 2, 100, "");
        let server = Server::start(&comp, &data);
        let alice = token(&data, "alice", false);
        let r = upload_part(server.addr, Some(&alice), "source", "mine.rs", &honest, None);
        assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains("accepts modules only") && error.contains("'module'"), "{error}");
        assert!(!data.join("builds").exists(), "a source was built although source uploads are off");
    }

    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 4, 300, "accept_source = true\n");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let alice = token(&data, "alice", false);

    // Screened before any build: the line named, our data directory never shown.
    let r = upload_part(addr, Some(&alice), "source", "hostile.rs", &hostile, None);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("submission.rs: refused at line 8") && error.contains("unsafe"), "{error}");
    assert!(!error.contains(data.to_str().unwrap()), "the error shows the server's data directory: {error}");
    assert_eq!(body["failed"][0]["name"], "screen", "{body}");

    // Both parts at once: a clear 400.
    let boundary = "b0und";
    let both = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"module\"\r\n\r\nx\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\ny\r\n--{boundary}--\r\n"
    );
    let r = request(
        addr,
        "POST",
        "/api/submissions",
        &[
            ("Content-Type", format!("multipart/form-data; boundary={boundary}")),
            ("Authorization", format!("Bearer {alice}")),
        ],
        both.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].as_str().unwrap().contains("not both"));

    // An honest single file: built, validated, evaluated and ranked under its own name.
    let r = upload_part(addr, Some(&alice), "source", "mine.rs", &honest, None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["submission"].as_i64().unwrap();
    let view = wait_for_submission(addr, id, Duration::from_secs(180));
    assert_eq!(view["status"], "evaluated", "{view}");
    let rows = board(addr);
    let row = rows.iter().find(|r| r["submission"] == id).unwrap_or_else(|| panic!("no row for {id}: {rows:?}"));
    assert_eq!(row["strategy"], "Single file 30 bps", "{row}");
    assert_eq!(row["submitter"], "alice", "{row}");
}

#[test]
fn source_uploads_past_the_hourly_build_quota_get_429_and_modules_still_pass() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp =
        competition(scratch.path(), 2, 100, "accept_source = true\n[competition.quotas]\nsource_builds_per_hour = 2\n");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    let mallory = token(&data, "mallory", false);
    let hostile = std::fs::read(workspace().join("tests/fixtures/source/unsafe.rs")).unwrap();
    // Refused builds count: each could have held a compiler.
    for _ in 0..2 {
        let r = upload_part(addr, Some(&mallory), "source", "x.rs", &hostile, None);
        assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = upload_part(addr, Some(&mallory), "source", "x.rs", &hostile, None);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let wait: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("a Retry-After header");
    assert!((60..=1800).contains(&wait), "Retry-After {wait} s for a bucket of 2 an hour");
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("at most 2 source uploads an hour") && error.contains("'module'"), "{error}");
    // Another submitter's source is not affected, nor is the same submitter's module upload.
    let alice = token(&data, "alice", false);
    assert_eq!(upload_part(addr, Some(&alice), "source", "x.rs", &hostile, None).status, 422);
    let module = wasm_of(&example_wasm("fixed-fee-100"));
    let r = upload_part(addr, Some(&mallory), "module", "m.wasm", &module, None);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn a_name_with_bidirectional_overrides_is_refused() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "");
    let server = Server::start(&comp, &data);
    let alice = token(&data, "alice", false);
    let module = wasm_of(&example_wasm("fixed-fee-100"));
    // Reads as "alice 30 bps" reversed after the override: a spoof of another row.
    let r = upload(server.addr, Some(&alice), &module, Some("evil\u{202E}spb 03 ecila"));
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].as_str().unwrap().contains("bidirectional"));
    assert_eq!(upload(server.addr, Some(&alice), &module, Some("plain name")).status, 202);
}

#[test]
fn every_api_error_is_json_with_what_went_wrong() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "");
    let server = Server::start(&comp, &data);
    let addr = server.addr;
    for (method, path, status, says) in [
        // What to send, not the input echoed or a Rust type named.
        ("GET", "/api/jobs/abc", 400, "job id must be a whole number from 1 to"),
        ("GET", "/api/submissions/..%2f..%2fetc", 400, "submission id must be a whole number"),
        ("GET", "/api/no-such-thing", 404, "not found"),
        ("DELETE", "/api/leaderboard", 405, "openapi.json"),
        ("GET", "/api/jobs/999999", 404, "999999"),
    ] {
        let r = request(addr, method, path, &[], b"");
        assert_eq!(r.status, status, "{method} {path}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{method} {path}");
        let error = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(says), "{method} {path}: {error:?} does not say {says:?}");
    }
}

/// `amm-engine serve … | true`: the address line on stdout is informational; with nobody reading
/// stdout the server must go on serving (it used to panic on that line and exit).
#[test]
fn serve_keeps_serving_when_its_stdout_is_closed() {
    let dir = Scratch::new();
    let competition = competition(dir.path(), 2, 200, "");
    let data = dir.path().join("data");
    // A free port, known in advance: the address line cannot be read.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = std::fs::File::create(data.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["serve", competition.to_str().unwrap(), "--listen", &addr.to_string(), "--data"])
        .arg(&data)
        .env("AMM_ENGINE_CACHE", data.with_extension("cache"))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let started = Instant::now();
    let healthy = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited with {status}; log: {}", log_text(&data));
        }
        if TcpStream::connect(addr).is_ok() && get(addr, "/healthz").status == 200 {
            break true;
        }
        if started.elapsed() > Duration::from_secs(60) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Still up after answering: the panic came with the address line, before the first answer.
    std::thread::sleep(Duration::from_millis(300));
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy && alive, "healthy {healthy}, alive {alive}; log: {}", log_text(&data));
}

/// `serve --listen` on an address already in use: refused with the address and its reason,
/// exit 2, before anything is opened, queued or started. The listener was bound last, after the
/// baseline was queued and the workers started; the early return then shut the runtime down
/// under the worker threads, one of which panicked with a backtrace.
#[test]
fn serve_on_a_busy_address_exits_with_the_reason_and_starts_nothing() {
    let scratch = Scratch::new();
    let data = scratch.path().join("data");
    let comp = competition(scratch.path(), 2, 100, "");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["serve", comp.to_str().unwrap(), "--listen", &addr, "--data"])
        .arg(&data)
        .env("AMM_ENGINE_CACHE", data.with_extension("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    // Nothing queued: the database was never created.
    assert!(!data.join("amm-service.db").exists(), "a database was opened (and a baseline queued) before listening");
}
