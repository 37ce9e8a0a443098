//! Division of register layouts, `x / y`, and the vectorisation query built on it.

// `x / y` is the layout `z` with `z * y == x`.
// In the canonical form of a product the inner layout's modes come last in every dimension and its
// spatial and local entries come last in their lists; only the first inner mode of a dimension (or the
// first inner replica entry) may have been merged with the outer layout's last one.
// So the division refines x's modes to undo such a merge, checks that y's modes, spatial entries and
// local entries are suffixes of x's, and keeps the rest as z.
// The candidate is then multiplied back and compared with x, so a wrong candidate is an error, never a
// wrong answer.

use std::ops::Div;

use super::error::{LayoutError, LayoutResult};
use super::primitives::local;
use super::register::RegisterLayout;

impl RegisterLayout {
    /// The layout `z` with `z * divisor == self` (Tilus's `divide`, written `self / divisor`).
    ///
    /// # Errors
    /// [`LayoutError::NotDivisible`] when there is no such layout.
    pub fn divide(&self, divisor: &RegisterLayout) -> LayoutResult<RegisterLayout> {
        self.try_divide(divisor)
            .filter(|quotient| quotient.product(divisor).ok().as_ref() == Some(self))
            .ok_or_else(|| LayoutError::NotDivisible {
                dividend: self.to_string(),
                divisor: divisor.to_string(),
            })
    }

    /// The largest `v` such that every thread's local slots `k·v .. k·v + v` hold `v` consecutive elements
    /// along the last dimension: the layout is `z * local(1, ..., 1, v)` for some `z`.
    ///
    /// Code generators use it to choose vector loads and stores. It is 1 for rank 0.
    pub fn contiguous_local_run(&self) -> usize {
        let Some(&last) = self.shape().last() else { return 1 };
        let rank = self.shape().len();
        // Try the divisors of the last dimension from the largest down; the first that divides wins.
        let mut divisors: Vec<usize> = (1..)
            .take_while(|small: &usize| small.saturating_mul(*small) <= last)
            .filter(|small| last % small == 0)
            .flat_map(|small| [small, last / small])
            .collect();
        divisors.sort_unstable_by(|a, b| b.cmp(a));
        divisors.dedup();
        for run in divisors.into_iter().filter(|&run| run > 1) {
            let mut shape = vec![1; rank];
            shape[rank - 1] = run;
            if local(&shape).and_then(|divisor| self.divide(&divisor)).is_ok() {
                return run;
            }
        }
        1
    }

    /// The division's candidate quotient, or `None` when the structure rules it out.
    fn try_divide(&self, divisor: &RegisterLayout) -> Option<RegisterLayout> {
        let rank = self.shape().len();
        if divisor.shape().len() > rank {
            return None;
        }
        let divisor = divisor.unsqueeze_leading(rank).ok()?;
        let mut shape = Vec::with_capacity(rank);
        for (&a, &b) in self.shape().iter().zip(divisor.shape()) {
            if a % b != 0 {
                return None;
            }
            shape.push(a / b);
        }

        // Refine x's modes: `pieces[m]` lists the refined modes that mode m became.
        let mut refined_sizes: Vec<usize> = Vec::new();
        let mut pieces: Vec<Vec<usize>> = vec![Vec::new(); self.mode_shape().len()];
        let mut divisor_image = vec![0; divisor.mode_shape().len()];
        let mut in_divisor: Vec<bool> = Vec::new();
        for (group, divisor_group) in self.grouped_modes().iter().zip(divisor.grouped_modes()) {
            let first_shared = group.len().checked_sub(divisor_group.len())?;
            for (position, &mode) in group.iter().enumerate() {
                let size = self.mode_shape()[mode];
                let Some(offset) = position.checked_sub(first_shared) else {
                    pieces[mode].push(refined_sizes.len());
                    refined_sizes.push(size);
                    in_divisor.push(false);
                    continue;
                };
                let divisor_mode = divisor_group[offset];
                let divisor_size = divisor.mode_shape()[divisor_mode];
                if size != divisor_size {
                    // Only the first shared mode may hold an outer part merged into it.
                    if offset != 0 || !size.is_multiple_of(divisor_size) {
                        return None;
                    }
                    pieces[mode].push(refined_sizes.len());
                    refined_sizes.push(size / divisor_size);
                    in_divisor.push(false);
                }
                pieces[mode].push(refined_sizes.len());
                divisor_image[divisor_mode] = refined_sizes.len();
                refined_sizes.push(divisor_size);
                in_divisor.push(true);
            }
        }
        let mut spatial: Vec<isize> = Vec::new();
        for &entry in self.spatial_modes() {
            match usize::try_from(entry) {
                Ok(mode) => spatial.extend(pieces[mode].iter().map(|&piece| piece as isize)),
                Err(_) => spatial.push(entry),
            }
        }
        let local_list: Vec<usize> =
            self.local_modes().iter().flat_map(|&mode| pieces[mode].clone()).collect();

        // Undo a merge of replica entries at the boundary.
        let divisor_spatial: Vec<isize> = divisor
            .spatial_modes()
            .iter()
            .map(|&entry| usize::try_from(entry).map_or(entry, |mode| divisor_image[mode] as isize))
            .collect();
        let split_at = spatial.len().checked_sub(divisor_spatial.len())?;
        if let (Some(&first), Some(&mine)) = (divisor_spatial.first(), spatial.get(split_at))
            && first < 0
            && mine < 0
            && mine != first
        {
            if mine % first != 0 {
                return None;
            }
            spatial.splice(split_at..=split_at, [-(mine / first), first]);
        }
        let split_at = spatial.len().checked_sub(divisor_spatial.len())?;
        if spatial[split_at..] != divisor_spatial[..] {
            return None;
        }
        let local_split = local_list.len().checked_sub(divisor.local_modes().len())?;
        let divisor_local: Vec<usize> =
            divisor.local_modes().iter().map(|&mode| divisor_image[mode]).collect();
        if local_list[local_split..] != divisor_local[..] {
            return None;
        }

        // The quotient keeps the refined modes that are not the divisor's, and the list prefixes.
        let mut renumber = vec![None; refined_sizes.len()];
        let mut mode_shape = Vec::new();
        for (refined, &size) in refined_sizes.iter().enumerate() {
            if !in_divisor[refined] {
                renumber[refined] = Some(mode_shape.len());
                mode_shape.push(size);
            }
        }
        let mut spatial_modes = Vec::with_capacity(split_at);
        for &entry in &spatial[..split_at] {
            match usize::try_from(entry) {
                Ok(mode) => spatial_modes.push(renumber[mode]? as isize),
                Err(_) => spatial_modes.push(entry),
            }
        }
        let local_modes =
            local_list[..local_split].iter().map(|&mode| renumber[mode]).collect::<Option<Vec<usize>>>()?;
        RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes).ok()
    }
}

impl Div for &RegisterLayout {
    type Output = LayoutResult<RegisterLayout>;

    /// `a / b` is [`RegisterLayout::divide`].
    fn div(self, divisor: &RegisterLayout) -> LayoutResult<RegisterLayout> {
        self.divide(divisor)
    }
}
