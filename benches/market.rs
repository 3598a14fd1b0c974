//! Market benchmarks: the router's own cost against pool count, one simulation step at 2 and
//! at 17 pools, and a whole 10,000-step simulation of `configs/anchor.toml`, sandboxed and
//! native, all in one run so the ratios compare like with like.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amm_engine::build::{build_crate, BuildOptions};
use amm_engine::config::Config;
use amm_engine::market::curve::{CpModel, Curve};
use amm_engine::market::routing::Router;
use amm_engine::market::{simulate, Entrant};
use amm_engine::run;
use amm_engine::strategy::{Backend, StrategyProgram};
use amm_strategy_sdk::math::cp_output_fee_bps;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wasm(name: &str) -> PathBuf {
    let options = BuildOptions { target_dir: Some(root().join("target/bench-wasm")), ..Default::default() };
    build_crate(&root().join("strategies").join(name), &options).expect("build example")
}

/// A constant-product pool as a pure curve (no strategy call), to time the router alone.
struct Cp {
    rin: u64,
    rout: u64,
    fee: u64,
}

impl Curve for Cp {
    fn quote(&mut self, input: u64) -> Option<u64> {
        Some(cp_output_fee_bps(input, self.rin, self.rout, self.fee))
    }
    fn exact_model(&self) -> Option<CpModel> {
        None
    }
    fn reserve_out(&self) -> u64 {
        self.rout
    }
}

fn router(c: &mut Criterion) {
    let mut group = c.benchmark_group("router, one 20 Y order");
    for n in [2usize, 4, 8, 17] {
        let mut curves: Vec<Cp> = (0..n)
            .map(|i| Cp { rin: (10_000 + 37 * i as u64) * 1_000_000_000, rout: 100_000_000_000, fee: [30, 5, 100, 60][i % 4] })
            .collect();
        let mut router = Router::default();
        let mut faulted = Vec::new();
        group.bench_with_input(BenchmarkId::from_parameter(format!("{n} pools")), &n, |b, _| {
            b.iter(|| black_box(router.route(curves.as_mut_slice(), black_box(20_000_000_000), &mut faulted)))
        });
    }
    group.finish();
}

/// A config of `strategies` fixed-fee and adaptive pools (plus the normalizer) over `steps`.
fn line_up(strategies: usize, steps: u32, backend: Backend) -> (Config, Vec<(String, StrategyProgram)>) {
    let examples = ["fixed-fee-30", "starter", "fixed-fee-100", "volatility-fee", "inventory-skew", "competitor-match", "fixed-fee-0", "fixed-fee-500"];
    let entries: String = (0..strategies)
        .map(|i| format!("[[strategy]]\npath = \"{}\"\nname = \"S{i}\"\n", wasm(examples[i % examples.len()]).display()))
        .collect();
    let mut config = Config::parse(
        &format!("[run]\nsimulations = 1\nsteps = {steps}\nepoch_len = 1000\nthreads = 1\n{entries}"),
        Path::new("bench.toml"),
    )
    .expect("config");
    config.run.backend = backend;
    let engine = run::engine_for(&config).expect("engine");
    let loaded = run::load_entrants(&config, &engine, &run::RunOptions::default()).expect("parameters");
    let programs = loaded.into_iter().map(|e| (e.info.name, e.program.expect("loads"))).collect();
    (config, programs)
}

fn steps(c: &mut Criterion) {
    // N competing strategy pools (plus the normalizer, always there): the per-step cost should
    // grow at most linearly, so 17 pools cost at most 17/2 of 2 pools.
    let mut group = c.benchmark_group("1,000 simulation steps");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    for strategies in [2usize, 17] {
        let (config, programs) = line_up(strategies, 1_000, Backend::Wasm);
        let entrants: Vec<Entrant<'_>> = programs.iter().map(|(n, p)| Entrant { name: n, program: p, storage: amm_engine::market::ZERO_STORAGE }).collect();
        let mut seed = 0;
        group.bench_function(format!("{strategies} strategy pools + normalizer (wasm)"), |b| {
            b.iter(|| {
                seed += 1;
                black_box(simulate(&config, &entrants, seed))
            })
        });
    }
    group.finish();
}

fn anchor(c: &mut Criterion) {
    let mut group = c.benchmark_group("configs/anchor.toml, one 10,000-step simulation");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    for backend in [Backend::Wasm, Backend::Native] {
        let mut config = Config::load(&root().join("configs/anchor.toml")).expect("anchor config");
        config.run.backend = backend;
        let engine = run::engine_for(&config).expect("engine");
        let loaded = run::load_entrants(&config, &engine, &run::RunOptions::default()).expect("parameters");
        let programs: Vec<(String, StrategyProgram)> =
            loaded.into_iter().map(|e| (e.info.name, e.program.expect("loads"))).collect();
        let entrants: Vec<Entrant<'_>> = programs.iter().map(|(n, p)| Entrant { name: n, program: p, storage: amm_engine::market::ZERO_STORAGE }).collect();
        let mut seed = 0;
        group.bench_function(format!("{backend:?}").to_lowercase(), |b| {
            b.iter(|| {
                seed += 1;
                black_box(simulate(&config, &entrants, seed))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, router, steps, anchor);
criterion_main!(benches);
