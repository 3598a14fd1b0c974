//! Wasm/native parity: every example strategy gives the same quotes (and leaves the same
//! storage) whether run sandboxed or compiled into the engine.

use amm_engine::native;
use amm_engine::sandbox::SandboxLimits;
use amm_engine::strategy::{StrategyInstance, StrategyProgram};
use amm_strategy_sdk::abi::NANO;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Storage};

use crate::support::{EXAMPLES, engine, example_wasm};

/// The wasm and native instances of `example`, and the storage a simulation starts it with
/// (its declared parameters' defaults, zero elsewhere).
fn instances(example: &str) -> (StrategyInstance, StrategyInstance, Storage) {
    let limits = SandboxLimits::default();
    let bytes = std::fs::read(example_wasm(example)).unwrap();
    let module = engine().load(&bytes, &limits).unwrap();
    let name = module.info().name.clone().expect("examples carry amm.name");
    let schema = module.info().params.clone();
    let start = schema.initial_storage(&schema.resolve(&Default::default()).unwrap());
    let native = native::find(&name).unwrap_or_else(|| panic!("no native build named {name:?}"));
    let wasm = StrategyProgram::Wasm(module).instantiate(&limits, 0).unwrap();
    let native = StrategyProgram::Native(native).instantiate(&limits, 0).unwrap();
    (wasm, native, start)
}

fn trade(i: u64) -> AfterSwap {
    let mut competing = [f32::NAN; 8];
    competing[0] = 99.0 + (i % 7) as f32 * 0.4;
    AfterSwap {
        side: if i.is_multiple_of(2) { Side::BuyX } else { Side::SellX },
        input_amount: (i + 1) * NANO / 3,
        output_amount: (i + 1) * NANO / 300,
        reserve_x: 100 * NANO + i * NANO / 10,
        reserve_y: 10_000 * NANO - i * NANO * 9,
        sim_step: i,
        epoch_step: i as u32,
        epoch_number: 0,
        n_pools: 3,
        pool_index: 1,
        flow_captured: if i.is_multiple_of(3) { 0.0 } else { 0.1 * (i % 10) as f32 },
        capital_weight: 0.4,
        competing_spot_prices: competing,
    }
}

fn assert_quotes_match(
    example: &str,
    wasm: &mut StrategyInstance,
    native: &mut StrategyInstance,
    storage: &Storage,
) -> usize {
    let mut compared = 0;
    for (rx, ry) in [(100 * NANO, 10_000 * NANO), (37 * NANO, 5_123 * NANO), (2_500 * NANO, 180_000 * NANO)] {
        for side in Side::BOTH {
            let reserve_in = if side == Side::BuyX { ry } else { rx };
            for k in 0..60 {
                let input = ((reserve_in as f64) * 1e-7 * 1.35f64.powi(k)) as u64;
                let request = QuoteRequest { side, input_amount: input, reserve_x: rx, reserve_y: ry, storage };
                let w = wasm.quote(&request).unwrap();
                let n = native.quote(&request).unwrap();
                assert_eq!(w, n, "{example}: {side:?} input {input} reserves {rx}/{ry}");
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn every_example_quotes_identically_in_wasm_and_natively() {
    for example in EXAMPLES {
        let (mut wasm, mut native, start) = instances(example);
        let mut wasm_storage = start.clone();
        let mut native_storage = start;
        let mut compared = assert_quotes_match(example, &mut wasm, &mut native, &wasm_storage);
        for i in 0..40 {
            wasm.after_swap(&trade(i), &mut wasm_storage).unwrap();
            native.after_swap(&trade(i), &mut native_storage).unwrap();
            assert_eq!(wasm_storage, native_storage, "{example}: storage after trade {i}");
            if i % 10 == 9 {
                compared += assert_quotes_match(example, &mut wasm, &mut native, &wasm_storage);
            }
        }
        let epoch = EpochBoundary {
            epoch_number: 0,
            new_reserve_x: 80 * NANO,
            new_reserve_y: 8_100 * NANO,
            epoch_edge: -3.25,
            cumulative_edge: 10.0,
            capital_weight: 0.3,
        };
        wasm.epoch_boundary(&epoch, &mut wasm_storage).unwrap();
        native.epoch_boundary(&epoch, &mut native_storage).unwrap();
        assert_eq!(wasm_storage, native_storage, "{example}: storage after epoch boundary");
        compared += assert_quotes_match(example, &mut wasm, &mut native, &wasm_storage);
        assert!(compared >= 360 * 6, "{example}: compared only {compared} quotes");
    }
}

#[test]
fn the_starter_actually_changes_fees_so_parity_covers_state() {
    // Guards the test above: if the starter ignored its storage, storage parity would be vacuous.
    let (mut wasm, _, start) = instances("starter");
    let fresh = start.clone();
    let mut warmed = start;
    for i in 0..40 {
        wasm.after_swap(&trade(i), &mut warmed).unwrap();
    }
    let q = |w: &mut StrategyInstance, s: &Storage| {
        w.quote(&QuoteRequest {
            side: Side::BuyX,
            input_amount: 50 * NANO,
            reserve_x: 100 * NANO,
            reserve_y: 10_000 * NANO,
            storage: s,
        })
        .unwrap()
    };
    assert_ne!(q(&mut wasm, &fresh), q(&mut wasm, &warmed));
}
