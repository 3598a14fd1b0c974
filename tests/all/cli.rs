//! The `amm-engine` binary as a user runs it.

use std::path::Path;
use std::process::Command;

use crate::support::workspace;

fn amm_engine(args: &[&str], cwd: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine")).args(args).current_dir(cwd).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn validate_passes_every_example_strategy() {
    let wasm: Vec<String> = crate::support::EXAMPLES
        .iter()
        .map(|e| crate::support::example_wasm(e).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = std::iter::once("validate").chain(wasm.iter().map(String::as_str)).collect();
    let (ok, out) = amm_engine(&args, &workspace());
    assert!(ok, "{out}");
    for check in ["format", "interface", "metadata", "limits", "hooks", "quotes", "purity", "smoke"] {
        assert_eq!(out.matches(&format!("  {check:<10} PASS")).count(), wasm.len(), "{check}:\n{out}");
    }
}

#[test]
fn validate_fails_a_hostile_module_naming_the_reason() {
    let dir = crate::support::Scratch::new();
    let path = dir.path().join("looper.wasm");
    let looping = crate::support::strategy_wat("(loop $l (br $l)) (i64.const 0)", "");
    std::fs::write(&path, wat::parse_str(looping).unwrap()).unwrap();
    let (ok, out) = amm_engine(&["validate", path.to_str().unwrap()], dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("quotes     FAIL  compute_swap faulted: out of fuel"), "{out}");
    assert!(out.contains("purity     SKIP"), "{out}");
}

#[test]
fn new_scaffolds_a_strategy_that_validates() {
    let dir = crate::support::Scratch::new();
    let (ok, out) = amm_engine(&["new", "demo"], dir.path());
    assert!(ok, "{out}");
    let (ok, out) = amm_engine(&["validate", "demo"], dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("name \"demo\""), "{out}");
    let (ok, out) = amm_engine(&["new", "demo"], dir.path());
    assert!(!ok && out.contains("already exists"), "refuses to overwrite:\n{out}");
}

#[test]
fn new_single_file_writes_a_strategy_that_validates() {
    let dir = crate::support::Scratch::new();
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(args)
            .current_dir(dir.path())
            .env("AMM_ENGINE_CACHE", &cache)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    };
    let (ok, out) = run(&["new", "--single-file", "my_fees.rs"]);
    assert!(ok && out.contains("created my_fees.rs"), "{out}");
    let (ok, out) = run(&["validate", "my_fees.rs"]);
    assert!(ok, "{out}");
    assert!(out.contains("build      PASS") && out.contains("name \"my fees\""), "{out}");
    let (ok, out) = run(&["new", "--single-file", "my_fees.rs"]);
    assert!(!ok && out.contains("my_fees.rs already exists"), "refuses to overwrite:\n{out}");
    let (ok, out) = run(&["new", "--single-file", "my_fees"]);
    assert!(!ok && out.contains("is not a .rs file name"), "{out}");
}

/// The README's author quick start, run command by command in an empty directory with the
/// built binary: `cargo install` and `rustup` are the setup this test already has; `cd` moves;
/// `run` gets `--steps 200 --epoch-len 100 --quiet` to stay quick; `my_amm.rs` is our Prop AMM
/// fixture (a Prop AMM Challenge lib.rs in that challenge's form).
#[test]
fn the_readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let marker = "<!-- quick-start: tests/all/cli.rs runs every command of the next block -->";
    let block = &readme[readme.find(marker).expect("the quick-start marker") + marker.len()..];
    let block = &block[block.find("```sh\n").expect("an sh block after the marker") + 6..];
    let block = &block[..block.find("```").expect("closed")];
    let dir = crate::support::Scratch::new();
    let cache = dir.path().join("cache");
    std::fs::copy(workspace().join("tests/fixtures/source/prop_amm_cfmm.rs"), dir.path().join("my_amm.rs")).unwrap();
    let mut cwd = dir.path().to_path_buf();
    let mut ran = Vec::new();
    for line in block.lines() {
        let command = line.split(" #").next().unwrap_or(line).trim();
        if command.is_empty() || command.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = command.split_whitespace().collect();
        let (program, args) = (words[0], &words[1..]);
        let output = match program {
            "cargo" if args.first() == Some(&"install") => continue,
            "rustup" => continue,
            "cd" => {
                cwd = cwd.join(args[0]);
                continue;
            }
            "amm-engine" => {
                let mut args: Vec<&str> = args.to_vec();
                if args[0] == "run" {
                    args.extend(["--steps", "200", "--epoch-len", "100", "--quiet"]);
                }
                Command::new(env!("CARGO_BIN_EXE_amm-engine"))
                    .args(&args)
                    .current_dir(&cwd)
                    .env("AMM_ENGINE_CACHE", &cache)
                    .output()
                    .unwrap()
            }
            "cargo" => Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(args)
                .current_dir(&cwd)
                .output()
                .unwrap(),
            other => panic!("the quick start runs {other:?}, which this test does not know: {command}"),
        };
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{command} (in {}):\n{text}", cwd.display());
        ran.push((command.to_string(), text));
    }
    let names: Vec<&str> = ran.iter().map(|(c, _)| c.as_str()).collect();
    for expected in [
        "amm-engine new my-strategy",
        "cargo test",
        "amm-engine new --single-file my_single_file.rs",
        "amm-engine validate my_amm.rs",
        "amm-engine run my-strategy my_single_file.rs my_amm.rs --simulations 20",
    ] {
        assert!(names.contains(&expected), "the quick start shows `{expected}`: {names:?}");
    }
    // The last run raced all three forms together.
    let (_, last) = ran.last().unwrap();
    for name in ["my strategy", "my single file", "Prop CFMM 30 bps"] {
        assert!(last.contains(name), "{name} raced:\n{last}");
    }
}

#[test]
fn the_job_array_script_runs_shards_that_merge_into_the_single_run() {
    let dir = crate::support::Scratch::new();
    let out = dir.path().join("out");
    let script = workspace().join("deploy/shard-task.sh");
    let config = workspace().join("configs/quick.toml");
    for index in 0..2 {
        let status = Command::new("bash")
            .arg(&script)
            .args(["--sims", "5", "--steps", "600"])
            .env("CONFIG", &config)
            .env("SHARDS", "2")
            .env("OUT", &out)
            .env("SLURM_ARRAY_TASK_ID", index.to_string())
            .env("AMM_ENGINE", env!("CARGO_BIN_EXE_amm-engine"))
            .current_dir(workspace())
            .output()
            .unwrap();
        assert!(status.status.success(), "shard {index}: {}", String::from_utf8_lossy(&status.stderr));
    }
    let shards = [out.join("shard-0"), out.join("shard-1")];
    let merged = out.join("merged");
    let (ok, text) = amm_engine(
        &["merge", shards[1].to_str().unwrap(), shards[0].to_str().unwrap(), "--out", merged.to_str().unwrap()],
        &workspace(),
    );
    assert!(ok, "{text}");
    let single = dir.path().join("single");
    let (ok, text) = amm_engine(
        &[
            "run",
            config.to_str().unwrap(),
            "--sims",
            "5",
            "--steps",
            "600",
            "--quiet",
            "--out",
            single.to_str().unwrap(),
        ],
        &workspace(),
    );
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(merged.join("results.json")).unwrap(),
        std::fs::read(single.join("results.json")).unwrap()
    );
    // How the run happened is recorded beside the results, not in them.
    let facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(single.join("run.json")).unwrap()).unwrap();
    assert!(facts["threads"].as_u64().is_some_and(|t| t >= 1), "{facts}");
    assert_eq!(facts["backend"], "wasm", "{facts}");
    assert!(facts["wall_seconds"].as_f64().is_some_and(|t| t > 0.0), "{facts}");
}

#[test]
fn validate_catches_a_time_bomb_in_its_smoke_simulation() {
    let path = workspace().join("tests/fixtures/hostile/time_bomb.wat");
    let (ok, out) = amm_engine(&["validate", path.to_str().unwrap()], &workspace());
    assert!(!ok, "{out}");
    assert!(out.contains("quotes     PASS") && out.contains("hooks      PASS"), "short checks pass:\n{out}");
    assert!(out.contains("smoke      FAIL  disqualified at step"), "{out}");
    assert!(out.contains("in after_swap: trap: unreachable"), "{out}");
}

/// Runs the binary: its exit code and what it printed (stdout, then stderr).
fn amm_engine_code(args: &[&str], cwd: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine")).args(args).current_dir(cwd).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

/// A config with the values of configs/default.toml and these strategies.
fn default_config_with(paths: &[&Path]) -> String {
    let text = std::fs::read_to_string(workspace().join("configs/default.toml")).unwrap();
    let market = &text[..text.find("[[strategy]]").unwrap()];
    let entries: String = paths.iter().map(|p| format!("[[strategy]]\npath = {:?}\n", p.to_str().unwrap())).collect();
    format!("{market}{entries}")
}

#[test]
fn run_takes_strategy_files_without_a_config_in_the_default_market() {
    let dir = crate::support::Scratch::new();
    // Canonical paths, as the command line records them.
    let starter = crate::support::example_wasm("starter").canonicalize().unwrap();
    let fixed = crate::support::example_wasm("fixed-fee-30").canonicalize().unwrap();
    let flags = ["--simulations", "3", "--steps", "400", "--epoch-len", "100", "--seed-start", "7", "--quiet"];
    let direct = dir.path().join("direct");
    let mut args = vec!["run", starter.to_str().unwrap(), fixed.to_str().unwrap()];
    args.extend(flags);
    args.extend(["--out", direct.to_str().unwrap()]);
    let (code, out) = amm_engine_code(&args, dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("== built-in default market (2 strategies)"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(direct.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["seeds"], serde_json::json!({ "start": 7, "stride": 1, "count": 3 }));
    assert_eq!(results["config"]["run"]["steps"], 400);
    assert_eq!(results["config"]["run"]["epoch_len"], 100);
    let names: Vec<&str> =
        results["strategies"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Adaptive Starter") && names.contains(&"Fixed 30 bps"), "{names:?}");

    // The same strategies in a copy of configs/default.toml give the same bytes.
    let config = dir.path().join("copy.toml");
    std::fs::write(&config, default_config_with(&[&starter, &fixed])).unwrap();
    let via_config = dir.path().join("via-config");
    let mut args = vec!["run", config.to_str().unwrap()];
    args.extend(flags);
    args.extend(["--out", via_config.to_str().unwrap()]);
    let (code, out) = amm_engine_code(&args, dir.path());
    assert_eq!(code, Some(0), "{out}");
    let same =
        std::fs::read(direct.join("results.json")).unwrap() == std::fs::read(via_config.join("results.json")).unwrap();
    assert!(same, "the built-in market differs from configs/default.toml");

    // Without --out, the results are named after the strategies.
    let (code, out) =
        amm_engine_code(&["run", fixed.to_str().unwrap(), "--sims", "1", "--steps", "50", "--quiet"], dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(dir.path().join("results/fixed_fee_30/results.json").is_file(), "{out}");
}

#[test]
fn strategies_beside_a_config_join_its_entrants() {
    let dir = crate::support::Scratch::new();
    let a = crate::support::example_wasm("fixed-fee-100");
    let config = dir.path().join("one.toml");
    std::fs::write(&config, default_config_with(&[&a])).unwrap();
    let b = dir.path().join("extra.wat");
    std::fs::write(&b, crate::support::strategy_wat("(i64.const 0)", "")).unwrap();
    let out_dir = dir.path().join("out");
    let (code, out) = amm_engine_code(
        &[
            "run",
            b.to_str().unwrap(),
            config.to_str().unwrap(),
            "--sims",
            "2",
            "--steps",
            "200",
            "--quiet",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("one.toml (2 strategies)"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    let names: Vec<&str> =
        results["strategies"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Fixed 100 bps") && names.contains(&"extra"), "{names:?}");
}

#[test]
fn an_argument_that_is_neither_config_nor_strategy_is_a_usage_error() {
    let dir = crate::support::Scratch::new();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    for command in ["run", "submit", "validate"] {
        for (arg, why) in [
            ("missing.wasm", "missing.wasm: no such file or directory"),
            ("missing.rs", "missing.rs: no such file or directory"),
            ("notes.txt", "notes.txt: not a .toml, .wasm, .wat or .rs file"),
            ("empty", "empty: a directory without a Cargo.toml"),
        ] {
            let (code, out) = amm_engine_code(&[command, arg], dir.path());
            assert_eq!(code, Some(2), "{command} {arg}: {out}");
            assert!(out.contains(why), "{command} {arg}: {out}");
            assert!(
                out.contains(
                    "each argument may be a run configuration (a .toml file), a strategy module (a .wasm or .wat file), \
                     a single-file Rust strategy (a .rs file using amm_strategy_sdk) or a strategy crate directory"
                ),
                "{command} {arg}: {out}"
            );
        }
    }
    // `run my.wasm` on a binary module no longer tries to parse it as TOML.
    let wasm = crate::support::example_wasm("fixed-fee-0");
    let (code, out) = amm_engine_code(&["validate", wasm.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("UTF-8"), "{out}");
}

#[test]
fn submit_and_validate_take_strategies_and_configs() {
    let dir = crate::support::Scratch::new();
    let a = crate::support::example_wasm("fixed-fee-30");
    let bundle = dir.path().join("bundle");
    let (code, out) = amm_engine_code(
        &[
            "submit",
            a.to_str().unwrap(),
            "--simulations",
            "2",
            "--steps",
            "100",
            "--quiet",
            "--out",
            bundle.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) =
        amm_engine_code(&["verify", bundle.join("receipt.json").to_str().unwrap(), "--quiet"], dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("VERIFIED"), "{out}");

    // validate: a config stands for its strategies.
    let config = dir.path().join("two.toml");
    let b = crate::support::example_wasm("fixed-fee-500");
    std::fs::write(&config, default_config_with(&[&a, &b])).unwrap();
    let (code, out) = amm_engine_code(&["validate", config.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("  => PASS").count(), 2, "{out}");
}

/// `validate CONFIG` checks the config's strategies under the config's `[sandbox]` limits, as
/// `run` runs them; a strategy given alone, under the defaults. A curve spending about 50,000
/// fuel a quote passes alone (the default quote budget is 100,000) and fails in a config that
/// allows 20,000.
#[test]
fn validate_checks_a_configs_strategies_under_its_sandbox_limits() {
    let dir = crate::support::Scratch::new();
    let expensive = workspace().join("tests/fixtures/honest/expensive_power_curve.wat");
    let (code, out) = amm_engine_code(&["validate", expensive.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0), "alone, default limits: {out}");
    let config = dir.path().join("tight.toml");
    std::fs::write(
        &config,
        format!("[sandbox]\nquote_fuel = 20000\n\n[[strategy]]\npath = {:?}\n", expensive.display().to_string()),
    )
    .unwrap();
    let (code, out) = amm_engine_code(&["validate", config.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(1), "under the config's 20,000: {out}");
    assert!(out.contains("compute_swap faulted: out of fuel") && out.contains("20000"), "{out}");
}

#[test]
fn a_config_naming_a_missing_strategy_is_a_config_error() {
    let dir = crate::support::Scratch::new();
    let good = crate::support::example_wasm("fixed-fee-30");
    let config = dir.path().join("typo.toml");
    std::fs::write(&config, default_config_with(&[&good, Path::new("strategies/no-such-strategy")])).unwrap();
    for command in ["run", "submit"] {
        let (code, out) = amm_engine_code(&[command, config.to_str().unwrap(), "--sims", "1", "--quiet"], dir.path());
        assert_eq!(code, Some(2), "{command}: {out}");
        assert!(out.contains("strategy[1].path = \"strategies/no-such-strategy\": cannot read"), "{command}: {out}");
        assert!(!dir.path().join("results").exists() && !dir.path().join("submissions").exists(), "nothing ran");
    }
    let (code, out) = amm_engine_code(&["validate", config.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("strategy[1].path"), "{out}");
}

#[test]
fn a_run_in_which_every_entrant_is_refused_fails_with_the_reasons() {
    let dir = crate::support::Scratch::new();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a module").unwrap();
    let no_exports = dir.path().join("empty.wat");
    std::fs::write(&no_exports, "(module)").unwrap();
    let (code, out) = amm_engine_code(
        &["run", junk.to_str().unwrap(), no_exports.to_str().unwrap(), "--sims", "1", "--quiet"],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("rejected  junk:"), "{out}");
    assert!(out.contains("rejected  empty:"), "{out}");
    assert!(out.contains("every strategy was refused at load"), "{out}");
    assert!(!dir.path().join("results").exists(), "no results for a run that did not happen");
    // One good entrant is enough to run.
    let good = crate::support::example_wasm("fixed-fee-0");
    let (code, out) = amm_engine_code(
        &["run", junk.to_str().unwrap(), good.to_str().unwrap(), "--sims", "1", "--steps", "50", "--quiet"],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("rejected  junk:"), "{out}");
}

#[test]
fn new_works_outside_any_checkout_with_the_embedded_sdk() {
    // A temporary directory outside the repository, as for an installed binary.
    let dir = std::env::temp_dir().join(format!("amm-engine-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(!dir.starts_with(workspace().canonicalize().unwrap()));
    let (code, out) = amm_engine_code(&["new", "outside"], &dir);
    assert_eq!(code, Some(0), "{out}");
    let krate = dir.join("outside");
    let sdk = krate.join(".amm-sdk").join(env!("CARGO_PKG_VERSION"));
    assert!(sdk.join("Cargo.toml").is_file() && sdk.join("src/lib.rs").is_file(), "{out}");
    // No path into the engine's checkout anywhere in the new crate.
    let checkout = workspace().canonicalize().unwrap();
    let mut stack = vec![krate.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(!text.contains(checkout.to_str().unwrap()), "{} names the checkout", path.display());
            }
        }
    }
    // It builds offline, as its README says, with the crate's own target directory.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--offline", "--release", "--target", "wasm32-unknown-unknown"])
        .env_remove("CARGO_TARGET_DIR")
        .current_dir(&krate)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let module = krate.join("target/wasm32-unknown-unknown/release/outside.wasm");
    let built_by_cargo = std::fs::read(&module).unwrap();
    // With the flags of its `.cargo/config.toml`: the starter's u128 math on wide arithmetic.
    assert!(crate::support::wide_arithmetic_ops(&built_by_cargo) > 0, "the new crate's module has no wide arithmetic");
    std::fs::remove_file(&module).unwrap();
    // `validate` from the parent directory builds it as `cargo build` in the crate did (the
    // crate's config applies wherever amm-engine runs): the very same module.
    let (code, out) = amm_engine_code(&["validate", "outside"], &dir);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read(&module).unwrap(), built_by_cargo, "validate built another module");
    // A relative CARGO_TARGET_DIR is where amm-engine runs, as for cargo there.
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["validate", "outside"])
        .env("CARGO_TARGET_DIR", "relative-target")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(dir.join("relative-target/wasm32-unknown-unknown/release/outside.wasm").is_file());
    assert!(!krate.join("relative-target").exists(), "CARGO_TARGET_DIR taken relative to the crate");
    assert!(out.contains("  => PASS") && out.contains("name \"outside\""), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `amm-engine run … | head -1`: the reader is gone before the leaderboard is printed. The run
/// still writes its results and ends quietly with status 0 (as ripgrep does), not with a panic
/// about a broken pipe.
#[test]
fn a_closed_stdout_ends_a_run_quietly_with_status_zero() {
    use std::process::Stdio;
    let dir = crate::support::Scratch::new();
    let module = crate::support::example_wasm("fixed-fee-30");
    let out_dir = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["run", module.to_str().unwrap(), "--sims", "1", "--steps", "50", "--epoch-len", "10", "--quiet"])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the only read end: every write to the child's stdout now fails with EPIPE.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert!(out_dir.join("results.json").is_file(), "the run's results are written before printing:\n{stderr}");
}

/// `amm-engine run … 2>&1 | head -1` and `run … 2>/dev/full`: stderr carries only diagnostics
/// (the config line, each entrant loaded), so a closed or full stderr must not cost the run its
/// results: it still writes results.json and exits 0 (it used to panic with status 101 at the
/// first diagnostic, before anything was written).
#[test]
fn a_closed_or_full_stderr_does_not_lose_a_runs_results() {
    use std::process::Stdio;
    let dir = crate::support::Scratch::new();
    let module = crate::support::example_wasm("fixed-fee-30");
    let run = |out_dir: &Path, stderr: Stdio| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(["run", module.to_str().unwrap(), "--sims", "2", "--steps", "50", "--epoch-len", "10"])
            .arg("--out")
            .arg(out_dir)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        // A closed pipe: the read end is dropped before the child writes anything.
        drop(child.stderr.take());
        child.wait_with_output().unwrap()
    };
    let closed = dir.path().join("closed");
    let output = run(&closed, Stdio::piped());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(closed.join("results.json").is_file(), "{stdout}");
    assert!(stdout.contains("wrote "), "stdout is still written: {stdout}");
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out_dir = dir.path().join("full");
        let output = run(&out_dir, Stdio::from(full));
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
        assert!(out_dir.join("results.json").is_file());
    }
}

/// `run … >/dev/full`: a full disk behind stdout is a real error (unlike a reader that left):
/// status 2 and one error line on stderr, and the results are still on disk.
#[test]
fn a_full_stdout_is_one_error_line_and_status_two() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else { return };
    let dir = crate::support::Scratch::new();
    let module = crate::support::example_wasm("fixed-fee-30");
    let out_dir = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["run", module.to_str().unwrap(), "--sims", "1", "--steps", "50", "--epoch-len", "10", "--quiet"])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(dir.path())
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("cannot write to stdout"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out_dir.join("results.json").is_file(), "{stderr}");
}

/// `amm-engine run nothing.toml`: one line that says what failed and why, each once (the OS's
/// reason used to appear twice: in the message and again as its cause).
#[test]
fn a_missing_config_is_reported_once() {
    let dir = crate::support::Scratch::new();
    for command in ["run", "validate", "submit"] {
        let (code, out) = amm_engine_code(&[command, "nothing.toml"], dir.path());
        assert_eq!(code, Some(2), "{command}: {out}");
        assert_eq!(out.matches("nothing.toml").count(), 1, "{command}: {out}");
        assert_eq!(out.matches("No such file or directory").count(), 1, "{command}: {out}");
        assert_eq!(out.lines().count(), 1, "{command}: {out}");
    }
}

/// The mission's usage line, `amm-engine run configs/*.toml`: every shipped configuration runs,
/// the competition file included (a few short simulations each).
#[test]
fn every_shipped_config_runs() {
    let dir = crate::support::Scratch::new();
    let mut configs: Vec<_> = std::fs::read_dir(workspace().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 7, "{configs:?}");
    assert!(configs.iter().any(|c| c.ends_with("competition.toml")), "{configs:?}");
    for config in &configs {
        let out_dir = dir.path().join(config.file_stem().unwrap());
        let args = [config.to_str().unwrap(), "--sims", "2", "--steps", "200", "--epoch-len", "100", "--quiet"];
        let (code, out) =
            amm_engine_code(&[&["run"], &args[..], &["--out", out_dir.to_str().unwrap()]].concat(), &workspace());
        assert_eq!(code, Some(0), "{}: {out}", config.display());
        assert!(out_dir.join("results.json").is_file(), "{}: {out}", config.display());
    }
}

/// `run configs/competition.toml my_strategy` races the house field on the competition's public
/// seeds, which tells an author locally what the board will say; `validate` checks the house
/// field and `submit` bundles the same run.
#[test]
fn a_competition_file_runs_its_house_field_on_the_public_seeds() {
    let dir = crate::support::Scratch::new();
    let competition = dir.path().join("competition.toml");
    let house = crate::support::example_wasm("fixed-fee-30");
    let text = format!(
        "[run]\nsteps = 200\nepoch_len = 100\n\n[[strategy]]\npath = {:?}\n\n[competition]\nname = \"local\"\n\
         public_seeds = {{ start = 40, count = 3 }}\nhidden_seeds = {{ start = 1000, count = 5 }}\n",
        house.to_str().unwrap()
    );
    std::fs::write(&competition, text).unwrap();
    let mine = dir.path().join("mine.wat");
    std::fs::write(&mine, crate::support::strategy_wat("(i64.const 0)", "")).unwrap();
    let out_dir = dir.path().join("out");
    let (code, out) = amm_engine_code(
        &["run", "competition.toml", "mine.wat", "--quiet", "--out", out_dir.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("competition.toml (2 strategies)"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["seeds"], serde_json::json!({ "start": 40, "stride": 1, "count": 3 }));
    let names: Vec<&str> =
        results["strategies"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Fixed 30 bps", "mine"]);

    let (code, out) = amm_engine_code(&["validate", "competition.toml"], dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("  => PASS").count(), 1, "{out}");

    let bundle = dir.path().join("bundle");
    let (code, out) = amm_engine_code(
        &["submit", "competition.toml", "mine.wat", "--quiet", "--out", bundle.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) =
        amm_engine_code(&["verify", bundle.join("receipt.json").to_str().unwrap(), "--quiet"], dir.path());
    assert_eq!(code, Some(0), "{out}");

    // The [competition] table is read, not skipped: its mistakes are errors naming the key.
    std::fs::write(
        &competition,
        "[[strategy]]\npath = \"mine.wat\"\n\n[competition]\nname = \"local\"\npublic_seeds = { start = 0, count = 3 }\n\
         hidden_seeds = { start = 1, count = 3 }\n",
    )
    .unwrap();
    let (code, out) = amm_engine_code(&["run", "competition.toml", "--quiet"], dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("competition.hidden_seeds overlaps competition.public_seeds"), "{out}");
}

/// Input mistakes are one kind of error, status 2, each said once: a missing path and a
/// directory that is not a crate, given on the command line or in a config; `--sims` states its
/// real range; one strategy is "1 strategy".
#[test]
fn input_mistakes_are_one_status_and_say_each_thing_once() {
    let dir = crate::support::Scratch::new();
    std::fs::create_dir(dir.path().join("notacrate")).unwrap();
    let module = crate::support::example_wasm("fixed-fee-30");
    for target in ["missing.wasm", "notacrate"] {
        let config = dir.path().join(format!("{target}.toml"));
        std::fs::write(&config, format!("[run]\nsteps = 50\nepoch_len = 10\n\n[[strategy]]\npath = {target:?}\n"))
            .unwrap();
        for args in [vec!["run", target, "--quiet"], vec!["run", config.to_str().unwrap(), "--quiet"]] {
            let (code, out) = amm_engine_code(&args, dir.path());
            assert_eq!(code, Some(2), "{args:?}: {out}");
            // On the command line: the path once. In a config: the config file (named after the
            // target here), the entry's value as written and the path it resolved to.
            let expected = if args[1].ends_with(".toml") { 3 } else { 1 };
            assert_eq!(out.matches(target).count(), expected, "{args:?}: {out}");
            assert!(!out.contains("))"), "nested parentheses: {out}");
        }
    }
    let (code, out) = amm_engine_code(&["run", module.to_str().unwrap(), "--sims", "0"], dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("1..=4294967295") && !out.contains("0..="), "{out}");
    let out_dir = dir.path().join("one");
    let args = ["run", module.to_str().unwrap(), "--sims", "1", "--steps", "50", "--epoch-len", "10", "--quiet"];
    let (code, out) = amm_engine_code(&[&args[..], &["--out", out_dir.to_str().unwrap()]].concat(), dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(1 strategy)"), "{out}");
}

/// `token create … > /dev/full`: the token is shown before it is stored, so a token nobody saw
/// is never stored: the command fails saying so.
#[test]
fn a_token_that_cannot_be_shown_is_not_stored() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else { return };
    let dir = crate::support::Scratch::new();
    let data = dir.path().join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["token", "create", "alice", "--data"])
        .arg(&data)
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not stored"), "{stderr}");
    let db = data.join("amm-service.db");
    let tokens = Command::new("sqlite3").arg(&db).arg("SELECT COUNT(*) FROM tokens").output();
    if let Some(tokens) = tokens.ok().filter(|o| o.status.success()) {
        assert_eq!(String::from_utf8_lossy(&tokens.stdout).trim(), "0");
    }
}

/// `run … --out DIR` where DIR cannot be created (here under a regular file, which refuses even
/// root): refused before any strategy is loaded or any simulation runs, naming the directory
/// and what to do. It used to run every simulation first and lose them at the end.
#[test]
fn an_output_directory_that_cannot_be_created_is_refused_before_the_run() {
    let dir = crate::support::Scratch::new();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out_dir = file.join("results");
    let module = crate::support::example_wasm("fixed-fee-30");
    let args = ["run", module.to_str().unwrap(), "--sims", "1", "--steps", "50", "--epoch-len", "10", "--quiet"];
    let (code, out) = amm_engine_code(&[&args[..], &["--out", out_dir.to_str().unwrap()]].concat(), dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("cannot create {}", out_dir.display())), "{out}");
    assert!(out.contains("--out"), "says what to do: {out}");
    assert!(!out.contains("loaded"), "strategies were loaded (and run) before the output was checked: {out}");
}
