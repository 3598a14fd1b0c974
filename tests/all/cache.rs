//! The compiled-module cache: hits skip compilation, and a tampered entry is never loaded.

use amm_engine::sandbox::{EngineSettings, ModuleCache, SandboxEngine, SandboxLimits};
use amm_strategy_sdk::{QuoteRequest, Side, Storage};

use crate::support::{Scratch, example_wasm};

fn quote(engine: &SandboxEngine, bytes: &[u8]) -> u64 {
    let limits = SandboxLimits::default();
    let module = engine.load(bytes, &limits).expect("loads");
    let mut instance = module.instantiate(&limits, 0).unwrap();
    instance
        .quote(&QuoteRequest {
            side: Side::BuyX,
            input_amount: 1_000_000_000,
            reserve_x: 100_000_000_000,
            reserve_y: 10_000_000_000_000,
            storage: &Storage::zeroed(),
        })
        .unwrap()
}

#[test]
fn cached_modules_are_reused_and_tampered_entries_rebuilt() {
    let dir = Scratch::new();
    let cache = ModuleCache::open(dir.path()).unwrap();
    let engine =
        SandboxEngine::with_cache(EngineSettings::for_limits(&SandboxLimits::default(), 8), Some(cache.clone()))
            .unwrap();
    let (a, b) =
        (std::fs::read(example_wasm("fixed-fee-30")).unwrap(), std::fs::read(example_wasm("fixed-fee-500")).unwrap());
    let expected = (quote(&engine, &a), quote(&engine, &b));
    assert_eq!(cache.hits(), 0, "first loads compile");
    assert_eq!((quote(&engine, &a), quote(&engine, &b)), expected);
    assert_eq!(cache.hits(), 2, "second loads come from the cache");

    let entry = |bytes: &[u8]| {
        let sha = amm_engine::sandbox::sha256_hex(bytes);
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
            .expect("an entry per module")
    };
    // Flip one byte of compiled code: the MAC fails, the entry is rebuilt, results unchanged.
    let path_a = entry(&a);
    let mut code = std::fs::read(&path_a).unwrap();
    let n = code.len();
    code[n - 100] ^= 0x40;
    std::fs::write(&path_a, &code).unwrap();
    assert_eq!(quote(&engine, &a), expected.0);
    assert_eq!(cache.hits(), 2, "the tampered entry was not used");
    assert_ne!(std::fs::read(&path_a).unwrap(), code, "and was replaced");
    assert_eq!(quote(&engine, &a), expected.0);
    assert_eq!(cache.hits(), 3, "the rebuilt entry is used");

    // Another module's (valid) entry under this module's name: the MAC binds the module hash.
    let path_b = entry(&b);
    std::fs::copy(&path_b, &path_a).unwrap();
    assert_eq!(quote(&engine, &a), expected.0, "module a still quotes as itself");
    assert_eq!(cache.hits(), 3);

    // An entry written with another key (another user's cache) is not trusted either.
    let other_dir = Scratch::new();
    let other = ModuleCache::open(other_dir.path()).unwrap();
    let other_engine =
        SandboxEngine::with_cache(EngineSettings::for_limits(&SandboxLimits::default(), 8), Some(other.clone()))
            .unwrap();
    quote(&other_engine, &b);
    let theirs = std::fs::read_dir(other_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "bin"))
        .unwrap();
    std::fs::copy(&theirs, &path_b).unwrap();
    let hits = cache.hits();
    assert_eq!(quote(&engine, &b), expected.1);
    assert_eq!(cache.hits(), hits, "an entry signed with another key is rebuilt");
}
