//! The 1024-byte per-pool storage, with typed slots.
//!
//! Storage is the only state a strategy keeps: the host zeroes it at the start of each
//! simulation, hands it (read-only) to every quote, and lets `after_swap` and `epoch_boundary`
//! change it. Viewing it as 128 eight-byte slots covers what most strategies need; the raw bytes
//! stay available for custom layouts.

use core::marker::PhantomData;

use crate::abi::{STORAGE_LEN, STORAGE_SLOTS};

/// A strategy's persistent storage: 1024 bytes, viewed as 128 little-endian 8-byte slots.
#[repr(transparent)]
#[derive(Clone, PartialEq, Eq)]
pub struct Storage {
    bytes: [u8; STORAGE_LEN],
}

impl core::fmt::Debug for Storage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let used = self.bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        write!(f, "Storage({used} bytes in use)")
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl Storage {
    /// All-zero storage, as at the start of a simulation.
    pub const fn zeroed() -> Self {
        Self { bytes: [0; STORAGE_LEN] }
    }

    /// Views raw bytes as storage.
    pub fn from_bytes(bytes: &[u8; STORAGE_LEN]) -> &Self {
        // SAFETY: `Storage` is `repr(transparent)` over `[u8; STORAGE_LEN]`, so both types have
        // the same layout and alignment; the lifetime is carried over unchanged.
        unsafe { &*(bytes as *const [u8; STORAGE_LEN]).cast::<Self>() }
    }

    /// Views raw bytes as mutable storage.
    pub fn from_bytes_mut(bytes: &mut [u8; STORAGE_LEN]) -> &mut Self {
        // SAFETY: as in `from_bytes`; the unique borrow is carried over unchanged.
        unsafe { &mut *(bytes as *mut [u8; STORAGE_LEN]).cast::<Self>() }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; STORAGE_LEN] {
        &self.bytes
    }

    /// The raw bytes, mutable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; STORAGE_LEN] {
        &mut self.bytes
    }

    /// Reads a typed slot.
    pub fn get<T: SlotValue>(&self, slot: Slot<T>) -> T {
        let start = slot.index * 8;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.bytes[start..start + 8]);
        T::from_le_bytes(raw)
    }

    /// Writes a typed slot.
    pub fn set<T: SlotValue>(&mut self, slot: Slot<T>, value: T) {
        let start = slot.index * 8;
        self.bytes[start..start + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Resets every byte to zero.
    pub fn clear(&mut self) {
        self.bytes = [0; STORAGE_LEN];
    }
}

/// A typed 8-byte slot of [`Storage`], index 0..128.
///
/// Declare slots as constants; an index out of range is a compile-time error there:
///
/// ```
/// use amm_strategy_sdk::{Slot, Storage};
/// const FEE_BPS: Slot<u64> = Slot::new(0);
/// const VOLATILITY: Slot<f64> = Slot::new(1);
///
/// let mut storage = Storage::zeroed();
/// storage.set(FEE_BPS, 30);
/// storage.set(VOLATILITY, 0.004);
/// assert_eq!(storage.get(FEE_BPS), 30);
/// assert_eq!(storage.get(VOLATILITY), 0.004);
/// ```
pub struct Slot<T> {
    index: usize,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Slot<T> {}

impl<T> core::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Slot({})", self.index)
    }
}

impl<T: SlotValue> Slot<T> {
    /// The slot at `index` (0..128). Panics (at compile time in a `const`) when out of range.
    pub const fn new(index: usize) -> Self {
        assert!(index < STORAGE_SLOTS, "storage slot index must be below 128");
        Self { index, _value: PhantomData }
    }

    /// The slot's index.
    pub const fn index(self) -> usize {
        self.index
    }
}

/// A value that fits one 8-byte little-endian storage slot.
pub trait SlotValue: Copy + sealed::Sealed {
    /// Decodes from little-endian bytes.
    fn from_le_bytes(raw: [u8; 8]) -> Self;
    /// Encodes to little-endian bytes.
    fn to_le_bytes(self) -> [u8; 8];
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
}

macro_rules! slot_value {
    ($($t:ty),*) => {$(
        impl SlotValue for $t {
            fn from_le_bytes(raw: [u8; 8]) -> Self {
                <$t>::from_le_bytes(raw)
            }
            fn to_le_bytes(self) -> [u8; 8] {
                <$t>::to_le_bytes(self)
            }
        }
    )*};
}
slot_value!(u64, i64, f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_little_endian_eight_byte_cells() {
        let mut storage = Storage::zeroed();
        storage.set(Slot::<u64>::new(1), 0x0102_0304_0506_0708);
        assert_eq!(&storage.as_bytes()[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(storage.as_bytes()[..8], [0; 8]);
        storage.set(Slot::<f64>::new(127), -1.5);
        assert_eq!(storage.get(Slot::<f64>::new(127)), -1.5);
        assert_eq!(&storage.as_bytes()[1016..], &(-1.5f64).to_le_bytes());
    }

    #[test]
    #[should_panic(expected = "below 128")]
    fn slot_index_out_of_range_is_rejected() {
        let index = core::hint::black_box(128);
        let _ = Slot::<u64>::new(index);
    }
}
