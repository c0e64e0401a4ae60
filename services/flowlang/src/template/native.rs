//! The part of the expression language a step evaluates without MiniJinja's VM (whose every
//! evaluation sets up a State and a frame stack): names and attributes (`results.weeks`),
//! integer and plain string literals, calls of the function library with positional and
//! keyword arguments (`date_add(today, weeks=40 - results.weeks|int)`), attributes of what a
//! call gives (`json(results.registry).id`), `|int`, and `+` and `-`.
//!
//! Each piece is evaluated as the VM evaluates it, with MiniJinja's own parts: a name as the
//! run gives it, `Value::get_attr` for an attribute, the library's function values (the ones
//! the VM looks up) called with `Value::call`, `filters::int` for `|int`, and for `+` and `-`
//! the VM's arithmetic on integers (`i128`, checked, an `i64` when it fits). Anything outside
//! that — any other syntax, an operand of `+`/`-` that is not an integer, an error, an
//! invalid value — is left to the VM (the expression is evaluated again there): it gives its
//! own result and words its own error. An expression is only taken here when MiniJinja
//! compiled it, so it parses the same way in both.

use minijinja::value::{ArgType, Kwargs, Value, ValueKind};
use minijinja::State;

use super::{Root, Vars};
use crate::expr::ENV;

thread_local! {
    /// The state the library's functions and `|int` are called with: they read nothing of it
    /// but the environment's undefined behaviour, which is the VM's.
    static STATE: State<'static, 'static> = ENV.empty_state();
}

/// Words that are syntax in the expression language, never names here.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None",
];

/// Nodes an expression may have to be taken here (far below the VM's fuel).
const MAX_NODES: usize = 64;
/// Parentheses and calls an expression may nest.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Add,
    Sub,
}

/// An expression of the subset, parsed.
#[derive(Debug)]
pub(super) enum Native {
    /// A name and its attributes.
    Path(Root, Vec<Box<str>>),
    Const(Value),
    Attr(Box<Native>, Box<str>),
    Call {
        func: Value,
        args: Vec<Native>,
        kwargs: Vec<(Box<str>, Native)>,
    },
    /// `date_add(d, days=…, weeks=…, months=…)`: its arguments read as the function reads
    /// them (`String` and `Option<i64>` from the values), without building keyword arguments.
    DateAdd(Box<Native>, [Option<Box<Native>>; 3]),
    Int(Box<Native>),
    Arith(Op, Box<Native>, Box<Native>),
}

/// `date_add`'s keywords, in the order it reads them.
const DATE_ADD_KEYWORDS: [&str; 3] = ["days", "weeks", "months"];

impl Native {
    /// `src` parsed, if it is in the subset (`src` compiled with MiniJinja).
    pub(super) fn parse(src: &str) -> Option<Native> {
        let tokens = tokens(src)?;
        let mut p = Parser {
            tokens: &tokens,
            at: 0,
            depth: 0,
            nodes: 0,
        };
        let e = p.expr()?;
        (p.at == tokens.len()).then_some(e)
    }

    /// The root and attributes, for a plain name.
    #[cfg(test)]
    pub(super) fn path(&self) -> Option<(Root, usize)> {
        match self {
            Native::Path(r, a) => Some((*r, a.len())),
            _ => None,
        }
    }

    /// The value, or `None` where the VM must decide.
    pub(super) fn eval(&self, vars: &dyn Vars) -> Option<Value> {
        let v = match self {
            Native::Path(root, attrs) => {
                let mut attrs = attrs.iter();
                let mut v = match attrs.next() {
                    Some(a) => vars.attr(*root, a),
                    None => vars.var(*root),
                };
                for a in attrs {
                    v = v.get_attr(a).ok()?;
                }
                v
            }
            Native::Const(v) => v.clone(),
            Native::Attr(e, name) => e.eval(vars)?.get_attr(name).ok()?,
            Native::Call { func, args, kwargs } => {
                let mut values = Vec::with_capacity(args.len() + 1);
                for a in args {
                    values.push(a.eval(vars)?);
                }
                if !kwargs.is_empty() {
                    let mut failed = false;
                    let kw: Kwargs = kwargs
                        .iter()
                        .map_while(|(k, e)| {
                            let v = e.eval(vars);
                            failed |= v.is_none();
                            Some((&**k, v?))
                        })
                        .collect();
                    if failed {
                        return None;
                    }
                    values.push(Value::from(kw));
                }
                STATE.with(|s| func.call(s, &values)).ok()?
            }
            Native::DateAdd(d, keywords) => {
                let d = arg_string(&d.eval(vars)?)?;
                let day = crate::expr::date(&d).ok()?;
                let mut n = [0i64; 3];
                for (n, e) in n.iter_mut().zip(keywords) {
                    if let Some(e) = e {
                        let v = e.eval(vars)?;
                        *n = <Option<i64> as ArgType>::from_value(Some(&v)).ok()?.unwrap_or(0);
                    }
                }
                Value::from(crate::expr::date_add(day, n[0], n[1], n[2]).ok()?)
            }
            Native::Int(e) => {
                let v = e.eval(vars)?;
                STATE.with(|s| minijinja::filters::int(s, &v)).ok()?
            }
            Native::Arith(op, a, b) => {
                let (a, b) = (a.eval(vars)?, b.eval(vars)?);
                if !(a.is_integer() && b.is_integer()) {
                    return None;
                }
                let (a, b) = (i128::try_from(a).ok()?, i128::try_from(b).ok()?);
                let r = match op {
                    Op::Add => a.checked_add(b),
                    Op::Sub => a.checked_sub(b),
                }?;
                if r as i64 as i128 == r {
                    Value::from(r as i64)
                } else {
                    Value::from(r)
                }
            }
        };
        (v.kind() != ValueKind::Invalid).then_some(v)
    }
}

/// A `String` argument as the library's functions read it.
fn arg_string(v: &Value) -> Option<String> {
    <String as ArgType>::from_value(Some(v)).ok()
}

/// A call of `date_add` with one date and known keywords, as [`Native::DateAdd`].
fn date_add(call: Native) -> Native {
    let Native::Call {
        func,
        mut args,
        kwargs,
    } = call
    else {
        return call;
    };
    let known = kwargs.iter().all(|(k, _)| DATE_ADD_KEYWORDS.contains(&&**k));
    if args.len() != 1 || !known {
        return Native::Call { func, args, kwargs };
    }
    let mut keywords: [Option<Box<Native>>; 3] = Default::default();
    for (k, e) in kwargs {
        let i = DATE_ADD_KEYWORDS
            .iter()
            .position(|n| *n == &*k)
            .unwrap_or_default();
        keywords[i] = Some(Box::new(e));
    }
    Native::DateAdd(Box::new(args.remove(0)), keywords)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'s> {
    Ident(&'s str),
    Int(u64),
    Str(&'s str),
    Open,
    Close,
    Comma,
    Dot,
    Pipe,
    Plus,
    Minus,
    Assign,
}

/// The tokens of `src`, if it only has the subset's (spaces between them).
fn tokens(src: &str) -> Option<Vec<Tok<'_>>> {
    let b = src.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        i += 1;
        let t = match b[start] {
            b' ' => continue,
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b',' => Tok::Comma,
            b'.' => Tok::Dot,
            b'|' => Tok::Pipe,
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'=' if b.get(i) != Some(&b'=') => Tok::Assign,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                let name = &src[start..i];
                if KEYWORDS.contains(&name) {
                    return None;
                }
                Tok::Ident(name)
            }
            c if c.is_ascii_digit() => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i < b.len() && (word(b[i]) || b[i] == b'.') {
                    return None; // a float, a radix, an underscore: the VM's
                }
                Tok::Int(src[start..i].parse().ok()?)
            }
            q @ (b'\'' | b'"') => {
                let len = b[i..].iter().position(|c| *c == q)?;
                let inner = &src[i..i + len];
                if inner.contains('\\') {
                    return None; // escapes: the VM's
                }
                i += len + 1;
                Tok::Str(inner)
            }
            _ => return None,
        };
        out.push(t);
    }
    Some(out)
}

struct Parser<'t, 's> {
    tokens: &'t [Tok<'s>],
    at: usize,
    depth: usize,
    nodes: usize,
}

impl<'s> Parser<'_, 's> {
    fn peek(&self) -> Option<Tok<'s>> {
        self.tokens.get(self.at).copied()
    }

    fn next(&mut self) -> Option<Tok<'s>> {
        let t = self.peek();
        self.at += 1;
        t
    }

    fn eat(&mut self, t: Tok<'s>) -> bool {
        let hit = self.peek() == Some(t);
        self.at += usize::from(hit);
        hit
    }

    fn node(&mut self, n: Native) -> Option<Native> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(n)
    }

    /// `term (('+' | '-') term)*`
    fn expr(&mut self) -> Option<Native> {
        let mut e = self.term()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => Op::Add,
                Some(Tok::Minus) => Op::Sub,
                _ => return Some(e),
            };
            self.at += 1;
            let rhs = self.term()?;
            e = self.node(Native::Arith(op, Box::new(e), Box::new(rhs)))?;
        }
    }

    /// `postfix ('|' 'int')*`
    fn term(&mut self) -> Option<Native> {
        let mut e = self.postfix()?;
        while self.eat(Tok::Pipe) {
            if self.next() != Some(Tok::Ident("int")) || matches!(self.peek(), Some(Tok::Open | Tok::Dot)) {
                return None; // another filter, filter arguments, a dotted filter name
            }
            e = self.node(Native::Int(Box::new(e)))?;
        }
        Some(e)
    }

    /// `primary ('.' name)*`, not followed by a call.
    fn postfix(&mut self) -> Option<Native> {
        let mut e = self.primary()?;
        while self.eat(Tok::Dot) {
            let Some(Tok::Ident(name)) = self.next() else {
                return None;
            };
            e = match e {
                Native::Path(root, mut attrs) => {
                    attrs.push(name.into());
                    Native::Path(root, attrs)
                }
                other => self.node(Native::Attr(Box::new(other), name.into()))?,
            };
        }
        (self.peek() != Some(Tok::Open)).then_some(e)
    }

    /// A literal, a name, a library call or `( expr )`.
    fn primary(&mut self) -> Option<Native> {
        let e = match self.next()? {
            Tok::Int(n) => Native::Const(Value::from(n)),
            Tok::Str(s) => Native::Const(Value::from(s)),
            Tok::Open => {
                let e = self.nested(Self::expr)?;
                return self.eat(Tok::Close).then_some(e);
            }
            Tok::Ident(name) => match Root::of(name) {
                Some(root) => Native::Path(root, Vec::new()),
                None => {
                    let func = crate::expr::function(name)?;
                    let call = self.nested(|p| p.call(func))?;
                    return Some(if name == "date_add" { date_add(call) } else { call });
                }
            },
            _ => return None,
        };
        self.node(e)
    }

    /// The arguments of a call, from its `(`: positional, then `name=value`.
    fn call(&mut self, func: Value) -> Option<Native> {
        if !self.eat(Tok::Open) {
            return None;
        }
        let (mut args, mut kwargs) = (Vec::new(), Vec::<(Box<str>, Native)>::new());
        if !self.eat(Tok::Close) {
            loop {
                if let (Some(Tok::Ident(k)), Some(Tok::Assign)) =
                    (self.peek(), self.tokens.get(self.at + 1).copied())
                {
                    self.at += 2;
                    if kwargs.iter().any(|(have, _)| &**have == k) {
                        return None;
                    }
                    kwargs.push((k.into(), self.expr()?));
                } else if kwargs.is_empty() {
                    args.push(self.expr()?);
                } else {
                    return None;
                }
                match self.next()? {
                    Tok::Close => break,
                    Tok::Comma if self.peek() != Some(Tok::Close) => {}
                    _ => return None,
                }
            }
        }
        self.node(Native::Call { func, args, kwargs })
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Option<Native>) -> Option<Native> {
        self.depth += 1;
        let e = (self.depth <= MAX_DEPTH).then(|| f(self)).flatten();
        self.depth -= 1;
        e
    }
}
