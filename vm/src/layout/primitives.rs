//! The primitive register layouts: `local`, `spatial`, their column-major forms, `replicated` and
//! `auto_local_spatial`.

use super::error::{LayoutError, LayoutResult};
use super::register::RegisterLayout;

/// Which list a primitive's modes go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrimitiveKind {
    /// One thread holds every element (`local`, `repeat`).
    Local,
    /// One element per thread (`spatial`).
    Spatial,
}

/// `local(shape...)`: T = 1; slot l holds the row-major position l.
///
/// # Errors
/// [`LayoutError::Invalid`] when a size is zero.
pub fn local(shape: &[usize]) -> LayoutResult<RegisterLayout> {
    primitive(PrimitiveKind::Local, shape, None)
}

/// `spatial(shape...)`: L = 1; thread t holds the row-major position t.
///
/// # Errors
/// [`LayoutError::Invalid`] when a size is zero.
pub fn spatial(shape: &[usize]) -> LayoutResult<RegisterLayout> {
    primitive(PrimitiveKind::Spatial, shape, None)
}

/// `column_local(shape...)`: like [`local`], column-major (dimension 0 varies fastest).
///
/// # Errors
/// [`LayoutError::Invalid`] when a size is zero.
pub fn column_local(shape: &[usize]) -> LayoutResult<RegisterLayout> {
    primitive(PrimitiveKind::Local, shape, Some(&column_ranks(shape.len())))
}

/// `column_spatial(shape...)`: like [`spatial`], column-major (dimension 0 varies fastest).
///
/// # Errors
/// [`LayoutError::Invalid`] when a size is zero.
pub fn column_spatial(shape: &[usize]) -> LayoutResult<RegisterLayout> {
    primitive(PrimitiveKind::Spatial, shape, Some(&column_ranks(shape.len())))
}

/// A primitive with an explicit order of dimensions: `ranks[d]` is dimension d's rank, and rank 0 varies
/// slowest. `None` means row-major (`ranks = [0, 1, ...]`).
///
/// # Errors
/// [`LayoutError::Invalid`] when a size is zero or `ranks` is not a permutation of `0..shape.len()`.
pub fn primitive(
    kind: PrimitiveKind,
    shape: &[usize],
    ranks: Option<&[usize]>,
) -> LayoutResult<RegisterLayout> {
    let order: Vec<usize> = match ranks {
        None => (0..shape.len()).collect(),
        Some(ranks) => {
            check_permutation(ranks, shape.len(), "ranks")?;
            // The digit of rank r is the dimension whose rank is r.
            let mut order = vec![0; ranks.len()];
            for (dim, &rank) in ranks.iter().enumerate() {
                order[rank] = dim;
            }
            order
        }
    };
    let (spatial_modes, local_modes) = match kind {
        PrimitiveKind::Local => (Vec::new(), order),
        PrimitiveKind::Spatial => (order.iter().map(|&mode| mode as isize).collect(), Vec::new()),
    };
    RegisterLayout::new(shape.to_vec(), shape.to_vec(), spatial_modes, local_modes)
}

/// `replicated(shape..., num_workers=N)`: N replica threads, each holding all of `local(shape...)`.
///
/// # Errors
/// [`LayoutError::Invalid`] when a size or `num_workers` is zero.
pub fn replicated(shape: &[usize], num_workers: usize) -> LayoutResult<RegisterLayout> {
    if num_workers == 0 {
        return Err(LayoutError::invalid("num_workers must be positive"));
    }
    let workers =
        isize::try_from(num_workers).map_err(|_| LayoutError::invalid("num_workers is too large"))?;
    RegisterLayout::new(shape.to_vec(), shape.to_vec(), vec![-workers], (0..shape.len()).collect())
}

/// `auto_local_spatial(num_threads, shape)`: `local(...).spatial(...)` with the threads given to the
/// innermost dimensions first (consecutive threads hold consecutive elements); threads left over when the
/// tile is too small become replicas (outermost).
///
/// # Errors
/// [`LayoutError::Invalid`] when neither of `num_threads` and the tile's size divides the other.
pub fn auto_local_spatial(num_threads: usize, shape: &[usize]) -> LayoutResult<RegisterLayout> {
    auto_split(num_threads, shape, ThreadOrder::InnermostFirst)
}

/// `auto_spatial_local(num_threads, shape)`: `spatial(...).local(...)` with the threads given to the
/// outermost dimensions first, so that each thread holds one contiguous block of the tile and, along the
/// last dimension, a run of consecutive elements (what a kernel written for a GPU chooses by hand: a run
/// of 32 `u4` codes is one 16-byte load); threads left over when the tile is too small become replicas.
///
/// # Errors
/// [`LayoutError::Invalid`] when neither of `num_threads` and the tile's size divides the other.
pub fn auto_spatial_local(num_threads: usize, shape: &[usize]) -> LayoutResult<RegisterLayout> {
    auto_split(num_threads, shape, ThreadOrder::OutermostFirst)
}

/// Which dimensions take the threads first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ThreadOrder {
    InnermostFirst,
    OutermostFirst,
}

fn auto_split(num_threads: usize, shape: &[usize], order: ThreadOrder) -> LayoutResult<RegisterLayout> {
    let size: usize = shape.iter().product();
    if num_threads == 0
        || size == 0
        || (!size.is_multiple_of(num_threads) && !num_threads.is_multiple_of(size))
    {
        return Err(LayoutError::invalid(format!(
            "automatic layout: {num_threads} threads do not fit a tile of shape {shape:?}"
        )));
    }
    let mut remaining_threads = num_threads;
    let mut local_shape = shape.to_vec();
    let mut spatial_shape = vec![1; shape.len()];
    let dims: Vec<usize> = match order {
        ThreadOrder::InnermostFirst => (0..shape.len()).rev().collect(),
        ThreadOrder::OutermostFirst => (0..shape.len()).collect(),
    };
    for dim in dims {
        let threads_here = gcd(remaining_threads, local_shape[dim]);
        spatial_shape[dim] = threads_here;
        remaining_threads /= threads_here;
        local_shape[dim] /= threads_here;
    }
    let (local, spatial) = (local(&local_shape)?, spatial(&spatial_shape)?);
    let layout = match order {
        ThreadOrder::InnermostFirst => local.product(&spatial)?,
        ThreadOrder::OutermostFirst => spatial.product(&local)?,
    };
    if remaining_threads == 1 {
        return Ok(layout);
    }
    let replicas =
        isize::try_from(remaining_threads).map_err(|_| LayoutError::invalid("too many threads"))?;
    let mut spatial_modes = vec![-replicas];
    spatial_modes.extend_from_slice(layout.spatial_modes());
    RegisterLayout::new(
        layout.shape().to_vec(),
        layout.mode_shape().to_vec(),
        spatial_modes,
        layout.local_modes().to_vec(),
    )
}

/// Checks that `values` is a permutation of `0..len`.
pub(crate) fn check_permutation(values: &[usize], len: usize, what: &str) -> LayoutResult<()> {
    let mut seen = vec![false; len];
    if values.len() != len {
        return Err(LayoutError::invalid(format!("{what} {values:?} must have {len} entries")));
    }
    for &value in values {
        match seen.get_mut(value) {
            Some(flag) if !*flag => *flag = true,
            _ => {
                return Err(LayoutError::invalid(format!(
                    "{what} {values:?} is not a permutation of 0..{len}"
                )));
            }
        }
    }
    Ok(())
}

fn column_ranks(rank: usize) -> Vec<usize> {
    (0..rank).rev().collect()
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
