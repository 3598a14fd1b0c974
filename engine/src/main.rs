//! `amm-engine`: the command-line front end. Parsing and printing only; the work is in the
//! library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use amm_engine::builder::{self, BuildOptions};
use amm_engine::sandbox::{EngineSettings, SandboxEngine, SandboxLimits};
use amm_engine::{scaffold, validate};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "amm-engine", version, about = "Sandboxed AMM strategy competition engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check strategies (.wasm files or strategy crate directories) against everything the
    /// engine enforces; exit 0 only if every check passes.
    Validate {
        /// Modules or crate directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Create a strategy crate from the starter.
    New {
        /// Directory to create; its name is the crate name.
        name: PathBuf,
        /// Path to amm-strategy-sdk (default: the SDK of the checkout this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { paths } => validate_command(&paths),
        Command::New { name, sdk } => new_command(&name, sdk.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn validate_command(paths: &[PathBuf]) -> Result<ExitCode> {
    let limits = SandboxLimits::default();
    let engine = SandboxEngine::new(EngineSettings::for_limits(&limits, 16))?;
    let mut all_passed = true;
    for path in paths {
        println!("validate {}", path.display());
        let module_path = if builder::is_crate_dir(path) {
            match builder::build_crate(path, &BuildOptions::default()) {
                Ok(wasm) => {
                    println!("  {:<10} PASS  {}", "build", wasm.display());
                    wasm
                }
                Err(e) => {
                    println!("  {:<10} FAIL  {e}", "build");
                    all_passed = false;
                    continue;
                }
            }
        } else {
            path.clone()
        };
        let bytes = std::fs::read(&module_path).with_context(|| format!("cannot read {}", module_path.display()))?;
        let (report, _) = validate::validate_module(&engine, &bytes, &file_stem(&module_path), &limits);
        for check in &report.checks {
            println!("  {:<10} {}  {}", check.name, check.outcome, check.detail);
        }
        all_passed &= report.passed();
        println!("  => {}", if report.passed() { "PASS" } else { "FAIL" });
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn new_command(name: &Path, sdk: Option<&Path>) -> Result<ExitCode> {
    let sdk = sdk.map_or_else(|| PathBuf::from(scaffold::DEFAULT_SDK_DIR), Path::to_path_buf);
    let written = scaffold::new_strategy(name, &sdk)?;
    for file in &written {
        println!("created {}", file.display());
    }
    println!("\nnext: amm-engine validate {}", name.display());
    Ok(ExitCode::SUCCESS)
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "strategy".into(), |s| s.to_string_lossy().into_owned())
}
