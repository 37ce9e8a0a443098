//! `--check`: how closely a device must agree with the reference interpreter, and the mismatch report.
//!
//! Backends agree with the interpreter bit for bit (ARCHITECTURE.md: the interpreter defines meaning)
//! except where the IR lets the summation order or a transcendental function's implementation differ. So a kernel without float sums, products, float dots or transcendentals is
//! compared bit for bit. Otherwise the bound is a heuristic from the classic error bound of a float sum of
//! `n` terms, `n * u * sum(|terms|)` with `u` the accumulate type's unit roundoff, plus two units in the
//! last place of the output dtype (the device's accumulated value may round the other way) and its
//! smallest positive value (a result near zero):
//!
//! - `n` is the total length of every float reduction and dot product of the kernel (an over-estimate
//!   when they are not chained);
//! - `sum(|terms|)` is unknown, so the largest `|expected|` of the buffer (at least 1) stands in for it;
//! - a transcendental adds eight units of its dtype's roundoff, relative.

use tilevm_vm::DataType;
use tilevm_vm::compare::{BufferComparison, Tolerance, compare_buffers};
use tilevm_vm::ir::{ElementwiseOp, Inst, Kernel, ParamKind, ReduceOp, Stmt, StmtKind, UnaryOp};
use tilevm_vm::packing::read_bits;

use crate::cli::CliError;

/// How many mismatches of each buffer the report lists.
const REPORTED_MISMATCHES: usize = 10;

/// Compares every mutable buffer of `actual` with `expected` and prints one line per buffer, plus the
/// first mismatches of a buffer that differs.
///
/// # Errors
/// `CheckFailed` when any buffer differs beyond its tolerance.
pub fn compare_outputs(
    kernel: &Kernel,
    shapes: &[Option<Vec<u64>>],
    actual: &[tilevm_runtime::KernelArg],
    expected: &[tilevm_runtime::KernelArg],
) -> Result<(), CliError> {
    let inexact = InexactOps::of(kernel);
    let mut failed = Vec::new();
    for (index, param) in kernel.params.iter().enumerate() {
        let ParamKind::Global { dtype, mutable: true } = param.kind else { continue };
        let (Some(got), Some(want)) = (super::buffer(actual, index), super::buffer(expected, index)) else {
            continue;
        };
        let tolerance = inexact.tolerance(dtype, want);
        let comparison = compare_buffers(dtype, got, want, tolerance, REPORTED_MISMATCHES);
        let shape = shapes.get(index).cloned().flatten().unwrap_or_default();
        if comparison.is_match() {
            println!(
                "check: `{}` matches the reference interpreter ({} elements, {})",
                param.name,
                comparison.elements,
                describe(tolerance)
            );
        } else {
            eprint!("{}", report(&param.name, dtype, &shape, tolerance, &comparison));
            failed.push(param.name.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "check failed: {} differ{} from the reference interpreter",
            failed.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", "),
            if failed.len() == 1 { "s" } else { "" }
        )))
    }
}

/// The mismatch report of one buffer: a summary line, then `name[i, j]: expected E, got G` lines.
pub fn report(
    name: &str,
    dtype: DataType,
    shape: &[u64],
    tolerance: Tolerance,
    comparison: &BufferComparison,
) -> String {
    let mut text = format!(
        "check: `{name}` ({dtype}) differs from the reference interpreter: {} of {} elements ({})\n",
        comparison.mismatched,
        comparison.elements,
        describe(tolerance)
    );
    if let Some((got, want)) = comparison.length_differs {
        text += &format!("  the device's buffer has {got} bytes, the interpreter's {want}\n");
    }
    if comparison.trailing_bits_differ {
        text += "  the bits after the last element differ (the device wrote past the tensor's end)\n";
    }
    for mismatch in &comparison.first {
        text += &format!(
            "  {name}{}: expected {} (0x{:x}), got {} (0x{:x})\n",
            multi_index(mismatch.element, shape),
            dtype.to_f64(mismatch.expected),
            mismatch.expected,
            dtype.to_f64(mismatch.actual),
            mismatch.actual
        );
    }
    if comparison.mismatched > comparison.first.len() as u64 {
        text += &format!("  ... and {} more\n", comparison.mismatched - comparison.first.len() as u64);
    }
    text
}

/// The float operations of a kernel whose results may legitimately differ between backends.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct InexactOps {
    /// The total length of every float reduction and dot product.
    reduced_length: u64,
    /// The largest unit roundoff among their accumulate dtypes.
    accumulate_roundoff: f64,
    /// The largest unit roundoff among the dtypes of transcendental operations (0 when there are none).
    transcendental_roundoff: f64,
}

impl InexactOps {
    fn of(kernel: &Kernel) -> InexactOps {
        let mut ops = InexactOps::default();
        ops.visit(kernel, &kernel.body);
        ops
    }

    fn visit(&mut self, kernel: &Kernel, body: &[Stmt]) {
        for stmt in body {
            match &stmt.kind {
                StmtKind::For { body, .. } | StmtKind::While { body, .. } => self.visit(kernel, body),
                StmtKind::If { then_body, else_body, .. } => {
                    self.visit(kernel, then_body);
                    self.visit(kernel, else_body);
                }
                StmtKind::Inst(inst) => self.inst(kernel, inst),
                _ => {}
            }
        }
    }

    fn inst(&mut self, kernel: &Kernel, inst: &Inst) {
        let tile = |id: &tilevm_vm::ir::TileId| kernel.tiles.get(id.index());
        match inst {
            Inst::Reduce { src, dim, op: ReduceOp::Sum | ReduceOp::Prod, .. } => {
                if let Some(decl) = tile(src).filter(|decl| decl.dtype.is_float()) {
                    let length = decl.layout.shape().get(*dim).copied().unwrap_or(1);
                    self.add_reduction(length, decl.dtype);
                }
            }
            Inst::Dot { dst, a, .. } => {
                if let (Some(dst), Some(a)) = (tile(dst).filter(|decl| decl.dtype.is_float()), tile(a)) {
                    let length = a.layout.shape().last().copied().unwrap_or(1);
                    self.add_reduction(length, dst.dtype);
                }
            }
            Inst::Elementwise { dst, op: ElementwiseOp::Unary(op), .. } if is_transcendental(*op) => {
                if let Some(decl) = tile(dst) {
                    self.transcendental_roundoff =
                        self.transcendental_roundoff.max(unit_roundoff(decl.dtype));
                }
            }
            _ => {}
        }
    }

    fn add_reduction(&mut self, length: usize, accumulate: DataType) {
        self.reduced_length += length as u64;
        self.accumulate_roundoff = self.accumulate_roundoff.max(unit_roundoff(accumulate));
    }

    /// The tolerance for an output of `dtype` whose interpreter result is `expected`.
    fn tolerance(&self, dtype: DataType, expected: &[u8]) -> Tolerance {
        let Some(float) = dtype.as_float() else { return Tolerance::Exact };
        if self.reduced_length == 0 && self.transcendental_roundoff == 0.0 {
            return Tolerance::Exact;
        }
        let bits = dtype.bits();
        let count = expected.len() as u64 * 8 / u64::from(bits);
        let magnitude = (0..count)
            .map(|element| {
                float.decode_f64(read_bits(expected, element * u64::from(bits), bits) as u32).abs()
            })
            .filter(|value| value.is_finite())
            .fold(1.0f64, f64::max);
        let reduction = self.reduced_length as f64 * self.accumulate_roundoff;
        // Two units in the last place of the output: one ulp is at most twice the unit roundoff, relative.
        let output_ulps = 4.0 * unit_roundoff(dtype);
        let smallest = float.decode_f64(float.min_subnormal_code()).abs();
        Tolerance::Close {
            abs: reduction * magnitude + smallest,
            rel: reduction + output_ulps + 8.0 * self.transcendental_roundoff,
        }
    }
}

/// `2^-(mantissa bits + 1)`: the unit roundoff of a float dtype (0 for integers).
fn unit_roundoff(dtype: DataType) -> f64 {
    match dtype.as_float() {
        Some(float) => 0.5f64.powi(i32::from(float.mantissa_bits) + 1),
        None => 0.0,
    }
}

fn is_transcendental(op: UnaryOp) -> bool {
    use UnaryOp::{Cos, Exp, Exp2, Log, Log2, Rsqrt, Sin, Tanh};
    matches!(op, Exp | Exp2 | Log | Log2 | Sin | Cos | Tanh | Rsqrt)
}

fn describe(tolerance: Tolerance) -> String {
    match tolerance {
        Tolerance::Exact => "bit-exact".to_string(),
        Tolerance::Close { abs, rel } => format!("within {abs:.3e} + {rel:.3e} * |expected|"),
    }
}

/// `[i, j]` for a flat element index in a row-major `shape` (`[i]` without a shape).
fn multi_index(element: u64, shape: &[u64]) -> String {
    if shape.is_empty() || shape.contains(&0) {
        return format!("[{element}]");
    }
    let mut rest = element;
    let mut coordinates = vec![0u64; shape.len()];
    for (coordinate, &extent) in coordinates.iter_mut().zip(shape).rev() {
        *coordinate = rest % extent;
        rest /= extent;
    }
    let text: Vec<String> = coordinates.iter().map(u64::to_string).collect();
    format!("[{}]", text.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilevm_vm::compare::Mismatch;

    #[test]
    fn multi_indices_are_row_major() {
        assert_eq!(multi_index(7, &[2, 3, 4]), "[0, 1, 3]");
        assert_eq!(multi_index(23, &[2, 3, 4]), "[1, 2, 3]");
        assert_eq!(multi_index(5, &[]), "[5]");
    }

    #[test]
    fn the_report_lists_index_expected_and_got() {
        let f16 = DataType::F16;
        let code = |value: f64| f16.from_f64(value, tilevm_vm::Rounding::NearestEven);
        let comparison = BufferComparison {
            elements: 6,
            mismatched: 12,
            first: vec![Mismatch { element: 4, expected: code(1.5), actual: code(-2.0) }],
            length_differs: None,
            trailing_bits_differ: false,
        };
        let text = report("y", f16, &[2, 3], Tolerance::Exact, &comparison);
        assert!(text.contains("12 of 6 elements (bit-exact)"), "{text}");
        assert!(text.contains("y[1, 1]: expected 1.5 (0x3e00), got -2 (0xc000)"), "{text}");
        assert!(text.contains("... and 11 more"), "{text}");
    }

    #[test]
    fn exact_kernels_get_exact_tolerances_and_sums_a_bound_growing_with_length() {
        let exact = InexactOps::default();
        assert_eq!(exact.tolerance(DataType::F16, &[0; 4]), Tolerance::Exact);
        let short =
            InexactOps { reduced_length: 16, accumulate_roundoff: unit_roundoff(DataType::F32), ..exact };
        let long = InexactOps { reduced_length: 4096, ..short };
        match (short.tolerance(DataType::F32, &[0; 8]), long.tolerance(DataType::F32, &[0; 8])) {
            (
                Tolerance::Close { abs: short_abs, rel: short_rel },
                Tolerance::Close { abs: long_abs, rel: long_rel },
            ) => {
                assert!(long_abs > short_abs && long_rel > short_rel);
            }
            other => panic!("float sums must give Close tolerances, got {other:?}"),
        }
        // An integer output stays exact whatever the kernel computes.
        assert_eq!(long.tolerance(DataType::U32, &[0; 8]), Tolerance::Exact);
    }
}
