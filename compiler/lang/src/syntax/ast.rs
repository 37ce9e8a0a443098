//! The abstract syntax tree of a `.tile` file. Every node carries the [`Span`] it was parsed from.
//!
//! The tree is plain data: names are strings, dtypes and layouts are still unresolved expressions.
//! Meaning (what a name refers to, types, shapes, layouts) is given by `crate::check`.

pub use crate::diagnostic::Span;

/// A parsed file: its items in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    /// Imports, helper functions and kernels.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `import "path.tile";`
    Import(Import),
    /// `fn name(params) { ... }`
    Fn(FnDef),
    /// `kernel name<consts>(params) attrs { ... }`
    Kernel(KernelDef),
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// `import "path";`: makes the other file's `fn`s and kernels visible.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// The path, unquoted.
    pub path: String,
    /// The whole item.
    pub span: Span,
}

/// A helper function, inlined at every call.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// Its name.
    pub name: Ident,
    /// Parameters (an optional type annotation each).
    pub params: Vec<FnParam>,
    /// The body; its tail expression is the result.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// A helper function's parameter: `name` or `name: dtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnParam {
    /// Its name.
    pub name: Ident,
    /// An optional dtype the argument must have.
    pub ty: Option<Ident>,
}

/// A kernel definition.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelDef {
    /// Its name.
    pub name: Ident,
    /// Compile-time parameters, `<BLOCK_N: u32 = 64, W: dtype = u4>`.
    pub consts: Vec<ConstParam>,
    /// Run-time parameters.
    pub params: Vec<Param>,
    /// Block attributes: `grid(...)`, `threads(...)`, `shared_limit(...)`.
    pub attrs: Vec<Attr>,
    /// The body.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// A compile-time parameter: an integer constant or a dtype, resolved when the kernel is instantiated.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstParam {
    /// Its name.
    pub name: Ident,
    /// `dtype` or an integer dtype such as `u32`.
    pub ty: Ident,
    /// The default value (used when no `--set NAME=VALUE` is given).
    pub default: Option<Expr>,
    /// The whole parameter.
    pub span: Span,
}

/// A run-time parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: ParamType,
    /// A scalar's default value (`n: u32 = 4096`), used by a launch that passes none.
    pub default: Option<Expr>,
    /// The whole parameter.
    pub span: Span,
}

/// The type of a run-time parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    /// A block-uniform scalar of a compute dtype: `n: u32`.
    Scalar(Ident),
    /// A tensor in global memory: `w: global u4[n, k]`, `y: global mut f16[n]`.
    Global {
        /// Whether the kernel may store to it.
        mutable: bool,
        /// The element dtype (a name, possibly a dtype parameter).
        dtype: Ident,
        /// The shape, as expressions of scalar and compile-time parameters.
        shape: Vec<Expr>,
    },
}

/// A block attribute such as `grid(cdiv(n, BLOCK_N))` or `threads(128)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    /// `grid`, `threads` or `shared_limit`.
    pub name: Ident,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// The whole attribute.
    pub span: Span,
}

/// `{ stmts; tail }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// A final expression without `;` (the value of a `fn` body).
    pub tail: Option<Box<Expr>>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let [mut] name[: dtype] = value;`
    Let {
        /// Whether it may be assigned later.
        mutable: bool,
        /// The name bound.
        name: Ident,
        /// An optional scalar dtype (types integer and float literals).
        ty: Option<Ident>,
        /// The value.
        value: Expr,
    },
    /// `name = value;` or `name op= value;`
    Assign {
        /// The variable assigned.
        target: Ident,
        /// `Some(op)` for a compound assignment.
        op: Option<BinaryOp>,
        /// The value.
        value: Expr,
    },
    /// `expr;`
    Expr(Expr),
    /// `for var in start..end [step step] { body }`
    For {
        /// The loop variable.
        var: Ident,
        /// First value.
        start: Expr,
        /// Exclusive bound.
        end: Expr,
        /// Increment (1 when absent).
        step: Option<Expr>,
        /// The body.
        body: Block,
    },
    /// `while cond { body }`
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Block,
    },
    /// `if cond { then } else { otherwise }` (`else if` nests another `If` in `else_body`).
    If {
        /// The condition.
        cond: Expr,
        /// Run when true.
        then_body: Block,
        /// Run otherwise.
        else_body: Option<Block>,
    },
    /// `break;`
    Break,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
    /// Height of the tree below this node (1 for a leaf), bounded by the parser.
    pub depth: u32,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(u64),
    /// A float literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal (escapes resolved).
    Str(String),
    /// A name: a variable, parameter, dtype (`f16`) or layout primitive.
    Name(String),
    /// `[a, b, ...]`
    List(Vec<Expr>),
    /// `op operand`
    Unary(UnaryOp, Box<Expr>),
    /// `lhs op rhs`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `callee(args)`; builtins and helper functions alike.
    Call {
        /// The function's name.
        callee: Ident,
        /// Positional and keyword arguments.
        args: Vec<Arg>,
    },
    /// `receiver.method(args)` (layout expressions: `spatial(8, 4).local(2, 2)`).
    Method {
        /// The receiver.
        receiver: Box<Expr>,
        /// The method name.
        method: Ident,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `base.name` (layout library names: `mma.m16n8k16_f16_a`).
    Field {
        /// The base.
        base: Box<Expr>,
        /// The field.
        name: Ident,
    },
    /// `(inner)`
    Paren(Box<Expr>),
}

/// A call argument: `value` or `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The keyword, for keyword arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
}

/// Infix operators, loosest first in precedence groups as in Rust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `||`
    OrOr,
    /// `&&`
    AndAnd,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `&`
    BitAnd,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::OrOr => "||",
            BinaryOp::AndAnd => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
            BinaryOp::BitAnd => "&",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

impl Expr {
    /// The name, when this expression is a plain name.
    pub fn as_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(name) => Some(name),
            _ => None,
        }
    }
}
