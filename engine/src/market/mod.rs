//! The market: one seeded simulation of strategy pools and the normalizer competing for retail
//! flow under arbitrage, with capital moving between strategies each epoch.

pub mod arbitrage;
pub mod capital;
pub mod curve;
pub mod disqualification;
mod line;
pub mod params;
pub mod routing;
pub mod sim;

pub use params::MarketParams;

/// A quote above the pool's output-side reserve: it promises what the pool does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("absurd quote: {quote} exceeds the output reserve {reserve_out}")]
pub struct AbsurdQuote {
    /// The quoted output, nano units.
    pub quote: u64,
    /// The pool's output-side reserve, nano units.
    pub reserve_out: u64,
}

/// The one rule for quotes at the reserve, applied alike by `run` (every quote) and `validate`
/// (its quote grid): the output a pool delivers for a quote of `quote` nano units when it holds
/// `reserve_out` of the output token.
///
/// * below the reserve: the quote itself;
/// * exactly the reserve: one nano unit less (a pool never gives away its last unit, so its
///   price stays defined). Capping keeps an honest curve capped at the reserve
///   (`min(curve, reserve)`) nondecreasing and concave, so it is never a shape violation;
/// * above the reserve: [`AbsurdQuote`], which disqualifies in a run and fails `validate`.
pub fn delivered_output(quote: u64, reserve_out: u64) -> Result<u64, AbsurdQuote> {
    match quote.cmp(&reserve_out) {
        std::cmp::Ordering::Less => Ok(quote),
        std::cmp::Ordering::Equal => Ok(quote.saturating_sub(1)),
        std::cmp::Ordering::Greater => Err(AbsurdQuote { quote, reserve_out }),
    }
}
pub use disqualification::{Disqualification, DisqualificationKind};
pub use sim::{Entrant, EpochRecord, PoolResult, SimStats, SimulationResult, ZERO_STORAGE, seating, simulate};
