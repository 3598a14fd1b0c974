//! The market: one seeded simulation of strategy pools and the normalizer competing for retail
//! flow under arbitrage, with capital moving between strategies each epoch.

pub mod arbitrage;
pub mod capital;
pub mod curve;
pub mod params;
pub mod routing;
pub mod sim;

pub use params::MarketParams;
pub use sim::{Disqualification, Entrant, EpochRecord, PoolResult, SimStats, SimulationResult, simulate};
