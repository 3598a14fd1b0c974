//! Inventory skew: a 30 bps constant-product pool whose bid and ask fees lean against the
//! inventory it builds up, the way a market maker shades its quotes.
//!
//! The pool remembers a reference inventory of X: the reserves just before the first trade it
//! hears about (reconstructed in the first `after_swap` from the trade's amounts), reset to the
//! rebalanced reserves at every epoch boundary. After each trade it measures
//!
//! ```text
//! q = reserve_x / reference_x − 1        (> 0: the pool has accumulated X)
//! skew = clamp(SKEW_GAIN · q, −MAX_SKEW, MAX_SKEW)
//! ask  = 30 bps · (1 − skew)             (trader buys X from the pool)
//! bid  = 30 bps · (1 + skew)             (trader sells X to the pool)
//! ```
//!
//! So once traders have been selling X into the pool, buying X back becomes cheaper and selling
//! still more X dearer, which invites the flow that unwinds the position and slows its growth;
//! a short X position is treated symmetrically. Flat inventory charges 30 bps both ways.
//!
//! Fees are computed in the hooks and stored as WAD fractions; `compute_swap` is a plain
//! constant-product quote with the stored fee of its side (pure, monotone, concave). Fresh
//! (all-zero) storage quotes 30 bps on both sides.
#![cfg_attr(target_arch = "wasm32", no_std)]

use amm_strategy_sdk::math::bps_to_wad;
use amm_strategy_sdk::{AfterSwap, EpochBoundary, QuoteRequest, Side, Slot, Storage, Strategy};

/// Fee (WAD) when the pool buys X (the trader sells X); 0 in fresh storage means the base fee.
pub const BID_FEE_WAD: Slot<u64> = Slot::new(0);
/// Fee (WAD) when the pool sells X (the trader buys X); 0 in fresh storage means the base fee.
pub const ASK_FEE_WAD: Slot<u64> = Slot::new(1);
/// Reference reserve of X (first hook or last epoch boundary); 0 until known.
pub const REF_X: Slot<u64> = Slot::new(2);
/// Reference reserve of Y, recorded with [`REF_X`] (for inspection; the skew uses X only).
pub const REF_Y: Slot<u64> = Slot::new(3);
/// Last inventory deviation `reserve_x / REF_X − 1`.
pub const INVENTORY: Slot<f64> = Slot::new(4);

/// Fee with flat inventory (and in fresh storage).
pub const BASE_FEE_BPS: u64 = 30;
/// Lowest fee ever charged on either side.
pub const MIN_FEE_BPS: u64 = 5;
/// Highest fee ever charged on either side.
pub const MAX_FEE_BPS: u64 = 60;
/// Skew per unit of relative inventory: a 2 % build-up of X moves each fee by 20 %.
pub const SKEW_GAIN: f64 = 10.0;
/// Largest skew: fees range over 30 · (1 ± 0.8) = 6 to 54 bps.
pub const MAX_SKEW: f64 = 0.8;

/// Bid/ask fees skewed against the pool's inventory of X.
pub struct InventorySkew;

impl Strategy for InventorySkew {
    const NAME: &'static str = "Inventory Skew";

    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let slot = match quote.side {
            Side::BuyX => ASK_FEE_WAD,
            Side::SellX => BID_FEE_WAD,
        };
        let fee_wad = match quote.storage.get(slot) {
            0 => bps_to_wad(BASE_FEE_BPS),
            fee => u128::from(fee).clamp(bps_to_wad(MIN_FEE_BPS), bps_to_wad(MAX_FEE_BPS)),
        };
        quote.cp_output_fee_wad(fee_wad)
    }

    fn after_swap(trade: &AfterSwap, storage: &mut Storage) {
        if storage.get(REF_X) == 0 {
            // The whole input joins the reserves and the output leaves them: undo the trade to
            // see the reserves this pool started from.
            let (x, y) = match trade.side {
                Side::BuyX => (
                    trade.reserve_x.saturating_add(trade.output_amount),
                    trade.reserve_y.saturating_sub(trade.input_amount),
                ),
                Side::SellX => (
                    trade.reserve_x.saturating_sub(trade.input_amount),
                    trade.reserve_y.saturating_add(trade.output_amount),
                ),
            };
            let (x, y) = if x == 0 { (trade.reserve_x, trade.reserve_y) } else { (x, y) };
            storage.set(REF_X, x);
            storage.set(REF_Y, y);
        }
        let reference = storage.get(REF_X);
        let inventory = if reference == 0 {
            0.0 // the pool never held X: nothing to lean against
        } else {
            trade.reserve_x as f64 / reference as f64 - 1.0
        };
        storage.set(INVENTORY, inventory);
        set_fees(storage, inventory);
    }

    fn epoch_boundary(epoch: &EpochBoundary, storage: &mut Storage) {
        // Rebalancing resets the capital: the new reserves are the new flat position.
        storage.set(REF_X, epoch.new_reserve_x);
        storage.set(REF_Y, epoch.new_reserve_y);
        storage.set(INVENTORY, 0.0);
        set_fees(storage, 0.0);
    }
}

/// Sets both fees for relative inventory `inventory` (> 0: long X).
fn set_fees(storage: &mut Storage, inventory: f64) {
    let skew = (SKEW_GAIN * inventory).clamp(-MAX_SKEW, MAX_SKEW);
    let base = BASE_FEE_BPS as f64;
    storage.set(BID_FEE_WAD, bps_f64_to_wad(base * (1.0 + skew)));
    storage.set(ASK_FEE_WAD, bps_f64_to_wad(base * (1.0 - skew)));
}

fn bps_f64_to_wad(bps: f64) -> u64 {
    // 1 bp = 1e14 WAD; ≤ 60 bps = 6e15 < u64::MAX.
    (bps.clamp(MIN_FEE_BPS as f64, MAX_FEE_BPS as f64) * 1e14) as u64
}

amm_strategy_sdk::export_strategy!(InventorySkew);

#[cfg(test)]
mod tests {
    use super::*;
    use amm_strategy_sdk::abi::NANO;
    use amm_strategy_sdk::math;

    /// A simple pool that trades against this strategy's own quotes and calls the hook.
    struct Pool {
        x: u64,
        y: u64,
        storage: Storage,
    }

    impl Pool {
        fn new() -> Self {
            Self { x: 100 * NANO, y: 10_000 * NANO, storage: Storage::zeroed() }
        }

        fn quote(&self, side: Side, input: u64) -> u64 {
            InventorySkew::compute_swap(&QuoteRequest {
                side,
                input_amount: input,
                reserve_x: self.x,
                reserve_y: self.y,
                storage: &self.storage,
            })
        }

        fn trade(&mut self, side: Side, input: u64) {
            let output = self.quote(side, input);
            match side {
                Side::BuyX => {
                    self.y += input;
                    self.x -= output;
                }
                Side::SellX => {
                    self.x += input;
                    self.y -= output;
                }
            }
            let trade = AfterSwap {
                side,
                input_amount: input,
                output_amount: output,
                reserve_x: self.x,
                reserve_y: self.y,
                sim_step: 0,
                epoch_step: 0,
                epoch_number: 0,
                n_pools: 3,
                pool_index: 0,
                flow_captured: 0.3,
                capital_weight: 0.5,
                competing_spot_prices: [f32::NAN; 8],
            };
            InventorySkew::after_swap(&trade, &mut self.storage);
        }

        fn fees_bps(&self) -> (f64, f64) {
            let bps = |slot| self.storage.get(slot) as f64 / 1e14;
            (bps(BID_FEE_WAD), bps(ASK_FEE_WAD))
        }
    }

    #[test]
    fn fresh_storage_quotes_30_bps_both_ways() {
        let pool = Pool::new();
        assert_eq!(pool.quote(Side::BuyX, NANO), math::cp_output_fee_bps(NANO, 10_000 * NANO, 100 * NANO, 30));
        assert_eq!(pool.quote(Side::SellX, NANO), math::cp_output_fee_bps(NANO, 100 * NANO, 10_000 * NANO, 30));
    }

    #[test]
    fn first_hook_reconstructs_the_starting_reserves() {
        let mut pool = Pool::new();
        pool.trade(Side::SellX, 2 * NANO);
        assert_eq!(pool.storage.get(REF_X), 100 * NANO);
        assert_eq!(pool.storage.get(REF_Y), 10_000 * NANO);
        // 2 % more X: skew 0.2, bid 36 bps, ask 24 bps.
        let (bid, ask) = pool.fees_bps();
        assert!((bid - 36.0).abs() < 1e-6 && (ask - 24.0).abs() < 1e-6, "bid {bid} ask {ask}");
    }

    #[test]
    fn accumulated_x_makes_buying_x_cheaper_and_selling_x_dearer() {
        let mut pool = Pool::new();
        for _ in 0..3 {
            pool.trade(Side::SellX, NANO);
        }
        let (bid, ask) = pool.fees_bps();
        assert!(ask < 30.0 && bid > 30.0, "bid {bid} ask {ask}");
        assert!(pool.storage.get(INVENTORY) > 0.0);

        // Same reserves, only the fees differ: compare against fresh storage at these reserves.
        let flat = Storage::zeroed();
        let at = |storage: &Storage, side| {
            InventorySkew::compute_swap(&QuoteRequest {
                side,
                input_amount: NANO,
                reserve_x: pool.x,
                reserve_y: pool.y,
                storage,
            })
        };
        assert!(at(&pool.storage, Side::BuyX) > at(&flat, Side::BuyX));
        assert!(at(&pool.storage, Side::SellX) < at(&flat, Side::SellX));
    }

    #[test]
    fn short_x_skews_the_other_way_and_saturates() {
        let mut pool = Pool::new();
        for _ in 0..20 {
            pool.trade(Side::BuyX, 100 * NANO);
        }
        let (bid, ask) = pool.fees_bps();
        assert!((bid - 6.0).abs() < 1e-6, "bid {bid}");
        assert!((ask - 54.0).abs() < 1e-6, "ask {ask}");
    }

    #[test]
    fn epoch_boundary_resets_the_reference_and_the_fees() {
        let mut pool = Pool::new();
        for _ in 0..5 {
            pool.trade(Side::SellX, NANO);
        }
        let epoch = EpochBoundary {
            epoch_number: 0,
            new_reserve_x: 50 * NANO,
            new_reserve_y: 4_500 * NANO,
            epoch_edge: 0.0,
            cumulative_edge: 0.0,
            capital_weight: 0.5,
        };
        InventorySkew::epoch_boundary(&epoch, &mut pool.storage);
        assert_eq!(pool.storage.get(REF_X), 50 * NANO);
        assert_eq!(pool.fees_bps(), (30.0, 30.0));
    }
}
