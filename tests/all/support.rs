//! Shared test helpers: the example strategies built to wasm once per test run, and a sandbox.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use amm_engine::build::{BuildOptions, build_crate};
use amm_engine::sandbox::{EngineSettings, SandboxEngine, SandboxLimits, StrategyModule};

/// A quote whose answer nobody checks: one nano unit in, on a pool of one nano unit a side.
pub const TINY_QUOTE: amm_strategy_sdk::QuoteRequest<'static> = amm_strategy_sdk::QuoteRequest {
    side: amm_strategy_sdk::Side::BuyX,
    input_amount: 1,
    reserve_x: 1,
    reserve_y: 1,
    storage: &amm_strategy_sdk::Storage::zeroed(),
};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example strategy crates, by directory name.
pub const EXAMPLES: &[&str] = &[
    "starter",
    "fixed-fee-0",
    "fixed-fee-30",
    "fixed-fee-100",
    "fixed-fee-500",
    "volatility-fee",
    "inventory-skew",
    "competitor-match",
];

/// Builds (once) and returns the `.wasm` of example `name`.
pub fn example_wasm(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        // A target directory of its own, so the build does not wait on the one running the tests.
        let options = BuildOptions { target_dir: Some(workspace().join("target/test-wasm")), ..Default::default() };
        EXAMPLES
            .iter()
            .map(|example| {
                let wasm = build_crate(&workspace().join("strategies").join(example), &options)
                    .unwrap_or_else(|e| panic!("building example {example}: {e}"));
                (example.to_string(), wasm)
            })
            .collect()
    });
    built.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()).expect("known example")
}

/// Builds (once per name) and returns the `.wasm` of the curve benchmark set's family `name`
/// (`benches/curves/<name>.rs`, a Prop AMM single file), cached under `target/test-wasm`.
pub fn bench_curve_wasm(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let options = amm_engine::build::SourceOptions {
        cache_dir: workspace().join("target/test-wasm/sources"),
        // The families share their dependencies' build (`pinocchio`, `wincode`).
        shared_target: Some(workspace().join("target/test-wasm/prop-amm")),
        ..Default::default()
    };
    let path = workspace().join("benches/curves").join(format!("{name}.rs"));
    let wasm = amm_engine::build::build_source(&path, &options)
        .unwrap_or_else(|e| panic!("building curve family {name}: {e}"))
        .wasm;
    built.push((name.to_string(), wasm.clone()));
    wasm
}

/// Builds (once per name) a fixture crate under `strategies/fixtures`.
pub fn fixture_wasm(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let options = BuildOptions { target_dir: Some(workspace().join("target/test-wasm")), ..Default::default() };
    let wasm = build_crate(&workspace().join("strategies/fixtures").join(name), &options)
        .unwrap_or_else(|e| panic!("building fixture {name}: {e}"));
    built.push((name.to_string(), wasm.clone()));
    wasm
}

/// Parses a config given as TOML text (strategy paths relative to the workspace root).
pub fn config(text: &str) -> amm_engine::config::Config {
    let mut config = amm_engine::config::Config::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"));
    config.base_dir = workspace();
    config
}

/// Runs a config through the library, as `amm-engine run` does.
pub fn run(config: &amm_engine::config::Config) -> amm_engine::report::RunResults {
    use amm_engine::run::{self, RunOptions};
    let options = RunOptions {
        progress: false,
        build: BuildOptions { target_dir: Some(workspace().join("target/test-wasm")), ..Default::default() },
        shard: None,
        params: Vec::new(),
    };
    let engine = run::engine_for(config).expect("engine");
    let entrants = run::load_entrants(config, &engine, &options).expect("parameters");
    run::run(config, entrants, &options).expect("run")
}

/// One engine shared by the tests of this binary (as the CLI shares one per process).
pub fn engine() -> &'static SandboxEngine {
    static ENGINE: OnceLock<SandboxEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| SandboxEngine::new(EngineSettings::for_limits(&SandboxLimits::default(), 256)).expect("engine"))
}

/// Loads WAT text under `limits`.
pub fn load_wat(wat: &str, limits: &SandboxLimits) -> Result<StrategyModule, amm_engine::sandbox::LoadError> {
    let bytes = wat::parse_str(wat).expect("test WAT parses");
    engine().load(&bytes, limits)
}

/// A minimal valid strategy in WAT, with `body` spliced into `compute_swap` before it returns
/// `result` (an i64 expression), and `extra` spliced into the module.
pub fn strategy_wat(compute_swap_body: &str, extra: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 17)
  (func (export "amm_buffer") (result i32) (i32.const 1024))
  (func (export "compute_swap") (param $len i32) (result i64)
    {compute_swap_body})
  (func (export "after_swap") (param i32))
  (func (export "epoch_boundary") (param i32))
  {extra}
)"#
    )
}

/// A fresh, empty scratch directory under `target/test-scratch`, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates one, unique per process and call.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = workspace().join("target/test-scratch").join(format!("{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `amm-engine --no-cache validate PATH`: whether it passed, and what it printed.
pub fn validate(path: &Path) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(["--no-cache", "validate"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run amm-engine: {e}"));
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The PostgreSQL test database (`AMM_TEST_POSTGRES_URL`); without it the test is skipped
/// locally but fails under `CI=true`, where `.ci/run` provides one.
pub fn postgres_url() -> Option<String> {
    match std::env::var("AMM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but AMM_TEST_POSTGRES_URL is unset: .ci/run starts PostgreSQL and sets it"
            );
            eprintln!("skipped: set AMM_TEST_POSTGRES_URL (see `.ci/run postgres`) to run the PostgreSQL queue test");
            None
        }
    }
}

/// Per function a module defines and names (its `name` section): its name and the functions
/// its body calls directly (by name where named, else `#index`), and `call_indirect`s as
/// `indirect`.
pub fn calls_by_function(module: &[u8]) -> Vec<(String, Vec<String>)> {
    use std::collections::HashMap;
    use wasmparser::{KnownCustom, Name, Operator, Parser, Payload, TypeRef};
    let (mut imported, mut defined) = (0u32, 0u32);
    let mut callees: HashMap<u32, Vec<Option<u32>>> = HashMap::new();
    let mut names = HashMap::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.expect("a readable module") {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    imported += u32::from(matches!(import.expect("an import").ty, TypeRef::Func(_)));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().expect("a readable function body");
                let mut called = Vec::new();
                while !ops.eof() {
                    match ops.read().expect("a readable operator") {
                        Operator::Call { function_index } | Operator::ReturnCall { function_index } => {
                            called.push(Some(function_index))
                        }
                        Operator::CallIndirect { .. } | Operator::ReturnCallIndirect { .. } => called.push(None),
                        _ => {}
                    }
                }
                callees.insert(imported + defined, called);
                defined += 1;
            }
            Payload::CustomSection(section) => {
                let KnownCustom::Name(reader) = section.as_known() else { continue };
                for subsection in reader {
                    let Ok(Name::Function(map)) = subsection else { continue };
                    for naming in map.into_iter().filter_map(Result::ok) {
                        names.insert(naming.index, naming.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let name_of = |callee: &Option<u32>| match callee {
        Some(index) => names.get(index).cloned().unwrap_or_else(|| format!("#{index}")),
        None => "indirect".to_string(),
    };
    names
        .iter()
        .filter_map(|(index, name)| Some((name.clone(), callees.get(index)?.iter().map(name_of).collect())))
        .collect()
}

/// How many WebAssembly wide-arithmetic instructions (`i64.mul_wide_u/s`, `i64.add128`,
/// `i64.sub128`) the code of `module` holds: a strategy's u128 math built with
/// `amm_engine::scaffold::STRATEGY_RUSTFLAGS` uses them.
pub fn wide_arithmetic_ops(module: &[u8]) -> usize {
    use wasmparser::{Operator, Parser, Payload};
    let mut count = 0;
    for payload in Parser::new(0).parse_all(module) {
        let Ok(Payload::CodeSectionEntry(body)) = payload else { continue };
        let mut ops = body.get_operators_reader().expect("a readable function body");
        while !ops.eof() {
            let op = ops.read().expect("a readable operator");
            count += usize::from(matches!(
                op,
                Operator::I64MulWideU | Operator::I64MulWideS | Operator::I64Add128 | Operator::I64Sub128
            ));
        }
    }
    count
}
