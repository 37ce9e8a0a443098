//! [`Kernel`]: a compiled kernel with its parameters, launched by parameter name on [`Tensor`]s and
//! typed scalars ([`Args`]); every argument is checked against its parameter first.

use std::sync::Arc;

use tilevm_runtime::{CompiledKernel, LaunchArg, RunStats};
use tilevm_vm::DataType;
use tilevm_vm::interp::{KernelArg, param_shapes};
use tilevm_vm::ir::ParamKind;
use tilevm_vm::verify::VerifiedKernel;

use crate::tensor::describe;
use crate::value::Value;
use crate::{Error, Result, Runtime, Tensor};

/// A kernel compiled for one runtime. Cheap to clone, `Send + Sync`: launch it from any thread.
///
/// ```
/// use tilevm_host::{Args, Program, Runtime, Tensor};
/// let program = Program::from_source("add.tile", r#"
///     kernel add(a: global f32[n], b: global f32[n], c: global mut f32[n], n: u32) grid(1) threads(4) {
///         store(c, load(a, [0], [4]) + load(b, [0], [4]), [0]);
///     }
/// "#)?;
/// let runtime = Runtime::cpu()?;
/// let add = program.kernel("add").compile(&runtime)?;
/// let a = Tensor::from_slice(&runtime, &[1.0f32, 2.0, 3.0, 4.0], &[4])?;
/// let b = Tensor::from_slice(&runtime, &[10.0f32, 20.0, 30.0, 40.0], &[4])?;
/// let args = Args::new().tensor("a", &a).tensor("b", &b).scalar("n", 4u32);
/// let c = add.output("c", &args)?; // zeros of c's declared dtype and shape
/// add.launch(&args.tensor("c", &c))?;
/// assert_eq!(c.to_vec::<f32>()?, [11.0, 22.0, 33.0, 44.0]);
/// # Ok::<(), tilevm_host::Error>(())
/// ```
#[derive(Clone)]
pub struct Kernel {
    runtime: Runtime,
    verified: Arc<VerifiedKernel>,
    /// The parameters as a host sees them, derived once from `verified`.
    params: Arc<[Param]>,
    compiled: Arc<dyn CompiledKernel>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel").field("name", &self.name()).field("runtime", &self.runtime).finish()
    }
}

/// One parameter of a kernel, as a host sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The name as written in source.
    pub name: String,
    /// A scalar's dtype, or a buffer's element dtype.
    pub dtype: DataType,
    /// What is passed.
    pub kind: ParamRole,
    /// A scalar's default (`n: u32 = 4096` in the source), used when a launch passes none.
    pub default: Option<Value>,
}

/// How a parameter is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamRole {
    /// A scalar value ([`Args::scalar`]).
    Scalar,
    /// A tensor the kernel only reads.
    Input,
    /// A tensor the kernel may write (`global mut`).
    Output,
}

/// The arguments of one launch, by parameter name.
#[derive(Clone, Debug, Default)]
pub struct Args<'t> {
    entries: Vec<(String, Arg<'t>)>,
}

#[derive(Clone, Debug)]
enum Arg<'t> {
    Tensor(&'t Tensor),
    Scalar(Value),
}

impl<'t> Args<'t> {
    /// No arguments yet.
    pub fn new() -> Args<'t> {
        Args::default()
    }

    /// Passes `tensor` as the buffer parameter `name`.
    #[must_use]
    pub fn tensor(mut self, name: &str, tensor: &'t Tensor) -> Args<'t> {
        self.entries.push((name.to_string(), Arg::Tensor(tensor)));
        self
    }

    /// Passes `value` as the scalar parameter `name` (converted to its dtype with a range check).
    #[must_use]
    pub fn scalar(mut self, name: &str, value: impl Into<Value>) -> Args<'t> {
        self.entries.push((name.to_string(), Arg::Scalar(value.into())));
        self
    }
}

/// The parameters of `verified` as a host sees them.
fn host_params(verified: &VerifiedKernel) -> Vec<Param> {
    let kernel = verified.kernel();
    kernel
        .params
        .iter()
        .map(|param| match &param.kind {
            ParamKind::Scalar { var, default } => {
                let dtype = kernel.vars.get(var.index()).map_or(DataType::U32, |decl| decl.dtype);
                Param {
                    name: param.name.clone(),
                    dtype,
                    kind: ParamRole::Scalar,
                    default: default.map(|code| Value::from_code(dtype, code)),
                }
            }
            ParamKind::Global { dtype, mutable } => Param {
                name: param.name.clone(),
                dtype: *dtype,
                kind: if *mutable { ParamRole::Output } else { ParamRole::Input },
                default: None,
            },
        })
        .collect()
}

/// The arguments of a launch in parameter order: scalars as codes, buffers as tensors (`None` where
/// the caller has not given one yet).
struct Resolved<'t> {
    scalars: Vec<Option<u64>>,
    tensors: Vec<Option<&'t Tensor>>,
}

impl Kernel {
    /// Compiles a kernel verified elsewhere (built with `vm::ir::KernelBuilder`, parsed from the IR's
    /// text form, or instantiated by a library) for `runtime`; cached like [`Instantiation::compile`].
    ///
    /// ```
    /// use tilevm_host::{Kernel, Runtime};
    /// use tilevm_vm::ir::{Expr, KernelBuilder};
    /// let mut builder = KernelBuilder::new("empty", 32);
    /// builder.grid(vec![Expr::u32(1)]);
    /// let kernel = Kernel::from_verified(&Runtime::interp(), builder.finish().expect("verifies"))?;
    /// assert_eq!(kernel.name(), "empty");
    /// # Ok::<(), tilevm_host::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Runtime`] when the backend cannot compile it.
    ///
    /// [`Instantiation::compile`]: crate::Instantiation::compile
    pub fn from_verified(runtime: &Runtime, verified: VerifiedKernel) -> Result<Kernel> {
        let compiled = runtime.compiled(&verified)?;
        let params = host_params(&verified).into();
        Ok(Kernel { runtime: runtime.clone(), verified: Arc::new(verified), params, compiled })
    }

    /// The kernel's name.
    pub fn name(&self) -> &str {
        &self.verified.name
    }

    /// The runtime it was compiled for.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The verified IR, for the interpreter or `tilevm`'s other tools.
    pub fn verified(&self) -> &VerifiedKernel {
        &self.verified
    }

    /// The parameters in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The shape parameter `name` declares for these arguments' scalars; `None` when the kernel
    /// declares none (it reads the buffer through views of its own).
    ///
    /// # Errors
    /// [`Error::Argument`] for an unknown or non-buffer parameter, a missing or wrong scalar, or an
    /// extent that does not evaluate (a negative one, say).
    pub fn declared_shape(&self, name: &str, args: &Args) -> Result<Option<Vec<usize>>> {
        let index = self.buffer_param(name)?;
        self.declared_shape_of(index, args)
    }

    /// A zeroed tensor of parameter `name`'s dtype and declared shape, for these arguments' scalars.
    ///
    /// # Errors
    /// As [`Kernel::declared_shape`], and when the kernel declares no shape for it.
    pub fn output(&self, name: &str, args: &Args) -> Result<Tensor> {
        let index = self.buffer_param(name)?;
        let shape = self
            .declared_shape_of(index, args)?
            .ok_or_else(|| self.argument_error(format!("`{name}` has no declared shape to allocate from")))?;
        Tensor::zeros(&self.runtime, self.params[index].dtype, &shape)
    }

    fn declared_shape_of(&self, index: usize, args: &Args) -> Result<Option<Vec<usize>>> {
        let resolved = self.resolve(args, false)?;
        Ok(self.shapes(&resolved)?.swap_remove(index))
    }

    /// Runs the kernel over its grid on `args`; outputs are written in place on the device. Returns the
    /// kernel time (GPU timestamps where the adapter has them).
    ///
    /// # Errors
    /// [`Error::Argument`] for an unknown, repeated, missing or wrong-kind argument, a tensor whose
    /// dtype or shape differs from its parameter's, a tensor of another runtime, or one output passed
    /// twice; [`Error::Value`] for a scalar that does not fit its dtype; [`Error::Runtime`] when the
    /// device fails or the kernel stops with a run-time failure.
    pub fn launch(&self, args: &Args) -> Result<RunStats> {
        let resolved = self.resolve(args, true)?;
        let shapes = self.shapes(&resolved)?;
        let params = self.params();
        let mut launch = Vec::with_capacity(params.len());
        for (index, param) in params.iter().enumerate() {
            match (resolved.scalars[index], resolved.tensors[index]) {
                (Some(code), _) => launch.push(LaunchArg::Scalar(code)),
                (None, Some(tensor)) => {
                    self.check_tensor(param, shapes[index].as_deref(), tensor)?;
                    launch.push(LaunchArg::Buffer(tensor.buffer()));
                }
                (None, None) => return Err(self.argument_error(format!("`{}` is missing", param.name))),
            }
        }
        let sink = self.runtime.print_sink();
        Ok(self.compiled.launch_printing(&launch, &mut |line| sink.emit(line))?)
    }

    fn check_tensor(&self, param: &Param, shape: Option<&[usize]>, tensor: &Tensor) -> Result<()> {
        if !tensor.runtime().same_as(&self.runtime) {
            return Err(self.argument_error(format!(
                "`{}` is a tensor of another runtime ({}); the kernel runs on {}",
                param.name,
                tensor.runtime().name(),
                self.runtime.name()
            )));
        }
        let dtype_matches = tensor.dtype() == param.dtype;
        let shape_matches = shape.is_none_or(|shape| shape == tensor.shape());
        if !dtype_matches || !shape_matches {
            let expected = match shape {
                Some(shape) => describe(param.dtype, shape),
                None => format!("{}[..]", param.dtype),
            };
            return Err(self.argument_error(format!(
                "`{}` must be {expected}, given {}",
                param.name,
                tensor.describe()
            )));
        }
        Ok(())
    }

    /// The arguments in parameter order; with `complete`, every parameter must have one.
    fn resolve<'t>(&self, args: &Args<'t>, complete: bool) -> Result<Resolved<'t>> {
        let params = self.params();
        let mut resolved = Resolved { scalars: vec![None; params.len()], tensors: vec![None; params.len()] };
        let mut given = vec![false; params.len()];
        for (name, arg) in &args.entries {
            let Some(index) = params.iter().position(|param| &param.name == name) else {
                let names: Vec<&str> = params.iter().map(|param| param.name.as_str()).collect();
                return Err(self.argument_error(format!(
                    "there is no parameter `{name}` (the parameters are: {})",
                    names.join(", ")
                )));
            };
            if std::mem::replace(&mut given[index], true) {
                return Err(self.argument_error(format!("`{name}` is given twice")));
            }
            let param = &params[index];
            match (param.kind, arg) {
                (ParamRole::Scalar, Arg::Scalar(value)) => {
                    let what = format!("scalar `{name}` of kernel `{}`", self.name());
                    resolved.scalars[index] = Some(value.to_code(param.dtype, &what)?);
                }
                (ParamRole::Input | ParamRole::Output, Arg::Tensor(tensor)) => {
                    resolved.tensors[index] = Some(tensor);
                }
                (ParamRole::Scalar, Arg::Tensor(_)) => {
                    return Err(self.argument_error(format!(
                        "`{name}` is a {} scalar; pass it with Args::scalar, not a tensor",
                        param.dtype
                    )));
                }
                (ParamRole::Input | ParamRole::Output, Arg::Scalar(_)) => {
                    return Err(self.argument_error(format!(
                        "`{name}` is a {} buffer; pass a tensor with Args::tensor, not a scalar",
                        param.dtype
                    )));
                }
            }
        }
        for (index, param) in self.verified.kernel().params.iter().enumerate() {
            if let (ParamKind::Scalar { default: Some(code), .. }, false) = (&param.kind, given[index]) {
                resolved.scalars[index] = Some(*code);
                given[index] = true;
            }
        }
        let missing: Vec<String> = params
            .iter()
            .zip(&given)
            .filter(|(param, given)| !**given && (complete || param.kind == ParamRole::Scalar))
            .map(|(param, _)| format!("`{}`", param.name))
            .collect();
        if !missing.is_empty() {
            let noun = if missing.len() == 1 { "argument" } else { "arguments" };
            return Err(self.argument_error(format!("missing {noun} {}", missing.join(", "))));
        }
        Ok(resolved)
    }

    /// Every buffer parameter's declared shape for the resolved scalars.
    fn shapes(&self, resolved: &Resolved) -> Result<Vec<Option<Vec<usize>>>> {
        let args: Vec<KernelArg> = resolved
            .scalars
            .iter()
            .map(|scalar| match scalar {
                Some(code) => KernelArg::Scalar(*code),
                None => KernelArg::Buffer(Vec::new()),
            })
            .collect();
        let shapes =
            param_shapes(&self.verified, &args).map_err(|error| self.argument_error(error.to_string()))?;
        let host_extent = |extent: u64| {
            usize::try_from(extent)
                .map_err(|_| self.argument_error(format!("an extent of {extent} does not fit this host")))
        };
        shapes
            .into_iter()
            .map(|shape| shape.map(|extents| extents.into_iter().map(host_extent).collect()).transpose())
            .collect()
    }

    fn buffer_param(&self, name: &str) -> Result<usize> {
        let params = self.params();
        match params.iter().position(|param| param.name == name) {
            Some(index) if params[index].kind != ParamRole::Scalar => Ok(index),
            Some(_) => Err(self.argument_error(format!("`{name}` is a scalar, not a buffer"))),
            None => Err(self.argument_error(format!("there is no parameter `{name}`"))),
        }
    }

    fn argument_error(&self, message: String) -> Error {
        Error::Argument(format!("kernel `{}`: {message}", self.name()))
    }
}
