//! Flow texts compiled once: a text split into its literal parts and its `@`-expressions,
//! each expression compiled by MiniJinja, when the flows are loaded (see [`crate::compiled`])
//! rather than at every step.
//!
//! [`Template::render`] and [`Template::value`] give exactly what [`expr::render`] and
//! [`expr::value_of`] give for the same text and names (`template/tests.rs` and the
//! interpreter's tests compare them). What differs is how they get there: an expression is
//! handed only the names it reads (`results`, `globals`, …), each asked of [`Vars`] when it is
//! evaluated, instead of the whole [`Scope`] serialised for every expression (one that calls
//! `debug()`, which shows every name, still gets the whole scope); and the common expressions
//! (names, library calls, `|int`, `+`, `-`) are evaluated without MiniJinja's VM
//! (`template/native.rs`), the others by the VM.

use std::fmt::Write;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::Expression;

use crate::expr::{self, Piece, Scope, ENV};

mod native;
use native::Native;

/// The names an expression can read (the fields of [`Scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Contact,
    Fields,
    Results,
    Categories,
    Globals,
    Input,
    Today,
    Now,
}

impl Root {
    /// Every name, in the order of [`Scope`]'s fields.
    pub const ALL: [Root; 8] = [
        Root::Contact,
        Root::Fields,
        Root::Results,
        Root::Categories,
        Root::Globals,
        Root::Input,
        Root::Today,
        Root::Now,
    ];

    /// The name as expressions write it.
    pub fn name(self) -> &'static str {
        match self {
            Root::Contact => "contact",
            Root::Fields => "fields",
            Root::Results => "results",
            Root::Categories => "categories",
            Root::Globals => "globals",
            Root::Input => "input",
            Root::Today => "today",
            Root::Now => "now",
        }
    }

    fn of(name: &str) -> Option<Root> {
        Root::ALL.into_iter().find(|r| r.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Where an expression's names come from: the interpreter's run, or a [`Scope`].
pub trait Vars {
    /// The value of one name, as `Value::from_serialize` of that field of the [`Scope`]
    /// [`Vars::scope`] gives.
    fn var(&self, root: Root) -> Value;
    /// `root.name`: what `var(root).get_attr(name)` gives (undefined when it has no `name`);
    /// a run reads it without building the rest of `root`.
    fn attr(&self, root: Root, name: &str) -> Value {
        self.var(root).get_attr(name).unwrap_or(Value::UNDEFINED)
    }
    /// Every name at once.
    fn scope(&self) -> Scope;
}

impl Vars for Scope {
    fn var(&self, root: Root) -> Value {
        match root {
            Root::Contact => Value::from_serialize(&self.contact),
            Root::Fields => Value::from_serialize(&self.fields),
            Root::Results => Value::from_serialize(&self.results),
            Root::Categories => Value::from_serialize(&self.categories),
            Root::Globals => Value::from_serialize(&self.globals),
            Root::Input => Value::from(self.input.as_str()),
            Root::Today => Value::from(self.today.as_str()),
            Root::Now => Value::from(self.now.as_str()),
        }
    }

    fn scope(&self) -> Scope {
        self.clone()
    }
}

/// The names an expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// These (a bit per [`Root`]).
    Roots(u8),
    /// The whole scope (`debug()` shows it).
    Everything,
}

/// The context an expression is evaluated in: the names it reads, looked up by name.
#[derive(Debug)]
struct Context([Option<Value>; 8]);

impl Object for Context {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let root = Root::of(key.as_str()?)?;
        self.0[root as usize].clone()
    }
}

/// One compiled `@`-expression.
struct Compiled {
    src: Box<str>,
    /// The expression, or why it does not compile (as [`expr::eval`] words it).
    expr: Result<Expression<'static, 'static>, String>,
    needs: Needs,
    /// The expression, when it (compiles and) is of the subset evaluated without the VM.
    native: Option<Native>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("src", &self.src)
            .field("compiles", &self.expr.is_ok())
            .field("needs", &self.needs)
            .field("native", &self.native)
            .finish()
    }
}

impl Compiled {
    fn new(src: &str) -> Compiled {
        let expr = ENV
            .compile_expression_owned(src.to_string())
            .map_err(|e| e.to_string());
        let needs = match &expr {
            Ok(e) => {
                let names = e.undeclared_variables(false);
                if names.contains("debug") {
                    Needs::Everything
                } else {
                    Needs::Roots(
                        names
                            .iter()
                            .filter_map(|n| Root::of(n))
                            .fold(0, |m, r| m | r.bit()),
                    )
                }
            }
            Err(_) => Needs::Roots(0),
        };
        Compiled {
            src: src.into(),
            native: expr.as_ref().ok().and_then(|_| Native::parse(src)),
            expr,
            needs,
        }
    }

    fn eval(&self, vars: &dyn Vars) -> Result<Value, expr::ExprError> {
        if let Some(v) = self.native.as_ref().and_then(|n| n.eval(vars)) {
            return Ok(v);
        }
        let e = self.expr.as_ref().map_err(|e| expr::ExprError(e.clone()))?;
        let ctx = match self.needs {
            Needs::Everything => Value::from_serialize(vars.scope()),
            Needs::Roots(mask) => {
                let mut names: [Option<Value>; 8] = Default::default();
                for r in Root::ALL.into_iter().filter(|r| mask & r.bit() != 0) {
                    names[r as usize] = Some(vars.var(r));
                }
                Value::from_object(Context(names))
            }
        };
        e.eval(ctx).map_err(|e| expr::ExprError(e.to_string()))
    }
}

#[derive(Debug)]
enum Part {
    Text(Box<str>),
    Expr(Compiled),
}

/// A text with its expressions compiled.
#[derive(Debug)]
pub struct Template {
    text: Box<str>,
    /// The parts, adjacent literals joined; `None` when the text does not split
    /// ([`expr::pieces`] fails): it shows as it is.
    parts: Option<Vec<Part>>,
}

impl Template {
    /// Splits and compiles `text` (an expression that does not compile is kept as such: it
    /// shows as empty, as [`expr::render`] shows it).
    pub fn new(text: &str) -> Template {
        let parts = expr::pieces(text).ok().map(|pieces| {
            let mut parts: Vec<Part> = Vec::with_capacity(pieces.len());
            for p in pieces {
                let literal = match p {
                    Piece::Expr(src) => {
                        parts.push(Part::Expr(Compiled::new(src)));
                        continue;
                    }
                    Piece::Text(t) => t,
                    Piece::Literal(l) => l,
                };
                match parts.last_mut() {
                    Some(Part::Text(before)) => *before = format!("{before}{literal}").into(),
                    _ => parts.push(Part::Text(literal.into())),
                }
            }
            parts
        });
        Template {
            text: text.into(),
            parts,
        }
    }

    /// The text it was made from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text, each expression replaced by its value ([`expr::render`]).
    pub fn render(&self, vars: &dyn Vars) -> String {
        let mut out = String::with_capacity(self.text.len());
        self.render_to(vars, &mut out);
        out
    }

    /// [`Template::render`] onto the end of `out`.
    pub fn render_to(&self, vars: &dyn Vars, out: &mut String) {
        let Some(parts) = &self.parts else {
            out.push_str(&self.text);
            return;
        };
        for p in parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Expr(c) => match c.eval(vars) {
                    // What `expr::show` gives, written in place.
                    Ok(v) if v.is_undefined() || v.is_none() => {}
                    Ok(v) => match v.as_str() {
                        // A string shows as itself (a `Bytes` value only has a `str` when it
                        // is UTF-8, which is then what it shows).
                        Some(s) => out.push_str(s),
                        None => {
                            let _ = write!(out, "{v}");
                        }
                    },
                    Err(e) => {
                        tracing::warn!(expression = &*c.src, error = %e, "a flow expression failed; it shows as empty")
                    }
                },
            }
        }
    }

    /// A value that may be an expression ([`expr::value_of`]): a text that is exactly one
    /// expression gives its value, any other text is rendered.
    pub fn value(&self, vars: &dyn Vars) -> String {
        match self.parts.as_deref() {
            Some([Part::Expr(c)]) => c.eval(vars).map(|v| expr::show(&v)).unwrap_or_default(),
            _ => self.render(vars),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
