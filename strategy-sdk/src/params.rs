//! Tunable parameters: named constants the engine may set before a simulation starts.
//!
//! A strategy declares each parameter once, as a constant with a storage slot, a default and a
//! range, and lists them in [`export_params!`](crate::export_params). On wasm the macro writes
//! the declarations into the `amm.params` custom section (the schema below), which the engine
//! reads without running any code. Before a simulation's first call the engine writes every
//! declared parameter's value — its default, or what `--param`, a config's `params` table or
//! `amm-engine tune` chose — into its slot. The value therefore reaches the strategy as data:
//! no import or export is added, and the purity audits are unchanged (a parameter is storage
//! like any other). A module without the section runs exactly as before.
//!
//! ```
//! use amm_strategy_sdk::params::Param;
//! use amm_strategy_sdk::{Side, QuoteRequest, Storage};
//!
//! /// Base fee, bps (slot 100, default 30, tuned between 5 and 300 on a log scale).
//! pub const BASE_FEE_BPS: Param<f64> = Param::<f64>::new("base_fee_bps", 100, 30.0, 5.0, 300.0).log();
//! /// Whether to skew fees towards the other pools' prices.
//! pub const SKEW: Param<bool> = Param::<bool>::new("skew", 101, true);
//! amm_strategy_sdk::export_params!(BASE_FEE_BPS, SKEW);
//!
//! // Natively (unit tests), write the defaults the engine would write:
//! let mut storage = Storage::zeroed();
//! amm_strategy_sdk::params::write_defaults(PARAMS, &mut storage);
//! assert_eq!(BASE_FEE_BPS.get(&storage), 30.0);
//! assert!(SKEW.get(&storage));
//! ```
//!
//! ## The `amm.params` schema, version 1
//!
//! Little-endian bytes, nothing after the last parameter:
//!
//! | field | bytes | meaning |
//! |---|---|---|
//! | version | 1 | [`SCHEMA_VERSION`] (1) |
//! | count | 1 | number of parameters, 1..=[`MAX_PARAMS`] |
//!
//! then per parameter:
//!
//! | field | bytes | meaning |
//! |---|---|---|
//! | name length | 1 | 1..=[`MAX_NAME_LEN`] |
//! | name | length | ASCII letters, digits and `_`, not starting with a digit; unique |
//! | kind | 1 | 0 = `f64`, 1 = integer (`i64`), 2 = `bool` |
//! | flags | 1 | bit 0: searched on a log scale (needs `min > 0`); other bits 0 |
//! | offset | 2 | byte offset in storage of the 8-byte value; `offset + 8 ≤ 1024`, no overlap |
//! | min, max, default | 8 each | `f64` bit patterns; `min ≤ default ≤ max`, finite; integral for integers; 0/1 for booleans |
//!
//! A value is stored as an `f64`, an `i64` or a `u64` 0/1 in its 8 bytes, little-endian.

use core::marker::PhantomData;

use crate::storage::{Slot, Storage};

/// Name of the custom section holding the schema.
pub const SECTION: &str = crate::abi::sections::PARAMS;
/// Version of the schema format this SDK writes.
pub const SCHEMA_VERSION: u8 = 1;
/// Most parameters a module may declare.
pub const MAX_PARAMS: usize = 64;
/// Longest parameter name, bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Bytes per parameter after its name: kind, flags, offset, min, max, default.
pub const FIXED_BYTES: usize = 1 + 1 + 2 + 3 * 8;

/// What a parameter holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A real number (`f64`).
    F64 = 0,
    /// An integer (`i64`).
    Int = 1,
    /// A switch (`u64` 0 or 1 in storage).
    Bool = 2,
}

/// One parameter's declaration, as written into `amm.params`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamDecl {
    /// Name: ASCII letters, digits and `_`.
    pub name: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Searched on a log scale (by `amm-engine tune`).
    pub log: bool,
    /// Byte offset of the value in storage.
    pub offset: u16,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Value when nothing else is chosen.
    pub default: f64,
}

/// A typed parameter living in one storage slot. Build it with `Param::<f64>::new`,
/// `Param::<i64>::new` or `Param::<bool>::new` in a `const`, read it with [`Param::get`].
pub struct Param<T> {
    decl: ParamDecl,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Param<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Param<T> {}

impl<T> Param<T> {
    const fn declare(name: &'static str, slot: usize, kind: Kind, default: f64, min: f64, max: f64) -> Self {
        // Checked here so a bad declaration fails the strategy's build, not its validation.
        assert!(slot < crate::abi::STORAGE_SLOTS, "a parameter's slot must be below 128");
        assert!(min <= default && default <= max, "a parameter's default must lie within its range");
        Param {
            decl: ParamDecl { name, kind, log: false, offset: (slot * 8) as u16, min, max, default },
            _value: PhantomData,
        }
    }

    /// Searched on a log scale (needs a positive minimum).
    pub const fn log(mut self) -> Self {
        assert!(self.decl.min > 0.0, "a log-scale parameter needs a positive minimum");
        self.decl.log = true;
        self
    }

    /// The declaration, for [`export_params!`](crate::export_params).
    pub const fn decl(&self) -> ParamDecl {
        self.decl
    }

    /// The storage slot index (0..128).
    pub const fn slot_index(&self) -> usize {
        self.decl.offset as usize / 8
    }
}

impl Param<f64> {
    /// A real parameter in slot `slot` (0..128): `default` within `min..=max`.
    pub const fn new(name: &'static str, slot: usize, default: f64, min: f64, max: f64) -> Self {
        Self::declare(name, slot, Kind::F64, default, min, max)
    }

    /// Its value in `storage`.
    pub fn get(&self, storage: &Storage) -> f64 {
        storage.get(Slot::<f64>::new(self.slot_index()))
    }
}

impl Param<i64> {
    /// An integer parameter in slot `slot` (0..128): `default` within `min..=max`.
    pub const fn new(name: &'static str, slot: usize, default: i64, min: i64, max: i64) -> Self {
        Self::declare(name, slot, Kind::Int, default as f64, min as f64, max as f64)
    }

    /// Its value in `storage`.
    pub fn get(&self, storage: &Storage) -> i64 {
        storage.get(Slot::<i64>::new(self.slot_index()))
    }
}

impl Param<bool> {
    /// A switch in slot `slot` (0..128).
    pub const fn new(name: &'static str, slot: usize, default: bool) -> Self {
        Self::declare(name, slot, Kind::Bool, if default { 1.0 } else { 0.0 }, 0.0, 1.0)
    }

    /// Its value in `storage`.
    pub fn get(&self, storage: &Storage) -> bool {
        storage.get(Slot::<u64>::new(self.slot_index())) != 0
    }
}

/// Writes `value` for `decl` into `storage` the way the engine does.
pub fn write_value(decl: &ParamDecl, value: f64, storage: &mut Storage) {
    write_at(decl.kind, decl.offset, value, storage);
}

/// Writes `value` as a `kind` into the 8 bytes at `offset` (`offset + 8 ≤ 1024`): an `f64`, an
/// `i64`, or a `u64` 0/1, little-endian. The one encoding of a parameter's value, for the SDK
/// and the engine alike.
pub fn write_at(kind: Kind, offset: u16, value: f64, storage: &mut Storage) {
    let bytes = match kind {
        Kind::F64 => value.to_le_bytes(),
        Kind::Int => (value as i64).to_le_bytes(),
        Kind::Bool => u64::from(value != 0.0).to_le_bytes(),
    };
    let at = offset as usize;
    storage.as_bytes_mut()[at..at + 8].copy_from_slice(&bytes);
}

/// Writes every declared default into `storage`, as the engine does before a simulation
/// when no value is chosen (for native unit tests).
pub fn write_defaults(decls: &[ParamDecl], storage: &mut Storage) {
    for decl in decls {
        write_value(decl, decl.default, storage);
    }
}

/// Length of the schema for `decls`, bytes.
pub const fn section_len(decls: &[ParamDecl]) -> usize {
    let mut len = 2;
    let mut i = 0;
    while i < decls.len() {
        len += 1 + decls[i].name.len() + FIXED_BYTES;
        i += 1;
    }
    len
}

const fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at + i] = bytes[i];
        i += 1;
    }
    at + bytes.len()
}

const fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN || bytes[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The `amm.params` bytes for `decls` (`N` = [`section_len`]). Fails at compile time on what
/// the engine would refuse: no parameters or too many, a bad or repeated name, shared slots.
pub const fn section_bytes<const N: usize>(decls: &[ParamDecl]) -> [u8; N] {
    assert!(N == section_len(decls), "N must be section_len(decls)");
    assert!(!decls.is_empty() && decls.len() <= MAX_PARAMS, "declare between 1 and 64 parameters");
    let mut out = [0u8; N];
    out[0] = SCHEMA_VERSION;
    out[1] = decls.len() as u8;
    let mut at = 2;
    let mut i = 0;
    while i < decls.len() {
        let d = &decls[i];
        assert!(valid_name(d.name), "a parameter name is 1-64 ASCII letters, digits or _, not starting with a digit");
        let mut j = 0;
        while j < i {
            assert!(!same(decls[j].name, d.name), "two parameters share a name");
            assert!(decls[j].offset != d.offset, "two parameters share a storage slot");
            j += 1;
        }
        out[at] = d.name.len() as u8;
        at = put(&mut out, at + 1, d.name.as_bytes());
        out[at] = d.kind as u8;
        out[at + 1] = d.log as u8;
        at = put(&mut out, at + 2, &d.offset.to_le_bytes());
        at = put(&mut out, at, &d.min.to_bits().to_le_bytes());
        at = put(&mut out, at, &d.max.to_bits().to_le_bytes());
        at = put(&mut out, at, &d.default.to_bits().to_le_bytes());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEE: Param<f64> = Param::<f64>::new("fee_bps", 3, 30.0, 1.0, 100.0).log();
    const WINDOW: Param<i64> = Param::<i64>::new("window", 4, 10, 1, 50);
    const ON: Param<bool> = Param::<bool>::new("on", 5, true);
    const DECLS: &[ParamDecl] = &[FEE.decl(), WINDOW.decl(), ON.decl()];
    const LEN: usize = section_len(DECLS);
    const BYTES: [u8; LEN] = section_bytes::<LEN>(DECLS);

    #[test]
    fn the_schema_layout_is_the_documented_one() {
        assert_eq!(LEN, 2 + (1 + 7 + FIXED_BYTES) + (1 + 6 + FIXED_BYTES) + (1 + 2 + FIXED_BYTES));
        assert_eq!(&BYTES[..3], &[1, 3, 7]);
        assert_eq!(&BYTES[3..10], b"fee_bps");
        assert_eq!(&BYTES[10..14], &[0, 1, 24, 0]);
        assert_eq!(&BYTES[14..22], &1.0f64.to_le_bytes());
        assert_eq!(&BYTES[30..38], &30.0f64.to_le_bytes());
    }

    #[test]
    fn typed_access_reads_what_the_engine_writes() {
        let mut storage = Storage::zeroed();
        write_defaults(DECLS, &mut storage);
        assert_eq!(FEE.get(&storage), 30.0);
        assert_eq!(WINDOW.get(&storage), 10);
        assert!(ON.get(&storage));
        write_value(&WINDOW.decl(), 42.0, &mut storage);
        write_value(&ON.decl(), 0.0, &mut storage);
        assert_eq!(WINDOW.get(&storage), 42);
        assert!(!ON.get(&storage));
    }
}
