//! Hostile modules, as inline WAT: each is refused at load or faults in the call, with the
//! specific error, and never hangs or crashes the host.

use amm_engine::sandbox::{ExportShape, Fault, LoadError, SandboxLimits, TrapKind, WasmType};
use amm_strategy_sdk::{QuoteRequest, Side, Storage};

use crate::support::{TINY_QUOTE, load_wat, strategy_wat};

fn quote_fault(compute_swap_body: &str, extra: &str, limits: &SandboxLimits) -> Fault {
    let module = load_wat(&strategy_wat(compute_swap_body, extra), limits).expect("module loads");
    let mut instance = module.instantiate(limits, 0).expect("instantiates");
    instance
        .quote(&QuoteRequest {
            side: Side::BuyX,
            input_amount: 1_000,
            reserve_x: 100_000,
            reserve_y: 10_000_000,
            storage: &Storage::zeroed(),
        })
        .expect_err("the quote must fault")
}

#[test]
fn infinite_loop_in_compute_swap_runs_out_of_fuel() {
    let limits = SandboxLimits::default();
    let fault = quote_fault("(loop $l (br $l)) (i64.const 0)", "", &limits);
    assert_eq!(fault, Fault::OutOfFuel { budget: limits.quote_fuel });
}

#[test]
fn a_faulted_instance_can_be_replaced_and_the_store_survives() {
    let limits = SandboxLimits::default();
    let module = load_wat(&strategy_wat("(loop $l (br $l)) (i64.const 0)", ""), &limits).unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    for _ in 0..3 {
        let fault = instance
            .quote(&QuoteRequest {
                side: Side::SellX,
                input_amount: 1,
                reserve_x: 1,
                reserve_y: 1,
                storage: &Storage::zeroed(),
            })
            .unwrap_err();
        assert_eq!(fault, Fault::OutOfFuel { budget: limits.quote_fuel });
    }
}

#[test]
fn infinite_loop_in_start_function_is_refused_at_load() {
    let limits = SandboxLimits::default();
    let err = load_wat(&strategy_wat("(i64.const 0)", "(func $start (loop $l (br $l))) (start $start)"), &limits)
        .unwrap_err();
    assert_eq!(err, LoadError::Instantiate(Fault::OutOfFuel { budget: limits.instantiate_fuel }));
}

#[test]
fn forbidden_import_is_named() {
    let wat = r#"(module
      (import "env" "steal_keys" (func (param i32)))
      (memory (export "memory") 17)
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#;
    let err = load_wat(wat, &SandboxLimits::default()).unwrap_err();
    match &err {
        LoadError::ForbiddenImport { module, name, .. } => {
            assert_eq!((module.as_str(), name.as_str()), ("env", "steal_keys"))
        }
        other => panic!("expected ForbiddenImport, got {other:?}"),
    }
    assert!(err.to_string().contains("`env.steal_keys`"), "{err}");
}

#[test]
fn wasi_import_is_forbidden_when_wasi_is_disabled() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 17)
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#;
    let limits = SandboxLimits { allow_wasi: false, ..SandboxLimits::default() };
    assert!(matches!(
        load_wat(wat, &limits).unwrap_err(),
        LoadError::ForbiddenImport { ref module, ref name, .. } if module == "wasi_snapshot_preview1" && name == "fd_write"
    ));
    assert!(load_wat(wat, &SandboxLimits::default()).is_ok(), "allowed by default");
}

#[test]
fn missing_export_is_named_with_its_signature() {
    let wat = r#"(module
      (memory (export "memory") 17)
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
      (func (export "epoch_boundary") (param i32)))"#;
    let err = load_wat(wat, &SandboxLimits::default()).unwrap_err();
    assert_eq!(
        err,
        LoadError::MissingExport {
            name: "after_swap",
            expected: ExportShape::Func { params: &[WasmType::I32], results: &[] }
        }
    );
    assert!(err.to_string().contains("missing export `after_swap`: expected func (i32)"), "{err}");
}

#[test]
fn mistyped_export_shows_expected_and_found() {
    let wat = r#"(module
      (memory (export "memory") 17)
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i32) (i32.const 0))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#;
    let err = load_wat(wat, &SandboxLimits::default()).unwrap_err();
    match &err {
        LoadError::MistypedExport { name, found, .. } => {
            assert_eq!(*name, "compute_swap");
            assert_eq!(found, "func (i32) -> i32");
        }
        other => panic!("expected MistypedExport, got {other:?}"),
    }
    assert!(err.to_string().contains("expected func (i32) -> i64, found func (i32) -> i32"), "{err}");
}

#[test]
fn memory_exported_as_a_function_is_mistyped() {
    let wat = r#"(module
      (memory 17)
      (func (export "memory"))
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#;
    assert!(matches!(
        load_wat(wat, &SandboxLimits::default()).unwrap_err(),
        LoadError::MistypedExport { name: "memory", expected: ExportShape::Memory, .. }
    ));
}

#[test]
fn malformed_bytes_are_refused() {
    let engine = crate::support::engine();
    let limits = SandboxLimits::default();
    let mut bytes = wat::parse_str(strategy_wat("(i64.const 0)", "")).unwrap();
    let len = bytes.len();
    bytes.truncate(len - 3);
    assert!(matches!(engine.load(&bytes, &limits).unwrap_err(), LoadError::Malformed { .. }));
    assert_eq!(engine.load(b"hello, world", &limits).unwrap_err(), LoadError::NotWasm);
    assert!(matches!(engine.load(b"\0asm\x01\0\0\0\xff\xff", &limits).unwrap_err(), LoadError::Malformed { .. }));
}

#[test]
fn a_component_is_refused_with_advice() {
    let bytes = wat::parse_str("(component)").unwrap();
    let err = crate::support::engine().load(&bytes, &SandboxLimits::default()).unwrap_err();
    assert_eq!(err, LoadError::Component);
    assert!(err.to_string().contains("wasm32-unknown-unknown"));
}

#[test]
fn oversized_module_is_refused_before_compiling() {
    let limits = SandboxLimits { max_module_bytes: 4_096, ..SandboxLimits::default() };
    let padding = format!(r#"(data (i32.const 4096) "{}")"#, "x".repeat(5_000));
    let bytes = wat::parse_str(strategy_wat("(i64.const 0)", &padding)).unwrap();
    assert_eq!(
        crate::support::engine().load(&bytes, &limits).unwrap_err(),
        LoadError::TooLarge { size: bytes.len() as u64, limit: 4_096 }
    );
}

#[test]
fn memory_grow_beyond_the_limit_faults_with_the_sizes() {
    let limits = SandboxLimits::default();
    // 17 pages now; ask for 1000 more (≈ 66 MiB total) against a 16 MiB limit.
    let fault = quote_fault("(drop (memory.grow (i32.const 1000))) (i64.const 0)", "", &limits);
    assert_eq!(fault, Fault::MemoryLimit { requested: (17 + 1000) * 65_536, limit: limits.max_memory_bytes });
}

#[test]
fn memory_grow_within_the_limit_succeeds() {
    let limits = SandboxLimits::default();
    let module = load_wat(&strategy_wat("(i64.extend_i32_s (memory.grow (i32.const 10)))", ""), &limits).unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    assert_eq!(instance.quote(&TINY_QUOTE), Ok(17), "memory.grow returns the old size");
}

#[test]
fn huge_declared_memory_is_refused_at_load() {
    let wat = strategy_wat("(i64.const 0)", "")
        .replace(r#"(memory (export "memory") 17)"#, r#"(memory (export "memory") 60000)"#);
    let limits = SandboxLimits::default();
    assert_eq!(
        load_wat(&wat, &limits).unwrap_err(),
        LoadError::MemoryTooLarge { declared: 60_000 * 65_536, limit: limits.max_memory_bytes }
    );
}

#[test]
fn amm_buffer_outside_memory_is_refused_at_load() {
    let wat = strategy_wat("(i64.const 0)", "").replace("(i32.const 1024))", "(i32.const 1113000))");
    assert_eq!(
        load_wat(&wat, &SandboxLimits::default()).unwrap_err(),
        LoadError::BufferOutOfBounds { address: 1_113_000, len: 2048, memory_size: 17 * 65_536 }
    );
}

#[test]
fn unbounded_recursion_is_a_stack_overflow() {
    let limits = SandboxLimits::default();
    let fault = quote_fault(
        "(call $deep (i64.const 0))",
        "(func $deep (param i64) (result i64) (call $deep (local.get 0)))",
        &limits,
    );
    assert_eq!(fault, Fault::StackOverflow);
}

#[test]
fn traps_are_classified_by_kind() {
    let limits = SandboxLimits::default();
    let cases = [
        ("(unreachable)", TrapKind::Unreachable),
        ("(i64.div_s (i64.const 1) (i64.const 0))", TrapKind::IntegerDivisionByZero),
        ("(i64.div_s (i64.const -9223372036854775808) (i64.const -1))", TrapKind::IntegerOverflow),
        ("(i64.trunc_f64_s (f64.const nan))", TrapKind::BadConversionToInteger),
        ("(i64.load (i32.const -8))", TrapKind::MemoryOutOfBounds),
    ];
    for (body, kind) in cases {
        assert_eq!(quote_fault(body, "", &limits), Fault::Trap { trap: kind }, "{body}");
    }
}

#[test]
fn bulk_memory_fill_costs_fuel_per_byte() {
    let limits = SandboxLimits::default();
    // One instruction filling 1 MiB: far more than the quote budget if charged per byte.
    let fault = quote_fault("(memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576)) (i64.const 0)", "", &limits);
    assert_eq!(fault, Fault::OutOfFuel { budget: limits.quote_fuel });
}

#[test]
fn wide_arithmetic_is_exact_and_metered_like_any_instruction() {
    // The sandbox accepts the wide-arithmetic proposal (strategies' u128 math is built on it):
    // exact — the high word of (2⁶⁴ − 1)² is 2⁶⁴ − 2 — and each instruction costs fuel, so a
    // loop of them runs out like any other loop.
    let limits = SandboxLimits::default();
    let high =
        "(local $high i64) (i64.mul_wide_u (i64.const -1) (i64.const -1)) (local.set $high) (drop) (local.get $high)";
    let module = load_wat(&strategy_wat(high, ""), &limits).expect("a wide-arithmetic module loads");
    let mut instance = module.instantiate(&limits, 0).expect("instantiates");
    let request = QuoteRequest {
        side: Side::BuyX,
        input_amount: 1_000,
        reserve_x: 100_000,
        reserve_y: 10_000_000,
        storage: &Storage::zeroed(),
    };
    assert_eq!(instance.quote(&request).expect("quotes"), u64::MAX - 1);
    let spin = "(loop $l (i64.add128 (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)) (drop) (drop) (br $l)) (i64.const 0)";
    assert_eq!(quote_fault(spin, "", &limits), Fault::OutOfFuel { budget: limits.quote_fuel });
}

// ---------------------------------------------------------------------------------------------
// The fixture files of tests/fixtures/hostile: each refused at load or disqualified in-run with
// its specific reason, while an honest strategy beside it runs to the end.

fn fixture(name: &str) -> std::path::PathBuf {
    crate::support::workspace().join("tests/fixtures/hostile").join(name)
}

fn load_fixture(name: &str) -> Result<amm_engine::sandbox::StrategyModule, LoadError> {
    let bytes = amm_engine::build::read_module(&fixture(name)).expect("fixture reads");
    crate::support::engine().load(&bytes, &SandboxLimits::default())
}

#[test]
fn load_time_fixtures_are_refused_with_their_reason() {
    let limits = SandboxLimits::default();
    type Expect = Box<dyn Fn(&LoadError) -> bool>;
    let cases: Vec<(&str, Expect)> = vec![
        ("loop_in_start.wat", Box::new(|e| *e == LoadError::Instantiate(Fault::OutOfFuel { budget: 10_000_000 }))),
        (
            "huge_memory.wat",
            Box::new(move |e| *e == LoadError::MemoryTooLarge { declared: 1 << 32, limit: limits.max_memory_bytes }),
        ),
        ("huge_table.wat", Box::new(|e| *e == LoadError::TableTooLarge { declared: 20_000_000, limit: 10_000 })),
        (
            "env_import.wat",
            Box::new(
                |e| matches!(e, LoadError::ForbiddenImport { module, name, .. } if module == "env" && name == "read_secret"),
            ),
        ),
        (
            "wasi_filesystem.wat",
            Box::new(|e| matches!(e, LoadError::ForbiddenImport { name, .. } if name == "path_open")),
        ),
        (
            "wasi_socket.wat",
            Box::new(|e| matches!(e, LoadError::ForbiddenImport { name, .. } if name == "sock_accept")),
        ),
        ("missing_export.wat", Box::new(|e| matches!(e, LoadError::MissingExport { name: "epoch_boundary", .. }))),
        (
            "mistyped_export.wat",
            Box::new(
                |e| matches!(e, LoadError::MistypedExport { name: "compute_swap", found, .. } if found == "func (i32) -> i32"),
            ),
        ),
        ("bad_buffer.wat", Box::new(|e| matches!(e, LoadError::BufferOutOfBounds { address: 4_294_967_280, .. }))),
        ("component.wat", Box::new(|e| *e == LoadError::Component)),
        (
            "malformed.wasm",
            Box::new(|e| matches!(e, LoadError::Malformed { message } if message.contains("end-of-file"))),
        ),
        ("not_wasm.wasm", Box::new(|e| *e == LoadError::NotWasm)),
    ];
    for (name, expected) in cases {
        match load_fixture(name) {
            Err(e) => assert!(expected(&e), "{name}: unexpected error {e:?}"),
            Ok(_) => panic!("{name} loaded"),
        }
    }
}

#[test]
fn a_function_built_to_be_slow_to_compile_is_refused_before_compiling() {
    // 720 KB of straight-line code in one function.
    let body = "(drop (i64.const 1234567))".repeat(120_000);
    let wat = strategy_wat(&format!("{body} (i64.const 0)"), "");
    match load_wat(&wat, &SandboxLimits::default()) {
        Err(LoadError::FunctionTooLarge { size, limit, .. }) => {
            assert!(size > limit && limit == 512 << 10, "{size} vs {limit}")
        }
        other => panic!("expected FunctionTooLarge, got {other:?}"),
    }
}

#[test]
fn the_wall_clock_backstop_stops_what_fuel_would_not_in_time() {
    // Fuel enough for hours; a 50 ms backstop ends the loop.
    let limits = SandboxLimits { quote_fuel: 1 << 40, backstop_ms: 50, ..SandboxLimits::default() };
    let fault = quote_fault("(loop $l (br $l)) (i64.const 0)", "", &limits);
    assert_eq!(fault, Fault::Deadline { limit_ms: 50 });
    assert!(fault.is_nondeterministic());
}

#[test]
fn bulk_memory_copy_costs_fuel_per_byte() {
    let limits = SandboxLimits::default();
    let fault = quote_fault("(memory.copy (i32.const 0) (i32.const 8) (i32.const 1048576)) (i64.const 0)", "", &limits);
    assert_eq!(fault, Fault::OutOfFuel { budget: limits.quote_fuel });
}

#[test]
fn table_growth_beyond_the_limit_faults() {
    let limits = SandboxLimits::default();
    let fault = quote_fault(
        "(drop (table.grow (ref.null func) (i32.const 20000))) (i64.const 0)",
        "(table 1 funcref)",
        &limits,
    );
    assert_eq!(fault, Fault::TableLimit { requested: 20_001, limit: 10_000 });
}

#[test]
fn indirect_calls_to_null_and_with_the_wrong_signature_trap() {
    let limits = SandboxLimits::default();
    let table = "(table 2 funcref) (elem (i32.const 0) $f) (func $f (param i32)) (type $q (func (result i64)))";
    assert_eq!(
        quote_fault("(call_indirect (type $q) (i32.const 1))", table, &limits),
        Fault::Trap { trap: TrapKind::IndirectCallToNull }
    );
    assert_eq!(
        quote_fault("(call_indirect (type $q) (i32.const 0))", table, &limits),
        Fault::Trap { trap: TrapKind::BadSignature }
    );
}

#[test]
fn a_hook_writing_garbage_storage_hurts_only_itself() {
    let limits = SandboxLimits::default();
    let module = load_fixture("garbage_storage.wat").unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    let mut storage = Storage::zeroed();
    let nano = 1_000_000_000;
    let honest = instance
        .quote(&QuoteRequest {
            side: Side::BuyX,
            input_amount: 10 * nano,
            reserve_x: 100 * nano,
            reserve_y: 10_000 * nano,
            storage: &storage,
        })
        .unwrap();
    assert!(honest > 0);
    let trade = amm_strategy_sdk::AfterSwap {
        side: Side::BuyX,
        input_amount: nano,
        output_amount: nano / 100,
        reserve_x: 100 * nano,
        reserve_y: 10_000 * nano,
        sim_step: 0,
        epoch_step: 0,
        epoch_number: 0,
        n_pools: 2,
        pool_index: 0,
        flow_captured: 1.0,
        capital_weight: 1.0,
        competing_spot_prices: [f32::NAN; 8],
    };
    instance.after_swap(&trade, &mut storage).unwrap();
    assert!(storage.as_bytes().iter().all(|&b| b == 0xff), "the host keeps what the hook left, nothing more");
    assert_eq!(
        instance.quote(&QuoteRequest {
            side: Side::BuyX,
            input_amount: 10 * nano,
            reserve_x: 100 * nano,
            reserve_y: 10_000 * nano,
            storage: &storage
        }),
        Ok(0)
    );
}

/// A short market run of an honest fixed-fee pool beside `fixture`.
fn race(fixture_name: &str, audit_rate: f64) -> amm_engine::report::RunResults {
    race_with(fixture_name, audit_rate, "")
}

/// [`race`], with `sandbox` (TOML lines) added to the `[sandbox]` table.
fn race_with(fixture_name: &str, audit_rate: f64, sandbox: &str) -> amm_engine::report::RunResults {
    let honest = crate::support::example_wasm("fixed-fee-30");
    let config = crate::support::config(&format!(
        r#"
        [run]
        simulations = 2
        steps = 1500
        epoch_len = 500
        [market]
        volatility = 0.005
        [sandbox]
        audit_rate = {audit_rate}
        {sandbox}
        [[strategy]]
        path = "{honest}"
        [[strategy]]
        path = "{hostile}"
        "#,
        honest = honest.display(),
        hostile = fixture(fixture_name).display(),
    ));
    crate::support::run(&config)
}

#[test]
fn in_run_fixtures_are_disqualified_with_their_reason_and_kind_and_the_honest_pool_runs_on() {
    use amm_engine::market::DisqualificationKind::{AbsurdQuote, AuditMismatch, Budget, Fault, ShapeViolation};
    use amm_engine::sandbox::CallKind;
    let cases: &[(&str, f64, CallKind, amm_engine::market::DisqualificationKind, &str)] = &[
        ("loop_in_quote.wat", 0.0, CallKind::Quote, Budget, "out of fuel"),
        ("loop_in_after_swap.wat", 0.0, CallKind::AfterSwap, Budget, "out of fuel"),
        ("loop_in_epoch_boundary.wat", 0.0, CallKind::EpochBoundary, Budget, "out of fuel"),
        ("memory_grow_bomb.wat", 0.0, CallKind::Quote, Budget, "memory limit: grew to 16842752 bytes"),
        ("recursion.wat", 0.0, CallKind::Quote, Budget, "stack overflow"),
        ("trap_unreachable.wat", 0.0, CallKind::Quote, Fault, "trap: unreachable"),
        ("trap_division.wat", 0.0, CallKind::Quote, Fault, "trap: integer division by zero"),
        ("trap_out_of_bounds.wat", 0.0, CallKind::Quote, Fault, "trap: out-of-bounds memory access"),
        ("trap_indirect_call.wat", 0.0, CallKind::Quote, Fault, "trap: indirect call to a null table entry"),
        ("bulk_fill.wat", 0.0, CallKind::Quote, Budget, "out of fuel"),
        ("bulk_copy.wat", 0.0, CallKind::Quote, Budget, "out of fuel"),
        ("table_grow.wat", 0.0, CallKind::Quote, Budget, "table limit: grew to 10001 elements"),
        ("absurd_output.wat", 0.0, CallKind::Quote, AbsurdQuote, "absurd quote: 18446744073709551615"),
        // A drop is also a concavity break: which one the sampled points show depends on
        // where the searches sample.
        ("non_monotone.wat", 0.0, CallKind::Quote, ShapeViolation, "quote curve not "),
        ("non_concave.wat", 0.0, CallKind::Quote, ShapeViolation, "quote curve not concave"),
        ("hidden_state_global.wat", 1.0, CallKind::Quote, AuditMismatch, "impure quote"),
        ("hidden_state_memory.wat", 1.0, CallKind::Quote, AuditMismatch, "impure quote"),
        ("time_bomb.wat", 0.0, CallKind::AfterSwap, Fault, "trap: unreachable"),
        // At the default hook audit rate: a quote-to-hook channel is caught by replaying hooks.
        (
            "quote_to_hook_leak.wat",
            0.0,
            CallKind::AfterSwap,
            AuditMismatch,
            "impure after_swap: the storage it left differs",
        ),
        // Zero liquidity at probe-sized inputs only: the cross-check quote exposes the kink.
        ("probe_recognizer.wat", 0.0, CallKind::Quote, ShapeViolation, "quote curve not concave"),
    ];
    for &(name, audit_rate, call, kind, reason) in cases {
        let results = race(name, audit_rate);
        let hostile = &results.strategies[1];
        assert_eq!(hostile.rejected, None, "{name} loads");
        for sim in &results.simulations {
            let d = sim.pools[1]
                .disqualified
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: not disqualified in seed {}", sim.seed));
            assert_eq!(d.call, call, "{name}: {d:?}");
            assert!(d.reason.contains(reason), "{name}: reason {:?} lacks {reason:?}", d.reason);
            assert_eq!(d.kind, kind, "{name}: {d:?}");
            let honest = &sim.pools[0];
            assert!(honest.disqualified.is_none(), "{name}: the honest pool was disqualified");
            assert_eq!(honest.epochs.len(), 3, "{name}: the honest pool ran every epoch");
            assert!(honest.retail_volume > 0.0, "{name}: the honest pool traded");
        }
        assert_eq!(hostile.disqualified_sims, 2, "{name}");
        assert!(
            hostile
                .disqualification_reasons
                .iter()
                .all(|d| d.example.contains(reason) && d.call == call && d.kind == kind),
            "{name}: {:?}",
            hostile.disqualification_reasons
        );
    }
}

#[test]
fn a_garbage_writing_strategy_is_not_disqualified_it_just_stops_trading() {
    let results = race("garbage_storage.wat", 0.0);
    for sim in &results.simulations {
        assert!(sim.pools[1].disqualified.is_none(), "garbage in its own storage breaks no rule");
        assert!(sim.pools[0].retail_volume > 10.0 * sim.pools[1].retail_volume.max(1e-9), "it offers (almost) nothing");
    }
}

#[test]
fn validate_fails_every_hostile_fixture_naming_a_reason() {
    let dir = crate::support::workspace().join("tests/fixtures/hostile");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let (passed, text) = crate::support::validate(&path);
        assert!(!passed, "{} passed validate:\n{text}", path.display());
        let fail = text.lines().find(|l| l.contains(" FAIL  ")).unwrap_or_else(|| panic!("no FAIL line:\n{text}"));
        assert!(fail.split(" FAIL  ").nth(1).is_some_and(|reason| reason.len() > 10), "{fail}");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures");
}

#[test]
fn wasi_is_locked_down_and_deterministic() {
    // A wasip1-style module: the quote returns 8 random bytes xor the wall clock's seconds.
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
      (memory (export "memory") 17)
      (func (export "amm_buffer") (result i32) (i32.const 1024))
      (func (export "compute_swap") (param i32) (result i64)
        (drop (call $random (i32.const 16) (i32.const 8)))
        (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 32)))
        (i64.xor (i64.load (i32.const 16)) (i64.div_u (i64.load (i32.const 32)) (i64.const 1000000000))))
      (func (export "after_swap") (param i32))
      (func (export "epoch_boundary") (param i32)))"#;
    let limits = SandboxLimits::default();
    let module = load_wat(wat, &limits).unwrap();
    assert!(module.info().uses_wasi);
    let first = |seed: u64| {
        let mut instance = module.instantiate(&limits, seed).unwrap();
        let a = instance.quote(&TINY_QUOTE).unwrap();
        let b = instance.quote(&TINY_QUOTE).unwrap();
        (a, b)
    };
    assert_eq!(first(7), first(7), "same seed, same random numbers and time");
    assert_ne!(first(7), first(8), "the seed matters");
    assert_ne!(first(7).0, first(7).1, "a stream, not a constant");
    // The wall clock is fixed at 2024-01-01T00:00:00Z: random xor time, twice, cancels to the
    // same time only if the clock never moves; check it directly.
    let wat_clock = wat.replace("(i64.xor (i64.load (i32.const 16)) ", "(i64.add (i64.const 0) ");
    let clock = load_wat(&wat_clock, &limits).unwrap();
    let mut instance = clock.instantiate(&limits, 1).unwrap();
    assert_eq!(instance.quote(&TINY_QUOTE), Ok(1_704_067_200));
}

/// The host-work fixtures and the reason they must be disqualified (in a run) or refused (by
/// validate) with.
const HOST_WORK_FIXTURES: &[(&str, &str)] = &[
    ("fd_write_spam.wat", "out of fuel in host work: wasi fd_write needed"),
    ("random_get_spam.wat", "out of fuel in host work: wasi random_get needed"),
];

#[test]
fn host_work_spam_is_disqualified_in_a_run_with_its_reason() {
    use amm_engine::sandbox::CallKind;
    for &(name, reason) in HOST_WORK_FIXTURES {
        // max_faults above 1: the spam's faults count as usual.
        let results = race_with(name, 0.0, "max_faults = 3");
        assert_eq!(results.strategies[1].rejected, None, "{name} loads");
        for sim in &results.simulations {
            let d = sim.pools[1].disqualified.as_ref().unwrap_or_else(|| panic!("{name}: not disqualified"));
            assert!(d.reason.contains(reason), "{name}: reason {:?} lacks {reason:?}", d.reason);
            assert_eq!(d.call, CallKind::Quote, "{name}: {d:?}");
            assert!(d.step <= 1, "{name}: the first quotes fault ({d:?})");
            let honest = &sim.pools[0];
            assert!(honest.disqualified.is_none(), "{name}: the honest pool was disqualified");
            assert_eq!(honest.epochs.len(), 3, "{name}: the honest pool ran every epoch");
            assert!(honest.retail_volume > 0.0, "{name}: the honest pool traded");
        }
    }
}

#[test]
fn validate_refuses_host_work_spam_with_its_reason() {
    for &(name, reason) in HOST_WORK_FIXTURES {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_amm-engine"))
            .args(["--no-cache", "validate"])
            .arg(fixture(name))
            .output()
            .expect("runs validate");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{name} passed validate:\n{text}");
        let fail = text.lines().find(|l| l.contains(" FAIL  ")).unwrap_or_else(|| panic!("no FAIL line:\n{text}"));
        assert!(fail.contains(reason), "{name}: {fail}");
    }
}

/// A run of `sims` simulations of `steps` with the honest expensive power curve (a quote costs
/// about half its fuel budget) first, then `others`.
fn expensive_curve_config(sims: u32, steps: u32, others: &[std::path::PathBuf]) -> amm_engine::config::Config {
    let expensive = crate::support::workspace().join("tests/fixtures/honest/expensive_power_curve.wat");
    let entries: String = std::iter::once(expensive.as_path())
        .chain(others.iter().map(std::path::PathBuf::as_path))
        .map(|p| format!("[[strategy]]\npath = \"{}\"\n", p.display()))
        .collect();
    crate::support::config(&format!("[run]\nsimulations = {sims}\nsteps = {steps}\nepoch_len = 1000\n{entries}"))
}

/// A strategy pays for each call within that call's budget, never for the number of calls the
/// engine chose to make: a curve that is not constant product (so the searches ask it more) and
/// spends about half its quote budget on every quote runs a whole 10,000-step simulation with
/// no disqualification, though its calls use far more fuel than the per-simulation budget of
/// 2 × 10^9 that used to disqualify it. The run reports what it cost.
#[test]
fn an_expensive_curve_within_its_per_call_budget_is_never_disqualified() {
    let config = expensive_curve_config(1, 10_000, &[]);
    let results = crate::support::run(&config);
    let pool = &results.simulations[0].pools[0];
    assert_eq!(pool.disqualified, None, "the expensive curve was disqualified");
    assert_eq!(pool.faults, 0);
    assert!(pool.retail_volume > 0.0 && pool.arb_volume > 0.0, "it traded");
    let cost = &amm_engine::report::StrategyCost::of(&results)[0];
    let per_call = cost.fuel_per_call.expect("wasm calls are metered");
    // Quotes cost about 50,000 each, its (empty) hooks next to nothing.
    assert!((30_000.0..55_000.0).contains(&per_call), "about half of 100,000 per quote: {per_call}");
    let fuel = cost.fuel_per_simulation.expect("metered");
    assert!(fuel > 2e9, "its calls used {fuel:.3e} fuel: more than the old per-simulation budget");
}

/// An operator sees who costs what: each strategy's engine time (its curve's arbitrage searches
/// and its share of routing) is reported per simulation, and being wall-clock it stays out of the
/// results, which must be byte-identical from run to run.
#[test]
fn a_run_reports_the_engine_time_each_strategy_costs_outside_its_results() {
    let config = expensive_curve_config(2, 3_000, &[crate::support::example_wasm("fixed-fee-30")]);
    let results = crate::support::run(&config);
    let costs = amm_engine::report::StrategyCost::of(&results);
    assert_eq!(costs.len(), 2);
    for cost in &costs {
        assert!(cost.engine_ms_per_simulation > 0.0, "{}: no engine time reported", cost.name);
    }
    let shown = amm_engine::report::leaderboard::render_costs(&costs, 3000);
    assert!(shown.contains("ms engine"), "{shown}");
    let json = serde_json::to_string(&results).unwrap();
    assert!(!json.contains("engine_ns") && !json.contains("engine_ms"), "timing leaked into the results");
}
