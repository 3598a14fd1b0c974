//! Valid modules from wasm-smith, shaped like strategies (the ABI's exports, no imports), through
//! `validate` and a short simulation: whatever they do, the host must not panic or hang, and a
//! module that loads must either run or be disqualified with a reason.
#![no_main]

use std::sync::OnceLock;

use amm_engine::config::Config;
use amm_engine::market::{simulate, Entrant};
use amm_engine::sandbox::{EngineSettings, SandboxEngine};
use amm_engine::strategy::StrategyProgram;
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The exports every generated module must have, as a module wasm-smith copies the shape of.
fn abi_shape() -> &'static [u8] {
    static SHAPE: OnceLock<Vec<u8>> = OnceLock::new();
    SHAPE.get_or_init(|| {
        wat::parse_str(
            r#"(module
              (memory (export "memory") 17)
              (func (export "amm_buffer") (result i32) (i32.const 0))
              (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
              (func (export "after_swap") (param i32))
              (func (export "epoch_boundary") (param i32)))"#,
        )
        .expect("shape")
    })
}

fn setup() -> &'static (SandboxEngine, Config) {
    static SETUP: OnceLock<(SandboxEngine, Config)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut config = Config::parse(
            "[run]\nsimulations = 1\nsteps = 40\nepoch_len = 20\n[sandbox]\nquote_fuel = 20000\nhook_fuel = 50000\nbackstop_ms = 200\n[[strategy]]\npath = \"fuzz.wasm\"\n",
            std::path::Path::new("fuzz.toml"),
        )
        .expect("config");
        config.sandbox.audit_rate = 0.05;
        let engine = SandboxEngine::new(EngineSettings::for_limits(&config.sandbox, 64)).expect("engine");
        (engine, config)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mut smith) = wasm_smith::Config::arbitrary(&mut u) else { return };
    smith.exports = Some(abi_shape().to_vec());
    smith.max_imports = 0;
    smith.min_memories = 1;
    smith.max_memories = 1;
    smith.threads_enabled = false;
    smith.max_memory32_bytes = 1 << 24;
    let Ok(module) = wasm_smith::Module::new(smith, &mut u) else { return };
    let bytes = module.to_bytes();
    let (engine, config) = setup();
    let Ok(loaded) = engine.load(&bytes, &config.sandbox) else { return };
    let _ = amm_engine::validate::validate_module(engine, &bytes, "fuzz", &config.sandbox, &Default::default());
    let program = StrategyProgram::Wasm(loaded);
    let result = simulate(config, &[Entrant { name: "fuzz", program: &program, storage: amm_engine::market::ZERO_STORAGE }], 1);
    let pool = &result.pools[0];
    assert_eq!(pool.epochs.len(), 2, "the simulation ran to the end");
    if let Some(d) = &pool.disqualified {
        assert!(!d.reason.is_empty(), "a disqualification names its reason");
    }
});
