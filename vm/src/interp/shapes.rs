//! The declared shapes of a kernel's buffer parameters, evaluated from its scalar arguments.
//!
//! The `.tile` front end lowers a parameter `x: global f16[n, k]` to a [`Inst::ViewGlobal`] of `x` at the
//! top of the kernel body, before any other statement, whose shape expressions read only scalar
//! parameters. That leading run of views is what a launcher sizes buffers from: the first view of each
//! parameter in it gives the parameter's declared shape.

use super::eval::{Scope, eval_ints};
use super::{InterpError, KernelArg, bind_params};
use crate::ir::{Inst, Kernel, StmtKind};

/// The declared shape of every parameter, in parameter order: `Some(extents)` for a buffer parameter
/// with a leading view, `None` for scalars and for buffers without one (kernels built by hand).
/// Buffer arguments are not read; pass empty buffers when they do not exist yet.
///
/// # Errors
/// Argument mismatches as [`super::run_kernel`]; [`InterpError::Launch`] when an extent does not
/// evaluate or is negative.
pub fn param_shapes(kernel: &Kernel, args: &[KernelArg]) -> Result<Vec<Option<Vec<u64>>>, InterpError> {
    let vars = bind_params(kernel, args)?;
    let scope = Scope { vars: &vars, block: [0; 3], grid: [1; 3] };
    let mut shapes = vec![None; kernel.params.len()];
    for stmt in &kernel.body {
        let StmtKind::Inst(Inst::ViewGlobal { dst, shape, .. }) = &stmt.kind else { break };
        let Some(decl) = kernel.globals.get(dst.index()) else { continue };
        let Some(slot) = shapes.get_mut(decl.param.index()) else { continue };
        if slot.is_some() {
            continue;
        }
        let launch_error = |message: String| InterpError::Launch { kernel: kernel.name.clone(), message };
        let extents = eval_ints(shape, &scope)
            .map_err(|message| launch_error(format!("the shape of `{}`: {message}", decl.name)))?;
        let extents = extents
            .into_iter()
            .map(|extent| {
                u64::try_from(extent).map_err(|_| {
                    launch_error(format!("the shape of `{}` has a negative extent {extent}", decl.name))
                })
            })
            .collect::<Result<Vec<u64>, InterpError>>()?;
        *slot = Some(extents);
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataType;
    use crate::ir::{BinaryOp, Expr, KernelBuilder};

    /// `x: global f16[n, n / 2]`, `y: global mut f16[n]`, then a statement, then another view of `x`.
    fn kernel() -> Kernel {
        let mut builder = KernelBuilder::new("shapes", 32);
        let n = builder.scalar_param("n", DataType::U32);
        let x = builder.global_param("x", DataType::F16, false);
        let y = builder.global_param("y", DataType::F16, true);
        let half = Expr::binary(BinaryOp::Div, n.clone(), Expr::u32(2));
        let one = Expr::u32(1);
        builder.view_global(
            "x",
            x,
            DataType::F16,
            vec![n.clone(), half.clone()],
            vec![half, one.clone()],
            Expr::u32(0),
        );
        builder.view_global("y", y, DataType::F16, vec![n.clone()], vec![one.clone()], Expr::u32(0));
        builder.let_var("m", n.clone());
        builder.view_global("x", x, DataType::F16, vec![Expr::u32(7)], vec![one], Expr::u32(0));
        builder.finish_unverified()
    }

    #[test]
    fn shapes_come_from_the_leading_views_and_the_scalar_arguments() {
        let args = [KernelArg::Scalar(6), KernelArg::Buffer(Vec::new()), KernelArg::Buffer(Vec::new())];
        let shapes = param_shapes(&kernel(), &args).map_err(|error| error.to_string());
        assert_eq!(shapes, Ok(vec![None, Some(vec![6, 3]), Some(vec![6])]));
    }

    #[test]
    fn wrong_arguments_are_errors() {
        let args =
            [KernelArg::Buffer(Vec::new()), KernelArg::Buffer(Vec::new()), KernelArg::Buffer(Vec::new())];
        assert!(matches!(param_shapes(&kernel(), &args), Err(InterpError::ArgumentKind { index: 0, .. })));
    }
}
