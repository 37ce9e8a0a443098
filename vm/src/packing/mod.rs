//! Packed storage: arrays of b-bit codes in a little-endian bit stream, and the typed [`PackedTensor`].
//!
//! Element `i` of a packed array of `b`-bit codes occupies bits `[i*b, i*b + b)` of the stream, and bit
//! `k` of the stream is bit `k % 8` of byte `k / 8`; the last byte is zero-padded.
//! So the 5-bit codes `0x1f, 0x3` pack to the bytes `0x7f, 0x00` (`0x1f | 0x3 << 5`), and the 8-bit codes
//! `0x1f, 0x3` to `0x1f, 0x03`.
//! Every width from 1 to 64 is supported, including widths that straddle bytes and words.
//!
//! Accesses outside the byte slice follow the IR's masked-memory rule (`ir::Inst::LoadGlobal`): bits past
//! the end read as 0 and writes to them are dropped, so no function here panics on an offset.

mod tensor;

pub use tensor::{PackError, PackedTensor, row_major_strides};

use crate::dtype::low_mask;

/// The number of bytes that `count` codes of `width` bits occupy (`ceil(count * width / 8)`), or `None`
/// when that does not fit in `usize`.
pub fn packed_len(width: u32, count: usize) -> Option<usize> {
    let bits = u64::try_from(count).ok()?.checked_mul(u64::from(width))?;
    usize::try_from(bits.div_ceil(8)).ok()
}

/// Reads the `width`-bit code at `bit_offset` of the stream; bits past the end of `bytes` read as 0.
///
/// # Panics
/// When `width > 64`.
pub fn read_bits(bytes: &[u8], bit_offset: u64, width: u32) -> u64 {
    assert!(width <= 64, "codes have at most 64 bits, not {width}");
    let Ok(first) = usize::try_from(bit_offset / 8) else { return 0 };
    let shift = (bit_offset % 8) as u32;
    let byte_count = (shift + width).div_ceil(8) as usize;
    let mut window = [0u8; 16];
    if let Some(available) = bytes.get(first..) {
        let taken = byte_count.min(available.len());
        window[..taken].copy_from_slice(&available[..taken]);
    }
    ((u128::from_le_bytes(window) >> shift) as u64) & low_mask(width)
}

/// Writes the low `width` bits of `code` at `bit_offset` of the stream, leaving every other bit as it
/// was; bits past the end of `bytes` are dropped.
///
/// # Panics
/// When `width > 64`.
pub fn write_bits(bytes: &mut [u8], bit_offset: u64, width: u32, code: u64) {
    assert!(width <= 64, "codes have at most 64 bits, not {width}");
    let Ok(first) = usize::try_from(bit_offset / 8) else { return };
    let shift = (bit_offset % 8) as u32;
    let mask = u128::from(low_mask(width)) << shift;
    let value = (u128::from(code) << shift) & mask;
    let byte_count = (shift + width).div_ceil(8) as usize;
    let end = first.saturating_add(byte_count).min(bytes.len());
    for (position, byte) in bytes.get_mut(first..end).unwrap_or_default().iter_mut().enumerate() {
        let byte_mask = (mask >> (8 * position)) as u8;
        *byte = (*byte & !byte_mask) | (value >> (8 * position)) as u8;
    }
}

/// Packs codes of `width` bits (1..=64) into a stream; bits of a code above `width` are ignored.
///
/// # Panics
/// When `width` is 0 or more than 64.
pub fn pack(width: u32, codes: &[u64]) -> Vec<u8> {
    assert!((1..=64).contains(&width), "codes have 1..=64 bits, not {width}");
    let mut packer = Packer::new(width);
    let mut bytes = Vec::with_capacity(packed_len(width, codes.len()).unwrap_or(0));
    for &code in codes {
        packer.push(code, |byte| bytes.push(byte));
    }
    packer.finish(|byte| bytes.push(byte));
    bytes
}

/// Unpacks `count` codes of `width` bits (1..=64) from a stream; codes past the end of `bytes` read as 0.
///
/// # Panics
/// When `width` is 0 or more than 64.
pub fn unpack(width: u32, bytes: &[u8], count: usize) -> Vec<u64> {
    assert!((1..=64).contains(&width), "codes have 1..=64 bits, not {width}");
    let mask = low_mask(width);
    let mut input = bytes.iter().copied().chain(std::iter::repeat(0));
    let mut buffer = 0u128;
    let mut buffered = 0u32;
    (0..count)
        .map(|_| {
            while buffered < width {
                buffer |= u128::from(input.next().unwrap_or(0)) << buffered;
                buffered += 8;
            }
            let code = buffer as u64 & mask;
            buffer >>= width;
            buffered -= width;
            code
        })
        .collect()
}

/// A streaming packer: push codes one at a time, receive whole bytes as they complete.
#[derive(Clone, Debug)]
pub struct Packer {
    width: u32,
    buffer: u128,
    buffered: u32,
}

impl Packer {
    /// A packer for codes of `width` bits (1..=64).
    ///
    /// # Panics
    /// When `width` is 0 or more than 64.
    pub fn new(width: u32) -> Packer {
        assert!((1..=64).contains(&width), "codes have 1..=64 bits, not {width}");
        Packer { width, buffer: 0, buffered: 0 }
    }

    /// Appends a code (its low `width` bits), calling `emit` with every byte it completes.
    pub fn push(&mut self, code: u64, mut emit: impl FnMut(u8)) {
        self.buffer |= u128::from(code & low_mask(self.width)) << self.buffered;
        self.buffered += self.width;
        while self.buffered >= 8 {
            emit(self.buffer as u8);
            self.buffer >>= 8;
            self.buffered -= 8;
        }
    }

    /// Emits the last, zero-padded byte, if any bits are pending.
    pub fn finish(self, mut emit: impl FnMut(u8)) {
        if self.buffered > 0 {
            emit(self.buffer as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_convention_of_the_vectors() {
        assert_eq!(pack(5, &[0x1f, 0x3]), vec![0x7f, 0x00]);
        assert_eq!(pack(4, &[0xa, 0x1, 0x2]), vec![0x1a, 0x02]);
        assert_eq!(pack(1, &[1, 0, 0, 0, 0, 1, 1]), vec![0x61]);
        assert_eq!(pack(8, &[0x1ff]), vec![0xff], "high bits are ignored");
        assert_eq!(unpack(4, &[0x1a, 0x02], 3), vec![0xa, 0x1, 0x2]);
        assert_eq!(packed_len(3, 3), Some(2));
        assert_eq!(packed_len(64, usize::MAX), None);
    }

    #[test]
    fn out_of_range_reads_are_zero_and_writes_are_dropped() {
        let mut bytes = vec![0xffu8; 2];
        assert_eq!(read_bits(&bytes, 12, 8), 0x0f);
        assert_eq!(read_bits(&bytes, 16, 8), 0);
        assert_eq!(read_bits(&bytes, u64::MAX, 64), 0);
        write_bits(&mut bytes, 12, 8, 0);
        assert_eq!(bytes, vec![0xff, 0x0f]);
        write_bits(&mut bytes, u64::MAX - 3, 64, 0);
        write_bits(&mut bytes, 100, 64, 0);
        assert_eq!(bytes, vec![0xff, 0x0f]);
        assert_eq!(unpack(12, &[0xab], 2), vec![0xab, 0]);
    }

    #[test]
    fn sixty_four_bit_codes_at_every_shift() {
        for shift in 0..8u64 {
            let mut bytes = vec![0u8; 10];
            write_bits(&mut bytes, shift, 64, 0x8123_4567_89ab_cdef);
            assert_eq!(read_bits(&bytes, shift, 64), 0x8123_4567_89ab_cdef);
            assert_eq!(read_bits(&bytes, 0, 64) & low_mask(shift as u32), 0);
        }
    }

    fn width_and_codes() -> impl Strategy<Value = (u32, Vec<u64>)> {
        (prop_oneof![1u32..=32, Just(64u32)]).prop_flat_map(|width| {
            (
                Just(width),
                prop::collection::vec(any::<u64>().prop_map(move |code| code & low_mask(width)), 0..80),
            )
        })
    }

    proptest! {
        #[test]
        fn pack_and_unpack_round_trip((width, codes) in width_and_codes()) {
            let bytes = pack(width, &codes);
            prop_assert_eq!(Some(bytes.len()), packed_len(width, codes.len()));
            prop_assert_eq!(unpack(width, &bytes, codes.len()), codes.clone());
            for (index, &code) in codes.iter().enumerate() {
                prop_assert_eq!(read_bits(&bytes, index as u64 * u64::from(width), width), code);
            }
            // Padding bits are zero.
            let used = codes.len() as u64 * u64::from(width);
            prop_assert_eq!(read_bits(&bytes, used, (bytes.len() as u64 * 8 - used) as u32), 0);
        }

        #[test]
        fn write_bits_builds_what_pack_builds((width, codes) in width_and_codes(), noise in any::<u8>()) {
            // Write over a dirty buffer, each code twice, the second time with its high bits set.
            let mut bytes = vec![noise; packed_len(width, codes.len()).unwrap()];
            for index in (0..codes.len()).rev() {
                write_bits(&mut bytes, index as u64 * u64::from(width), width, u64::MAX);
            }
            for (index, &code) in codes.iter().enumerate() {
                write_bits(&mut bytes, index as u64 * u64::from(width), width, code | !low_mask(width));
            }
            prop_assert_eq!(unpack(width, &bytes, codes.len()), codes.clone());
            let used = codes.len() as u64 * u64::from(width);
            let padding = (bytes.len() as u64 * 8 - used) as u32;
            let untouched = vec![noise; bytes.len()];
            prop_assert_eq!(read_bits(&bytes, used, padding), read_bits(&untouched, used, padding));
        }
    }
}
