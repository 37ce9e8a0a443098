//! Index arithmetic from layouts: which logical element an invocation's slot holds, where a shared
//! element lives, and which local slot already holds an element another instruction needs.
//
// Layouts are only known through their public maps (`RegisterLayout::map`, `SharedLayout::offset`),
// so this module *fits* closed forms to those maps at compile time and checks every point:
// - A register layout in mode form maps (thread, slot) to coordinates that are sums of mixed-radix
//   digits of the thread id and of the slot, each digit times a weight. `DigitSum::fit` recovers such
//   a sum from the sampled values by growing one digit at a time from the least significant end and
//   verifying the result on every input. Anything that does not fit becomes a constant table.
// - A shared layout is checked for an affine form `sum(index[d] * stride[d])`; otherwise (swizzles)
//   it becomes a table over the logical elements.
// Fitting costs O(threads * slots * rank) per distinct layout, which is small for block-level tiles.

use std::collections::HashMap;

use tilevm_vm::ir::{RegisterLayout, SharedLayout};

/// `base + sum(((x / div) % modulo) * mul)`, an integer function of one non-negative input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DigitSum {
    base: i64,
    terms: Vec<Digit>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Digit {
    div: usize,
    /// `None` when the digit is the most significant one (no modulo needed).
    modulo: Option<usize>,
    mul: i64,
}

impl DigitSum {
    /// Fits a digit sum to `values[x]` for every `x`, or `None` when there is none of this form.
    pub(super) fn fit(values: &[i64]) -> Option<DigitSum> {
        let count = values.len();
        let base = *values.first()?;
        let mut terms = Vec::new();
        let mut stride = 1;
        while stride < count {
            let weight = values[stride] - base;
            let mut best = None;
            let mut extent = 2;
            while stride * extent <= count {
                let last = (extent - 1) * stride;
                if values[last] - base != (extent as i64 - 1) * weight {
                    break;
                }
                if count.is_multiple_of(stride * extent) {
                    best = Some(extent);
                }
                extent += 1;
            }
            let extent = best?;
            if weight != 0 {
                let modulo = if stride * extent == count { None } else { Some(extent) };
                terms.push(Digit { div: stride, modulo, mul: weight });
            }
            stride *= extent;
        }
        let fitted = DigitSum { base, terms };
        (0..count).all(|x| fitted.eval(x) == values[x]).then_some(fitted)
    }

    fn eval(&self, x: usize) -> i64 {
        self.base
            + self
                .terms
                .iter()
                .map(|digit| {
                    let quotient = x / digit.div;
                    let value = digit.modulo.map_or(quotient, |modulo| quotient % modulo);
                    value as i64 * digit.mul
                })
                .sum::<i64>()
    }

    /// Whether every weight and the base are non-negative (so the sum is a valid `u32` expression).
    fn is_unsigned(&self) -> bool {
        self.base >= 0 && self.terms.iter().all(|digit| digit.mul >= 0)
    }

    /// The sum as a WGSL `u32` expression of the `u32` variable `input`.
    pub(super) fn to_wgsl(&self, input: &str) -> String {
        let mut parts = Vec::new();
        if self.base != 0 || self.terms.is_empty() {
            parts.push(format!("{}u", self.base));
        }
        for digit in &self.terms {
            let mut part =
                if digit.div == 1 { input.to_string() } else { format!("({input} / {}u)", digit.div) };
            if let Some(modulo) = digit.modulo {
                part = format!("({part} % {modulo}u)");
            }
            if digit.mul != 1 {
                part = format!("{part} * {}u", digit.mul);
            }
            parts.push(part);
        }
        format!("({})", parts.join(" + "))
    }
}

/// A function of one input in closed form, or as a constant table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum IndexFn {
    /// A digit sum.
    Closed(DigitSum),
    /// `values[x]`.
    Table(Vec<u32>),
}

impl IndexFn {
    /// The closed form if one fits, else a table.
    pub(super) fn from_values(values: &[usize]) -> IndexFn {
        let signed: Vec<i64> = values.iter().map(|&value| value as i64).collect();
        match DigitSum::fit(&signed) {
            Some(sum) if sum.is_unsigned() => IndexFn::Closed(sum),
            _ => IndexFn::Table(values.iter().map(|&value| value as u32).collect()),
        }
    }
}

/// Where each slot of each invocation lies in a register tile's logical index space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RegisterIndex {
    /// Coordinate `d` = `thread[d](tid) + slot[d](l)`.
    Separable {
        /// Per dimension, the thread's part.
        thread: Vec<IndexFn>,
        /// Per dimension, the slot's part.
        slot: Vec<IndexFn>,
    },
    /// Coordinate `d` = `table[(tid * L + l) * rank + d]`.
    Table(Vec<u32>),
}

/// The logical multi-index a layout maps `(thread, slot)` to.
///
/// Callers pass `thread < num_threads` and `slot < local_size`, for which the map cannot fail; the
/// origin stands in should a layout ever report an error there.
pub(super) fn map_index(layout: &RegisterLayout, thread: usize, slot: usize) -> Vec<usize> {
    layout.map(thread, slot).unwrap_or_else(|_| vec![0; layout.shape().len()])
}

/// The element offset of a logical index in a shared layout.
///
/// Callers pass indices inside the layout's shape, for which the offset cannot fail.
pub(super) fn shared_offset(layout: &SharedLayout, index: &[usize]) -> usize {
    layout.offset(index).unwrap_or(0)
}

impl RegisterIndex {
    /// Fits the index maps of `layout`.
    pub(super) fn new(layout: &RegisterLayout) -> RegisterIndex {
        let threads = layout.num_threads().max(1);
        let slots = layout.local_size().max(1);
        let rank = layout.shape().len();
        let all: Vec<Vec<usize>> = (0..threads)
            .flat_map(|thread| (0..slots).map(move |slot| (thread, slot)))
            .map(|(thread, slot)| map_index(layout, thread, slot))
            .collect();
        let at = |thread: usize, slot: usize| &all[thread * slots + slot];
        let origin = at(0, 0);
        let separable = (0..threads).all(|thread| {
            (0..slots).all(|slot| {
                (0..rank).all(|d| at(thread, slot)[d] + origin[d] == at(thread, 0)[d] + at(0, slot)[d])
            })
        });
        if !separable {
            return RegisterIndex::Table(all.iter().flatten().map(|&value| value as u32).collect());
        }
        let thread = (0..rank)
            .map(|d| IndexFn::from_values(&(0..threads).map(|t| at(t, 0)[d]).collect::<Vec<_>>()))
            .collect();
        let slot = (0..rank)
            .map(|d| IndexFn::from_values(&(0..slots).map(|s| at(0, s)[d] - origin[d]).collect::<Vec<_>>()))
            .collect();
        RegisterIndex::Separable { thread, slot }
    }
}

/// A shared layout's offset function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SharedIndex {
    /// `base + sum(index[d] * strides[d])`.
    Affine {
        /// Offset of index zero.
        base: u64,
        /// Per-dimension strides.
        strides: Vec<u64>,
    },
    /// `table[row-major linear index]`.
    Table(Vec<u32>),
}

impl SharedIndex {
    /// Fits the offset map of `layout`.
    pub(super) fn new(layout: &SharedLayout) -> SharedIndex {
        let shape = layout.shape().to_vec();
        let rank = shape.len();
        let zero = vec![0; rank];
        let base = shared_offset(layout, &zero) as i64;
        let strides: Vec<i64> = (0..rank)
            .map(|d| {
                if shape[d] < 2 {
                    return 0;
                }
                let mut unit = zero.clone();
                unit[d] = 1;
                shared_offset(layout, &unit) as i64 - base
            })
            .collect();
        let offsets: Vec<usize> =
            row_major_indices(&shape).map(|index| shared_offset(layout, &index)).collect();
        let affine = strides.iter().all(|&stride| stride >= 0)
            && row_major_indices(&shape).zip(&offsets).all(|(index, &offset)| {
                base + index.iter().zip(&strides).map(|(&i, &s)| i as i64 * s).sum::<i64>() == offset as i64
            });
        if affine {
            SharedIndex::Affine { base: base as u64, strides: strides.iter().map(|&s| s as u64).collect() }
        } else {
            SharedIndex::Table(offsets.iter().map(|&offset| offset as u32).collect())
        }
    }
}

/// Every multi-index of `shape` in row-major order.
pub(super) fn row_major_indices(shape: &[usize]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let count: usize = shape.iter().product();
    (0..count).map(move |mut linear| {
        let mut index = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            index[d] = linear % shape[d].max(1);
            linear /= shape[d].max(1);
        }
        index
    })
}

/// For each slot `l` of `dst`, the slot of `src` that holds element `source_of(dst index)` in the same
/// invocation, when that slot is the same for every invocation; `None` when data must move between
/// invocations (or the slot depends on the invocation).
pub(super) fn local_gather(
    dst: &RegisterLayout,
    src: &RegisterLayout,
    source_of: &dyn Fn(&[usize]) -> Vec<usize>,
) -> Option<Vec<usize>> {
    let threads = dst.num_threads().max(1);
    if src.num_threads().max(1) != threads {
        return None;
    }
    let mut held: HashMap<(usize, Vec<usize>), usize> = HashMap::new();
    for thread in 0..threads {
        for slot in (0..src.local_size()).rev() {
            held.insert((thread, map_index(src, thread, slot)), slot);
        }
    }
    (0..dst.local_size())
        .map(|slot| {
            let wanted =
                |thread: usize| held.get(&(thread, source_of(&map_index(dst, thread, slot)))).copied();
            let first = wanted(0)?;
            (1..threads).all(|thread| wanted(thread) == Some(first)).then_some(first)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilevm_vm::layout::{local, spatial};

    fn modes(
        shape: &[usize],
        mode_shape: &[usize],
        spatial_modes: &[isize],
        local_modes: &[usize],
    ) -> RegisterLayout {
        RegisterLayout::new(shape.to_vec(), mode_shape.to_vec(), spatial_modes.to_vec(), local_modes.to_vec())
            .expect("a valid layout")
    }

    #[test]
    fn digit_sums_fit_mixed_radix_maps() {
        // x = d1 * 4 + d0 (d0 < 4, d1 < 2); f = d0 * 2 + d1 * 1.
        let values: Vec<i64> = (0..8).map(|x| (x % 4) * 2 + x / 4).collect();
        let sum = DigitSum::fit(&values).expect("fits");
        for (x, value) in values.iter().enumerate() {
            assert_eq!(sum.eval(x), *value);
        }
        assert_eq!(sum.to_wgsl("t"), "((t % 4u) * 2u + (t / 4u))");
        assert!(DigitSum::fit(&[0, 3, 1, 7, 2]).is_none());
    }

    fn eval_index(
        index: &RegisterIndex,
        slots: usize,
        thread: usize,
        slot: usize,
        rank: usize,
    ) -> Vec<usize> {
        let eval = |part: &IndexFn, x: usize| match part {
            IndexFn::Closed(sum) => sum.eval(x) as usize,
            IndexFn::Table(values) => values[x] as usize,
        };
        match index {
            RegisterIndex::Separable { thread: threads, slot: locals } => {
                (0..rank).map(|d| eval(&threads[d], thread) + eval(&locals[d], slot)).collect()
            }
            RegisterIndex::Table(values) => {
                (0..rank).map(|d| values[(thread * slots + slot) * rank + d] as usize).collect()
            }
        }
    }

    #[test]
    fn register_index_matches_the_layout_map() {
        let layouts = [
            spatial(&[4, 8]).expect("layout"),
            local(&[3, 5]).expect("layout"),
            modes(&[8, 4], &[2, 4, 4], &[0, 2], &[1]),
            modes(&[4, 4], &[4, 4], &[-2, 1], &[0]),
        ];
        for layout in &layouts {
            let index = RegisterIndex::new(layout);
            assert!(matches!(index, RegisterIndex::Separable { .. }), "{layout:?}");
            for thread in 0..layout.num_threads() {
                for slot in 0..layout.local_size() {
                    let expected = map_index(layout, thread, slot);
                    assert_eq!(
                        eval_index(&index, layout.local_size(), thread, slot, expected.len()),
                        expected
                    );
                }
            }
        }
    }

    #[test]
    fn local_gather_finds_identity_and_broadcast_slots() {
        let layout = local(&[2, 3]).expect("layout");
        assert_eq!(local_gather(&layout, &layout, &|index| index.to_vec()), Some(vec![0, 1, 2, 3, 4, 5]));
        let row = local(&[1, 3]).expect("layout");
        assert_eq!(local_gather(&layout, &row, &|index| vec![0, index[1]]), Some(vec![0, 1, 2, 0, 1, 2]));
        let spatial_1d = spatial(&[6]).expect("layout");
        let spatial_2d = spatial(&[2, 3]).expect("layout");
        assert_eq!(
            local_gather(&spatial_1d, &spatial_2d, &|index| vec![index[0] / 3, index[0] % 3]),
            Some(vec![0])
        );
        let reversed = |index: &[usize]| vec![5 - index[0]];
        assert_eq!(local_gather(&spatial_1d, &spatial_1d, &reversed), None);
    }

    #[test]
    fn shared_row_major_is_affine() {
        let layout = SharedLayout::row_major(&[4, 6]).expect("layout");
        assert_eq!(SharedIndex::new(&layout), SharedIndex::Affine { base: 0, strides: vec![6, 1] });
    }
}
