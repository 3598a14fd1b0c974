//! A hostile entrant changes nothing about how the others are treated: refused at load, it is
//! as if it had never entered; disqualified mid-run, the honest pools' trades up to that point
//! are the trades they make without it.

use crate::support::{config, example_wasm, fixture_wasm, run, workspace};

fn line_up(
    hostile: Option<&str>,
    steps: u32,
    epoch_len: u32,
    honest: &[std::path::PathBuf],
) -> amm_engine::config::Config {
    line_up_with(hostile, steps, epoch_len, honest, "")
}

/// [`line_up`], with `sandbox` (TOML lines) added to the `[sandbox]` table.
fn line_up_with(
    hostile: Option<&str>,
    steps: u32,
    epoch_len: u32,
    honest: &[std::path::PathBuf],
    sandbox: &str,
) -> amm_engine::config::Config {
    let mut entries = String::new();
    // The hostile entrant goes first, so the honest pools' indices would shift if it counted.
    if let Some(h) = hostile {
        entries +=
            &format!("[[strategy]]\npath = \"{}\"\n", workspace().join("tests/fixtures/hostile").join(h).display());
    }
    for (k, path) in honest.iter().enumerate() {
        entries += &format!("[[strategy]]\npath = \"{}\"\nname = \"Honest {k}\"\n", path.display());
    }
    config(&format!(
        "[run]\nsimulations = 3\nsteps = {steps}\nepoch_len = {epoch_len}\nseed_start = 11\n[sandbox]\nmax_log_bytes = 8000000\n{sandbox}\n{entries}"
    ))
}

#[test]
fn a_module_rejected_at_load_leaves_everyone_elses_results_identical() {
    let honest = [example_wasm("starter"), example_wasm("fixed-fee-30")];
    let alone = run(&line_up(None, 3000, 1000, &honest));
    let with = run(&line_up(Some("env_import.wat"), 3000, 1000, &honest));
    let rejected = &with.strategies[0];
    assert!(rejected.rejected.as_deref().is_some_and(|r| r.contains("env.read_secret")), "{rejected:?}");
    assert_eq!(json(&alone.strategies[..]), json(&with.strategies[1..]), "the honest strategies' summaries");
    assert_eq!(json(&alone.simulations[..]), json(&with.simulations[..]), "every simulation, pool by pool");
    assert_eq!(json(&alone.normalizer), json(&with.normalizer));
}

/// What a trade was, without the fields that legitimately depend on the line-up (the pool
/// count, capital weight and competitors' prices).
fn trades(log: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(log)
        .lines()
        .filter(|l| l.starts_with("S "))
        .map(|l| l.split(' ').take(7).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn a_module_disqualified_mid_run_changes_no_honest_trade_before_it() {
    let recorder = fixture_wasm("recorder");
    let honest = [recorder.clone(), recorder];
    // No epoch boundary before step 2500: capital shares only move there.
    let alone = run(&line_up(None, 2600, 2500, &honest));
    let with = run(&line_up(Some("zero_then_trap.wat"), 2600, 2500, &honest));
    for (a, w) in alone.simulations.iter().zip(&with.simulations) {
        let d = w.pools[0].disqualified.as_ref().expect("the hostile module is disqualified");
        assert!(d.reason.contains("unreachable"), "{d:?}");
        assert!(d.step < 2400, "disqualified early enough to compare after it too (step {})", d.step);
        for k in 0..2 {
            let (log_alone, _) = a.pools[k].log.as_ref().unwrap();
            let (log_with, _) = w.pools[k + 1].log.as_ref().unwrap();
            let (ta, tw) = (trades(log_alone), trades(log_with));
            let step = |t: &String| t.split(' ').nth(6).and_then(|s| s.parse::<u64>().ok()).unwrap();
            let before = |t: &Vec<String>| t.iter().filter(|x| step(x) < 2499).cloned().collect::<Vec<_>>();
            assert!(before(&ta).len() > 500, "seed {}: enough trades to mean something", a.seed);
            assert_eq!(before(&ta), before(&tw), "seed {}: honest pool {k}'s trades", a.seed);
        }
    }
}

#[test]
fn host_work_spam_is_disqualified_and_changes_no_honest_trade() {
    let recorder = fixture_wasm("recorder");
    let honest = [recorder.clone(), recorder];
    let alone = run(&line_up(None, 2600, 2500, &honest));
    for (spam, reason) in [
        ("fd_write_spam.wat", "out of fuel in host work: wasi fd_write"),
        ("random_get_spam.wat", "out of fuel in host work: wasi random_get"),
    ] {
        let with = run(&line_up(Some(spam), 2600, 2500, &honest));
        for (a, w) in alone.simulations.iter().zip(&with.simulations) {
            let d = w.pools[0].disqualified.as_ref().expect("the spam is disqualified");
            assert!(d.reason.contains(reason), "{spam}: {d:?}");
            for k in 0..2 {
                let (log_alone, dropped_alone) = a.pools[k].log.as_ref().unwrap();
                let (log_with, dropped_with) = w.pools[k + 1].log.as_ref().unwrap();
                assert_eq!(dropped_alone, dropped_with);
                let (ta, tw) = (trades(log_alone), trades(log_with));
                let step = |t: &String| t.split(' ').nth(6).and_then(|s| s.parse::<u64>().ok()).unwrap();
                let before = |t: &Vec<String>| t.iter().filter(|x| step(x) < 2499).cloned().collect::<Vec<_>>();
                assert!(before(&ta).len() > 500, "seed {}: enough trades to mean something", a.seed);
                assert_eq!(before(&ta), before(&tw), "{spam}, seed {}: honest pool {k}'s trades", a.seed);
            }
        }
    }
}

#[test]
fn a_strategy_burning_its_call_budgets_changes_nothing_but_its_cost() {
    // The burner against its twin: the same module without the burning. Each of the burner's
    // calls spends about 90 % of its own budget, which is its right: it is never disqualified,
    // every pool's trades (its own included) are the same as with the twin, and only the cost
    // reported for it differs.
    let scratch = crate::support::Scratch::new();
    let burner = workspace().join("tests/fixtures/honest/budget_burner.wat");
    let source = std::fs::read_to_string(&burner).unwrap();
    let twin_source =
        source.replace("(call $burn (i32.const 11250))", "").replace("(call $burn (i32.const 112500))", "");
    assert_eq!(twin_source.matches("call $burn").count(), 0, "the twin burns nothing");
    // Same file name, so the same display name: pools are seated by name, and the twin must
    // sit where the burner sits for the comparison to be exact.
    let twin = scratch.path().join("budget_burner.wat");
    std::fs::write(&twin, twin_source).unwrap();
    let recorder = fixture_wasm("recorder");
    let honest = [recorder.clone(), recorder];
    let with_burner = run(&line_up_with(Some("../honest/budget_burner.wat"), 2600, 2500, &honest, ""));
    let with_twin = run(&line_up_with(Some(twin.to_str().unwrap()), 2600, 2500, &honest, ""));
    for (b, t) in with_burner.simulations.iter().zip(&with_twin.simulations) {
        assert!(b.pools.iter().all(|p| p.disqualified.is_none()), "seed {}: nobody is disqualified", b.seed);
        assert_eq!(json(&b.pools), json(&t.pools), "seed {}: every pool's results", b.seed);
        for k in 0..2 {
            let (tb, tt) =
                (trades(&b.pools[k + 1].log.as_ref().unwrap().0), trades(&t.pools[k + 1].log.as_ref().unwrap().0));
            assert!(tb.len() > 500, "seed {}: enough trades to mean something", b.seed);
            assert_eq!(tb, tt, "seed {}: honest pool {k}'s trades", b.seed);
        }
    }
    let cost = |r: &amm_engine::report::RunResults| amm_engine::report::StrategyCost::of(r)[0].clone();
    let (burning, cheap) = (cost(&with_burner), cost(&with_twin));
    assert_eq!(burning.calls_per_simulation, cheap.calls_per_simulation, "the engine asked both the same");
    let (burning, cheap) = (burning.fuel_per_call.unwrap(), cheap.fuel_per_call.unwrap());
    assert!(burning > 50.0 * cheap, "the burner's cost shows: {burning:.0} vs {cheap:.0} fuel per call");
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}
