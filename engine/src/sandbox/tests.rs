//! Sandbox unit tests: every accepted `[sandbox]` value against a real engine (issue 8, item 8),
//! and the fuel the WASI host functions and the simulation budget charge (item 4).

use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Storage};

use super::limits::RANGES;
use super::*;

/// A quote whose answer nobody checks: one nano unit in, on a pool of one nano unit a side.
const TINY_QUOTE: QuoteRequest<'static> =
    QuoteRequest { side: Side::BuyX, input_amount: 1, reserve_x: 1, reserve_y: 1, storage: &Storage::zeroed() };

fn engine_for(limits: &SandboxLimits) -> SandboxEngine {
    SandboxEngine::new(EngineSettings::for_limits(limits, 4))
        .unwrap_or_else(|e| panic!("engine refused limits {limits:?}: {e}"))
}

fn load(engine: &SandboxEngine, wat: &str, limits: &SandboxLimits) -> StrategyModule {
    let bytes = wat::parse_str(wat).expect("test WAT parses");
    engine.load(&bytes, limits).unwrap_or_else(|e| panic!("load under {limits:?}: {e}"))
}

fn trade() -> AfterSwap {
    AfterSwap {
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
    }
}

fn epoch() -> EpochBoundary {
    EpochBoundary {
        epoch_number: 0,
        new_reserve_x: 100_000,
        new_reserve_y: 10_000_000,
        epoch_edge: 1.0,
        cumulative_edge: 1.0,
        capital_weight: 0.5,
    }
}

/// A small WASI strategy that uses every limit up to its edge: one 64 KiB page declared, a
/// table of exactly `max_table_elements`, and a quote that grows memory to exactly
/// `max_memory_bytes`, prints 3 bytes, draws 8 random bytes and returns the memory's pages.
fn edge_strategy(limits: &SandboxLimits) -> String {
    let pages = limits.max_memory_bytes / 65_536;
    let table = limits.max_table_elements;
    format!(
        r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (table {table} funcref)
      (data (i32.const 60000) "ok\n")
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64)
        (if (i32.eq (memory.grow (i32.sub (i32.const {pages}) (memory.size))) (i32.const -1)) (then unreachable))
        (i32.store (i32.const 60008) (i32.const 60000))
        (i32.store (i32.const 60012) (i32.const 3))
        (if (call $w (i32.const 1) (i32.const 60008) (i32.const 1) (i32.const 60016)) (then unreachable))
        (if (call $r (i32.const 60020) (i32.const 8)) (then unreachable))
        (i64.extend_i32_u (memory.size)))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#
    )
}

/// Builds an engine for `limits`, loads [`edge_strategy`] and calls every entry point.
fn exercise(limits: &SandboxLimits, what: &str) {
    limits.check().unwrap_or_else(|e| panic!("{what}: check refused an accepted value: {e}"));
    let engine = engine_for(limits);
    let module = load(&engine, &edge_strategy(limits), limits);
    let mut instance = module.instantiate(limits, 1).unwrap_or_else(|e| panic!("{what}: instantiate: {e}"));
    let pages = instance.quote(&QuoteRequest {
        side: Side::BuyX,
        input_amount: 1_000,
        reserve_x: 100_000,
        reserve_y: 10_000_000,
        storage: &Storage::zeroed(),
    });
    assert_eq!(pages, Ok(limits.max_memory_bytes / 65_536), "{what}: the quote grows memory to the limit");
    let mut storage = Storage::zeroed();
    assert_eq!(instance.after_swap(&trade(), &mut storage), Ok(()), "{what}");
    assert_eq!(instance.epoch_boundary(&epoch(), &mut storage), Ok(()), "{what}");
    let (kept, dropped) = instance.log().expect("a WASI module has a log");
    let room = (limits.max_log_bytes as usize).min(3);
    assert_eq!((kept.as_slice(), dropped), (&b"ok\n"[..room], (3 - room) as u64), "{what}: the log");
}

#[test]
fn every_accepted_sandbox_value_builds_an_engine_that_runs_a_strategy() {
    for range in RANGES {
        for value in [range.min, range.max] {
            let mut limits = SandboxLimits::default();
            (range.set)(&mut limits, value);
            exercise(&limits, &format!("{} = {value}", range.key));
        }
    }
}

#[test]
fn every_key_at_its_minimum_or_its_maximum_at_once_works_too() {
    let mut lowest = SandboxLimits::default();
    let mut highest = SandboxLimits::default();
    for range in RANGES {
        (range.set)(&mut lowest, range.min);
        (range.set)(&mut highest, range.max);
    }
    exercise(&lowest, "every key at its minimum");
    exercise(&highest, "every key at its maximum");
}

#[test]
fn values_just_outside_each_range_are_refused_naming_the_key() {
    for range in RANGES {
        let outside = range.min.checked_sub(1).into_iter().chain([range.max + 1]);
        for value in outside {
            let mut limits = SandboxLimits::default();
            (range.set)(&mut limits, value);
            let err = limits.check().expect_err("out of range");
            assert_eq!((err.key, err.value.as_str()), (range.key, value.to_string().as_str()));
            assert_eq!(err.expected, range.expected);
        }
    }
    let limits = SandboxLimits { max_wasm_stack_bytes: 64 << 20, ..SandboxLimits::default() };
    let message = limits.check().expect_err("64 MiB is over the range").to_string();
    assert!(message.contains("64 KiB to 1 MiB") && message.contains("2 MiB stacks"), "{message}");
}

#[test]
fn deep_recursion_faults_at_both_ends_of_the_stack_range_on_a_default_sized_thread() {
    // Rust gives new threads 2 MiB (the run's workers and the test harness's threads alike).
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let range = RANGES.iter().find(|r| r.key == "max_wasm_stack_bytes").expect("the stack key");
            [range.min, range.max].map(|stack| {
                let limits =
                    SandboxLimits { max_wasm_stack_bytes: stack, quote_fuel: 1 << 40, ..SandboxLimits::default() };
                let wat = r#"(module
                  (memory (export "memory") 1)
                  (func (export "amm_buffer") (result i32) (i32.const 0))
                  (func $deep (param i64) (result i64) (call $deep (local.get 0)))
                  (func (export "compute_swap") (param i32) (result i64) (call $deep (i64.const 0)))
                  (func (export "after_swap") (param i32))
                  (func (export "epoch_boundary") (param i32)))"#;
                let module = load(&engine_for(&limits), wat, &limits);
                let mut instance = module.instantiate(&limits, 0).expect("instantiates");
                instance.quote(&TINY_QUOTE)
            })
        })
        .expect("spawn")
        .join()
        .expect("no crash");
    assert_eq!(outcome, [Err(Fault::StackOverflow), Err(Fault::StackOverflow)]);
}

/// The preview 1 signature of every allowed WASI function, as Rust's `std` imports it.
const SIGNATURES: &[(&str, &str)] = &[
    ("args_get", "(param i32 i32) (result i32)"),
    ("args_sizes_get", "(param i32 i32) (result i32)"),
    ("environ_get", "(param i32 i32) (result i32)"),
    ("environ_sizes_get", "(param i32 i32) (result i32)"),
    ("clock_res_get", "(param i32 i32) (result i32)"),
    ("clock_time_get", "(param i32 i64 i32) (result i32)"),
    ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
    ("fd_close", "(param i32) (result i32)"),
    ("fd_fdstat_get", "(param i32 i32) (result i32)"),
    ("fd_prestat_get", "(param i32 i32) (result i32)"),
    ("fd_prestat_dir_name", "(param i32 i32 i32) (result i32)"),
    ("fd_seek", "(param i32 i64 i32 i32) (result i32)"),
    ("proc_exit", "(param i32)"),
    ("random_get", "(param i32 i32) (result i32)"),
    ("sched_yield", "(result i32)"),
];

#[test]
fn the_host_provides_every_allowed_wasi_function_with_its_preview1_signature() {
    let mut names: Vec<&str> = SIGNATURES.iter().map(|(n, _)| *n).collect();
    let mut allowed = WASI_ALLOWED.to_vec();
    names.sort_unstable();
    allowed.sort_unstable();
    assert_eq!(names, allowed, "the signature table covers exactly the allowlist");
    let imports: String =
        SIGNATURES.iter().map(|(name, sig)| format!("(import \"{WASI_MODULE}\" \"{name}\" (func {sig}))\n")).collect();
    let wat = format!(
        r#"(module {imports}
          (memory (export "memory") 1)
          (func (export "amm_buffer") (result i32) (i32.const 0))
          (func (export "compute_swap") (param i32) (result i64) (i64.const 1))
          (func (export "after_swap") (param i32))
          (func (export "epoch_boundary") (param i32)))"#
    );
    let limits = SandboxLimits::default();
    // Linking fails (a compile error naming the import) if any is missing or mistyped.
    let module = load(&engine_for(&limits), &wat, &limits);
    assert!(module.info().uses_wasi);
}

/// Fuel a quote uses when its body is `call`, a call to `name` with signature `sig`, or (with
/// `stub`) to a wasm function of the same signature returning 0; and what the call returned.
fn quote_fuel_with(name: &str, sig: &str, call: &str, stub: bool, limits: &SandboxLimits) -> (u64, Result<u64, Fault>) {
    let callee = if stub {
        format!("(func $f {sig} (i32.const 0))")
    } else {
        format!("(import \"{WASI_MODULE}\" \"{name}\" (func $f {sig}))")
    };
    let wat = format!(
        r#"(module {callee}
          (memory (export "memory") 2)
          (data (i32.const 4096) "0123456789")
          (func (export "amm_buffer") (result i32) (i32.const 0))
          (func (export "compute_swap") (param i32) (result i64)
            ;; One iovec at 2048: 100 bytes from 4096.
            (i32.store (i32.const 2048) (i32.const 4096))
            (i32.store (i32.const 2052) (i32.const 100))
            (i64.extend_i32_u {call}))
          (func (export "after_swap") (param i32))
          (func (export "epoch_boundary") (param i32)))"#
    );
    let module = load(&engine_for(limits), &wat, limits);
    let mut instance = module.instantiate(limits, 5).expect("instantiates");
    let result = instance.quote(&TINY_QUOTE);
    (instance.fuel_used(), result)
}

#[test]
fn every_wasi_call_charges_a_fixed_cost_plus_its_bytes_before_working() {
    let (call, byte, random) = (HOST_CALL_FUEL, HOST_BYTE_FUEL, RANDOM_BYTE_FUEL);
    // (function, call expression, fuel it must cost, errno it must return)
    let cases: &[(&str, &str, u64, u64)] = &[
        ("args_get", "(call $f (i32.const 64) (i32.const 128))", call, 0),
        ("args_sizes_get", "(call $f (i32.const 64) (i32.const 128))", call + 8 * byte, 0),
        ("environ_get", "(call $f (i32.const 64) (i32.const 128))", call, 0),
        ("environ_sizes_get", "(call $f (i32.const 64) (i32.const 128))", call + 8 * byte, 0),
        ("clock_res_get", "(call $f (i32.const 0) (i32.const 64))", call + 8 * byte, 0),
        ("clock_time_get", "(call $f (i32.const 0) (i64.const 1) (i32.const 64))", call + 8 * byte, 0),
        ("clock_time_get", "(call $f (i32.const 2) (i64.const 1) (i32.const 64))", call + 8 * byte, 28),
        // 8 bytes of iovec and 4 of result, then the 100 data bytes.
        ("fd_write", "(call $f (i32.const 1) (i32.const 2048) (i32.const 1) (i32.const 64))", call + 112 * byte, 0),
        ("fd_write", "(call $f (i32.const 3) (i32.const 2048) (i32.const 1) (i32.const 64))", call + 12 * byte, 8),
        ("fd_close", "(call $f (i32.const 9))", call, 8),
        ("fd_fdstat_get", "(call $f (i32.const 1) (i32.const 64))", call + 24 * byte, 0),
        ("fd_prestat_get", "(call $f (i32.const 3) (i32.const 64))", call, 8),
        ("fd_prestat_dir_name", "(call $f (i32.const 3) (i32.const 64) (i32.const 8))", call, 8),
        ("fd_seek", "(call $f (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 64))", call, 70),
        ("random_get", "(call $f (i32.const 64) (i32.const 32))", call + 32 * random, 0),
        ("sched_yield", "(call $f)", call, 0),
    ];
    let limits = SandboxLimits::default();
    for &(name, expr, cost, errno) in cases {
        let sig = SIGNATURES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).expect("known");
        let (with_host, result) = quote_fuel_with(name, sig, expr, false, &limits);
        let (with_stub, _) = quote_fuel_with(name, sig, expr, true, &limits);
        assert_eq!(result, Ok(errno), "{name}: errno");
        // The stub itself costs 2 (its `i32.const 0` and its return).
        assert_eq!(with_host + 2 - with_stub, cost, "{name}: fuel charged for {expr}");
    }
}

#[test]
fn proc_exit_is_an_exit_fault_and_still_costs_fuel() {
    let limits = SandboxLimits::default();
    let (used, result) = quote_fuel_with(
        "proc_exit",
        "(param i32)",
        "(block (result i32) (call $f (i32.const 3)) (i32.const 0))",
        false,
        &limits,
    );
    assert_eq!(result, Err(Fault::Exit { code: 3 }));
    assert!(used >= HOST_CALL_FUEL, "{used}");
}

/// A module whose quote writes `bytes` bytes to stdout in one call.
fn writer(bytes: u32) -> String {
    format!(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 2)
          (func (export "amm_buffer") (result i32) (i32.const 0))
          (func (export "compute_swap") (param i32) (result i64)
            (i32.store (i32.const 2048) (i32.const 65536))
            (i32.store (i32.const 2052) (i32.const {bytes}))
            (i64.extend_i32_u (call $w (i32.const 1) (i32.const 2048) (i32.const 1) (i32.const 2056))))
          (func (export "after_swap") (param i32))
          (func (export "epoch_boundary") (param i32)))"#
    )
}

#[test]
fn host_work_over_the_calls_fuel_faults_before_doing_it_and_consumes_the_rest() {
    let limits = SandboxLimits { quote_fuel: 10_000, ..SandboxLimits::default() };
    let module = load(&engine_for(&limits), &writer(65_536), &limits);
    let mut instance = module.instantiate(&limits, 0).expect("instantiates");
    let fault = instance.quote(&TINY_QUOTE).expect_err("64 KiB is over 10,000 fuel");
    match &fault {
        Fault::HostWorkOverFuel { function: "fd_write", bytes: 65_536, cost, left, budget: 10_000 } => {
            assert_eq!(*cost, 65_536 * HOST_BYTE_FUEL);
            assert!(*left < 10_000 - HOST_CALL_FUEL, "{left}");
        }
        other => panic!("expected HostWorkOverFuel in fd_write, got {other:?}"),
    }
    assert!(fault.to_string().starts_with("out of fuel in host work: wasi fd_write needed"), "{fault}");
    assert_eq!(instance.fuel_left(), 0, "the failed call consumed what it had");
    assert_eq!(instance.fuel_used(), 10_000);
    assert_eq!(instance.log(), Some((Vec::new(), 0)), "nothing was written");
    // Within budget, the same call works and costs exactly its bytes more per byte.
    let small = |bytes: u32| {
        let module = load(&engine_for(&limits), &writer(bytes), &limits);
        let mut instance = module.instantiate(&limits, 0).expect("instantiates");
        assert_eq!(instance.quote(&TINY_QUOTE), Ok(0));
        assert_eq!(instance.log().map(|(kept, _)| kept.len()), Some(bytes as usize));
        instance.fuel_used()
    };
    assert_eq!(small(2_000) - small(1_000), 1_000 * HOST_BYTE_FUEL);
}

/// A module whose quote burns about `rounds × 8` fuel, and whose `after_swap` writes
/// `bytes` to stdout.
fn burner(rounds: u32, bytes: u32) -> String {
    format!(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 2)
          (func (export "amm_buffer") (result i32) (i32.const 0))
          (func (export "compute_swap") (param i32) (result i64) (local $n i32)
            (local.set $n (i32.const {rounds}))
            (loop $l
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
            (i64.const 1))
          (func (export "after_swap") (param i32)
            (i32.store (i32.const 2048) (i32.const 65536))
            (i32.store (i32.const 2052) (i32.const {bytes}))
            (drop (call $w (i32.const 1) (i32.const 2048) (i32.const 1) (i32.const 2056))))
          (func (export "epoch_boundary") (param i32)))"#
    )
}

#[test]
fn a_strategy_pays_for_each_call_within_its_own_budget_however_many_calls_it_gets() {
    // Each quote burns about 12,000 fuel, half its 25,000 budget, and each hook writes 10,000
    // bytes of host work: fifty thousand calls later (a long simulation's worth for a curve the
    // searches work hard on), nothing has faulted and every unit is counted.
    let limits = SandboxLimits { quote_fuel: 25_000, hook_fuel: 100_000, ..SandboxLimits::default() };
    let module = load(&engine_for(&limits), &burner(1_500, 10_000), &limits);
    let mut instance = module.instantiate(&limits, 0).expect("instantiates");
    let quote = |i: &mut WasmInstance| i.quote(&TINY_QUOTE);
    let mut storage = Storage::zeroed();
    let mut used = 0;
    for call in 0..50_000u32 {
        let before = instance.fuel_used();
        if call % 10 == 0 {
            assert_eq!(instance.after_swap(&trade(), &mut storage), Ok(()), "hook {call}");
        } else {
            assert_eq!(quote(&mut instance), Ok(1), "quote {call}");
            let cost = instance.fuel_used() - before;
            assert!((10_000..=13_000).contains(&cost), "a quote cost {cost}");
        }
        used += instance.fuel_used() - before;
    }
    assert_eq!(instance.fuel_used(), used);
    assert!(used > 500_000_000, "{used}: more than the 5 × 10^8 a per-simulation budget once allowed here");

    // Running out of the call's own budget is a fault of that call; the next call runs.
    let limits = SandboxLimits { quote_fuel: 5_000, ..SandboxLimits::default() };
    let module = load(&engine_for(&limits), &burner(1_500, 0), &limits);
    let mut instance = module.instantiate(&limits, 0).expect("instantiates");
    let fault = quote(&mut instance).expect_err("12,000 fuel in a 5,000 budget");
    assert_eq!(fault, Fault::OutOfFuel { budget: 5_000 });
    assert_eq!(quote(&mut instance), Err(Fault::OutOfFuel { budget: 5_000 }), "each call gets its own budget");
}

#[test]
fn wasi_randomness_is_seeded_and_clocks_are_fixed() {
    // The quote returns 8 bytes written at 4096 by `call`.
    let module_with = |call: &str| {
        format!(
            r#"(module
          (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "clock_time_get" (func $c (param i32 i64 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "amm_buffer") (result i32) (i32.const 0))
          (func (export "compute_swap") (param i32) (result i64)
            (if {call} (then unreachable))
            (i64.load (i32.const 4096)))
          (func (export "after_swap") (param i32))
          (func (export "epoch_boundary") (param i32)))"#
        )
    };
    let limits = SandboxLimits::default();
    let engine = engine_for(&limits);
    let quotes = |call: &str, seed: u64| {
        let module = load(&engine, &module_with(call), &limits);
        let mut instance = module.instantiate(&limits, seed).expect("instantiates");
        [0; 3].map(|_| instance.quote(&TINY_QUOTE).expect("quote"))
    };
    let random = "(call $r (i32.const 4096) (i32.const 8))";
    assert_eq!(quotes(random, 9), quotes(random, 9), "same seed, same stream");
    assert_ne!(quotes(random, 9), quotes(random, 10), "the seed matters");
    assert_ne!(quotes(random, 9)[0], quotes(random, 9)[1], "a stream, not a constant");
    let wall = "(call $c (i32.const 0) (i64.const 1) (i32.const 4096))";
    assert_eq!(quotes(wall, 1), [1_704_067_200_000_000_000; 3], "2024-01-01T00:00:00Z, fixed");
    let monotonic = "(call $c (i32.const 1) (i64.const 1) (i32.const 4096))";
    assert_eq!(quotes(monotonic, 1), [0; 3], "the monotonic clock never moves");
}

/// A strategy that reports what its memory and table hold and then dirties them: the word its
/// data segment put at 100, the words at 70,000 and 200,000 (pages 1 and 3, zero when fresh),
/// the pages it has grown to beyond its 4, whether its table's element 1 (set by its element
/// segment) is null and the elements it has grown to beyond its 2, in that order from the low
/// bits (its payload buffer sits at 8,192, clear of them). Then it overwrites all three words,
/// grows memory by a page and writes into it, nulls element 1 and grows the table.
const DIRTYING: &str = r#"(module
  (memory (export "memory") 4 16)
  (data (i32.const 100) "\2a\00\00\00")
  (table 2 8 funcref)
  (elem (i32.const 1) $f)
  (func $f)
  (func (export "amm_buffer") (result i32) (i32.const 8192))
  (func (export "compute_swap") (param i32) (result i64)
    (local $seen i64)
    (local.set $seen
      (i64.or
        (i64.extend_i32_u (i32.load (i32.const 100)))
        (i64.or
          (i64.shl (i64.extend_i32_u (i32.or (i32.load (i32.const 70000)) (i32.load (i32.const 200000)))) (i64.const 16))
          (i64.shl (i64.extend_i32_u (i32.sub (memory.size) (i32.const 4))) (i64.const 48)))))
    (local.set $seen
      (i64.or (local.get $seen)
        (i64.or
          (i64.shl (i64.extend_i32_u (ref.is_null (table.get (i32.const 1)))) (i64.const 56))
          (i64.shl (i64.extend_i32_u (i32.sub (table.size) (i32.const 2))) (i64.const 57)))))
    (i32.store (i32.const 100) (i32.const 7))
    (i32.store (i32.const 70000) (i32.const 0x77))
    (i32.store (i32.const 200000) (i32.const 0x77))
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 0x77))
    (table.set (i32.const 1) (ref.null func))
    (drop (table.grow (ref.null func) (i32.const 1)))
    (local.get $seen))
  (func (export "after_swap") (param i32))
  (func (export "epoch_boundary") (param i32)))"#;

#[test]
fn a_recycled_instance_starts_from_the_modules_own_memory_whatever_the_last_one_wrote() {
    // A simulation recycles pool slots: each epoch's audit instantiates a pristine copy in a
    // slot another instance dirtied. However the slot is reset (the pages kept resident, the
    // dirty pages found by the kernel's page scan, the rest decommitted), a new instance must
    // see its data and element segments restored, every other byte zero, and its declared
    // sizes.
    let limits = SandboxLimits::default();
    let module = load(&engine_for(&limits), DIRTYING, &limits);
    for round in 0..24u64 {
        let mut instance = module.instantiate(&limits, round).expect("instantiates");
        assert_eq!(instance.quote(&TINY_QUOTE), Ok(42), "round {round}: a fresh instance's memory");
        // The same instance sees what it wrote (so the test can tell a reset from none).
        assert_eq!(instance.quote(&TINY_QUOTE), Ok(7 | (0x77 << 16) | (1 << 48) | (3 << 56)), "round {round}");
    }
}

#[test]
fn the_dirty_page_scan_is_used_only_where_no_swap_is_active() {
    // `/proc/swaps` as Linux writes it: a header, then one line per active area.
    let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
    assert!(!swap_active(header));
    assert!(!swap_active(""));
    assert!(swap_active(&format!("{header}/swapfile                               file\t\t8388604\t\t0\t\t-2\n")));
    assert!(swap_active(&format!("{header}/dev/zram0                              partition\t4194300\t\t0\t\t100\n")));
}
