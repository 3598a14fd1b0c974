//! Fairness: a strategy's results depend on its strategy alone — not on its place among the
//! entrants, and not on anything it could learn about the engine's searches.

use std::collections::HashMap;

use crate::support::{EXAMPLES, bench_curve_wasm, config, example_wasm, run, validate, workspace};

fn line_up(order: &[usize], sims: u32, steps: u32, epoch_len: u32) -> amm_engine::config::Config {
    let entries: String =
        order.iter().map(|&k| format!("[[strategy]]\npath = \"{}\"\n", example_wasm(EXAMPLES[k]).display())).collect();
    config(&format!("[run]\nsimulations = {sims}\nsteps = {steps}\nepoch_len = {epoch_len}\nseed_start = 3\n{entries}"))
}

/// Each strategy's per-seed results as JSON, by name.
fn by_name(results: &amm_engine::report::RunResults) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for sim in &results.simulations {
        for pool in &sim.pools {
            map.entry(pool.name.clone()).or_default().push(serde_json::to_string(pool).unwrap());
        }
    }
    map
}

/// Every strategy of `base` has the same per-seed results in `other` (the run of the entries
/// permuted to `order`), and every simulation did the same work on the same fair prices.
fn assert_same_results(base: &amm_engine::report::RunResults, other: &amm_engine::report::RunResults, order: &[usize]) {
    let got = by_name(other);
    for (name, sims) in &by_name(base) {
        assert_eq!(got.get(name), Some(sims), "{name}'s results changed when the entries were permuted to {order:?}");
    }
    for (a, b) in base.simulations.iter().zip(&other.simulations) {
        assert_eq!(a.stats, b.stats, "seed {}: the same work", a.seed);
        assert_eq!(a.fair_prices, b.fair_prices);
    }
}

#[test]
fn permuting_the_entries_changes_no_strategys_results() {
    let forward: Vec<usize> = (0..8).collect();
    let reversed: Vec<usize> = (0..8).rev().collect();
    let shuffled = vec![5, 2, 7, 0, 3, 6, 1, 4];
    let base = run(&line_up(&forward, 4, 2_000, 500));
    let expected = by_name(&base);
    assert_eq!(expected.len(), 9, "eight strategies and the normalizer");
    for order in [reversed, shuffled] {
        assert_same_results(&base, &run(&line_up(&order, 4, 2_000, 500)), &order);
    }
    // Not vacuous: the strategies did trade, and differently.
    let edges: Vec<f64> = base.strategies.iter().map(|s| s.mean_edge).collect();
    assert!(edges.windows(2).any(|w| w[0] != w[1]), "{edges:?}");
    assert!(base.strategies.iter().all(|s| s.mean_retail_share > 0.0 || s.name.contains("500")), "{edges:?}");
}

/// The same for curves beyond constant product, which take the searches' other paths: their
/// arbitrage runs the line search, and their orders the router's model rounds and, when the
/// models' split swings (a piecewise-linear ladder beside a curve), its cutting planes, whose
/// ties (a split's last rounding units among equal shares) go to the first *seated* pool — a
/// per-seed draw by name, never the config's order. Four families of the curve benchmark set
/// (power, ladder, PMM in u128 fixed point with an integer square root, subsidy with its fee
/// step) beside a constant-product example, in three orders.
#[test]
fn permuting_entries_beyond_constant_product_changes_no_strategys_results() {
    let mut paths: Vec<std::path::PathBuf> =
        ["power", "ladder", "pmm", "subsidy"].iter().map(|name| bench_curve_wasm(name)).collect();
    paths.push(example_wasm("fixed-fee-30"));
    let line_up = |order: &[usize]| {
        let entries: String =
            order.iter().map(|&k| format!("[[strategy]]\npath = \"{}\"\n", paths[k].display())).collect();
        config(&format!("[run]\nsimulations = 3\nsteps = 2000\nepoch_len = 500\nseed_start = 11\n{entries}"))
    };
    let base = run(&line_up(&[0, 1, 2, 3, 4]));
    let expected = by_name(&base);
    assert_eq!(expected.len(), 6, "five strategies and the normalizer");
    for order in [[4, 3, 2, 1, 0], [2, 4, 0, 3, 1]] {
        assert_same_results(&base, &run(&line_up(&order)), &order);
    }
    // Not vacuous: every family traded with retail and was searched beyond one quote a step.
    for sim in &base.simulations {
        for pool in &sim.pools {
            assert!(pool.disqualified.is_none() && pool.retail_volume > 0.0, "seed {}: {pool:?}", sim.seed);
        }
    }
    let stats = &base.simulations[0].stats;
    assert!(stats.arb_quotes as f64 > 4.0 * 2_000.0, "the line search ran: {stats:?}");
}

/// Mean and standard error of the per-seed differences `a − b`.
fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Runs `copies` identical copies of `example` and checks every pair is indistinguishable:
/// the paired mean difference within 3 standard errors.
fn copies_are_indistinguishable(example: &str, copies: usize, sims: u32, steps: u32, epoch_len: u32) {
    let path = example_wasm(example);
    let entries: String = (0..copies).map(|_| format!("[[strategy]]\npath = \"{}\"\n", path.display())).collect();
    let results = run(&config(&format!(
        "[run]\nsimulations = {sims}\nsteps = {steps}\nepoch_len = {epoch_len}\nseed_start = 1000\n{entries}"
    )));
    let edges: Vec<Vec<f64>> =
        (0..copies).map(|k| results.simulations.iter().map(|s| s.pools[k].edge).collect()).collect();
    for i in 0..copies {
        for j in i + 1..copies {
            let (mean, se) = paired(&edges[i], &edges[j]);
            assert!(
                mean.abs() <= 3.0 * se || (mean == 0.0 && se == 0.0),
                "{example}: copy {i} vs copy {j} differ by {mean:+.3} ± {se:.3} Y over {sims} seeds (entry order must not matter)"
            );
        }
    }
}

#[test]
fn four_identical_starters_show_no_entry_order_effect() {
    copies_are_indistinguishable("starter", 4, 500, 3_000, 1_000);
}

#[test]
fn identical_copies_of_every_example_are_indistinguishable() {
    for &example in EXAMPLES {
        copies_are_indistinguishable(example, 3, 500, 1_000, 250);
    }
}

#[test]
fn an_honest_curve_capped_at_the_reserve_is_no_shape_violation() {
    let capped = workspace().join("tests/fixtures/honest/capped_virtual_reserves.wat");
    // In a run: with deep virtual liquidity it trades a lot, and retail can ask for more than
    // its reserve; never disqualified.
    let results = run(&config(&format!(
        "[run]\nsimulations = 4\nsteps = 2000\nepoch_len = 500\n[market]\nmean_order_size = 400.0\n[[strategy]]\npath = \"{}\"\n[[strategy]]\npath = \"{}\"\n",
        capped.display(),
        example_wasm("fixed-fee-30").display()
    )));
    for sim in &results.simulations {
        assert_eq!(sim.pools[0].disqualified, None, "seed {}", sim.seed);
        assert!(sim.pools[0].retail_volume > 0.0);
    }
    // In validate: the same rule, so the same verdict.
    let (passed, text) = validate(&capped);
    assert!(text.contains("quotes     PASS"), "{text}");
    assert!(passed, "{text}");
}

#[test]
fn a_quote_at_the_reserve_is_delivered_one_unit_short_and_above_it_is_absurd() {
    use amm_engine::market::{AbsurdQuote, delivered_output};
    assert_eq!(delivered_output(5, 10), Ok(5));
    assert_eq!(delivered_output(10, 10), Ok(9));
    assert_eq!(delivered_output(0, 0), Ok(0));
    assert_eq!(delivered_output(11, 10), Err(AbsurdQuote { quote: 11, reserve_out: 10 }));
    // Capping keeps a capped curve nondecreasing.
    let curve = |x: u64| (x * 3).min(1_000);
    let delivered: Vec<u64> = (0..1_000).map(|x| delivered_output(curve(x), 1_000).unwrap()).collect();
    assert!(delivered.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_strategy_whose_every_hook_leaks_is_caught_in_its_first_epoch_at_the_default_audit_rate() {
    let leak = workspace().join("tests/fixtures/hostile/quote_to_hook_leak.wat");
    let entries: String = ["starter", "fixed-fee-30", "inventory-skew"]
        .iter()
        .map(|k| format!("[[strategy]]\npath = \"{}\"\n", example_wasm(k).display()))
        .collect();
    let results = run(&config(&format!(
        "[run]\nsimulations = 200\nsteps = 1000\nepoch_len = 1000\n[[strategy]]\npath = \"{}\"\n{entries}",
        leak.display()
    )));
    let caught = results
        .simulations
        .iter()
        .filter(|s| s.pools[0].disqualified.as_ref().is_some_and(|d| d.reason.starts_with("impure after_swap")))
        .count();
    assert!(caught as f64 >= 0.99 * 200.0, "caught in the first epoch in {caught} of 200 simulations");
    for sim in &results.simulations {
        assert!(sim.pools[1..4].iter().all(|p| p.disqualified.is_none()), "seed {}: an honest pool was hit", sim.seed);
    }
}

#[test]
fn honest_strategies_pass_every_hook_and_quote_audit() {
    let entries: String =
        EXAMPLES.iter().map(|k| format!("[[strategy]]\npath = \"{}\"\n", example_wasm(k).display())).collect();
    let results = run(&config(&format!(
        "[run]\nsimulations = 3\nsteps = 1500\nepoch_len = 500\n[sandbox]\naudit_rate = 1.0\nhook_audit_rate = 1.0\n{entries}"
    )));
    for sim in &results.simulations {
        for pool in &sim.pools {
            assert_eq!(pool.disqualified, None, "seed {}: {} was disqualified", sim.seed, pool.name);
        }
    }
    assert!(results.stats.hook_calls > 1_000, "hooks ran");
}

#[test]
fn the_salt_moves_every_draw_a_strategy_must_not_predict_and_nothing_else() {
    let line_up = |salt: &str, extra: &str| {
        let entries: String = ["starter", "fixed-fee-30"]
            .iter()
            .map(|k| format!("[[strategy]]\npath = \"{}\"\n", example_wasm(k).display()))
            .collect();
        config(&format!("[run]\nsimulations = 3\nsteps = 1500\nepoch_len = 500\nsalt = \"{salt}\"\n{extra}{entries}"))
    };
    let a = run(&line_up("first secret", ""));
    let b = run(&line_up("second secret", ""));
    let mut differs = false;
    for (x, y) in a.simulations.iter().zip(&b.simulations) {
        assert_eq!(x.fair_prices, y.fair_prices, "the price path is the seed's alone");
        assert_eq!(x.stats.orders, y.stats.orders, "so is the order flow");
        differs |= x.stats.arb_quotes != y.stats.arb_quotes;
    }
    assert!(differs, "the arbitrageur's probes depend on the salt");
    assert!(a.to_json().contains("\"salt\": \"first secret\""), "recorded, so verify can reproduce");
    assert_eq!(a.to_json(), run(&line_up("first secret", "")).to_json(), "and deterministic");
}

#[test]
fn any_positive_hook_audit_rate_keeps_the_scheduled_audit() {
    let leak = workspace().join("tests/fixtures/hostile/quote_to_hook_leak.wat");
    let results = run(&config(&format!(
        "[run]\nsimulations = 4\nsteps = 1000\nepoch_len = 1000\n[sandbox]\nhook_audit_rate = 1e-300\n[[strategy]]\npath = \"{}\"\n",
        leak.display()
    )));
    for sim in &results.simulations {
        let d = sim.pools[0].disqualified.as_ref().unwrap_or_else(|| panic!("seed {}: the leak went unseen", sim.seed));
        assert!(d.reason.starts_with("impure after_swap"), "{d:?}");
    }
}
