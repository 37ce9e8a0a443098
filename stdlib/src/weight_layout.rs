//! How [`crate::gemv_q8::gemv_q8_wx`] stores its weights, and the host-side preprocessing into that form
//! (done once, when a model is loaded, like the weight layouts of Marlin and Tilus).
//
// Two transformations of the row-major `[n, k]` codes (and the first of the scales, `tile_scales`):
//   - row-block tiling (`tile_weights`): a block walks its rows' groups in order, so with its tiles stored
//     one after another it streams one contiguous run, where row-major weights would have it read `rows`
//     separate streams, `k` codes apart, which the CPU's prefetchers do not follow;
//   - bit planes (`weight_planes`): 3-, 5- and 6-bit codes are split into a low plane of 2 or 4 bits and a
//     high plane of 1 or 2 bits (`code = low + (high << low_bits)`), as GGUF's k-quants store them, so
//     that both planes take the CPU backend's bit-plane integer dot (`pmaddubsw` on whole bytes) instead
//     of unpacking codes that straddle bytes. Within each tile the high plane comes first, then the low: the GEMV reads them in
//     that order, so its reads move forward.

use tilevm_vm::packing::pack;

/// The planes of one width in the q8 GEMV's weight layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightPlanes {
    /// Bits of the low plane (all of the code when there is no high plane).
    pub low: u8,
    /// Bits of the high plane, if the code is split.
    pub high: Option<u8>,
}

/// The planes `bits`-bit weights take in tiles of `rows` by `group` codes: two for 3, 5 and 6 bits when
/// every plane's tile rows start on byte boundaries (`group` a multiple of 8), one otherwise.
pub fn weight_planes(bits: u8, rows: usize, group: usize) -> WeightPlanes {
    let split = match bits {
        3 => Some((2, 1)),
        5 => Some((4, 1)),
        6 => Some((4, 2)),
        _ => None,
    };
    match split {
        Some((low, high)) if group.is_multiple_of(8) && rows > 0 => WeightPlanes { low, high: Some(high) },
        _ => WeightPlanes { low: bits, high: None },
    }
}

/// Reorders row-major `[n, k]` weight codes into tile order: one `[rows, group]` tile after another, tile
/// `(b, g)` holding rows `b * rows ..` and columns `g * group ..` row by row, the tiles of block `b` in
/// group order before those of block `b + 1`. Rows past `n` and columns past `k` of the last tiles are zero.
///
/// # Panics
/// When `codes` holds fewer than `n * k` codes.
pub fn tile_weights<T: Copy + Default>(codes: &[T], n: usize, k: usize, group: usize, rows: usize) -> Vec<T> {
    let (group, rows) = (group.max(1), rows.max(1));
    let groups = k.div_ceil(group);
    let mut tiled = Vec::with_capacity(n.div_ceil(rows) * rows * groups * group);
    for block in 0..n.div_ceil(rows) {
        for g in 0..groups {
            for row in block * rows..(block + 1) * rows {
                for col in g * group..(g + 1) * group {
                    let inside = row < n && col < k;
                    tiled.push(if inside { codes[row * k + col] } else { T::default() });
                }
            }
        }
    }
    tiled
}

/// Reorders row-major `[n, groups]` scales into the order [`crate::gemv_q8::gemv_q8_wx`] reads them: the
/// scales of each block of `rows` rows together, group by group (`[n / rows, groups, rows]`, rows past `n`
/// zero), so that a block reads them as one forward stream next to its weights.
pub fn tile_scales<T: Copy + Default>(scales: &[T], n: usize, groups: usize, rows: usize) -> Vec<T> {
    tile_weights(scales, n, groups, 1, rows)
}

/// The weight buffer of [`crate::gemv_q8::gemv_q8_wx`] for `bits`-bit row-major `[n, k]` codes: tiled, split
/// into planes ([`weight_planes`]) and packed.
///
/// # Panics
/// When `codes` holds fewer than `n * k` codes.
pub fn pack_q8_weights(bits: u8, codes: &[u64], n: usize, k: usize, group: usize, rows: usize) -> Vec<u8> {
    let tiled = tile_weights(codes, n, k, group, rows);
    let planes = weight_planes(bits, rows, group);
    let Some(high) = planes.high else { return pack(u32::from(bits), &tiled) };
    let low_mask = (1u64 << planes.low) - 1;
    let tile_codes = rows.max(1) * group.max(1);
    let mut bytes = Vec::with_capacity(tiled.len() * usize::from(bits) / 8);
    for tile in tiled.chunks(tile_codes) {
        let low: Vec<u64> = tile.iter().map(|code| code & low_mask).collect();
        let high_codes: Vec<u64> = tile.iter().map(|code| code >> planes.low).collect();
        bytes.extend(pack(u32::from(high), &high_codes));
        bytes.extend(pack(u32::from(planes.low), &low));
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_follow_blocks_then_groups_and_pad_with_zeros() {
        let codes: Vec<u8> = (0..12).collect();
        let tiled = tile_weights(&codes, 3, 4, 2, 2);
        assert_eq!(tiled, [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 0, 0, 10, 11, 0, 0]);
    }

    #[test]
    fn split_codes_put_the_high_plane_of_a_tile_before_its_low_plane() {
        assert_eq!(weight_planes(3, 2, 8), WeightPlanes { low: 2, high: Some(1) });
        assert_eq!(weight_planes(4, 2, 8), WeightPlanes { low: 4, high: None });
        assert_eq!(weight_planes(6, 2, 4), WeightPlanes { low: 6, high: None }, "rows not byte aligned");
        // Two tiles of 2 x 8 three-bit codes: 16 bits of high codes, then 32 bits of low ones, each.
        let codes: Vec<u64> = (0..32).map(|i| i % 8).collect();
        let bytes = pack_q8_weights(3, &codes, 4, 8, 8, 2);
        let low: Vec<u64> = (0..16).map(|i| i % 4).collect();
        let high: Vec<u64> = (0..16).map(|i| (i % 8) / 4).collect();
        let tile = [pack(1, &high), pack(2, &low)].concat();
        assert_eq!(bytes, [tile.clone(), tile].concat());
    }
}
