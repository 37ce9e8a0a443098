//! Call arguments: matching positional and keyword arguments to a builtin's parameter list.

use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Arg, Expr};

/// A builtin's signature: its parameter names in positional order, how many are required, and
/// a usage line for messages.
pub(crate) struct Signature {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub required: usize,
    pub usage: &'static str,
}

/// Arguments matched to parameters (by index into [`Signature::params`]).
pub(crate) struct Bound<'e> {
    slots: Vec<Option<&'e Expr>>,
    params: &'static [&'static str],
}

impl<'e> Bound<'e> {
    /// The argument given for `param`, if any.
    pub fn get(&self, param: &str) -> Option<&'e Expr> {
        let index = self.params.iter().position(|name| *name == param)?;
        self.slots.get(index).copied().flatten()
    }
}

/// Matches `args` to `signature`.
///
/// # Errors
/// A diagnostic for too many positional arguments, unknown or repeated keywords, or missing required
/// arguments.
pub(crate) fn bind<'e>(
    signature: &Signature,
    call_span: Span,
    args: &'e [Arg],
) -> Result<Bound<'e>, Diagnostic> {
    let mut slots: Vec<Option<&'e Expr>> = vec![None; signature.params.len()];
    let mut next_positional = 0;
    let wrong = |message: String, span: Span| {
        Diagnostic::error(message)
            .with_label(span, "in this call")
            .with_note(format!("usage: {}", signature.usage))
    };
    for arg in args {
        match &arg.name {
            None => {
                if next_positional >= signature.params.len() {
                    return Err(wrong(
                        format!("`{}` takes at most {} arguments", signature.name, signature.params.len()),
                        arg.value.span,
                    ));
                }
                slots[next_positional] = Some(&arg.value);
                next_positional += 1;
            }
            Some(keyword) => {
                let Some(index) = signature.params.iter().position(|name| *name == keyword.name) else {
                    return Err(wrong(
                        format!("`{}` has no parameter `{}`", signature.name, keyword.name),
                        keyword.span,
                    ));
                };
                if slots[index].is_some() {
                    return Err(wrong(format!("`{}` is given twice", keyword.name), keyword.span));
                }
                slots[index] = Some(&arg.value);
            }
        }
    }
    let given = slots.iter().filter(|slot| slot.is_some()).count();
    if let Some(missing) = (0..signature.required).find(|&index| slots[index].is_none()) {
        return Err(wrong(
            format!(
                "`{}` expects {} argument{}, found {given}: `{}` is missing",
                signature.name,
                signature.required,
                if signature.required == 1 { "" } else { "s" },
                signature.params[missing]
            ),
            call_span,
        ));
    }
    Ok(Bound { slots, params: signature.params })
}
