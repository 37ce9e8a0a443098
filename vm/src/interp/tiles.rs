//! Register tiles as logical arrays of codes, and index arithmetic over tile shapes.
//!
//! The interpreter keeps one code per logical element, in row-major order; replica threads hold equal
//! values by construction, so instructions are defined on logical elements. Only `view` and race detection
//! look at which thread holds which element.

use super::races::Threads;
use crate::dtype::DataType;
use crate::layout::RegisterLayout;

/// The most elements one tile may have in the interpreter (a guard against absurd shapes).
pub(crate) const MAX_TILE_ELEMENTS: usize = 1 << 24;

/// A register tile's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegisterTile {
    /// Element type.
    pub dtype: DataType,
    /// Logical shape.
    pub shape: Vec<usize>,
    /// One code per logical element, row-major.
    pub codes: Vec<u64>,
}

/// The number of elements of `shape`, or an error when it is absurdly large.
pub(crate) fn element_count(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |count, &extent| count.checked_mul(extent))
        .filter(|&count| count <= MAX_TILE_ELEMENTS)
        .ok_or_else(|| format!("tile shape {shape:?} has more than {MAX_TILE_ELEMENTS} elements"))
}

/// The multi-index of row-major position `position` in `shape`, written into `index`.
pub(crate) fn unravel(mut position: usize, shape: &[usize], index: &mut Vec<usize>) {
    index.clear();
    index.resize(shape.len(), 0);
    for (slot, &extent) in index.iter_mut().zip(shape).rev() {
        if extent > 0 {
            *slot = position % extent;
            position /= extent;
        }
    }
}

/// The row-major position of `index` in `shape`, or `None` when it lies outside.
pub(crate) fn ravel(index: &[usize], shape: &[usize]) -> Option<usize> {
    if index.len() != shape.len() {
        return None;
    }
    index.iter().zip(shape).try_fold(0usize, |position, (&coordinate, &extent)| {
        (coordinate < extent).then(|| position * extent + coordinate)
    })
}

/// The row-major position in a tile of shape `source` of the element broadcast to `index` of a tile of
/// shape `target` (size-1 dimensions repeat, missing leading dimensions are added), or `None` when
/// `source` does not broadcast to `target`.
pub(crate) fn broadcast_position(source: &[usize], target: &[usize], index: &[usize]) -> Option<usize> {
    let lead = target.len().checked_sub(source.len())?;
    let mut position = 0usize;
    for (d, &extent) in source.iter().enumerate() {
        let coordinate = if extent == 1 {
            0
        } else if extent == target[lead + d] {
            index[lead + d]
        } else {
            return None;
        };
        position = position * extent + coordinate;
    }
    Some(position)
}

/// Which threads hold each logical element (row-major) of a tile with `layout`, for race detection.
///
/// # Errors
/// When the layout maps a (thread, slot) pair outside its shape.
pub(crate) fn owners(layout: &RegisterLayout) -> Result<Vec<Option<Threads>>, String> {
    let shape = layout.shape();
    let mut owners = vec![None; element_count(shape)?];
    let (threads, slots) = (layout.num_threads(), layout.local_size());
    if threads.checked_mul(slots).is_none_or(|pairs| pairs > MAX_TILE_ELEMENTS * 64) {
        return Err(format!("layout with {threads} threads of {slots} slots is too large"));
    }
    for thread in 0..threads {
        for slot in 0..slots {
            let index = layout.map(thread, slot).map_err(|error| error.to_string())?;
            let position = ravel(&index, shape).ok_or_else(|| {
                format!("layout maps thread {thread}, slot {slot} to {index:?}, outside {shape:?}")
            })?;
            let thread = Threads::One(thread as u32);
            let owner = &mut owners[position];
            *owner = Some(owner.map_or(thread, |previous: Threads| previous.merge(thread)));
        }
    }
    Ok(owners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ravel_and_unravel_are_inverse() {
        let shape = [2, 3, 4];
        let mut index = Vec::new();
        for position in 0..24 {
            unravel(position, &shape, &mut index);
            assert_eq!(ravel(&index, &shape), Some(position));
        }
        assert_eq!(ravel(&[1, 3, 0], &shape), None);
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_position(&[1, 4], &[3, 4], &[2, 1]), Some(1));
        assert_eq!(broadcast_position(&[3, 1], &[3, 4], &[2, 1]), Some(2));
        assert_eq!(broadcast_position(&[4], &[3, 4], &[2, 3]), Some(3));
        assert_eq!(broadcast_position(&[2, 4], &[3, 4], &[2, 3]), None);
        assert_eq!(broadcast_position(&[1, 1, 4], &[3, 4], &[0, 0]), None);
    }

    #[test]
    fn owners_of_a_spatial_layout() -> Result<(), crate::layout::LayoutError> {
        let layout = crate::layout::spatial(&[2, 2])?;
        let owners = owners(&layout).unwrap_or_default();
        let expected: Vec<_> = (0..4).map(|thread| Some(Threads::One(thread))).collect();
        assert_eq!(owners, expected);
        let replicated = crate::layout::replicated(&[2], 2)?;
        assert_eq!(super::owners(&replicated).unwrap_or_default(), vec![Some(Threads::Many); 2]);
        Ok(())
    }
}
