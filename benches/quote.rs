//! ns per quote call: the same fixed-fee strategy sandboxed (wasm) and compiled in (native),
//! and the bare math underneath, measured in one run so the ratios are comparable.

use std::hint::black_box;
use std::path::Path;

use amm_engine::build::{build_crate, BuildOptions};
use amm_engine::native;
use amm_engine::sandbox::{EngineSettings, SandboxEngine, SandboxLimits};
use amm_engine::strategy::StrategyProgram;
use amm_strategy_sdk::{math, QuoteRequest, Side, Storage};
use criterion::{criterion_group, criterion_main, Criterion};

fn quotes(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let options = BuildOptions { target_dir: Some(root.join("target/bench-wasm")), ..Default::default() };
    let wasm = build_crate(&root.join("strategies/fixed-fee-30"), &options).expect("build fixed-fee-30");
    let limits = SandboxLimits::default();
    let engine = SandboxEngine::new(EngineSettings::for_limits(&limits, 8)).expect("engine");
    let module = engine.load(&std::fs::read(wasm).expect("read"), &limits).expect("load");
    let mut sandboxed = StrategyProgram::Wasm(module).instantiate(&limits, 0).expect("instance");
    let mut compiled_in =
        StrategyProgram::Native(native::find("Fixed 30 bps").expect("native")).instantiate(&limits, 0).expect("native");
    let storage = Storage::zeroed();
    let (rx, ry) = (100_000_000_000u64, 10_000_000_000_000u64);

    let mut group = c.benchmark_group("quote fixed-fee-30");
    let mut input = 1_000_000_000u64;
    group.bench_function("wasm (sandboxed, fuel, 1049-byte payload)", |b| {
        b.iter(|| {
            input = input.wrapping_add(7_919) % 50_000_000_000 + 1;
            black_box(sandboxed.quote(&QuoteRequest { side: Side::BuyX, input_amount: black_box(input), reserve_x: rx, reserve_y: ry, storage: &storage }).expect("quote"))
        })
    });
    group.bench_function("native (same crate, compiled in)", |b| {
        b.iter(|| {
            input = input.wrapping_add(7_919) % 50_000_000_000 + 1;
            black_box(compiled_in.quote(&QuoteRequest { side: Side::BuyX, input_amount: black_box(input), reserve_x: rx, reserve_y: ry, storage: &storage }).expect("quote"))
        })
    });
    group.bench_function("math only (cp_output_fee_bps)", |b| {
        b.iter(|| {
            input = input.wrapping_add(7_919) % 50_000_000_000 + 1;
            black_box(math::cp_output_fee_bps(black_box(input), ry, rx, 30))
        })
    });
    group.finish();
}

criterion_group!(benches, quotes);
criterion_main!(benches);
