//! Shards and merge: a run split across machines recombines into exactly the single run.

use amm_engine::report::{Shard, merge};
use amm_engine::run::{self, RunOptions};

use crate::support::{config, example_wasm, workspace};

fn line_up() -> amm_engine::config::Config {
    config(&format!(
        "[run]\nsimulations = 7\nsteps = 1200\nepoch_len = 400\nseed_start = 3\nseed_stride = 5\n\
         [[strategy]]\npath = \"{}\"\n[[strategy]]\npath = \"{}\"\n",
        example_wasm("starter").display(),
        example_wasm("fixed-fee-100").display()
    ))
}

fn run_shard(config: &amm_engine::config::Config, shard: Option<Shard>) -> amm_engine::report::RunResults {
    let options = RunOptions {
        progress: false,
        build: amm_engine::build::BuildOptions {
            target_dir: Some(workspace().join("target/test-wasm")),
            ..Default::default()
        },
        shard,
        params: Vec::new(),
    };
    let engine = run::engine_for(config).unwrap();
    let entrants = run::load_entrants(config, &engine, &options).expect("parameters");
    run::run(config, entrants, &options).unwrap()
}

#[test]
fn merged_shards_equal_the_single_run_byte_for_byte() {
    let config = line_up();
    let single = run_shard(&config, None).to_json();
    // 7 simulations in 3 shards (2, 2, 3), given to merge out of order, through JSON files.
    let parts: Vec<_> = [2, 0, 1]
        .iter()
        .map(|&index| {
            let shard = Shard { index, count: 3 };
            let text = run_shard(&config, Some(shard)).to_json();
            assert!(text.contains("\"shard\""), "a shard's results say which shard they are");
            (std::path::PathBuf::from(format!("shard-{index}")), serde_json::from_str(&text).unwrap())
        })
        .collect();
    let merged = merge::merge(parts).unwrap();
    assert_eq!(merged.to_json(), single);
    assert_eq!(
        amm_engine::report::html::render(&merged),
        amm_engine::report::html::render(&serde_json::from_str(&single).unwrap())
    );
}

#[test]
fn merge_refuses_missing_repeated_or_foreign_shards() {
    let config = line_up();
    let shard = |index| run_shard(&config, Some(Shard { index, count: 2 }));
    let (a, b) = (shard(0), shard(1));
    let named = |r: &amm_engine::report::RunResults, n: &str| (std::path::PathBuf::from(n), r.clone());
    let missing = merge::merge(vec![named(&a, "a")]).unwrap_err().to_string();
    assert!(missing.contains("shard 1/2 is missing"), "{missing}");
    let twice = merge::merge(vec![named(&a, "a"), named(&a, "a2")]).unwrap_err().to_string();
    assert!(twice.contains("given twice"), "{twice}");
    let mut other = config.clone();
    other.market.min_arb_profit = 0.02;
    let foreign = run_shard(&other, Some(Shard { index: 1, count: 2 }));
    let err = merge::merge(vec![named(&a, "a"), named(&foreign, "f")]).unwrap_err().to_string();
    assert!(err.contains("the configuration differs"), "{err}");
    assert!(merge::merge(vec![named(&b, "b"), named(&a, "a")]).is_ok());
}

#[test]
fn shard_ranges_partition_the_simulations() {
    for total in [1u32, 7, 100, 1000] {
        for count in 1..=9u32 {
            let mut next = 0;
            for index in 0..count {
                let r = Shard { index, count }.range(total);
                assert_eq!(r.start, next, "contiguous");
                next = r.end;
            }
            assert_eq!(next, total, "complete");
        }
    }
    assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
    assert!(Shard::parse("4/4").is_err() && Shard::parse("1").is_err() && Shard::parse("0/0").is_err());
}
