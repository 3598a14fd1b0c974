//! Declared parameters and `amm-engine tune`: values reach the strategy as data, errors name
//! what is wrong, candidates pair exactly, and a killed study resumes byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use amm_engine::params::{ParamValues, SchemaError};
use amm_engine::run::{self, RunOptions};
use amm_tune::{Field, FieldEntrant, Objective};

use crate::support::{Scratch, example_wasm, strategy_wat};

fn amm(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine")).args(args).current_dir(cwd).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A short market: the candidate against Fixed 30 bps and the normalizer.
fn small_config(dir: &Path) -> PathBuf {
    let path = dir.join("field.toml");
    let text = format!(
        "[run]\nsimulations = 4\nsteps = 1500\nepoch_len = 500\nthreads = 2\n[[strategy]]\npath = {:?}\n",
        example_wasm("fixed-fee-30").display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn field(module: &Path, dir: &Path, start: &[&str]) -> Field {
    let mut config = amm_engine::config::Config::load(&small_config(dir)).unwrap();
    config.strategies.insert(
        0,
        amm_engine::config::StrategyEntry {
            path: module.to_path_buf(),
            name: Some("Candidate".into()),
            params: Default::default(),
        },
    );
    let engine = run::engine_for(&config).unwrap();
    let params = start.iter().map(|a| format!("1:{a}").parse().unwrap()).collect();
    let loaded = run::load_entrants(&config, &engine, &RunOptions { params, ..RunOptions::default() }).unwrap();
    let schema = loaded[0].schema.clone();
    let start = loaded[0].info.params.clone();
    let entrants = loaded
        .into_iter()
        .map(|e| FieldEntrant { name: e.info.name, program: e.program.unwrap(), storage: e.storage })
        .collect();
    Field {
        config,
        entrants,
        candidate: 0,
        schema,
        start,
        identity: String::new(),
        kind: amm_tune::CandidateKind::Declared,
        self_copies: 0,
        members: Vec::new(),
    }
}

#[test]
fn a_tuned_module_runs_exactly_as_its_point_did_and_identical_candidates_pair_per_seed() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let point = ["base_fee_bps=37.5", "skew_gain=120", "vol_alpha=0.05"];
    let given = field(&starter, scratch.path(), &point);
    assert_eq!(given.start.0.get("base_fee_bps"), Some(&37.5));

    // The same module with the point written as its defaults (what `tune` ships).
    let bytes = std::fs::read(&starter).unwrap();
    let tuned = amm_tune::winner::with_defaults(&bytes, &given.schema, &given.start).unwrap();
    let tuned_path = scratch.path().join("tuned.wasm");
    std::fs::write(&tuned_path, &tuned).unwrap();
    let shipped = field(&tuned_path, scratch.path(), &[]);
    assert_eq!(shipped.start, given.start, "the rewritten section's defaults are the point");

    let defaults = field(&starter, scratch.path(), &[]);
    for seed in [11, 12, 13] {
        let a = amm_tune::evaluate(&given, Objective::Edge, &given.start, &given.start, seed);
        let b = amm_tune::evaluate(&shipped, Objective::Edge, &shipped.start, &shipped.start, seed);
        let again = amm_tune::evaluate(&given, Objective::Edge, &given.start, &given.start, seed);
        assert_eq!(a, b, "seed {seed}: the tuned module and the point given by --param differ");
        assert_eq!(a, again, "seed {seed}: the same candidate twice differs");
        // Pairing: the opponents' market is the same; the candidate's values change its edge.
        let base = amm_tune::evaluate(&defaults, Objective::Edge, &defaults.start, &defaults.start, seed);
        assert_ne!(a.edges[0], base.edges[0], "seed {seed}: the parameters did not reach the strategy");
    }
}

#[test]
fn a_hostile_params_section_is_refused_with_its_reason() {
    let scratch = Scratch::new();
    let cases: [(&str, &str); 4] = [
        (r#"(@custom "amm.params" "\01\00")"#, "0 parameters declared"),
        (r#"(@custom "amm.params" "\02\01")"#, "schema version 2 is not supported"),
        // One f64 parameter "p" at offset 1020: its 8 bytes end past the 1024-byte storage.
        (
            r#"(@custom "amm.params" "\01\01\01p\00\00\fc\03\00\00\00\00\00\00\00\00\00\00\00\00\00\00\f0\3f\00\00\00\00\00\00\00\00")"#,
            "outside the 1024-byte storage",
        ),
        (r#"(@custom "amm.params" "\01\01\01p\00\00")"#, "malformed"),
    ];
    for (i, (section, reason)) in cases.iter().enumerate() {
        let path = scratch.path().join(format!("hostile{i}.wat"));
        std::fs::write(&path, strategy_wat("(i64.const 0)", section)).unwrap();
        let (passed, out) = crate::support::validate(&path);
        assert!(!passed, "case {i} passed validation:\n{out}");
        assert!(out.contains(reason), "case {i}: expected {reason:?} in\n{out}");
    }
    // A huge section is refused by size before anything is read.
    let huge = format!(r#"(@custom "amm.params" "{}")"#, "\\01".repeat(amm_engine::params::MAX_SECTION_BYTES + 1));
    let bytes = wat::parse_str(strategy_wat("(i64.const 0)", &huge)).unwrap();
    let refused = amm_engine::sandbox::inspect(&bytes, &Default::default()).unwrap_err();
    assert_eq!(
        refused,
        amm_engine::sandbox::LoadError::Params(SchemaError::TooLarge {
            size: amm_engine::params::MAX_SECTION_BYTES + 1
        })
    );
}

#[test]
fn parameter_errors_name_the_parameter_and_what_is_accepted() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let s = starter.to_str().unwrap();
    let config = small_config(scratch.path());
    let c = config.to_str().unwrap();
    let (ok, _, err) =
        amm(&["--no-cache", "run", c, s, "--sims", "1", "--quiet", "--param", "base_fee=3"], scratch.path());
    assert!(!ok && err.contains("no strategy declares \"base_fee\"") && err.contains("base_fee_bps"), "{err}");
    let (ok, _, err) =
        amm(&["--no-cache", "run", c, s, "--sims", "1", "--quiet", "--param", "base_fee_bps=0.5"], scratch.path());
    assert!(!ok && err.contains("\"base_fee_bps\" = 0.5: expected a value in its declared range 1..=300"), "{err}");
    let (ok, _, err) = amm(&["--no-cache", "run", c, s, "--quiet", "--param", "base_fee_bps"], scratch.path());
    assert!(!ok && err.contains("NAME=VALUE"), "{err}");
    let (ok, out, _) = amm(&["--no-cache", "validate", s, "--param", "skew_gain=900"], scratch.path());
    assert!(!ok && out.contains("params     FAIL") && out.contains("0..=500"), "{out}");
    // A config's params table is checked the same way, naming the entrant.
    let table = scratch.path().join("table.toml");
    std::fs::write(
        &table,
        format!("[run]\nsimulations = 1\n[[strategy]]\npath = {s:?}\nparams = {{ vol_alpha = true }}\n"),
    )
    .unwrap();
    let (ok, _, err) = amm(&["--no-cache", "run", table.to_str().unwrap(), "--quiet"], scratch.path());
    assert!(!ok && err.contains("strategy #1 Adaptive Starter") && err.contains("\"vol_alpha\" = true"), "{err}");
    // results.json records the values a run used.
    let out_dir = scratch.path().join("out");
    let (ok, _, err) = amm(
        &[
            "--no-cache",
            "run",
            c,
            s,
            "--sims",
            "1",
            "--quiet",
            "--param",
            "min_fee_bps=12",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        scratch.path(),
    );
    assert!(ok, "{err}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    let starter_row =
        results["strategies"].as_array().unwrap().iter().find(|s| s["name"] == "Adaptive Starter").unwrap();
    assert_eq!(starter_row["params"]["min_fee_bps"], 12.0);
    assert_eq!(starter_row["params"].as_object().map(|o| o.len()), Some(11), "every declared value is recorded");
    // A bundle keeps a --param point: its config records the value and verify reproduces it.
    let bundle = scratch.path().join("bundle");
    let (ok, _, err) = amm(
        &[
            "--no-cache",
            "submit",
            c,
            s,
            "--sims",
            "2",
            "--quiet",
            "--param",
            "min_fee_bps=12",
            "--out",
            bundle.to_str().unwrap(),
        ],
        scratch.path(),
    );
    assert!(ok, "{err}");
    let bundled = std::fs::read_to_string(bundle.join("config.toml")).unwrap();
    assert!(bundled.contains("min_fee_bps = 12"), "{bundled}");
    let (ok, out, err) =
        amm(&["--no-cache", "verify", bundle.join("receipt.json").to_str().unwrap(), "--quiet"], scratch.path());
    assert!(ok && out.contains("VERIFIED"), "{out}\n{err}");
}

fn tune_args<'a>(strategy: &'a str, config: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "--no-cache",
        "tune",
        strategy,
        config,
        "--out",
        out,
        "--budget",
        "700",
        "--first-seeds",
        "4",
        "--race-seeds",
        "16",
        "--validation-seeds",
        "12",
        "--test-seeds",
        "12",
        "--finalists",
        "2",
        "--quiet",
        "--only",
        "base_fee_bps",
        "--only",
        "skew_gain",
        "--only",
        "vol_alpha",
    ]
}

#[test]
fn a_study_killed_mid_way_resumes_to_the_uninterrupted_result_byte_for_byte() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let config = small_config(scratch.path());
    let (s, c) = (starter.to_str().unwrap(), config.to_str().unwrap());
    let whole = scratch.path().join("whole");
    let started = Instant::now();
    let (ok, out, err) = amm(&tune_args(s, c, whole.to_str().unwrap()), scratch.path());
    assert!(ok, "{out}\n{err}");
    let took = started.elapsed();
    assert!(out.contains("winner − Fixed 30 bps"), "{out}");
    // The author is told, before the search starts, that an interrupted study resumes.
    assert!(err.contains("the same command resumes it"), "{err}");

    let resumed = scratch.path().join("resumed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(tune_args(s, c, resumed.to_str().unwrap()))
        .current_dir(scratch.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(took.mul_f64(0.5).max(Duration::from_millis(300)));
    child.kill().unwrap(); // SIGKILL: no chance to flush or clean up
    child.wait().unwrap();
    let (ok, out, err) = amm(&tune_args(s, c, resumed.to_str().unwrap()), scratch.path());
    assert!(ok, "{out}\n{err}");
    assert!(
        err.contains("resuming") && err.contains("evaluations recorded"),
        "the killed study recorded nothing: {err}"
    );
    for file in ["summary.json", "report.html", "starter.tuned.wasm"] {
        let a = std::fs::read(whole.join(file)).unwrap();
        let b = std::fs::read(resumed.join(file)).unwrap();
        assert!(a == b, "{file} differs between the uninterrupted and the resumed study");
    }
    // The shipped module validates and carries the winner's values as its defaults.
    let (passed, report) = crate::support::validate(&resumed.join("starter.tuned.wasm"));
    assert!(passed, "{report}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap()).unwrap();
    let winner: ParamValues = serde_json::from_value(summary["winner"].clone()).unwrap();
    let shown = format!("base_fee_bps = {}", winner.0["base_fee_bps"]);
    assert!(report.contains(&shown), "expected {shown:?} in\n{report}");
    // A study file made for another definition is refused, not silently mixed.
    let (ok, _, err) =
        amm(&[&tune_args(s, c, resumed.to_str().unwrap())[..], &["--objective", "reward"]].concat(), scratch.path());
    assert!(!ok && err.contains("its objective differs"), "{err}");
}

/// Mean and standard error of the paired differences `a − b`.
fn paired_se(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    let m = d.iter().sum::<f64>() / n;
    (m, (d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0) / n).sqrt())
}

#[test]
fn self_play_copies_of_the_incumbent_are_indistinguishable_from_the_candidate_at_its_point() {
    let scratch = Scratch::new();
    let mut f = field(&example_wasm("starter"), scratch.path(), &[]);
    f.self_copies = 2;
    // Seats: the candidate 0, Fixed 30 bps 1, the copies 2 and 3, the normalizer 4.
    let mut edges = vec![Vec::new(); 3];
    let mut other = f.start.clone();
    other.0.insert("base_fee_bps".into(), 80.0);
    let mut moved = 0;
    for seed in 0..200 {
        let e = amm_tune::evaluate(&f, Objective::Edge, &f.start, &f.start, 7_000 + seed);
        assert_eq!(e.edges.len(), 5, "candidate, Fixed 30, two copies, the normalizer");
        for (k, seat) in [0, 2, 3].into_iter().enumerate() {
            edges[k].push(e.edges[seat]);
        }
        // The copies play the opponent point they are given, not the candidate's.
        let against = amm_tune::evaluate(&f, Objective::Edge, &f.start, &other, 7_000 + seed);
        moved += usize::from(against.edges[0] != e.edges[0]);
    }
    assert!(edges[0].iter().any(|&x| x != 0.0), "the candidate never traded");
    for (k, copy) in edges.iter().enumerate().skip(1) {
        let (mean, se) = paired_se(&edges[0], copy);
        assert!(
            mean.abs() <= 3.0 * se && se > 0.0,
            "copy {k} differs from the candidate at the same point by {mean:+.3} ± {se:.3} Y over 200 seeds"
        );
    }
    assert!(moved > 150, "the copies' point changed the candidate's result on only {moved} of 200 seeds");
}

#[test]
fn a_self_play_study_races_against_copies_of_its_incumbent_and_reports_them() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let config = small_config(scratch.path());
    let (s, c) = (starter.to_str().unwrap(), config.to_str().unwrap());
    let out = scratch.path().join("self");
    let args = [&tune_args(s, c, out.to_str().unwrap())[..], &["self:2"]].concat();
    let (ok, stdout, err) = amm(&args, scratch.path());
    assert!(ok, "{stdout}\n{err}");
    assert!(err.contains("2 copies of the incumbent (self-play)"), "{err}");
    for name in ["Self 1", "Self 2", "Fixed 30 bps", "the normalizer"] {
        assert!(stdout.contains(&format!("winner − {name}")), "no test row against {name}:\n{stdout}");
    }
    for bad in ["self:0", "self:17", "self:two"] {
        let (ok, _, err) = amm(&[&tune_args(s, c, out.to_str().unwrap())[..], &[bad]].concat(), scratch.path());
        assert!(!ok && err.contains("self-play takes self:K"), "{bad}: {err}");
    }
}

/// A single-file SDK strategy with a tunable fee constant; `extra` is spliced in.
fn fee_source(extra: &str) -> String {
    format!(
        "#![cfg_attr(target_arch = \"wasm32\", no_std)]\n\
         use amm_strategy_sdk::{{QuoteRequest, Strategy}};\n\
         const FEE_BPS: u64 = 30;\n\
         pub struct Fee;\n\
         impl Strategy for Fee {{\n\
             const NAME: &'static str = \"Const fee\";\n\
             fn compute_swap(q: &QuoteRequest<'_>) -> u64 {{ q.cp_output_fee_bps(FEE_BPS) }}\n\
         }}\n\
         {extra}\n\
         amm_strategy_sdk::export_strategy!(Fee);\n"
    )
}

#[test]
fn source_constants_are_rewritten_as_values_and_every_candidate_is_screened_and_built() {
    use amm_engine::params::ParamValues;
    use amm_tune::source::{ConstRange, SourceCandidate, parse_range};

    let scratch = Scratch::new();
    let options = amm_engine::build::SourceOptions {
        cache_dir: scratch.path().join("cache"),
        shared_target: Some(scratch.path().join("target")),
        ..Default::default()
    };
    let engine = crate::support::engine().clone();
    let limits = amm_engine::sandbox::SandboxLimits::default();
    let range = |text: &str| parse_range(text).unwrap().unwrap();
    let honest = SourceCandidate::new(
        scratch.path().join("fee.rs"),
        fee_source(""),
        options.clone(),
        engine.clone(),
        limits.clone(),
    );
    let schema = honest.schema(&[range("FEE_BPS=5..200")], &[]).unwrap();
    assert_eq!(schema.get("FEE_BPS").map(|p| (p.default, p.kind)), Some((30.0, amm_engine::params::Kind::Int)));
    let point = |v: f64| ParamValues([("FEE_BPS".to_string(), v)].into_iter().collect());
    assert!(honest.source_for(&point(70.0)).unwrap().contains("const FEE_BPS: u64 = 70;"));
    // A candidate is built and runs: a higher fee quotes less.
    let quote = |p: &amm_engine::strategy::StrategyProgram| {
        let mut i = p.instantiate(&limits, 0).unwrap();
        i.quote(&amm_strategy_sdk::QuoteRequest {
            side: amm_strategy_sdk::Side::BuyX,
            input_amount: 1_000_000_000,
            reserve_x: 100_000_000_000,
            reserve_y: 10_000_000_000_000,
            storage: amm_engine::market::ZERO_STORAGE,
        })
        .unwrap()
    };
    let (low, high) = (honest.program(&point(10.0)).unwrap(), honest.program(&point(150.0)).unwrap());
    assert!(quote(&low) > quote(&high));
    // The value is a number the engine formats: a fractional value for an integer constant is
    // refused, not written; non-numeric range text never parses.
    assert!(honest.source_for(&point(2.5)).is_err());
    assert!(parse_range("FEE_BPS=5..abc").unwrap().is_err());
    assert!(parse_range("FEE_BPS=5..50:fast").unwrap().is_err());
    // The rewritten file goes through the same screen as any source: `unsafe` elsewhere in the
    // file refuses every candidate, with the reason.
    let hostile = SourceCandidate::new(
        scratch.path().join("hostile.rs"),
        fee_source("pub fn f() -> u8 { unsafe { core::mem::zeroed() } }"),
        options,
        engine,
        limits,
    );
    let refused = hostile.program(&point(40.0)).unwrap_err();
    assert!(refused.contains("unsafe"), "{refused}");
    // What cannot be tuned is named.
    let missing =
        honest.schema(&[ConstRange { name: "FEE".into(), lo: 1.0, hi: 2.0, log: false, int: false }], &[]).unwrap_err();
    assert!(missing.contains("no `const FEE") && missing.contains("FEE_BPS"), "{missing}");
    let outside = honest.schema(&[range("FEE_BPS=40..60")], &[]).unwrap_err();
    assert!(outside.contains("start value 30") && outside.contains("outside the range"), "{outside}");
}

#[test]
fn tune_settings_that_cannot_work_are_refused_with_the_reason() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let s = starter.to_str().unwrap();
    let config = small_config(scratch.path());
    let c = config.to_str().unwrap();
    let refused = |extra: &[&str], needle: &str| {
        let mut args = vec!["--no-cache", "tune", s, c, "--quiet", "--budget", "600", "--out", "out"];
        args.extend_from_slice(extra);
        let (ok, out, err) = amm(&args, scratch.path());
        assert!(!ok && err.contains(needle), "{extra:?}: expected {needle:?}\n{out}\n{err}");
    };
    refused(&["--param", "skew_gain=0..100:log"], "a log range needs LO > 0");
    refused(&["--param", "base_fee_bps=50..10"], "LO must be below HI");
    refused(&["--param", "base_fee_bps=0.5..10"], "must lie within its declared range 1..=300");
    refused(&["--param", "skew_gain=1..50:int"], ":int applies to integer parameters");
    refused(&["--z", "nan"], "--z NaN: must be a number > 0");
    refused(&["--first-seeds", "0"], "at least 3 seeds");
    // (A huge --race-seeds would sort the training segment into as many buckets: refused first.)
    refused(&["--race-seeds", "1000000000000"], "--race-seeds 1000000000000: at most 4096");
    refused(&["--race-seeds", "0"], "--race-seeds 0: a race ends on at least 3 seeds");
    refused(&["--finalists", "0"], "--finalists");
    refused(&["--seed-base", "18446744073709551610"], "must fit below 2^64");
    refused(&["--seed-base", "0"], "meet the config's own seeds");
    std::fs::write(scratch.path().join("notes.db"), "not a database\n").unwrap();
    refused(&["--study", "notes.db"], "is not a SQLite file");
    refused(&["--study", "missing/dir/s.db"], "does not exist");
    refused(&["--db", "sqlite://x.db"], "a distributed study needs a PostgreSQL URL");
    refused(
        &["--db", "postgres://u@127.0.0.1:9/x", "--study", "Bad-Name"],
        "a study name is 1 to 48 of a-z, 0-9 and _",
    );
    let (ok, _, err) = amm(&["tune", "--worker"], scratch.path());
    assert!(!ok && err.contains("--db"), "a worker needs the queue: {err}");
    // The same parameter twice is refused, not silently the last.
    let (ok, _, err) = amm(
        &["--no-cache", "run", s, "--sims", "1", "--quiet", "--param", "min_fee_bps=12", "--param", "min_fee_bps=13"],
        scratch.path(),
    );
    assert!(!ok && err.contains("set twice"), "{err}");
    // A params table with a string is named as such.
    let table = scratch.path().join("string.toml");
    std::fs::write(
        &table,
        format!("[run]\nsimulations = 1\n[[strategy]]\npath = {s:?}\nparams = {{ min_fee_bps = \"12\" }}\n"),
    )
    .unwrap();
    let (ok, _, err) = amm(&["--no-cache", "run", table.to_str().unwrap(), "--quiet"], scratch.path());
    assert!(!ok && err.contains("expected a parameter value: a number, or true / false"), "{err}");
}

fn population_args<'a>(s: &'a str, c: &'a str, out: &'a str, threads: &'a str) -> Vec<&'a str> {
    let mut args = tune_args(s, c, out);
    args.truncate(args.len() - 4); // one parameter: base_fee_bps
    // A start at the top of the range, far from the shipped (tuned) defaults (the small
    // market's landscape is flat and noisy below ~150 bps), so the first best response moves.
    args.extend(["--param", "base_fee_bps=300", "--population", "2", "--payoff-seeds", "24", "--threads", threads]);
    args
}

#[test]
fn a_population_grows_by_best_responses_and_reports_every_payoff_with_its_error() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let config = small_config(scratch.path());
    let (s, c) = (starter.to_str().unwrap(), config.to_str().unwrap());
    let out = scratch.path().join("population");
    let (ok, stdout, err) = amm(&population_args(s, c, out.to_str().unwrap(), "2"), scratch.path());
    assert!(ok, "{stdout}\n{err}");
    let json = std::fs::read_to_string(out.join("population.json")).unwrap();
    let outcome: serde_json::Value = serde_json::from_str(&json).unwrap();
    let members = outcome["members"].as_array().unwrap();
    let rounds = outcome["rounds"].as_array().unwrap();
    // The start, then one member per round until the probe (or a round that finds a member again).
    assert_eq!(members[0]["origin"], "the start");
    assert!((2..=3).contains(&members.len()), "the first best response did not move from the start: {json}");
    assert_eq!(rounds.len(), members.len(), "one study per best response plus the probe");
    for r in 1..=rounds.len() {
        assert!(out.join(format!("round-{r}/summary.json")).exists(), "round {r} wrote no summary");
        assert!(out.join(format!("round-{r}/starter.tuned.wasm")).exists(), "round {r} wrote no module");
    }
    // Every ordered pair, the diagonal included, each with a standard error.
    let n = members.len();
    let payoff = outcome["payoff"].as_array().unwrap();
    assert_eq!(payoff.len(), n * n, "{json}");
    let cell = |i: usize, j: usize| {
        let p = payoff.iter().find(|p| p["row"] == i && p["column"] == j).unwrap();
        (p["mean"].as_f64().unwrap(), p["stderr"].as_f64().unwrap())
    };
    for i in 0..n {
        let (m, se) = cell(i, i);
        assert!(se > 0.0 && m.abs() <= 4.0 * se, "a member against itself: {m:+.2} ± {se:.2}");
        for j in 0..n {
            let ((a, sa), (b, sb)) = (cell(i, j), cell(j, i));
            assert!(sa > 0.0 && sb > 0.0);
            assert!((a + b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt(), "payoff {i},{j} {a:+.2} vs {j},{i} {b:+.2}");
        }
    }
    for row in ["Member 1", "Member 2"] {
        assert!(stdout.contains(&format!("  {row}")), "no payoff row {row}:\n{stdout}");
        assert!(stdout.contains(&format!("probe − {row}")), "no exploitability row {row}:\n{stdout}");
    }
    assert!(stdout.contains("estimate:"), "{stdout}");
    assert_eq!(outcome["exploitability"].as_array().unwrap().len(), n);

    // Resumed (every study replays) and on one thread: the same population, byte for byte.
    let (ok, stdout2, err) = amm(&population_args(s, c, out.to_str().unwrap(), "1"), scratch.path());
    assert!(ok, "{stdout2}\n{err}");
    assert!(err.contains("resuming"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("population.json")).unwrap(), json);
}

#[test]
fn population_settings_that_cannot_work_are_refused_with_the_reason() {
    let scratch = Scratch::new();
    let starter = example_wasm("starter");
    let config = small_config(scratch.path());
    let (s, c) = (starter.to_str().unwrap(), config.to_str().unwrap());
    let out = scratch.path().join("p");
    let o = out.to_str().unwrap();
    let base = tune_args(s, c, o);
    let cases: [(&[&str], &str); 4] = [
        (&["--population", "0"], "--population 0: give 1 to 16 rounds"),
        (&["--population", "17"], "--population 17: give 1 to 16 rounds"),
        (&["--population", "2", "self:1"], "self-play (self:K) and a population (--population) do not combine"),
        (&["--population", "2", "--study", "x.db"], "a population keeps one study per round"),
    ];
    for (extra, reason) in cases {
        let (ok, _, err) = amm(&[&base[..], extra].concat(), scratch.path());
        assert!(!ok && err.contains(reason), "{extra:?}: expected {reason:?} in {err}");
    }
}

#[test]
fn the_learned_policy_at_unit_rule_weight_and_zero_corrections_is_the_tuned_starter_quote_for_quote() {
    let scratch = Scratch::new();
    let options = amm_engine::build::BuildOptions {
        target_dir: Some(crate::support::workspace().join("target/test-wasm")),
        ..Default::default()
    };
    let policy =
        amm_engine::build::build_crate(&crate::support::workspace().join("strategies/linear-policy"), &options)
            .unwrap();
    // The shipped weights are trained: set the rule alone (weight 1 on it, no corrections).
    let weights: Vec<String> = ["rule", "bias", "vol", "flow", "weight", "epoch", "deviation"]
        .iter()
        .flat_map(|f| ["bid", "ask"].map(|side| format!("{side}_{f}={}", u8::from(*f == "rule"))))
        .collect();
    let weights: Vec<&str> = weights.iter().map(String::as_str).collect();
    let learned = field(&policy, scratch.path(), &weights);
    let rule = field(&example_wasm("starter"), scratch.path(), &[]);
    let mut corrected = learned.start.clone();
    corrected.0.insert("ask_epoch".into(), -5.0);
    let mut moved = 0;
    for seed in 0..12 {
        let a = amm_tune::evaluate(&learned, Objective::Edge, &learned.start, &learned.start, 40 + seed);
        let b = amm_tune::evaluate(&rule, Objective::Edge, &rule.start, &rule.start, 40 + seed);
        assert_eq!(a, b, "seed {seed}: the residual policy at its start differs from the starter it wraps");
        let c = amm_tune::evaluate(&learned, Objective::Edge, &corrected, &corrected, 40 + seed);
        moved += usize::from(c.edges[0] != a.edges[0]);
    }
    assert!(moved >= 10, "a correction weight changed the result on only {moved} of 12 seeds");
}

/// Starts `amm-engine tune --worker` (one thread, a 2 s lease) on `url`, its log in `log`;
/// killed when dropped.
fn study_worker(url: &str, dir: &Path, log: &Path) -> KillOnDrop {
    let log = std::fs::File::create(log).unwrap();
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(["tune", "--worker", "--db", url, "--threads", "1", "--lease", "2", "--out"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

struct KillOnDrop(std::process::Child);

/// The small study's arguments on the queue at `url`, as study `study`.
fn queue_args<'a>(s: &'a str, c: &'a str, out: &'a str, url: &'a str, study: &'a str) -> Vec<&'a str> {
    let mut args = tune_args(s, c, out);
    args.extend(["--db", url, "--study", study]);
    args
}

/// `amm-engine ARGS` started in `cwd` (stdout discarded, stderr as given), killed when dropped,
/// so a failing assertion leaves no coordinator waiting for workers.
fn spawn_amm(args: &[&str], cwd: &Path, stderr: std::process::Stdio) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(args)
            .current_dir(cwd)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    )
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A PostgreSQL schema of this test's own, named `{prefix}PIDtMILLIS`, and the URL that puts
/// the service's tables (the queue) in it, with a connection to inspect them: no other test's
/// workers see this queue.
struct QueueSchema {
    name: String,
    url: String,
    rt: tokio::runtime::Runtime,
    pg: sqlx::PgPool,
}

/// For a test on the PostgreSQL queue: its URL, a scratch directory with the small field, and
/// the starter's and the field's paths; `None` (skipped) without PostgreSQL.
fn queue_test() -> Option<(String, Scratch, String, String)> {
    let base = crate::support::postgres_url()?;
    let scratch = Scratch::new();
    let starter = example_wasm("starter").to_string_lossy().into_owned();
    let config = small_config(scratch.path()).to_string_lossy().into_owned();
    Some((base, scratch, starter, config))
}

fn queue_schema(base: &str, prefix: &str) -> QueueSchema {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let name = format!("{prefix}{}t{}", std::process::id(), since.as_millis());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let pg = rt.block_on(sqlx::PgPool::connect(base)).unwrap();
    rt.block_on(sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&pg)).unwrap();
    let url = format!("{base}{}options[search_path]={name}", if base.contains('?') { '&' } else { '?' });
    QueueSchema { name, url, rt, pg }
}

#[test]
fn a_study_on_the_postgresql_queue_is_the_study_on_one_machine_and_a_killed_worker_or_coordinator_loses_nothing() {
    let Some((base, scratch, s, c)) = queue_test() else { return };
    let (s, c) = (s.as_str(), c.as_str());
    let local = scratch.path().join("local");
    let (ok, out, err) = amm(&tune_args(s, c, local.to_str().unwrap()), scratch.path());
    assert!(ok, "{out}\n{err}");

    let QueueSchema { name: unique, url, rt, pg } = queue_schema(&base, "q");
    let running = |owner: &str| -> Option<(i64, i64)> {
        let sql = format!(
            "SELECT id, fence FROM {unique}.jobs WHERE state = 'running' AND lease_owner LIKE $1 ORDER BY id LIMIT 1"
        );
        // (An error: the workers have not made the tables yet.)
        rt.block_on(
            sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql)).bind(format!("{owner}-%")).fetch_optional(&pg),
        )
        .ok()
        .flatten()
    };

    // One worker first; the coordinator queues the study's simulations.
    let mut first = study_worker(&url, &scratch.path().join("wa"), &scratch.path().join("wa.log"));
    let dist = scratch.path().join("dist");
    let args = queue_args(s, c, dist.to_str().unwrap(), &url, &unique);
    let mut coordinator = spawn_amm(&args, scratch.path(), std::process::Stdio::null());
    // Catch the worker holding a job: freeze it (SIGSTOP) and make sure the job is still
    // running under its claim, then SIGKILL it: it dies mid-job, no chance to clean up.
    let pid = first.0.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (job, fence) = loop {
        assert!(
            Instant::now() < deadline,
            "the first worker never held a job: {}",
            std::fs::read_to_string(scratch.path().join("wa.log")).unwrap_or_default()
        );
        let Some(held) = running(&pid) else { continue };
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(100));
        if running(&pid) == Some(held) {
            break held;
        }
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    };
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // Two more workers finish the study — a `tune --worker` and a competition's `serve --role
    // worker` on the same queue; the killed one's job is queued again once its lease (2 s)
    // expires.
    let comp = crate::service::competition(scratch.path(), 2, 500, "");
    let wc = scratch.path().join("wc");
    std::fs::create_dir_all(&wc).unwrap();
    let workers = [
        study_worker(&url, &scratch.path().join("wb"), &scratch.path().join("wb.log")),
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_amm-engine"))
                .args(["serve", comp.to_str().unwrap(), "--role", "worker", "--db", &url, "--data"])
                .arg(&wc)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(scratch.path().join("wc.log")).unwrap())
                .spawn()
                .unwrap(),
        ),
    ];
    // Once the killed worker's job is done again, the coordinator is killed too, and the same
    // command resumes the study from what PostgreSQL holds (a second coordinator meanwhile would
    // be refused: the study is locked by the running one).
    let sql = format!("SELECT state FROM {unique}.jobs WHERE id = $1");
    let redone = || {
        rt.block_on(sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql.clone())).bind(job).fetch_one(&pg))
            .unwrap()
            .0
    };
    while redone() != "succeeded" {
        assert!(Instant::now() < deadline, "job {job} was not evaluated again");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, _, err) = amm(&args, scratch.path());
    let finished = coordinator.0.try_wait().unwrap().is_some();
    assert!(finished || (!ok && err.contains("is being run by another `tune --db` process")), "{err}");
    coordinator.0.kill().unwrap();
    coordinator.0.wait().unwrap();
    let (ok, out, err) = amm(&args, scratch.path());
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("resuming study"), "{err}");
    for file in ["summary.json", "report.html", "starter.tuned.wasm"] {
        let a = std::fs::read(local.join(file)).unwrap();
        let b = std::fs::read(dist.join(file)).unwrap();
        assert!(a == b, "{file} differs between the study on one machine and on the queue");
    }
    // The killed worker's job: claimed again, evaluated by another worker, recorded once, under
    // the new claim's fence.
    let sql = format!("SELECT state, attempts, fence, total FROM {unique}.jobs WHERE id = $1");
    let (state, attempts, last_fence, total): (String, i64, i64, i64) =
        rt.block_on(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(job).fetch_one(&pg)).unwrap();
    assert_eq!((state.as_str(), attempts), ("succeeded", 2), "job {job}");
    assert!(last_fence > fence, "job {job}: fence {last_fence} after the killed claim's {fence}");
    let sql = format!("SELECT fence FROM {unique}.results WHERE job = $1");
    let fences: Vec<(i64,)> = rt.block_on(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(job).fetch_all(&pg)).unwrap();
    assert_eq!(fences.len() as i64, total, "one result per evaluation of job {job}");
    assert!(fences.iter().all(|&(f,)| f == last_fence), "recorded by the last claim only: {fences:?}");
    // Both remaining workers took study jobs.
    for w in ["wb", "wc"] {
        let log = std::fs::read_to_string(scratch.path().join(format!("{w}.log"))).unwrap();
        assert!(log.contains("study job succeeded"), "worker {w} ran jobs: {log}");
    }
    drop(workers);
}

#[test]
fn an_interrupted_coordinator_takes_its_study_jobs_off_the_queue() {
    let Some((base, scratch, s, c)) = queue_test() else { return };
    let (s, c) = (s.as_str(), c.as_str());
    let QueueSchema { name: unique, url, rt, pg } = queue_schema(&base, "i");
    let out = scratch.path().join("out");
    let args = queue_args(s, c, out.to_str().unwrap(), &url, &unique);
    // No worker: the first batch waits in the queue.
    let mut coordinator = spawn_amm(&args, scratch.path(), std::process::Stdio::piped());
    let count = |state: &str| -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {unique}.jobs WHERE state = $1");
        rt.block_on(sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(state).fetch_one(&pg)).map_or(0, |r| r.0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("queued") == 0 {
        assert!(Instant::now() < deadline, "the coordinator queued nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = coordinator.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = coordinator.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut coordinator.0.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: study") && err.contains("the same command resumes"), "{err}");
    assert_eq!(count("queued"), 0, "no job left for workers to waste time on");
    assert!(count("cancelled") > 0);
}

#[test]
fn a_population_on_the_postgresql_queue_is_the_population_on_one_machine() {
    let Some((base, scratch, s, c)) = queue_test() else { return };
    let (s, c) = (s.as_str(), c.as_str());
    let local = scratch.path().join("local");
    let (ok, out, err) = amm(&population_args(s, c, local.to_str().unwrap(), "2"), scratch.path());
    assert!(ok, "{out}\n{err}");
    let QueueSchema { name: unique, url, .. } = queue_schema(&base, "p");
    let workers: Vec<KillOnDrop> = ["wa", "wb"]
        .iter()
        .map(|w| study_worker(&url, &scratch.path().join(w), &scratch.path().join(format!("{w}.log"))))
        .collect();
    let dist = scratch.path().join("dist");
    let mut args = population_args(s, c, dist.to_str().unwrap(), "2");
    args.extend(["--db", &url, "--study", &unique]);
    let (ok, out, err) = amm(&args, scratch.path());
    assert!(ok, "{out}\n{err}");
    // Each round is a study of its own in the database, its simulations run by the workers.
    assert!(err.contains(&format!("study {unique}_r1")) && err.contains(&format!("study {unique}_r3")), "{err}");
    let a = std::fs::read(local.join("population.json")).unwrap();
    let b = std::fs::read(dist.join("population.json")).unwrap();
    assert!(a == b, "population.json differs between one machine and the queue");
    for w in ["wa", "wb"] {
        let log = std::fs::read_to_string(scratch.path().join(format!("{w}.log"))).unwrap();
        assert!(log.contains("study job succeeded"), "worker {w} ran jobs: {log}");
    }
    drop(workers);
}

/// A landscape instead of simulations: a point's score on a seed is `f(point)` plus the seed's
/// luck (shared by every point: common random numbers) plus noise of its own, so the search's
/// logic runs alone, in milliseconds, with known optima.
struct Landscape<F: Fn(&[f64]) -> f64> {
    space: amm_tune::space::Space,
    f: F,
    /// Width of the uniform noise a point draws on a seed (besides the seed's luck, 200).
    noise: f64,
    /// Every evaluation computed: (point key, seed).
    computed: Vec<(String, u64)>,
}

fn hash(a: u64, b: u64) -> f64 {
    // SplitMix64 of the pair, as a uniform in [-0.5, 0.5).
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

impl<F: Fn(&[f64]) -> f64> amm_tune::execute::Executor for Landscape<F> {
    fn evaluate(
        &mut self,
        _field: &Field,
        _objective: Objective,
        work: &[amm_tune::execute::WorkItem],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<amm_tune::study::Evaluation>, String> {
        progress(work.len() as u64);
        self.computed.extend(work.iter().map(|w| (w.key(), w.seed)));
        Ok(work
            .iter()
            .map(|w| {
                let u = self.space.coordinates(&w.point);
                let own = w.point.0.values().fold(0u64, |h, v| h.rotate_left(7) ^ v.to_string().len() as u64);
                let luck = 200.0 * hash(w.seed, 0);
                let noise = self.noise * hash(w.seed, own ^ (u.iter().sum::<f64>() * 1e9) as u64);
                amm_tune::study::Evaluation { score: Some((self.f)(&u) + luck + noise), edges: Vec::new() }
            })
            .collect())
    }
}

/// A study on a synthetic landscape `f` of the unit cube with per-point noise of width `noise`,
/// and the evaluations it computed (point key, seed).
fn landscape_study(
    field: &Field,
    settings: &amm_tune::TuneSettings,
    dir: &Path,
    noise: f64,
    f: impl Fn(&[f64]) -> f64,
) -> (amm_tune::Outcome, Vec<(String, u64)>) {
    let space = amm_tune::space::Space::new(&field.schema, &field.start, &settings.only).unwrap();
    let study_path = dir.join(format!("landscape-{}-{}.db", settings.runs, settings.seed));
    let _ = std::fs::remove_file(&study_path);
    let mut study = amm_tune::study::Study::open(&study_path, &amm_tune::definition(field, settings, &space)).unwrap();
    let mut executor = Landscape { space: space.clone(), f, noise, computed: Vec::new() };
    let outcome = amm_tune::tune_with(field, settings, &mut study, &mut executor).unwrap();
    (outcome, executor.computed)
}

#[test]
fn every_candidate_trains_on_the_same_seeds_and_no_evaluation_is_charged_twice() {
    let scratch = Scratch::new();
    let field = field(&example_wasm("starter"), scratch.path(), &[]);
    let settings = amm_tune::TuneSettings { budget: 8_000, runs: 2, seed: 5, ..Default::default() };
    let bowl = |u: &[f64]| -400.0 * u.iter().map(|x| (x - 0.5) * (x - 0.5)).sum::<f64>();
    let (outcome, computed) = landscape_study(&field, &settings, scratch.path(), 40.0, bowl);
    let seg = &settings.segments;
    // One set of training seeds, as many as a race ends on, for every generation.
    let training: std::collections::BTreeSet<u64> =
        computed.iter().map(|&(_, s)| s).filter(|&s| s >= seg.train && s < seg.validation).collect();
    assert_eq!(training.len(), settings.race.last, "training seeds: {training:?}");
    assert!(outcome.generations > 4, "{} generations", outcome.generations);
    // The incumbents are asked for again every generation: found in the study, never computed
    // twice, and the budget counts each evaluation once.
    let distinct: std::collections::BTreeSet<&(String, u64)> = computed.iter().collect();
    assert_eq!(distinct.len(), computed.len(), "an evaluation was computed twice");
    assert_eq!(outcome.simulations, computed.len() as u64, "the budget charged what was computed");
    // Each run's first mean is the start itself, not its round trip through the cube (on a log
    // scale a different point in the last digits, which would run again under its own key and
    // could take a finalist's place).
    let first = outcome.trials.iter().filter(|t| t.generation == 1);
    assert_eq!(first.filter(|t| t.params == outcome.start).count(), settings.runs, "the start in generation 1");
    assert!(outcome.simulations <= settings.budget);
}

#[test]
fn raced_runs_search_side_by_side_until_half_the_budget_then_only_the_leader_goes_on() {
    let scratch = Scratch::new();
    let field = field(&example_wasm("starter"), scratch.path(), &[]);
    let settings = amm_tune::TuneSettings { budget: 12_000, runs: 2, seed: 3, ..Default::default() };
    // A plateau: every point scores the seed's luck alone, so no run is ever clearly behind
    // the other, and the one that stops is stopped by the budget rule.
    let plateau = |_: &[f64]| 0.0;
    let noise = 0.0;
    let (two, _) = landscape_study(&field, &settings, scratch.path(), noise, plateau);
    let per_generation = |o: &amm_tune::Outcome, g: u32| o.trials.iter().filter(|t| t.generation == g).count();
    let one_run = amm_tune::TuneSettings { runs: 1, ..settings.clone() };
    let (one, _) = landscape_study(&field, &one_run, scratch.path(), noise, plateau);
    // A generation of one run: its λ samples and its distribution's mean.
    let lambda = amm_tune::cmaes::default_lambda(11);
    assert_eq!(per_generation(&one, 1), lambda + 1, "generation 1 of one run");
    // Two runs: both runs' candidates, until half the search budget is spent...
    assert_eq!(per_generation(&two, 1), 2 * (lambda + 1), "generation 1 of two runs");
    assert_eq!(two.runs.len(), 2);
    let (stopped, went_on) = (two.runs[0].min(two.runs[1]), two.runs[0].max(two.runs[1]));
    assert!(stopped < went_on && went_on == two.generations as u32, "runs stopped at {:?}", two.runs);
    // ...which is when the one behind stops: the first generation that starts with half the
    // search budget spent (`best_so_far[g]`: the simulations used after generation g).
    let search = settings.budget - 5 * 200 - 2 * 500;
    let half = two.best_so_far.iter().position(|b| b.0 * 2 >= search).unwrap() as u32;
    assert_eq!(stopped, half, "the run behind stopped at generation {stopped}, half the budget at {half}");
    assert!(half > 2, "half the budget after {half} generations");
    for g in 1..=half {
        assert_eq!(per_generation(&two, g), 2 * (lambda + 1), "generation {g}: both runs");
    }
    assert_eq!(per_generation(&two, half + 1), lambda + 1, "after half the budget only the leading run searches");
    assert_eq!(one.runs, vec![one.generations as u32]);
    // Deterministic: the same study twice is the same study.
    let (again, _) = landscape_study(&field, &settings, scratch.path(), noise, plateau);
    assert_eq!(two, again);
    assert_ne!(two.trials, one.trials);
}

#[test]
fn a_study_from_another_version_is_refused_as_such_and_another_definition_names_what_differs() {
    let scratch = Scratch::new();
    let path = scratch.path().join("old.db");
    let old = [("format", "amm-tune study 3".to_string()), ("seed", "1".to_string())];
    drop(amm_tune::study::Study::open(&path, &old).unwrap());
    let now = [("format", "amm-tune study 4".to_string()), ("seed", "1".to_string())];
    let err = amm_tune::study::Study::open(&path, &now).err().unwrap().to_string();
    assert!(
        err.contains("another version of amm-engine (amm-tune study 3; this one writes amm-tune study 4)"),
        "{err}"
    );
    assert!(err.contains("cannot be resumed: give a new --study file"), "{err}");
    let other = [("format", "amm-tune study 3".to_string()), ("seed", "2".to_string())];
    let err = amm_tune::study::Study::open(&path, &other).err().unwrap().to_string();
    assert!(err.contains("its seed differs: 1"), "{err}");
}
