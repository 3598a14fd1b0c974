//! Building a strategy crate into a `.wasm` on demand.
//!
//! Authors point `validate`, `run` and configs at a crate directory as readily as at a `.wasm`;
//! the engine runs `cargo build --release --target wasm32-unknown-unknown` for them (or the
//! target the crate names in `[package.metadata.amm-engine]`) and picks the produced module out
//! of cargo's JSON messages, so workspace layouts and custom target directories just work.
//!
//! An author's crate is their own project, built with their toolchain and their settings, as
//! `cargo build` in its directory would build it: unlike a single file ([`super::single_file`])
//! it is not screened or limited (a submission to a server is a `.wasm`, or a single file).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::diagnostics::{artifact_files, rendered_diagnostics, target_missing};
use super::error::BuildError;
use super::options::BuildOptions;

/// The target strategies are built for, unless the crate asks for another with
/// `[package.metadata.amm-engine] target = "wasm32-wasip1"` (a `std` strategy that prints).
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Targets a crate may ask for.
pub const ALLOWED_TARGETS: &[&str] = &[WASM_TARGET, "wasm32-wasip1"];

/// The target a crate's manifest asks for (`[package.metadata.amm-engine] target`).
fn crate_target(manifest: &Path) -> Result<String, BuildError> {
    let text = std::fs::read_to_string(manifest).map_err(|_| BuildError::NotACrate(manifest.to_path_buf()))?;
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| BuildError::Manifest {
        manifest: manifest.to_path_buf(),
        message: e.to_string(),
    })?;
    let target = value
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("amm-engine"))
        .and_then(|a| a.get("target"))
        .and_then(|t| t.as_str())
        .unwrap_or(WASM_TARGET);
    if !ALLOWED_TARGETS.contains(&target) {
        return Err(BuildError::Manifest {
            manifest: manifest.to_path_buf(),
            message: format!("package.metadata.amm-engine.target = {target:?}: use one of {ALLOWED_TARGETS:?}"),
        });
    }
    Ok(target.to_string())
}

/// `stderr` without rustc's notice that the wide-arithmetic target feature is unstable (printed
/// once per crate built with [`crate::scaffold::STRATEGY_RUSTFLAGS`]): a failed build's report
/// leads with the author's errors, not with a flag the scaffold chose.
fn without_flag_notice(stderr: &str) -> String {
    let mut kept = Vec::new();
    let mut skipping = false;
    for line in stderr.lines() {
        if line.starts_with("warning: unstable feature specified for `-Ctarget-feature`: `wide-arithmetic`") {
            skipping = true;
            continue;
        }
        if skipping {
            // The notice's own lines (`|`, `= note: …`) and the blank line that ends it.
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                skipping = false;
                continue;
            }
            if trimmed.starts_with('|') || trimmed.starts_with('=') {
                continue;
            }
            skipping = false;
        }
        kept.push(line);
    }
    kept.join("\n")
}

/// True when `path` looks like a crate directory rather than a module file.
pub fn is_crate_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Builds the crate at `crate_dir` for wasm32 in release mode and returns the `.wasm` path.
pub fn build_crate(crate_dir: &Path, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    let manifest = manifest.canonicalize().map_err(|_| BuildError::NotACrate(crate_dir.to_path_buf()))?;
    let target = crate_target(&manifest)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--lib", "--target", &target, "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        // From the crate's directory, as its author runs `cargo build`: cargo reads the
        // `.cargo/config.toml` of the working directory and its parents, and the one
        // `amm-engine new` writes there carries the flags single files get
        // ([`crate::scaffold::STRATEGY_RUSTFLAGS`]), whatever directory `amm-engine` runs in.
        .current_dir(crate_dir);
    // A target directory, given or in `CARGO_TARGET_DIR`, is relative to where `amm-engine`
    // runs, as for a `cargo build` there, not to the crate.
    let target_dir = options
        .target_dir
        .clone()
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()).map(PathBuf::from));
    if let Some(dir) = target_dir {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        command.arg("--target-dir").arg(dir);
    }
    let output = command.output().map_err(BuildError::Spawn)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if target_missing(&stderr) {
            return Err(BuildError::TargetMissing(target));
        }
        let stderr = without_flag_notice(&stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        let rendered = rendered_diagnostics(&String::from_utf8_lossy(&output.stdout));
        let diagnostics = if rendered.is_empty() { tail } else { rendered.join("\n") };
        return Err(BuildError::Failed { crate_dir: crate_dir.to_path_buf(), diagnostics });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let manifest_str = manifest.to_string_lossy();
    artifact_files(&stdout, Some(&manifest_str))
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| BuildError::NoArtifact(crate_dir.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_builds_report_leads_with_the_authors_error_not_the_flags_notice() {
        let stderr = "warning: unstable feature specified for `-Ctarget-feature`: `wide-arithmetic`\n  |\n  = note: this feature is not stably supported; its behavior can change in the future\n\nwarning: `amm-strategy-sdk` (lib) generated 1 warning\n   Compiling demo v0.1.0\nerror[E0407]: method `compute_swapx` is not a member of trait `Strategy`\n  --> src/lib.rs:84:5\n   |\n";
        let kept = without_flag_notice(stderr);
        assert!(!kept.contains("unstable feature") && !kept.contains("not stably supported"), "{kept}");
        assert!(
            kept.contains("error[E0407]") && kept.contains("--> src/lib.rs:84:5") && kept.contains("   |"),
            "{kept}"
        );
        // Other warnings stay.
        let other = "warning: unused variable: `x`\n  |\n";
        assert_eq!(without_flag_notice(other), other.trim_end_matches('\n'));
    }
}
