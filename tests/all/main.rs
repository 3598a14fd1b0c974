//! amm-engine's integration tests: one binary, a module per topic.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

mod abi;
mod browser;
mod cache;
mod cli;
mod contract;
mod fairness;
mod hostile;
mod isolation;
mod market;
mod parity;
mod scale_out;
mod searches;
mod service;
mod source;
mod tune;
mod webdriver;
mod wit;
