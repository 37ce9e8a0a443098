//! Instruction selection: one explicit stage that turns every instruction of a kernel into a [`CpuOp`],
//! the CPU backend's own operation, before any CLIF is emitted.
//
// Selection is a pure function of the kernel and the target's features ([`TargetFeatures`]). It runs in
// two steps:
//   1. `chains` finds, by structure alone, the load → cast → dot chains a dot might absorb;
//   2. every instruction takes the first rule of `rules::RULES` whose target features are present and
//      whose predicate accepts it. Dots go first, so that a fused dot's choice marks the instructions it
//      absorbs (`CpuOp::Absorbed`), which then emit nothing.
// Emission (`ClifLowerer`) only matches on the selected operations: the predicates that say when a fast
// path applies are written once, here, and `tilevm compile --emit isel` prints the result, which the
// snapshot tests pin for every example and stdlib kernel.

mod chains;
mod ops;
pub(crate) mod rules;

use std::fmt;

use tilevm_vm::ir::{Inst, Kernel};
use tilevm_vm::text::print_inst;

pub use ops::{
    AbsorbedRole, BytePlan, CpuOp, FusedDot, FusedLoad, FusedRhs, InstIndex, Lanes, LoadPaths, RunCopy,
    StorePaths, VectorCast,
};

use self::rules::{Cx, RULES};
use tilevm_vm::analysis::HiddenPayloads;

/// A target feature a rule's emitted code needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// 128-bit vectors (`I8X16` ... `F32X4`): what every vector emitter of this backend uses.
    Vector128,
    /// `x86_pmaddubsw` (x86-64 with SSSE3): unsigned bytes times signed bytes, pairs summed into 16 bits.
    ByteMultiplyAdd,
    /// Software prefetch through `Helper::Prefetch` (a choice, not a capability: see `prefetch`).
    SoftwarePrefetch,
}

/// What selection knows of the target: the width of its vectors and the features its rules may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetFeatures {
    /// Bytes per vector register the emitters may use; vector rules need 16.
    pub vector_bytes: u32,
    /// Whether `x86_pmaddubsw` lowers.
    pub byte_multiply_add: bool,
    /// Whether streaming dots prefetch: off unless asked for, as it helps where memory latency bounds a
    /// GEMV and hurts where it runs near the read bandwidth (the README has the figures).
    pub software_prefetch: bool,
}

impl TargetFeatures {
    /// x86-64 with SSSE3 and without prefetch: the host of the development machines, and the target the
    /// selection snapshots are taken for, whatever machine runs the tests.
    pub const X86_64_SSSE3: TargetFeatures =
        TargetFeatures { vector_bytes: 16, byte_multiply_add: true, software_prefetch: false };

    /// Whether the target has `feature`.
    pub fn has(&self, feature: Feature) -> bool {
        match feature {
            Feature::Vector128 => self.vector_bytes >= 16,
            Feature::ByteMultiplyAdd => self.byte_multiply_add,
            Feature::SoftwarePrefetch => self.software_prefetch,
        }
    }
}

/// The operation selected for each instruction, in pre-order ([`InstIndex`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    ops: Vec<Selected>,
}

/// One instruction's operation and the rule that chose it.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    /// The operation.
    pub op: CpuOp,
    /// The name of the rule that chose it (`absorbed` for instructions a fused dot took over).
    pub rule: &'static str,
}

impl Selection {
    /// The operation of instruction `index`.
    pub fn get(&self, index: InstIndex) -> Option<&Selected> {
        self.ops.get(index.0)
    }

    /// The selected operations, in pre-order.
    pub fn ops(&self) -> &[Selected] {
        &self.ops
    }

    /// How many instructions took the rule named `rule`.
    pub fn count(&self, rule: &str) -> usize {
        self.ops.iter().filter(|selected| selected.rule == rule).count()
    }
}

/// Selects an operation for every instruction of `kernel` on `target`.
pub fn select(kernel: &Kernel, target: TargetFeatures) -> Selection {
    let cx = Cx { kernel, target, hidden_payloads: HiddenPayloads::analyse(kernel) };
    let chains = chains::find_chains(kernel);
    let insts = kernel.instructions();
    let mut ops: Vec<Option<Selected>> = vec![None; insts.len()];
    // Dots first: a fused dot marks what it absorbs.
    for (index, inst) in insts.iter().enumerate() {
        if !matches!(inst, Inst::Dot { .. }) {
            continue;
        }
        let chain = chains.get(&InstIndex(index));
        let selected = apply_rules(&cx, inst, chain);
        if let (CpuOp::FusedDot(dot), Some(chain)) = (&selected.op, chain) {
            let dot_index = InstIndex(index);
            let mut absorb = |at: InstIndex, role: AbsorbedRole| {
                ops[at.0] = Some(Selected { op: CpuOp::Absorbed { dot: dot_index, role }, rule: "absorbed" });
            };
            absorb(chain.cast, AbsorbedRole::CastOfCodes);
            if let (Some(_), Some(load)) = (&dot.load, &chain.load) {
                absorb(load.index, AbsorbedRole::LoadOfCodes);
            }
            if let (FusedRhs::Bytes { .. }, Some((cast, _))) = (dot.rhs, chain.bytes) {
                absorb(cast, AbsorbedRole::CastOfBytes);
            }
            if let (true, Some(fill)) = (dot.zero_accumulator, chain.zero_fill) {
                absorb(fill, AbsorbedRole::ZeroFill);
            }
        }
        ops[index] = Some(selected);
    }
    let ops = insts
        .iter()
        .zip(ops)
        .map(|(inst, selected)| selected.unwrap_or_else(|| apply_rules(&cx, inst, None)))
        .collect();
    Selection { ops }
}

/// The first rule that applies; `generic`, last in the table, always does.
fn apply_rules(cx: &Cx<'_>, inst: &Inst, chain: Option<&chains::Chain>) -> Selected {
    RULES
        .iter()
        .filter(|rule| rule.requires.iter().all(|&feature| cx.target.has(feature)))
        .find_map(|rule| (rule.select)(cx, inst, chain).map(|op| Selected { op, rule: rule.name }))
        .unwrap_or(Selected { op: CpuOp::Generic, rule: "generic" })
}

/// The selection of `kernel` as text: per instruction, its index and text form, then the rule that chose
/// its operation and the operation (what `tilevm compile --emit isel` prints).
pub fn selection_text(kernel: &Kernel, selection: &Selection) -> String {
    let mut out = format!("kernel {}\n", kernel.name);
    for (index, (inst, selected)) in kernel.instructions().iter().zip(selection.ops()).enumerate() {
        let op = match &selected.op {
            CpuOp::Generic => String::new(),
            op => format!(": {op}"),
        };
        // Writing to a `String` cannot fail.
        let _ = fmt::write(
            &mut out,
            format_args!("  #{index:<3} {}\n       -> {}{op}\n", print_inst(inst), selected.rule),
        );
    }
    out
}

#[cfg(test)]
mod tests;
