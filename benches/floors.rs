//! Floors: the bare operation under each phase of a simulation step, for the per-step cost
//! table in BENCHMARKS.md ("Near the floor on constant product"). Each benchmark is the least
//! any engine must do for that phase on constant-product pools — the same random streams and
//! distributions (ChaCha12, `rand_distr`, `libm`), closed forms where the engine searches, a
//! trivial strategy where the engine calls a real one — so a phase's measured cost over its
//! floor says what the engine's own machinery costs there.
//!
//!   cargo bench --manifest-path benches/Cargo.toml --bench floors

use std::hint::black_box;
use std::path::Path;

use amm_engine::build::{BuildOptions, build_crate};
use amm_engine::sandbox::{EngineSettings, SandboxEngine, SandboxLimits};
use amm_engine::strategy::StrategyProgram;
use amm_strategy_sdk::math::cp_output_fee_bps;
use amm_strategy_sdk::{AfterSwap, QuoteRequest, Side, Storage};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, LogNormal, Poisson, StandardNormal};

/// The default market's middle: 0.8 orders per step, 20 Y mean, σ 1.2 of log sizes.
const ARRIVAL_RATE: f64 = 0.8;
const MEAN_ORDER: f64 = 20.0;
const SIZE_SIGMA: f64 = 1.2;

/// splitmix64's finaliser: the engine's per-pool draws (`market::sim::seats::Draws`).
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One step's GBM move: a standard normal from ChaCha12 and `libm::exp`.
fn price_move(c: &mut Criterion) {
    let mut rng = ChaCha12Rng::seed_from_u64(1);
    let mut price = 100.0f64;
    let (vol, drift) = (0.003, -0.5 * 0.003 * 0.003);
    c.bench_function("floor/price move (normal draw + exp)", |b| {
        b.iter(|| {
            let z: f64 = StandardNormal.sample(&mut rng);
            price *= libm::exp(drift + vol * black_box(z));
            if !(1.0..1e4).contains(&price) {
                price = 100.0;
            }
            black_box(price)
        })
    });
}

/// One step's retail draws: the Poisson count, and per order a log-normal size and a side.
fn retail_draws(c: &mut Criterion) {
    let mut rng = ChaCha12Rng::seed_from_u64(2);
    let poisson = Poisson::new(ARRIVAL_RATE).expect("rate");
    let mu = libm::log(MEAN_ORDER) - 0.5 * SIZE_SIGMA * SIZE_SIGMA;
    let sizes = LogNormal::new(mu, SIZE_SIGMA).expect("sizes");
    c.bench_function("floor/retail count (Poisson 0.8)", |b| b.iter(|| black_box(poisson.sample(&mut rng) as u64)));
    c.bench_function("floor/retail order (log-normal size + side)", |b| {
        b.iter(|| {
            let size: f64 = sizes.sample(&mut rng);
            black_box((size, rng.random_bool(0.5)))
        })
    });
}

/// One probe or audit draw: a counter hashed to a uniform in [0, 1).
fn probe_draw(c: &mut Criterion) {
    let (key, mut n) = (0x1234_5678_9ABC_DEF0u64, 0u64);
    c.bench_function("floor/probe draw (counter mixer)", |b| {
        b.iter(|| {
            n += 1;
            let z = mix(black_box(key).wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            black_box((z >> 11) as f64 * (1.0 / (1u64 << 53) as f64))
        })
    });
}

/// Closed-form arbitrage of one constant-product pool against the fair price, both sides: the
/// optimum input `√(ab/λ) − a` where the marginal beats `λ`, and its integer output.
#[inline]
fn cp_arbitrage(rx: u64, ry: u64, fee_bps: u64, price: f64) -> Option<(Side, u64, u64)> {
    let keep = 1.0 - fee_bps as f64 / 1e4;
    for side in Side::BOTH {
        let (rin, rout, lambda) = match side {
            Side::BuyX => (ry, rx, 1.0 / price),
            Side::SellX => (rx, ry, price),
        };
        let (a, b) = (rin as f64 / keep, rout as f64);
        if b / a > lambda {
            let x = ((a * b / lambda).sqrt() - a).round() as u64;
            let y = cp_output_fee_bps(x, rin, rout, fee_bps);
            if y as f64 - lambda * x as f64 > 0.0 {
                return Some((side, x, y));
            }
        }
    }
    None
}

fn arbitrage(c: &mut Criterion) {
    let (rx, ry) = (100_000_000_000u64, 10_000_000_000_000u64);
    let mut k = 0u64;
    c.bench_function("floor/arbitrage, one CP pool, both sides (closed form)", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            // Prices on both sides of the pool's, half of them inside the fee band.
            let price = 100.0 * (1.0 + 0.004 * ((k % 17) as f64 - 8.0) / 8.0);
            black_box(cp_arbitrage(black_box(rx), ry, 30, price))
        })
    });
}

/// The equimarginal split of one order across two constant-product pools in closed form, made
/// integer, and the two outputs.
#[inline]
fn cp_route(order: u64, pools: [(u64, u64, u64); 2]) -> [(u64, u64); 2] {
    let model = |(rin, rout, fee): (u64, u64, u64)| (rin as f64 / (1.0 - fee as f64 / 1e4), rout as f64);
    let (m0, m1) = (model(pools[0]), model(pools[1]));
    let (r0, r1) = ((m0.0 * m0.1).sqrt(), (m1.0 * m1.1).sqrt());
    let s = (order as f64 + m0.0 + m1.0) / (r0 + r1);
    let x0 = ((s * r0 - m0.0).max(0.0).floor() as u64).min(order);
    let x1 = order - x0;
    let out = |x: u64, (rin, rout, fee): (u64, u64, u64)| cp_output_fee_bps(x, rin, rout, fee);
    [(x0, out(x0, pools[0])), (x1, out(x1, pools[1]))]
}

fn routing(c: &mut Criterion) {
    let pools = [(100_000_000_000_000u64, 1_000_000_000_000u64, 30u64), (87_000_000_000_000, 870_000_000_000, 500)];
    let mut order = 20_000_000_000u64;
    c.bench_function("floor/route one order, 2 CP pools (closed form)", |b| {
        b.iter(|| {
            order = order.wrapping_add(7_919) % 50_000_000_000 + 1;
            black_box(cp_route(black_box(order), pools))
        })
    });
}

/// The bookkeeping of one executed trade: reserves, edge at the fair price, volume.
fn accounting(c: &mut Criterion) {
    let (mut rx, mut ry) = (100_000_000_000u64, 10_000_000_000_000u64);
    let (mut edge, mut volume) = (0.0f64, 0.0f64);
    let mut k = 0u64;
    c.bench_function("floor/accounting, one trade", |b| {
        b.iter(|| {
            k += 1;
            let (input, output, price) = (black_box(1_000_000 + k % 1_000), black_box(9_900), black_box(100.0));
            if k.is_multiple_of(2) {
                ry += input;
                rx -= output;
                edge += (input as f64 - output as f64 * price) / 1e9;
                volume += input as f64 / 1e9;
            } else {
                rx += input / 100;
                ry -= output;
                edge += ((input / 100) as f64 * price - output as f64) / 1e9;
                volume += (input / 100) as f64 * price / 1e9;
            }
            black_box((rx, ry, edge, volume))
        })
    });
}

/// A strategy that does nothing: each export returns at once, so a call through it is the
/// sandbox's own cost (payload written, fuel armed and read back, the call, storage read back).
const TRIVIAL: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "amm_buffer") (result i32) (i32.const 0))
  (func (export "compute_swap") (param i32) (result i64) (i64.const 1))
  (func (export "after_swap") (param i32))
  (func (export "epoch_boundary") (param i32)))"#;

fn sandbox(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let limits = SandboxLimits::default();
    let engine = SandboxEngine::new(EngineSettings::for_limits(&limits, 8)).expect("engine");
    let trivial = StrategyProgram::Wasm(engine.load(&wat::parse_str(TRIVIAL).expect("wat"), &limits).expect("load"));
    let options = BuildOptions { target_dir: Some(root.join("target/bench-wasm")), ..Default::default() };
    let wasm = build_crate(&root.join("strategies/fixed-fee-30"), &options).expect("build fixed-fee-30");
    let fixed =
        StrategyProgram::Wasm(engine.load(&std::fs::read(wasm).expect("read"), &limits).expect("load fixed-fee-30"));
    let mut instance = trivial.instantiate(&limits, 0).expect("instance");
    let mut storage = Storage::zeroed();
    let request =
        QuoteRequest { side: Side::BuyX, input_amount: 1, reserve_x: 2, reserve_y: 3, storage: &Storage::zeroed() };
    c.bench_function("floor/wasm quote, trivial strategy (payload, fuel, call)", |b| {
        b.iter(|| black_box(instance.quote(black_box(&request)).expect("quote")))
    });
    let trade = AfterSwap {
        side: Side::BuyX,
        input_amount: 1_000,
        output_amount: 9,
        reserve_x: 100_000,
        reserve_y: 10_000_000,
        sim_step: 3,
        epoch_step: 3,
        epoch_number: 0,
        n_pools: 2,
        pool_index: 0,
        flow_captured: 0.5,
        capital_weight: 0.5,
        competing_spot_prices: [f32::NAN; 8],
    };
    c.bench_function("floor/wasm after_swap, trivial strategy (payload, fuel, call, 1 KiB back)", |b| {
        b.iter(|| instance.after_swap(black_box(&trade), &mut storage).expect("hook"))
    });
    c.bench_function("floor/storage snapshot (1 KiB, boxed)", |b| {
        b.iter(|| black_box(Box::new(black_box(&storage).clone())))
    });
    c.bench_function("floor/instantiate, trivial strategy (pristine instance for replays)", |b| {
        b.iter(|| black_box(trivial.instantiate(&limits, 0).expect("instance")))
    });
    c.bench_function("floor/instantiate, fixed-fee-30", |b| {
        b.iter(|| black_box(fixed.instantiate(&limits, 0).expect("instance")))
    });
}

criterion_group!(benches, price_move, retail_draws, probe_draw, arbitrage, routing, accounting, sandbox);
criterion_main!(benches);
