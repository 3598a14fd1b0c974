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
