//! The SDK's payload decoders on arbitrary bytes: never panic, and whatever decodes encodes
//! back to the same bytes.
#![no_main]

use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Storage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(quote) = QuoteRequest::decode(data) {
        let mut again = vec![0u8; 1049];
        quote.encode_into(&mut again);
        assert_eq!(&again[..], &data[..1049]);
    }
    let mut buf = data.to_vec();
    if let Ok((trade, storage)) = AfterSwap::decode(&mut buf) {
        let storage = storage.clone();
        let mut again = vec![0u8; 1116];
        trade.encode_into(&storage, &mut again);
        // NaN payloads may differ in bits after a float round trip only if decoding changed them;
        // it must not.
        assert_eq!(&again[..], &data[..1116]);
    }
    let mut buf = data.to_vec();
    if let Ok((epoch, storage)) = EpochBoundary::decode(&mut buf) {
        let storage: Storage = storage.clone();
        let mut again = vec![0u8; 1065];
        epoch.encode_into(&storage, &mut again);
        assert_eq!(&again[..], &data[..1065]);
    }
});
