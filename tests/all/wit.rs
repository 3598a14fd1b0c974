//! `wit/strategy.wit` and the host agree: same exports, same signatures, same payload offsets.

use std::collections::BTreeMap;

use amm_engine::sandbox::{EXPECTED_EXPORTS, ExportShape, WasmType};
use amm_strategy_sdk::abi;
use wit_parser::{Resolve, Type, WorldItem, WorldKey};

use crate::support::workspace;

fn wit_world() -> (Resolve, wit_parser::WorldId) {
    let mut resolve = Resolve::default();
    let package = resolve.push_path(workspace().join("wit/strategy.wit")).expect("wit/strategy.wit parses").0;
    let world = resolve.select_world(&[package], Some("strategy")).expect("world `strategy`");
    (resolve, world)
}

fn wasm_type(ty: &Type) -> WasmType {
    match ty {
        Type::S32 => WasmType::I32,
        Type::S64 => WasmType::I64,
        other => panic!("ABI v1 uses only s32 and s64, found {other:?}"),
    }
}

#[test]
fn wit_exports_match_what_the_loader_requires() {
    let (resolve, world) = wit_world();
    let mut from_wit = BTreeMap::new();
    for (key, item) in &resolve.worlds[world].exports {
        let (WorldKey::Name(name), WorldItem::Function(func)) = (key, item) else {
            panic!("unexpected export {key:?}");
        };
        let params: Vec<WasmType> = func.params.iter().map(|p| wasm_type(&p.ty)).collect();
        let results: Vec<WasmType> = func.result.iter().map(wasm_type).collect();
        from_wit.insert(name.replace('-', "_"), (params, results));
    }
    let mut from_host = BTreeMap::new();
    for export in EXPECTED_EXPORTS {
        match export.shape {
            ExportShape::Memory => assert_eq!(export.name, "memory", "the only non-function export is memory"),
            ExportShape::Func { params, results } => {
                from_host.insert(export.name.to_string(), (params.to_vec(), results.to_vec()));
            }
        }
    }
    assert_eq!(from_wit, from_host);
}

/// Parses `| offset | type | field |` rows from a function's documentation.
fn offset_table(docs: &str) -> BTreeMap<String, usize> {
    docs.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            match cells.as_slice() {
                [offset, _ty, field] => offset.parse().ok().map(|o| (field.to_string(), o)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn wit_offset_tables_match_the_sdk_layout() {
    let (resolve, world) = wit_world();
    let docs = |name: &str| {
        let key = WorldKey::Name(name.to_string());
        match &resolve.worlds[world].exports[&key] {
            WorldItem::Function(f) => f.docs.contents.clone().expect("documented"),
            _ => unreachable!(),
        }
    };
    let expect = |pairs: &[(&str, usize)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>();
    {
        use abi::quote::*;
        assert_eq!(
            offset_table(&docs("compute-swap")),
            expect(&[
                ("side", SIDE),
                ("input_amount", INPUT_AMOUNT),
                ("reserve_x", RESERVE_X),
                ("reserve_y", RESERVE_Y),
                ("storage", STORAGE)
            ])
        );
    }
    {
        use abi::after_swap::*;
        assert_eq!(
            offset_table(&docs("after-swap")),
            expect(&[
                ("tag", TAG),
                ("side", SIDE),
                ("input_amount", INPUT_AMOUNT),
                ("output_amount", OUTPUT_AMOUNT),
                ("reserve_x", RESERVE_X),
                ("reserve_y", RESERVE_Y),
                ("sim_step", SIM_STEP),
                ("epoch_step", EPOCH_STEP),
                ("epoch_number", EPOCH_NUMBER),
                ("n_pools", N_POOLS),
                ("pool_index", POOL_INDEX),
                ("flow_captured", FLOW_CAPTURED),
                ("capital_weight", CAPITAL_WEIGHT),
                ("competing_spot_prices", COMPETING_SPOT_PRICES),
                ("storage", STORAGE),
            ])
        );
    }
    {
        use abi::epoch_boundary::*;
        assert_eq!(
            offset_table(&docs("epoch-boundary")),
            expect(&[
                ("tag", TAG),
                ("epoch_number", EPOCH_NUMBER),
                ("new_reserve_x", NEW_RESERVE_X),
                ("new_reserve_y", NEW_RESERVE_Y),
                ("epoch_edge", EPOCH_EDGE),
                ("cumulative_edge", CUMULATIVE_EDGE),
                ("capital_weight", CAPITAL_WEIGHT),
                ("storage", STORAGE),
            ])
        );
    }
}
