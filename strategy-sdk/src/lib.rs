//! # amm-strategy-sdk — write an amm-engine strategy without `unsafe`
//!
//! A strategy prices the swaps of one automated market maker pool. amm-engine runs it as a
//! sandboxed WebAssembly module (ABI v1): the host writes a payload into a guest buffer and
//! calls one of three exports. This crate hides all of that behind a trait and one macro:
//!
//! * [`Strategy`]: `compute_swap` (a pure quote), and the optional hooks `after_swap` (after
//!   every executed trade on your pool) and `epoch_boundary` (after capital is rebalanced);
//! * [`Storage`] with typed [`Slot`]s: the 1024 bytes your pool keeps across trades and epochs;
//! * [`math`]: basis points, WAD fractions, the exact constant-product quote, and an exact
//!   `a·b/d` that takes the shortest path to the quotient ([`math::mul_div_floor`]);
//! * 128-bit division and conversions: WebAssembly has neither, so every `u128`/`i128` `/` and
//!   `%`, and every `u128 as f64` / `f64 as u128`, is a call; on wasm32 the SDK supplies those
//!   calls (`__udivti3`, `__umodti3`, `__divti3`, `__modti3`, `__floatuntidf`, `__fixunsdfti`)
//!   on native 64-bit instructions, in place of Rust's generic ones (which shift and subtract
//!   bit by bit). Same results, a fraction of the fuel: nothing to write (the `wide-builtins`
//!   feature, on by default; a library that depends on the SDK turns default features off);
//! * [`export_strategy!`]: emits the wasm exports (`amm_buffer`, `compute_swap`, `after_swap`,
//!   `epoch_boundary`) and the `amm.name` / `amm.model` custom sections;
//! * [`params`] and [`export_params!`]: named, typed parameters (range, default, log scale) that
//!   `--param`, a config's `params` table and `amm-engine tune` set before a simulation starts.
//!
//! The crate is `no_std` and needs no allocator. The same strategy crate also compiles natively
//! (the macro emits nothing there), so you can unit-test it with `cargo test` and the engine can
//! link it as a native backend.
//!
//! ## A complete strategy
//!
//! ```
//! #![cfg_attr(target_arch = "wasm32", no_std)]
//! use amm_strategy_sdk::{AfterSwap, QuoteRequest, Slot, Storage, Strategy};
//!
//! /// Charges 30 bps, doubled after a large trade until the next small one.
//! pub struct Cautious;
//!
//! const FEE_BPS: Slot<u64> = Slot::new(0);
//!
//! impl Strategy for Cautious {
//!     const NAME: &'static str = "Cautious";
//!
//!     fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
//!         let fee = match quote.storage.get(FEE_BPS) {
//!             0 => 30, // fresh storage
//!             fee => fee,
//!         };
//!         quote.cp_output_fee_bps(fee)
//!     }
//!
//!     fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
//!         let large = trade.input_amount > trade.reserve_y / 100;
//!         storage.set(FEE_BPS, if large { 60 } else { 30 });
//!     }
//! }
//!
//! amm_strategy_sdk::export_strategy!(Cautious);
//!
//! # fn main() {
//! // Natively, it is plain Rust: test it like any other code.
//! use amm_strategy_sdk::Side;
//! let storage = Storage::zeroed();
//! let quote = QuoteRequest {
//!     side: Side::BuyX,
//!     input_amount: 100_000_000_000, // 100 Y
//!     reserve_x: 100_000_000_000,    // 100 X
//!     reserve_y: 10_000_000_000_000, // 10,000 Y
//!     storage: &storage,
//! };
//! assert_eq!(Cautious::compute_swap(&quote), 987_158_034); // ≈ 0.987 X
//! # }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown` (crate type `cdylib`),
//! then check it with `amm-engine validate`.
//!
//! ## Rules the engine enforces
//!
//! * Quotes are pure: the same request must give the same answer. The host audits this by
//!   replaying quotes on a fresh instance; a mismatch disqualifies.
//! * Quote curves must be nondecreasing and concave in the input, and never exceed the
//!   output-side reserve (a larger quote counts as 0).
//! * Every call runs on a fuel budget; a trap, running out of fuel or breaking a memory limit
//!   is a fault. Faulted quotes offer no liquidity; faulted hooks leave storage unchanged.
//!
//! ## Panics on wasm
//!
//! On `wasm32-unknown-unknown` the SDK provides the `#[panic_handler]` (a panic becomes a wasm
//! trap, which the engine records as a fault). It expects your crate to be `no_std` there, as in
//! the example. If your crate uses `std` on that target, disable the SDK's default
//! `panic-handler` feature.
#![no_std]

pub mod abi;
pub mod math;
pub mod params;
mod payload;
mod storage;
mod wide;

pub use payload::{AfterSwap, EpochBoundary, PayloadError, QuoteRequest, Side, spot_price};
pub use storage::{Slot, SlotValue, Storage};

/// A pool's pricing strategy.
///
/// All functions are associated (no `self`): a strategy keeps its state in [`Storage`], which the
/// host owns and hands back on every call.
pub trait Strategy {
    /// Display name, written to the `amm.name` custom section.
    const NAME: &'static str;

    /// The model used to write the strategy, written to `amm.model`; `"None"` for human-written.
    const MODEL: &'static str = "None";

    /// The output amount (in the other token, nano units) the pool gives for `quote`.
    ///
    /// Must be pure, nondecreasing and concave in `quote.input_amount`, and at most the
    /// output-side reserve.
    fn compute_swap(quote: &QuoteRequest<'_>) -> u64;

    /// Called after every executed trade on this pool. Default: does nothing.
    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        let _ = (trade, storage);
    }

    /// Called after each epoch's capital rebalancing. Default: does nothing.
    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        let _ = (epoch, storage);
    }
}

/// Emits the wasm exports and metadata sections for a [`Strategy`] type.
///
/// On `wasm32` this defines `amm_buffer`, `compute_swap`, `after_swap` and `epoch_boundary` and
/// the `amm.name` / `amm.model` custom sections; on other targets it only checks that the type
/// implements [`Strategy`]. Use it once per crate.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        const _: fn() = || {
            fn implements_strategy<T: $crate::Strategy>() {}
            implements_strategy::<$strategy>();
        };

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn amm_buffer() -> i32 {
                $crate::__rt::buffer_address()
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn compute_swap(len: i32) -> i64 {
                $crate::__rt::compute_swap::<$strategy>(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn after_swap(len: i32) {
                $crate::__rt::after_swap::<$strategy>(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn epoch_boundary(len: i32) {
                $crate::__rt::epoch_boundary::<$strategy>(len)
            }

            #[unsafe(link_section = "amm.name")]
            #[used]
            static AMM_NAME: [u8; <$strategy as $crate::Strategy>::NAME.len()] =
                $crate::__rt::str_bytes(<$strategy as $crate::Strategy>::NAME);

            #[unsafe(link_section = "amm.model")]
            #[used]
            static AMM_MODEL: [u8; <$strategy as $crate::Strategy>::MODEL.len()] =
                $crate::__rt::str_bytes(<$strategy as $crate::Strategy>::MODEL);
        };
    };
}

/// Declares a strategy's tunable [`params`]: writes their schema into the `amm.params` custom
/// section (on wasm) and defines `pub const PARAMS: &[ParamDecl]`, the list in order (for
/// [`params::write_defaults`] in native tests). Use it once per crate, with every parameter.
///
/// A bad declaration (repeated name or slot, default outside the range, more than 64) fails
/// the build with the reason.
#[macro_export]
macro_rules! export_params {
    ($($param:path),+ $(,)?) => {
        /// The strategy's declared parameters, in schema order.
        pub const PARAMS: &[$crate::params::ParamDecl] = &[$($param.decl()),+];
        const _: () = {
            const LEN: usize = $crate::params::section_len(PARAMS);
            // Evaluated on every target, so a bad declaration fails native builds too.
            const BYTES: [u8; LEN] = $crate::params::section_bytes::<LEN>(PARAMS);
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "amm.params")]
            #[used]
            static AMM_PARAMS: [u8; LEN] = BYTES;
        };
    };
}

/// Runtime support for [`export_strategy!`]; not a public API.
#[doc(hidden)]
pub mod __rt {
    /// Copies a string into a fixed-size array (for the metadata sections).
    pub const fn str_bytes<const N: usize>(s: &str) -> [u8; N] {
        let bytes = s.as_bytes();
        assert!(bytes.len() == N, "array length must equal the string length");
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }

    #[cfg(target_arch = "wasm32")]
    pub use wasm::*;

    #[cfg(target_arch = "wasm32")]
    mod wasm {
        use core::cell::UnsafeCell;

        use crate::abi::BUFFER_LEN;
        use crate::{AfterSwap, EpochBoundary, QuoteRequest, Strategy};

        /// The guest buffer the host writes payloads into.
        #[repr(C, align(8))]
        struct Buffer(UnsafeCell<[u8; BUFFER_LEN]>);

        // SAFETY: wasm32 modules built for amm-engine are single-threaded (the host disables the
        // threads proposal), and the only accesses go through `with_payload`, which the host
        // never re-enters: it calls one export at a time and no export calls another.
        unsafe impl Sync for Buffer {}

        static BUFFER: Buffer = Buffer(UnsafeCell::new([0; BUFFER_LEN]));

        pub fn buffer_address() -> i32 {
            BUFFER.0.get() as usize as i32
        }

        fn with_payload<R>(len: i32, f: impl FnOnce(&mut [u8]) -> R) -> R {
            // SAFETY: see `impl Sync for Buffer`: this is the only live reference.
            let buffer = unsafe { &mut *BUFFER.0.get() };
            match usize::try_from(len) {
                Ok(len) if len <= BUFFER_LEN => f(&mut buffer[..len]),
                _ => core::arch::wasm32::unreachable(),
            }
        }

        pub fn compute_swap<S: Strategy>(len: i32) -> i64 {
            with_payload(len, |payload| match QuoteRequest::decode(payload) {
                Ok(quote) => S::compute_swap(&quote) as i64,
                Err(_) => core::arch::wasm32::unreachable(),
            })
        }

        pub fn after_swap<S: Strategy>(len: i32) {
            with_payload(len, |payload| match AfterSwap::decode(payload) {
                Ok((trade, storage)) => S::after_swap(&trade, storage),
                Err(_) => core::arch::wasm32::unreachable(),
            })
        }

        pub fn epoch_boundary<S: Strategy>(len: i32) {
            with_payload(len, |payload| match EpochBoundary::decode(payload) {
                Ok((epoch, storage)) => S::epoch_boundary(&epoch, storage),
                Err(_) => core::arch::wasm32::unreachable(),
            })
        }

        #[cfg(all(feature = "panic-handler", target_os = "unknown"))]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            core::arch::wasm32::unreachable()
        }
    }
}
