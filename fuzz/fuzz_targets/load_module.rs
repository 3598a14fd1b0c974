//! Module loading on arbitrary bytes: every input is either a loaded module or a `LoadError`,
//! never a panic or a hang. Inputs that load are also run through `validate`.
#![no_main]

use std::sync::OnceLock;

use amm_engine::sandbox::{EngineSettings, SandboxEngine, SandboxLimits};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static (SandboxEngine, SandboxLimits) {
    static ENGINE: OnceLock<(SandboxEngine, SandboxLimits)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        // Tight budgets keep each input fast; the code paths are the same as the defaults'.
        let limits = SandboxLimits { quote_fuel: 20_000, hook_fuel: 50_000, backstop_ms: 200, ..SandboxLimits::default() };
        (SandboxEngine::new(EngineSettings::for_limits(&limits, 64)).expect("engine"), limits)
    })
}

fuzz_target!(|data: &[u8]| {
    let (engine, limits) = engine();
    if engine.load(data, limits).is_ok() {
        let _ = amm_engine::validate::validate_module(engine, data, "fuzz", limits, &Default::default());
    }
});
