//! The wire format: every payload field at the offset the specification gives, and the host's
//! encoders agreeing with the SDK's decoders.

use amm_strategy_sdk::abi;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Storage};

fn distinct_storage() -> Storage {
    let mut storage = Storage::zeroed();
    for (i, byte) in storage.as_bytes_mut().iter_mut().enumerate() {
        *byte = (i * 7 + 3) as u8;
    }
    storage
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().unwrap())
}
fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().unwrap())
}
fn f32_at(buf: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(buf[at..at + 4].try_into().unwrap())
}
fn f64_at(buf: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(buf[at..at + 8].try_into().unwrap())
}

#[test]
fn quote_payload_fields_sit_at_spec_offsets() {
    let storage = distinct_storage();
    let request = QuoteRequest {
        side: Side::SellX,
        input_amount: 0x1111_2222_3333_4444,
        reserve_x: 0x5555_6666_7777_8888,
        reserve_y: 0x0999_aaaa_bbbb_cccc,
        storage: &storage,
    };
    let mut buf = [0xEEu8; 2048];
    request.encode_into(&mut buf);
    assert_eq!(abi::quote::LEN, 1049);
    assert_eq!(buf[0], 1);
    assert_eq!(u64_at(&buf, 1), 0x1111_2222_3333_4444);
    assert_eq!(u64_at(&buf, 9), 0x5555_6666_7777_8888);
    assert_eq!(u64_at(&buf, 17), 0x0999_aaaa_bbbb_cccc);
    assert_eq!(&buf[25..1049], storage.as_bytes());
    assert_eq!(buf[1049], 0xEE, "nothing written past the payload");

    let decoded = QuoteRequest::decode(&buf[..1049]).unwrap();
    assert_eq!(decoded.side, request.side);
    assert_eq!(decoded.input_amount, request.input_amount);
    assert_eq!(decoded.reserve_x, request.reserve_x);
    assert_eq!(decoded.reserve_y, request.reserve_y);
    assert_eq!(decoded.storage, &storage);
}

fn sample_trade() -> AfterSwap {
    AfterSwap {
        side: Side::SellX,
        input_amount: 0x0102_0304_0506_0708,
        output_amount: 0x1112_1314_1516_1718,
        reserve_x: 0x2122_2324_2526_2728,
        reserve_y: 0x3132_3334_3536_3738,
        sim_step: 0x4142_4344_4546_4748,
        epoch_step: 0x5152_5354,
        epoch_number: 0x6162_6364,
        n_pools: 0x71,
        pool_index: 0x72,
        flow_captured: 0.375,
        capital_weight: 0.125,
        competing_spot_prices: [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, f32::NAN],
    }
}

#[test]
fn after_swap_payload_fields_sit_at_spec_offsets() {
    let storage = distinct_storage();
    let trade = sample_trade();
    let mut buf = [0xEEu8; 2048];
    trade.encode_into(&storage, &mut buf);
    assert_eq!(abi::after_swap::LEN, 1116);
    assert_eq!(buf[0], 2);
    assert_eq!(buf[1], 1);
    assert_eq!(u64_at(&buf, 2), trade.input_amount);
    assert_eq!(u64_at(&buf, 10), trade.output_amount);
    assert_eq!(u64_at(&buf, 18), trade.reserve_x);
    assert_eq!(u64_at(&buf, 26), trade.reserve_y);
    assert_eq!(u64_at(&buf, 34), trade.sim_step);
    assert_eq!(u32_at(&buf, 42), trade.epoch_step);
    assert_eq!(u32_at(&buf, 46), trade.epoch_number);
    assert_eq!(buf[50], 0x71);
    assert_eq!(buf[51], 0x72);
    assert_eq!(f32_at(&buf, 52), 0.375);
    assert_eq!(f32_at(&buf, 56), 0.125);
    for i in 0..7 {
        assert_eq!(f32_at(&buf, 60 + 4 * i), trade.competing_spot_prices[i]);
    }
    assert!(f32_at(&buf, 88).is_nan());
    assert_eq!(&buf[92..1116], storage.as_bytes());
    assert_eq!(buf[1116], 0xEE, "nothing written past the payload");

    let (decoded, decoded_storage) = AfterSwap::decode(&mut buf[..1116]).unwrap();
    assert_eq!(decoded.competing_spot_prices[..7], trade.competing_spot_prices[..7]);
    assert!(decoded.competing_spot_prices[7].is_nan());
    let mut comparable = decoded;
    comparable.competing_spot_prices = trade.competing_spot_prices;
    assert_eq!(comparable.side, trade.side);
    assert_eq!(comparable.sim_step, trade.sim_step);
    assert_eq!(comparable.n_pools, trade.n_pools);
    assert_eq!(comparable.flow_captured, trade.flow_captured);
    assert_eq!(format!("{comparable:?}"), format!("{trade:?}"));
    assert_eq!(decoded_storage, &storage);
}

#[test]
fn epoch_boundary_payload_fields_sit_at_spec_offsets() {
    let storage = distinct_storage();
    let epoch = EpochBoundary {
        epoch_number: 0x0102_0304,
        new_reserve_x: 0x1112_1314_1516_1718,
        new_reserve_y: 0x2122_2324_2526_2728,
        epoch_edge: -12.625,
        cumulative_edge: 1234.5,
        capital_weight: 0.3125,
    };
    let mut buf = [0xEEu8; 2048];
    epoch.encode_into(&storage, &mut buf);
    assert_eq!(abi::epoch_boundary::LEN, 1065);
    assert_eq!(buf[0], 5);
    assert_eq!(u32_at(&buf, 1), epoch.epoch_number);
    assert_eq!(u64_at(&buf, 5), epoch.new_reserve_x);
    assert_eq!(u64_at(&buf, 13), epoch.new_reserve_y);
    assert_eq!(f64_at(&buf, 21), -12.625);
    assert_eq!(f64_at(&buf, 29), 1234.5);
    assert_eq!(f32_at(&buf, 37), 0.3125);
    assert_eq!(&buf[41..1065], storage.as_bytes());
    assert_eq!(buf[1065], 0xEE, "nothing written past the payload");

    let (decoded, decoded_storage) = EpochBoundary::decode(&mut buf[..1065]).unwrap();
    assert_eq!(decoded, epoch);
    assert_eq!(decoded_storage, &storage);
}

#[test]
fn storage_written_by_a_wasm_hook_comes_back_to_the_host() {
    // after_swap copies bytes 2..10 (input_amount) into storage slot 0; epoch_boundary copies
    // bytes 21..29 (epoch_edge) into slot 1. The host must read them back at the right offsets.
    let wat = r#"(module
      (memory (export "memory") 1)
      (func (export "amm_buffer") (result i32) (i32.const 0))
      (func (export "compute_swap") (param i32) (result i64) (i64.const 0))
      (func (export "after_swap") (param i32)
        (i64.store (i32.const 92) (i64.load (i32.const 2))))
      (func (export "epoch_boundary") (param i32)
        (i64.store (i32.const 49) (i64.load (i32.const 21)))))"#;
    let limits = amm_engine::sandbox::SandboxLimits::default();
    let module = crate::support::load_wat(wat, &limits).unwrap();
    let mut instance = module.instantiate(&limits, 0).unwrap();
    let mut storage = Storage::zeroed();
    instance.after_swap(&sample_trade(), &mut storage).unwrap();
    let epoch = EpochBoundary {
        epoch_number: 1,
        new_reserve_x: 1,
        new_reserve_y: 1,
        epoch_edge: 42.5,
        cumulative_edge: 0.0,
        capital_weight: 1.0,
    };
    instance.epoch_boundary(&epoch, &mut storage).unwrap();
    assert_eq!(u64_at(storage.as_bytes(), 0), sample_trade().input_amount);
    assert_eq!(f64_at(storage.as_bytes(), 8), 42.5);
}
