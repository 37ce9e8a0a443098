//! Prints a register layout as text that parses back to an equal layout.

// The printer looks for a product of row-major primitives, `local(...).spatial(...)...`, because that is
// how people write layouts. It peels primitives off the inside: the candidate inner factors are built
// from the end of the local list (or the spatial list), using only modes that are the last of their
// dimension, and a candidate is accepted when the division succeeds. Division checks its answer, so the
// printed product always equals the layout. When no such product exists (replicas, column orders), the
// printer falls back to the general `register_layout(...)` form.

use std::fmt;

use crate::layout::primitives::{PrimitiveKind, column_local, column_spatial, primitive};
use crate::layout::register::RegisterLayout;

impl fmt::Display for RegisterLayout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A whole-tile column-major primitive reads better than its product form.
        let shape = self.shape();
        if self.rank_at_least_2() {
            for (name, candidate) in
                [("column_local", column_local(shape)), ("column_spatial", column_spatial(shape))]
            {
                if candidate.as_ref() == Ok(self) {
                    return write!(formatter, "{name}({})", join(shape));
                }
            }
        }
        match product_form(self) {
            Some(factors) => {
                for (position, (kind, shape)) in factors.iter().enumerate() {
                    if position > 0 {
                        formatter.write_str(".")?;
                    }
                    let name = match kind {
                        PrimitiveKind::Local => "local",
                        PrimitiveKind::Spatial => "spatial",
                    };
                    write!(formatter, "{name}({})", join(shape))?;
                }
                Ok(())
            }
            None => write!(
                formatter,
                "register_layout(shape=[{}], mode_shape=[{}], spatial_modes=[{}], local_modes=[{}])",
                join(self.shape()),
                join(self.mode_shape()),
                join(self.spatial_modes()),
                join(self.local_modes()),
            ),
        }
    }
}

impl RegisterLayout {
    /// Whether at least two dimensions are larger than 1 (otherwise column and row order agree).
    fn rank_at_least_2(&self) -> bool {
        self.shape().iter().filter(|&&size| size > 1).count() >= 2
    }
}

/// The layout as a product of row-major primitives, outermost first, or `None`.
fn product_form(layout: &RegisterLayout) -> Option<Vec<(PrimitiveKind, Vec<usize>)>> {
    if layout.is_replicated() {
        return None;
    }
    let rank = layout.shape().len();
    let mut factors = Vec::new();
    let mut rest = layout.clone();
    // Each accepted factor removes at least one mode, so this loop ends.
    while !rest.mode_shape().is_empty() {
        let (kind, shape, quotient) = peel(&rest)?;
        factors.push((kind, shape));
        rest = quotient;
    }
    if factors.is_empty() {
        factors.push((PrimitiveKind::Local, vec![1; rank]));
    }
    factors.reverse();
    Some(factors)
}

/// One inner primitive factor of `layout` and the quotient, trying the longest candidates first.
fn peel(layout: &RegisterLayout) -> Option<(PrimitiveKind, Vec<usize>, RegisterLayout)> {
    let groups = layout.grouped_modes();
    let dim_of_last_mode = |mode: usize| groups.iter().position(|group| group.last() == Some(&mode));
    let local_list: Vec<usize> = layout.local_modes().to_vec();
    let spatial_list: Vec<usize> =
        layout.spatial_modes().iter().filter_map(|&entry| usize::try_from(entry).ok()).collect();
    for (kind, list) in [(PrimitiveKind::Local, local_list), (PrimitiveKind::Spatial, spatial_list)] {
        // The longest suffix of the list made of last-of-dimension modes in increasing dimension order.
        let mut dims: Vec<usize> = Vec::new();
        for &mode in list.iter().rev() {
            match dim_of_last_mode(mode) {
                Some(dim) if dims.last().is_none_or(|&inner| dim < inner) => dims.push(dim),
                _ => break,
            }
        }
        for take in (1..=dims.len()).rev() {
            let mut shape = vec![1; layout.shape().len()];
            for (&dim, &mode) in dims[..take].iter().zip(list.iter().rev()) {
                shape[dim] = layout.mode_shape()[mode];
            }
            let factor = primitive(kind, &shape, None).ok()?;
            if let Ok(quotient) = layout.divide(&factor) {
                return Some((kind, shape, quotient));
            }
        }
    }
    None
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
