//! The `amm-engine` binary as a user runs it.

use std::path::Path;
use std::process::Command;

use crate::support::workspace;

fn amm_engine(args: &[&str], cwd: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn validate_passes_every_example_strategy() {
    let wasm: Vec<String> = crate::support::EXAMPLES
        .iter()
        .map(|e| crate::support::example_wasm(e).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = std::iter::once("validate")
        .chain(wasm.iter().map(String::as_str))
        .collect();
    let (ok, out) = amm_engine(&args, &workspace());
    assert!(ok, "{out}");
    for check in ["format", "interface", "metadata", "limits", "hooks", "quotes", "purity"] {
        assert_eq!(
            out.matches(&format!("  {check:<10} PASS")).count(),
            wasm.len(),
            "{check}:\n{out}"
        );
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
    assert!(
        out.contains("quotes     FAIL  compute_swap faulted: out of fuel"),
        "{out}"
    );
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
