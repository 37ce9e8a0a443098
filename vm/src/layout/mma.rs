//! The register fragments of tensor-core MMA instructions (PTX `mma.sync.aligned.m16n8kK`), by name.
//!
//! Each fragment is written as a product of primitives, derived from the PTX ISA's fragment tables, in
//! which `group = lane / 4` and `lane_in_group = lane % 4`.
//! For example the f16 accumulator puts slot `i` of lane `t` at row `group + 8·(i / 2)` and column
//! `2·lane_in_group + i % 2`, which is `local(2, 1).spatial(8, 4).local(1, 2)`.
//! The layouts are plain register layouts, so backends without tensor cores can still use them.

use super::error::LayoutResult;
use super::primitives::{column_local, column_spatial, local, spatial};
use super::register::RegisterLayout;

/// A named MMA fragment: which instruction, which operand, and how to build its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmaFragment {
    /// The name used in layout text after `mma.`, e.g. `m16n8k16_f16_a`.
    pub name: &'static str,
    /// The shape of the operand tile (rows, columns).
    pub shape: [usize; 2],
    build: FragmentForm,
}

/// The three shapes of fragment that the m16n8kK instructions use, with the number of consecutive
/// elements a thread holds (one 32-bit register's worth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FragmentForm {
    /// A operand: `column_local(2, k_halves).spatial(8, 4).local(1, run)`; slots walk rows before the
    /// upper half of k.
    A { k_halves: usize, run: usize },
    /// B operand: `local(k_halves, 1).column_spatial(4, 8).local(run, 1)`.
    B { k_halves: usize, run: usize },
    /// Accumulator: `local(2, 1).spatial(8, 4).local(1, 2)`.
    C,
}

/// Every fragment in the library.
pub const FRAGMENTS: &[MmaFragment] = &[
    fragment("m16n8k8_f16_a", [16, 8], FragmentForm::A { k_halves: 1, run: 2 }),
    fragment("m16n8k8_f16_b", [8, 8], FragmentForm::B { k_halves: 1, run: 2 }),
    fragment("m16n8k8_f16_c", [16, 8], FragmentForm::C),
    fragment("m16n8k16_f16_a", [16, 16], FragmentForm::A { k_halves: 2, run: 2 }),
    fragment("m16n8k16_f16_b", [16, 8], FragmentForm::B { k_halves: 2, run: 2 }),
    fragment("m16n8k16_f16_c", [16, 8], FragmentForm::C),
    fragment("m16n8k16_bf16_a", [16, 16], FragmentForm::A { k_halves: 2, run: 2 }),
    fragment("m16n8k16_bf16_b", [16, 8], FragmentForm::B { k_halves: 2, run: 2 }),
    fragment("m16n8k16_bf16_c", [16, 8], FragmentForm::C),
    fragment("m16n8k16_i8_a", [16, 16], FragmentForm::A { k_halves: 1, run: 4 }),
    fragment("m16n8k16_i8_b", [16, 8], FragmentForm::B { k_halves: 1, run: 4 }),
    fragment("m16n8k16_i8_c", [16, 8], FragmentForm::C),
    fragment("m16n8k32_i8_a", [16, 32], FragmentForm::A { k_halves: 2, run: 4 }),
    fragment("m16n8k32_i8_b", [32, 8], FragmentForm::B { k_halves: 2, run: 4 }),
    fragment("m16n8k32_i8_c", [16, 8], FragmentForm::C),
    fragment("m16n8k32_u8_a", [16, 32], FragmentForm::A { k_halves: 2, run: 4 }),
    fragment("m16n8k32_u8_b", [32, 8], FragmentForm::B { k_halves: 2, run: 4 }),
    fragment("m16n8k32_u8_c", [16, 8], FragmentForm::C),
    fragment("m16n8k64_i4_a", [16, 64], FragmentForm::A { k_halves: 2, run: 8 }),
    fragment("m16n8k64_i4_b", [64, 8], FragmentForm::B { k_halves: 2, run: 8 }),
    fragment("m16n8k64_i4_c", [16, 8], FragmentForm::C),
    fragment("m16n8k64_u4_a", [16, 64], FragmentForm::A { k_halves: 2, run: 8 }),
    fragment("m16n8k64_u4_b", [64, 8], FragmentForm::B { k_halves: 2, run: 8 }),
    fragment("m16n8k64_u4_c", [16, 8], FragmentForm::C),
];

const fn fragment(name: &'static str, shape: [usize; 2], build: FragmentForm) -> MmaFragment {
    MmaFragment { name, shape, build }
}

impl MmaFragment {
    /// The fragment's register layout (32 threads).
    ///
    /// # Errors
    /// Never for the fragments in [`FRAGMENTS`]; the result type only carries the primitives' checks.
    pub fn layout(&self) -> LayoutResult<RegisterLayout> {
        match self.build {
            FragmentForm::A { k_halves, run } => {
                column_local(&[2, k_halves])?.product(&spatial(&[8, 4])?)?.product(&local(&[1, run])?)
            }
            FragmentForm::B { k_halves, run } => {
                local(&[k_halves, 1])?.product(&column_spatial(&[4, 8])?)?.product(&local(&[run, 1])?)
            }
            FragmentForm::C => local(&[2, 1])?.product(&spatial(&[8, 4])?)?.product(&local(&[1, 2])?),
        }
    }
}

/// The fragment layout called `name` (without the `mma.` prefix), or `None` for an unknown name.
pub fn fragment_layout(name: &str) -> Option<RegisterLayout> {
    FRAGMENTS.iter().find(|fragment| fragment.name == name).and_then(|fragment| fragment.layout().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every (lane, slot) of a fragment against a PTX table formula.
    fn check(name: &str, expected: impl Fn(usize, usize) -> (usize, usize)) {
        let layout = fragment_layout(name).expect("fragment exists");
        assert_eq!(layout.num_threads(), 32, "{name}");
        assert!(!layout.is_replicated(), "{name}");
        for lane in 0..32 {
            for slot in 0..layout.local_size() {
                let (row, column) = expected(lane, slot);
                assert_eq!(
                    layout.map(lane, slot).unwrap(),
                    vec![row, column],
                    "{name} lane {lane} slot {slot}"
                );
            }
        }
    }

    #[test]
    fn f16_m16n8k16_matches_the_ptx_tables() {
        // A: a0..a7; rows group (+8 for a2, a3, a6, a7), columns 2·lane_in_group + i%2 (+8 for a4..a7).
        check("m16n8k16_f16_a", |lane, i| {
            (lane / 4 + 8 * ((i / 2) % 2), 2 * (lane % 4) + i % 2 + 8 * (i / 4))
        });
        // B: b0..b3; rows 2·lane_in_group + i%2 (+8 for b2, b3), column group.
        check("m16n8k16_f16_b", |lane, i| (2 * (lane % 4) + i % 2 + 8 * (i / 2), lane / 4));
        // C: c0..c3; rows group (+8 for c2, c3), columns 2·lane_in_group + i%2.
        check("m16n8k16_f16_c", |lane, i| (lane / 4 + 8 * (i / 2), 2 * (lane % 4) + i % 2));
        assert_eq!(fragment_layout("m16n8k16_f16_a").unwrap().local_size(), 8);
        assert_eq!(fragment_layout("m16n8k16_f16_b").unwrap().local_size(), 4);
    }

    #[test]
    fn f16_m16n8k8_matches_the_ptx_tables() {
        check("m16n8k8_f16_a", |lane, i| (lane / 4 + 8 * (i / 2), 2 * (lane % 4) + i % 2));
        check("m16n8k8_f16_b", |lane, i| (2 * (lane % 4) + i, lane / 4));
        check("m16n8k8_f16_c", |lane, i| (lane / 4 + 8 * (i / 2), 2 * (lane % 4) + i % 2));
    }

    #[test]
    fn int8_m16n8k32_matches_the_ptx_tables() {
        // A: a0..a15; rows group (+8 for a4..a7, a12..a15), columns 4·lane_in_group + i%4 (+16 for i >= 8).
        check("m16n8k32_i8_a", |lane, i| {
            (lane / 4 + 8 * ((i / 4) % 2), 4 * (lane % 4) + i % 4 + 16 * (i / 8))
        });
        // B: b0..b7; rows 4·lane_in_group + i%4 (+16 for b4..b7), column group.
        check("m16n8k32_u8_b", |lane, i| (4 * (lane % 4) + i % 4 + 16 * (i / 4), lane / 4));
        check("m16n8k32_i8_c", |lane, i| (lane / 4 + 8 * (i / 2), 2 * (lane % 4) + i % 2));
    }

    #[test]
    fn int8_m16n8k16_and_int4_m16n8k64_match_the_ptx_tables() {
        check("m16n8k16_i8_a", |lane, i| (lane / 4 + 8 * (i / 4), 4 * (lane % 4) + i % 4));
        check("m16n8k16_i8_b", |lane, i| (4 * (lane % 4) + i, lane / 4));
        check("m16n8k64_i4_a", |lane, i| {
            (lane / 4 + 8 * ((i / 8) % 2), 8 * (lane % 4) + i % 8 + 32 * (i / 16))
        });
        check("m16n8k64_u4_b", |lane, i| (8 * (lane % 4) + i % 8 + 32 * (i / 8), lane / 4));
    }

    #[test]
    fn bf16_fragments_equal_the_f16_ones_and_unknown_names_are_none() {
        for operand in ["a", "b", "c"] {
            assert_eq!(
                fragment_layout(&format!("m16n8k16_bf16_{operand}")),
                fragment_layout(&format!("m16n8k16_f16_{operand}"))
            );
        }
        assert_eq!(fragment_layout("m16n8k16_f64_a"), None);
        for fragment in FRAGMENTS {
            assert_eq!(fragment.layout().unwrap().shape(), fragment.shape, "{}", fragment.name);
        }
    }
}
