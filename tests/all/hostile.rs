//! Hostile modules, as inline WAT: each is refused at load or faults in the call, with the
//! specific error, and never hangs or crashes the host.

use amm_engine::sandbox::{ExportShape, Fault, LoadError, SandboxLimits, TrapKind, WasmType};
use amm_strategy_sdk::{Side, Storage};

use crate::support::{load_wat, strategy_wat};

fn quote_fault(compute_swap_body: &str, extra: &str, limits: &SandboxLimits) -> Fault {
    let module = load_wat(&strategy_wat(compute_swap_body, extra), limits).expect("module loads");
    let mut instance = module.instantiate(limits, 0).expect("instantiates");
    instance
        .quote(Side::BuyX, 1_000, 100_000, 10_000_000, &Storage::zeroed())
        .expect_err("the quote must fault")
}

#[test]
fn infinite_loop_in_compute_swap_runs_out_of_fuel() {
    let limits = SandboxLimits::default();
    let fault = quote_fault("(loop $l (br $l)) (i64.const 0)", "", &limits);
    assert_eq!(
        fault,
        Fault::OutOfFuel {
            budget: limits.quote_fuel
        }
    );
}

#[test]
fn a_faulted_instance_can_be_replaced_and_the_store_survives() {
    let limits = SandboxLimits::default();
    let module = load_wat(&strategy_wat("(loop $l (br $l)) (i64.const 0)", ""), &limits).unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    for _ in 0..3 {
        let fault = instance.quote(Side::SellX, 1, 1, 1, &Storage::zeroed()).unwrap_err();
        assert_eq!(
            fault,
            Fault::OutOfFuel {
                budget: limits.quote_fuel
            }
        );
    }
}

#[test]
fn infinite_loop_in_start_function_is_refused_at_load() {
    let limits = SandboxLimits::default();
    let err = load_wat(
        &strategy_wat("(i64.const 0)", "(func $start (loop $l (br $l))) (start $start)"),
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        err,
        LoadError::Instantiate(Fault::OutOfFuel {
            budget: limits.instantiate_fuel
        })
    );
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
    let limits = SandboxLimits {
        allow_wasi: false,
        ..SandboxLimits::default()
    };
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
            expected: ExportShape::Func {
                params: &[WasmType::I32],
                results: &[]
            }
        }
    );
    assert!(
        err.to_string()
            .contains("missing export `after_swap`: expected func (i32)"),
        "{err}"
    );
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
    assert!(
        err.to_string()
            .contains("expected func (i32) -> i64, found func (i32) -> i32"),
        "{err}"
    );
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
        LoadError::MistypedExport {
            name: "memory",
            expected: ExportShape::Memory,
            ..
        }
    ));
}

#[test]
fn malformed_bytes_are_refused() {
    let engine = crate::support::engine();
    let limits = SandboxLimits::default();
    let mut bytes = wat::parse_str(strategy_wat("(i64.const 0)", "")).unwrap();
    let len = bytes.len();
    bytes.truncate(len - 3);
    assert!(matches!(
        engine.load(&bytes, &limits).unwrap_err(),
        LoadError::Malformed { .. }
    ));
    assert_eq!(engine.load(b"hello, world", &limits).unwrap_err(), LoadError::NotWasm);
    assert!(matches!(
        engine.load(b"\0asm\x01\0\0\0\xff\xff", &limits).unwrap_err(),
        LoadError::Malformed { .. }
    ));
}

#[test]
fn a_component_is_refused_with_advice() {
    let bytes = wat::parse_str("(component)").unwrap();
    let err = crate::support::engine()
        .load(&bytes, &SandboxLimits::default())
        .unwrap_err();
    assert_eq!(err, LoadError::Component);
    assert!(err.to_string().contains("wasm32-unknown-unknown"));
}

#[test]
fn oversized_module_is_refused_before_compiling() {
    let limits = SandboxLimits {
        max_module_bytes: 4_096,
        ..SandboxLimits::default()
    };
    let padding = format!(r#"(data (i32.const 4096) "{}")"#, "x".repeat(5_000));
    let bytes = wat::parse_str(strategy_wat("(i64.const 0)", &padding)).unwrap();
    assert_eq!(
        crate::support::engine().load(&bytes, &limits).unwrap_err(),
        LoadError::TooLarge {
            size: bytes.len() as u64,
            limit: 4_096
        }
    );
}

#[test]
fn memory_grow_beyond_the_limit_faults_with_the_sizes() {
    let limits = SandboxLimits::default();
    // 17 pages now; ask for 1000 more (≈ 66 MiB total) against a 16 MiB limit.
    let fault = quote_fault("(drop (memory.grow (i32.const 1000))) (i64.const 0)", "", &limits);
    assert_eq!(
        fault,
        Fault::MemoryLimit {
            requested: (17 + 1000) * 65_536,
            limit: limits.max_memory_bytes
        }
    );
}

#[test]
fn memory_grow_within_the_limit_succeeds() {
    let limits = SandboxLimits::default();
    let module = load_wat(
        &strategy_wat("(i64.extend_i32_s (memory.grow (i32.const 10)))", ""),
        &limits,
    )
    .unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    assert_eq!(
        instance.quote(Side::BuyX, 1, 1, 1, &Storage::zeroed()),
        Ok(17),
        "memory.grow returns the old size"
    );
}

#[test]
fn huge_declared_memory_is_refused_at_load() {
    let wat = strategy_wat("(i64.const 0)", "").replace(
        r#"(memory (export "memory") 17)"#,
        r#"(memory (export "memory") 60000)"#,
    );
    let limits = SandboxLimits::default();
    assert_eq!(
        load_wat(&wat, &limits).unwrap_err(),
        LoadError::MemoryTooLarge {
            declared: 60_000 * 65_536,
            limit: limits.max_memory_bytes
        }
    );
}

#[test]
fn amm_buffer_outside_memory_is_refused_at_load() {
    let wat = strategy_wat("(i64.const 0)", "").replace("(i32.const 1024))", "(i32.const 1113000))");
    assert_eq!(
        load_wat(&wat, &SandboxLimits::default()).unwrap_err(),
        LoadError::BufferOutOfBounds {
            address: 1_113_000,
            len: 2048,
            memory_size: 17 * 65_536
        }
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
        (
            "(i64.div_s (i64.const 1) (i64.const 0))",
            TrapKind::IntegerDivisionByZero,
        ),
        (
            "(i64.div_s (i64.const -9223372036854775808) (i64.const -1))",
            TrapKind::IntegerOverflow,
        ),
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
    let fault = quote_fault(
        "(memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576)) (i64.const 0)",
        "",
        &limits,
    );
    assert_eq!(
        fault,
        Fault::OutOfFuel {
            budget: limits.quote_fuel
        }
    );
}
