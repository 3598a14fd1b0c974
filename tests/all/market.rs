//! The market end to end: what strategies are told, determinism, common random numbers,
//! capital conservation, receipts.

use std::collections::HashMap;

use crate::support::{config, example_wasm, fixture_wasm, run};

/// One parsed line of the recorder's log.
#[derive(Debug, Clone)]
enum Event {
    Swap {
        side: u8,
        input: u64,
        output: u64,
        rx: u64,
        ry: u64,
        step: u64,
        epoch_step: u32,
        epoch_number: u32,
        n_pools: u8,
        pool_index: u8,
        flow: f32,
        weight: f32,
        competing: [f32; 8],
    },
    Epoch {
        number: u32,
        rx: u64,
        ry: u64,
        edge: f64,
        cumulative: f64,
        weight: f32,
    },
}

fn parse_log(text: &str) -> Vec<Event> {
    let hex32 = |s: &str| f32::from_bits(u32::from_str_radix(s, 16).unwrap());
    let hex64 = |s: &str| f64::from_bits(u64::from_str_radix(s, 16).unwrap());
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            match f[0] {
                "S" => {
                    let mut competing = [0f32; 8];
                    for (k, c) in competing.iter_mut().enumerate() {
                        *c = hex32(f[13 + k]);
                    }
                    Event::Swap {
                        side: f[1].parse().unwrap(),
                        input: f[2].parse().unwrap(),
                        output: f[3].parse().unwrap(),
                        rx: f[4].parse().unwrap(),
                        ry: f[5].parse().unwrap(),
                        step: f[6].parse().unwrap(),
                        epoch_step: f[7].parse().unwrap(),
                        epoch_number: f[8].parse().unwrap(),
                        n_pools: f[9].parse().unwrap(),
                        pool_index: f[10].parse().unwrap(),
                        flow: hex32(f[11]),
                        weight: hex32(f[12]),
                        competing,
                    }
                }
                "E" => Event::Epoch {
                    number: f[1].parse().unwrap(),
                    rx: f[2].parse().unwrap(),
                    ry: f[3].parse().unwrap(),
                    edge: hex64(f[4]),
                    cumulative: hex64(f[5]),
                    weight: hex32(f[6]),
                },
                other => panic!("unexpected log line kind {other:?}: {line}"),
            }
        })
        .collect()
}

fn recorder_config(seed: u64) -> amm_engine::config::Config {
    let recorder = fixture_wasm("recorder");
    config(&format!(
        r#"
        [run]
        simulations = 1
        steps = 1200
        epoch_len = 300
        seed_start = {seed}
        [market]
        volatility = 0.004
        arrival_rate = 1.5
        [sandbox]
        max_log_bytes = 8000000
        [[strategy]]
        path = "{path}"
        name = "Recorder A"
        [[strategy]]
        path = "{path}"
        name = "Recorder B"
        "#,
        path = recorder.display()
    ))
}

/// Every after_swap and epoch_boundary field the host sends, checked against the host's own
/// record: reserves chain trade to trade, steps and epochs count right, the pool count and
/// index, capital weights, competitors' prices, epoch edges, and capital conservation.
#[test]
fn recorder_sees_every_hook_field_the_host_means_to_send() {
    let config = recorder_config(7);
    let results = run(&config);
    let sim = &results.simulations[0];
    let epoch_len = 300u64;
    let logs: Vec<Vec<Event>> = (0..2)
        .map(|i| {
            let (bytes, dropped) = sim.pools[i].log.clone().expect("a WASI module's output is captured");
            assert_eq!(dropped, 0, "log truncated: raise max_log_bytes in the test");
            parse_log(&String::from_utf8(bytes).unwrap())
        })
        .collect();
    let start = (100_000_000_000u64, 10_000_000_000_000u64);
    // Each recorder's reserve states over time, by step, for checking the other's view.
    let mut states: Vec<Vec<(u64, f32)>> = vec![vec![(0, (start.1 as f64 / start.0 as f64) as f32)]; 2];
    for (i, events) in logs.iter().enumerate() {
        for e in events {
            match *e {
                Event::Swap { rx, ry, step, .. } => states[i].push((step, (ry as f64 / rx as f64) as f32)),
                Event::Epoch { rx, ry, number, .. } => {
                    states[i].push(((u64::from(number) + 1) * epoch_len - 1, (ry as f64 / rx as f64) as f32))
                }
            }
        }
    }
    let mut pre_boundary: HashMap<(usize, u32), (u64, u64)> = HashMap::new();
    for (i, events) in logs.iter().enumerate() {
        let pool = &sim.pools[i];
        let (mut rx, mut ry) = start;
        let mut weight = 0.5f32;
        let mut last_step = 0u64;
        let mut arb_steps = std::collections::HashSet::new();
        let mut epochs_seen = 0u32;
        let mut cumulative = 0.0f64;
        assert!(events.iter().filter(|e| matches!(e, Event::Swap { .. })).count() > 100, "recorder {i} saw few trades");
        for event in events {
            match *event {
                Event::Swap {
                    side,
                    input,
                    output,
                    rx: new_rx,
                    ry: new_ry,
                    step,
                    epoch_step,
                    epoch_number,
                    n_pools,
                    pool_index,
                    flow,
                    weight: w,
                    competing,
                } => {
                    // Reserves after = reserves before + input − output, on the right sides.
                    match side {
                        0 => assert_eq!((new_rx, new_ry), (rx - output, ry + input), "buy X at step {step}"),
                        1 => assert_eq!((new_rx, new_ry), (rx + input, ry - output), "sell X at step {step}"),
                        other => panic!("side {other}"),
                    }
                    (rx, ry) = (new_rx, new_ry);
                    assert!(step >= last_step && step < 1200, "steps run forward");
                    last_step = step;
                    assert_eq!(u64::from(epoch_step), step % epoch_len);
                    assert_eq!(u64::from(epoch_number), step / epoch_len);
                    // Pools sit in a seeded order, not config order: the index is the seat.
                    let seats = amm_engine::market::seating(&["Recorder A", "Recorder B"], sim.seed);
                    let seat = seats.iter().position(|&s| s == i).unwrap() as u8;
                    assert_eq!((n_pools, pool_index), (3, seat), "two recorders and the normalizer");
                    assert!((0.0..=1.0).contains(&flow), "flow_captured {flow}");
                    if flow == 0.0 {
                        assert!(arb_steps.insert(step), "at most one arbitrage trade per pool per step");
                    }
                    assert_eq!(w.to_bits(), weight.to_bits(), "capital weight as last announced");
                    // Slot 0: the other recorder's price at this step; slot 1: the normalizer.
                    let other = &states[1 - i];
                    let before = other.iter().rev().find(|s| s.0 < step).map(|s| s.1);
                    let same_step: Vec<f32> = other.iter().filter(|s| s.0 == step).map(|s| s.1).collect();
                    assert!(
                        before == Some(competing[0]) || same_step.contains(&competing[0]),
                        "step {step}: competing[0] {} is not recorder {}'s price then",
                        competing[0],
                        1 - i
                    );
                    assert!(
                        competing[1].is_finite() && competing[1] > 50.0 && competing[1] < 200.0,
                        "normalizer price {}",
                        competing[1]
                    );
                    assert!(competing[2..].iter().all(|p| p.is_nan()), "unused slots are NaN");
                }
                Event::Epoch { number, rx: new_rx, ry: new_ry, edge, cumulative: cum, weight: w } => {
                    assert_eq!(number, epochs_seen, "epochs numbered in order");
                    let record = &pool.epochs[number as usize];
                    assert_eq!(edge.to_bits(), record.edge.to_bits(), "epoch {number} edge");
                    cumulative += edge;
                    assert!((cum - cumulative).abs() <= 1e-9 * cumulative.abs().max(1.0), "cumulative edge");
                    assert_eq!(w, record.capital_weight as f32, "new weight");
                    // The price is kept through rebalancing.
                    let before = ry as f64 / rx as f64;
                    let after = new_ry as f64 / new_rx as f64;
                    assert!((after / before - 1.0).abs() < 1e-9, "rebalancing moved the price: {before} -> {after}");
                    pre_boundary.insert((i, number), (rx, ry));
                    (rx, ry) = (new_rx, new_ry);
                    pre_boundary.insert((i + 2, number), (rx, ry));
                    weight = w;
                    epochs_seen += 1;
                }
            }
        }
        assert_eq!(epochs_seen, 3, "1200 steps in epochs of 300: three boundaries, none after the last step");
        assert_eq!(pool.epochs.len(), 4);
    }
    // Capital conserved at each boundary (valued at the fair price), and each pool given its weight.
    for e in 0..3u32 {
        let price = sim.fair_prices[e as usize];
        let value = |(rx, ry): (u64, u64)| (ry as f64 + rx as f64 * price) / 1e9;
        let before = value(pre_boundary[&(0, e)]) + value(pre_boundary[&(1, e)]);
        let after = value(pre_boundary[&(2, e)]) + value(pre_boundary[&(3, e)]);
        assert!((after - before).abs() < 1e-6, "epoch {e}: capital {before} became {after}");
        for i in 0..2 {
            let share = value(pre_boundary[&(i + 2, e)]) / after;
            let weight = sim.pools[i].epochs[e as usize].capital_weight;
            assert!((share - weight).abs() < 1e-9, "epoch {e} pool {i}: share {share} vs weight {weight}");
            assert!(weight >= 0.02, "floor");
        }
    }
}

fn quick(strategies: &[&str], threads: usize) -> amm_engine::config::Config {
    let entries: String =
        strategies.iter().map(|s| format!("[[strategy]]\npath = \"{}\"\n", example_wasm(s).display())).collect();
    config(&format!(
        "[run]\nsimulations = 6\nsteps = 1500\nepoch_len = 300\nseed_start = 40\nthreads = {threads}\n{entries}"
    ))
}

#[test]
fn results_json_is_byte_identical_at_one_and_two_threads() {
    let line_up = ["starter", "fixed-fee-30", "inventory-skew"];
    let one = run(&quick(&line_up, 1)).to_json();
    let two_config = quick(&line_up, 2);
    let two = run(&two_config).to_json();
    assert_eq!(one, two, "results.json must not depend on (or record) the thread count");
    assert_eq!(run(&two_config).to_json(), two, "and again, same threads");
    assert!(one.contains("\"simulations\": ["));
    assert!(!one.contains("\"threads\""), "run-time facts belong in run.json, not results.json");
}

#[test]
fn a_seeds_price_path_and_order_flow_do_not_depend_on_the_strategies() {
    let a = run(&quick(&["starter"], 0));
    let b = run(&quick(&["fixed-fee-0", "fixed-fee-500", "competitor-match"], 0));
    for (x, y) in a.simulations.iter().zip(&b.simulations) {
        assert_eq!(x.seed, y.seed);
        assert_eq!(x.params, y.params);
        assert_eq!(x.fair_prices, y.fair_prices, "seed {}", x.seed);
        assert_eq!(x.stats.orders, y.stats.orders, "seed {}: same retail orders", x.seed);
    }
    // And different seeds do differ (the check above is not vacuous).
    assert_ne!(a.simulations[0].fair_prices, a.simulations[1].fair_prices);
}

#[test]
fn verify_accepts_an_honest_receipt_and_rejects_tampering() {
    use amm_engine::receipt::{self, ReceiptError, Verdict};
    let dir = crate::support::Scratch::new();
    let bundle = dir.path().join("bundle");
    let options = amm_engine::run::RunOptions::default();
    let (receipt, _) = receipt::submit(&quick(&["starter", "fixed-fee-30"], 0), &bundle, &options).unwrap();
    let receipt_path = bundle.join("receipt.json");
    assert_eq!(receipt::verify(&receipt_path, &options).unwrap().1, Verdict::Identical);

    // A modified module.
    let module = bundle.join(&receipt.modules[0].file);
    let original = std::fs::read(&module).unwrap();
    let mut bad = original.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&module, &bad).unwrap();
    match receipt::verify(&receipt_path, &options) {
        Err(ReceiptError::Tampered { file, .. }) => assert_eq!(file, receipt.modules[0].file),
        other => panic!("expected a tampered module, got {other:?}"),
    }
    std::fs::write(&module, &original).unwrap();

    // A modified result.
    let results_path = bundle.join("results.json");
    let honest = std::fs::read_to_string(&results_path).unwrap();
    let edited = honest.replacen("\"mean_edge\": ", "\"mean_edge\": 1", 1);
    std::fs::write(&results_path, &edited).unwrap();
    assert!(matches!(receipt::verify(&receipt_path, &options), Err(ReceiptError::Tampered { .. })));

    // A modified result whose hash was updated in the receipt too: the re-run exposes it.
    let mut forged: receipt::Receipt = serde_json::from_str(&std::fs::read_to_string(&receipt_path).unwrap()).unwrap();
    forged.results_sha256 = amm_engine::sandbox::sha256_hex(edited.as_bytes());
    std::fs::write(&receipt_path, serde_json::to_string_pretty(&forged).unwrap()).unwrap();
    match receipt::verify(&receipt_path, &options).unwrap().1 {
        Verdict::Differs(where_) => assert!(where_.contains("mean_edge"), "{where_}"),
        Verdict::Identical => panic!("a forged result verified"),
    }
}

#[test]
fn native_and_wasm_backends_give_identical_results() {
    let mut config = quick(&["starter", "fixed-fee-30", "volatility-fee"], 0);
    let wasm = run(&config).to_json();
    config.run.backend = amm_engine::strategy::Backend::Native;
    let native = run(&config).to_json();
    assert_eq!(wasm, native, "results.json must not depend on (or record) the backend");
    assert!(!wasm.contains("\"backend\""));
}

/// One zero-fee constant-product pool, no retail, σ fixed, arbitraged at `floor` Y.
fn zero_fee_alone(floor: f64, sims: u32, steps: u32) -> amm_engine::report::RunResults {
    run(&config(&format!(
        "[run]\nsimulations = {sims}\nsteps = {steps}\nepoch_len = {steps}\nseed_start = 500\n\
         [market]\nvolatility = 0.005\narrival_rate = 0.0\nmin_arb_profit = {floor:e}\n\
         [normalizer]\nenabled = false\n[capital]\nenabled = false\n\
         [[strategy]]\npath = \"{}\"\n",
        example_wasm("fixed-fee-0").display()
    )))
}

/// A zero-fee constant-product pool's expected arbitrage loss over `T` steps is
/// `−y0·(2 − 2a)·Σ_{t<T} aᵗ = −2·y0·(1 − a^T)`, `a = exp(−σ²/8)`: the fair price is a
/// martingale, so the expected sum of the pool's edges is `E[V_T] − V_0`, and a pool kept at the
/// fair price is worth `2·√(k·P)`, with `E[√(P_{t+1}/P_t)] = a`. Whatever the profit floor, the
/// pool must end within the floor of the fair price, so the loss must match at every floor.
#[test]
fn zero_fee_arbitrage_loss_matches_the_closed_form_at_every_floor() {
    let (sims, steps, sigma, y0) = (200u32, 2_000u32, 0.005f64, 10_000.0f64);
    let a = (-sigma * sigma / 8.0).exp();
    let expected = -2.0 * y0 * (1.0 - a.powi(steps as i32));
    let mut trades_at = Vec::new();
    for floor in [1e-9, 1e-6, 1e-3, 1e-2] {
        let results = zero_fee_alone(floor, sims, steps);
        let losses: Vec<f64> = results.simulations.iter().map(|s| s.pools[0].arb_edge).collect();
        let n = losses.len() as f64;
        let mean = losses.iter().sum::<f64>() / n;
        let se = (losses.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
        assert!(
            (mean - expected).abs() <= 3.0 * se + floor,
            "floor {floor:e} Y: mean arbitrage edge {mean:.3} ± {se:.3} Y, closed form {expected:.3} Y"
        );
        let trades: u64 = results.simulations.iter().map(|s| s.stats.arb_trades).sum();
        trades_at.push((floor, trades));
    }
    // A lower floor never means fewer trades.
    for pair in trades_at.windows(2) {
        assert!(pair[0].1 >= pair[1].1, "fewer trades at the lower floor: {trades_at:?}");
    }
}
