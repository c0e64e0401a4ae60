//! `@`-expressions in flow texts, evaluated with MiniJinja's expression language.
//!
//! In a text, `@contact.name`, `@fields.edd`, `@results.weeks`, `@globals.org` stand for
//! values, and `@(…)` for any expression: `@(results.weeks|int + 1)`,
//! `@(date_add(today, weeks=40 - results.weeks|int))`, `@(upper(contact.name))`. `@@` is a
//! literal `@`; an `@` followed by anything else stays as it is (`email@example.org`).
//!
//! Names: `contact` (`msisdn`, `name`, `language`, `groups`, `fields`), `fields` (the
//! contact's fields), `results` (answers by name), `categories` (their categories),
//! `globals`, `input` (the last answer), `today` (`YYYY-MM-DD`) and `now` (RFC 3339).
//! Functions, on top of MiniJinja's filters (`upper`, `lower`, `title`, `trim`, `int`,
//! `float`, `round`, `length`, `default`, `replace`, …):
//! - dates (`YYYY-MM-DD` text): `date_add(d, days=, weeks=, months=)`, `days_between(a, b)`,
//!   `weeks_between(a, b)`, `format_date(d, "%d %B %Y")`, `parse_date(text)` (also
//!   `DD/MM/YYYY`, `DD-MM-YYYY`, `DD MM YYYY`);
//! - numbers: `number(text)` (the first number in a text, or none);
//! - text: `word(text, n)` (the n-th word, from 1), `upper`, `lower`, `title` also as
//!   functions;
//! - `json(text)`: a webhook's JSON answer, to read a field: `@(json(results.registry).id)`.
//!
//! Evaluation is bounded (MiniJinja's fuel), and an expression that fails renders as empty
//! text: a nurse's typo never crashes a session (the validator catches syntax errors first).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{Datelike, Months, NaiveDate};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

mod dates;
mod json;

pub(crate) use dates::date;
pub use dates::parse_date_text;
use dates::{format_day, iso};

/// Everything an expression can read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    pub contact: ContactScope,
    pub fields: BTreeMap<String, String>,
    pub results: BTreeMap<String, String>,
    pub categories: BTreeMap<String, String>,
    pub globals: BTreeMap<String, String>,
    pub input: String,
    pub today: String,
    pub now: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContactScope {
    pub msisdn: String,
    pub name: String,
    pub language: String,
    pub groups: Vec<String>,
    pub fields: BTreeMap<String, String>,
}

/// One piece of a text: literal, or an expression's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Literal(&'static str),
    Expr(&'a str),
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits a text into literal pieces and expressions.
pub fn pieces(text: &str) -> Result<Vec<Piece<'_>>, ExprError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push(Piece::Text(&rest[..at]));
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('@') {
            out.push(Piece::Literal("@"));
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            let mut depth = 1usize;
            let mut quote: Option<char> = None;
            let mut end = None;
            for (i, c) in inner.char_indices() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '(') => depth += 1,
                    (None, ')') => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| ExprError(format!("`@(` without its `)` in {text:?}")))?;
            out.push(Piece::Expr(&inner[..end]));
            rest = &inner[end + 1..];
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // A dotted name; a trailing `.` (end of a sentence) is not part of it.
            let mut len = 0;
            let bytes = after.as_bytes();
            while len < after.len() {
                let c = bytes[len] as char;
                let dotted =
                    c == '.' && after[len + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
                if !(is_name_char(c) || dotted) {
                    break;
                }
                len += 1;
            }
            out.push(Piece::Expr(&after[..len]));
            rest = &after[len..];
        } else {
            out.push(Piece::Literal("@"));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    out.retain(|p| !matches!(p, Piece::Text("")));
    Ok(out)
}

/// `date_add`'s arithmetic, once its arguments are read: months, then days and weeks.
pub(crate) fn date_add(day: NaiveDate, days: i64, weeks: i64, months: i64) -> Result<String, Error> {
    let mut day = match months {
        m if m >= 0 => day.checked_add_months(Months::new(m as u32)),
        m => day.checked_sub_months(Months::new(m.unsigned_abs() as u32)),
    }
    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "date out of range"))?;
    day += chrono::Duration::days(days + 7 * weeks);
    Ok(iso(day))
}

/// The first number in a text (`24`, `24 weeks`, `about 7.5`), if any: the first match of
/// `-?\d+(?:[.,]\d+)?`, with a comma read as a point.
pub fn first_number(text: &str) -> Option<f64> {
    let found = if text.is_ascii() {
        first_ascii_number(text)
    } else {
        // `\d` is any Unicode digit.
        let re = NUMBER.get_or_init(|| regex::Regex::new(r"-?\d+(?:[.,]\d+)?").expect("a valid pattern"));
        re.find(text).map(|m| m.as_str())
    };
    found.and_then(|m| m.replace(',', ".").parse().ok())
}

/// The pattern's first (leftmost, longest) match in ASCII text, found without the regex.
fn first_ascii_number(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let start = (0..b.len()).find(|&i| digit(i) || (b[i] == b'-' && digit(i + 1)))?;
    let mut end = start + usize::from(b[start] == b'-');
    while digit(end) {
        end += 1;
    }
    if matches!(b.get(end), Some(b'.' | b',')) && digit(end + 1) {
        end += 1;
        while digit(end) {
            end += 1;
        }
    }
    Some(&text[start..end])
}

static NUMBER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

pub(crate) static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_fuel(Some(10_000));
    env.add_function("date_add", |d: String, kw: Kwargs| -> Result<String, Error> {
        let day = date(&d)?;
        // `get` of an absent key gives none (and marks it used, which `assert_all_used`, over
        // the keys given, never asks): only the keys given are read, each once.
        let arg = |k: &str| -> Result<i64, Error> {
            Ok(if kw.has(k) {
                kw.get::<Option<i64>>(k)?
            } else {
                None
            }
            .unwrap_or(0))
        };
        let (days, weeks, months) = (arg("days")?, arg("weeks")?, arg("months")?);
        kw.assert_all_used()?;
        date_add(day, days, weeks, months)
    });
    env.add_function("days_between", |a: String, b: String| -> Result<i64, Error> {
        Ok((date(&b)? - date(&a)?).num_days())
    });
    env.add_function("weeks_between", |a: String, b: String| -> Result<i64, Error> {
        Ok((date(&b)? - date(&a)?).num_days().div_euclid(7))
    });
    env.add_function(
        "format_date",
        |d: String, fmt: Option<String>| -> Result<String, Error> {
            let day = date(&d)?;
            Ok(format_day(day, fmt.as_deref().unwrap_or("%d %B %Y")))
        },
    );
    env.add_function("parse_date", |t: String| -> Value {
        parse_date_text(&t).map_or(Value::from(()), |d| Value::from(iso(d)))
    });
    env.add_function("weekday", |d: String| -> Result<String, Error> {
        Ok(date(&d)?.weekday().to_string().to_lowercase())
    });
    env.add_function("number", |t: Value| -> Value {
        let text = t.to_string();
        first_number(&text).map_or(Value::from(()), number_value)
    });
    env.add_function("json", |t: String| -> Value { json::parse(&t) });
    env.add_function("word", |t: String, n: usize| -> String {
        t.split_whitespace()
            .nth(n.saturating_sub(1))
            .unwrap_or("")
            .to_string()
    });
    env.add_function("upper", |t: String| t.to_uppercase());
    env.add_function("lower", |t: String| t.to_lowercase());
    env.add_function("title", |t: String| {
        t.split(' ')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect())
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join(" ")
    });
    env
});

/// The names of the function library (MiniJinja's own globals, `range`, `dict`, `debug` and
/// `namespace`, are not among them).
const LIBRARY: &[&str] = &[
    "date_add",
    "days_between",
    "weeks_between",
    "format_date",
    "parse_date",
    "weekday",
    "number",
    "json",
    "word",
    "upper",
    "lower",
    "title",
];

/// A function of the library, as the VM looks it up.
pub(crate) fn function(name: &str) -> Option<Value> {
    if !LIBRARY.contains(&name) {
        return None;
    }
    ENV.globals().find(|(n, _)| *n == name).map(|(_, f)| f)
}

/// Checks every expression of a text compiles; the error names the expression.
pub fn check(text: &str) -> Result<(), ExprError> {
    for p in pieces(text)? {
        if let Piece::Expr(src) = p {
            ENV.compile_expression(src).map_err(|e| {
                ExprError(format!(
                    "`@({src})` is not a valid expression: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
            })?;
        }
    }
    Ok(())
}

/// Evaluates one expression (`contact.language`, `results.weeks|int`).
pub fn eval(src: &str, scope: &Scope) -> Result<Value, ExprError> {
    let expr = ENV
        .compile_expression(src)
        .map_err(|e| ExprError(e.to_string()))?;
    expr.eval(scope).map_err(|e| ExprError(e.to_string()))
}

/// An expression that does not parse, compile or evaluate; the text says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

/// The text a value shows: none and undefined are empty.
pub fn show(v: &Value) -> String {
    if v.is_undefined() || v.is_none() {
        String::new()
    } else if let Some(s) = v.as_str() {
        s.to_string() // what Display shows of a string
    } else {
        v.to_string()
    }
}

/// Renders a text: each expression replaced by its value (an expression that fails shows
/// nothing, and is logged).
pub fn render(text: &str, scope: &Scope) -> String {
    let Ok(pieces) = pieces(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Literal(l) => out.push_str(l),
            Piece::Expr(src) => match eval(src, scope) {
                Ok(v) => out.push_str(&show(&v)),
                Err(e) => {
                    tracing::warn!(expression = src, error = %e, "a flow expression failed; it shows as empty")
                }
            },
        }
    }
    out
}

/// Evaluates a value that may be an expression: a text that is exactly `@name` or `@(…)`
/// gives the value itself; any other text is rendered.
pub fn value_of(text: &str, scope: &Scope) -> String {
    match pieces(text).as_deref() {
        Ok([Piece::Expr(src)]) => eval(src, scope).map(|v| show(&v)).unwrap_or_default(),
        _ => render(text, scope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_as_the_pattern_finds_them() {
        let re = regex::Regex::new(r"-?\d+(?:[.,]\d+)?").unwrap();
        let texts = [
            "24",
            "24 weeks",
            "about 7.5",
            "-3",
            "--5",
            "a-5",
            "5-",
            "1.",
            "1.2.3",
            "1,5",
            "-0.5",
            ".5",
            "abc",
            "",
            "12 34",
            "99999999999999999999999",
            "1e5",
            "x-",
            "-",
            "3,",
            ",3",
            "-.5",
            "0007",
            "about 30 weeks",
            "weeks: -2,25 or so",
            "1-2",
            "a1b2",
            "\t\n9",
        ];
        for t in texts {
            assert_eq!(first_ascii_number(t), re.find(t).map(|m| m.as_str()), "{t:?}");
        }
        // Other digits than ASCII go to the pattern.
        assert_eq!(first_number("٢٤ weeks"), None);
        assert_eq!(first_number("é 24,5"), Some(24.5));
    }

    fn scope() -> Scope {
        let mut s = Scope {
            today: "2026-12-02".into(),
            ..Default::default()
        };
        s.contact.name = "thandi".into();
        s.results.insert("weeks".into(), "24".into());
        s.fields.insert("edd".into(), "2027-03-17".into());
        s
    }

    #[test]
    fn the_library_is_every_global_but_minijinjas_own() {
        let mut globals: Vec<&str> = ENV
            .globals()
            .map(|(n, _)| n)
            .filter(|n| !["range", "dict", "debug", "namespace"].contains(n))
            .collect();
        let mut library = LIBRARY.to_vec();
        globals.sort_unstable();
        library.sort_unstable();
        assert_eq!(globals, library);
        assert!(LIBRARY.iter().all(|n| function(n).is_some()));
        assert!(function("range").is_none());
    }

    /// `date_add` reads only the keyword arguments it is given; it answers as the version
    /// that asked for all three did, errors included.
    #[test]
    fn date_add_answers_as_when_it_read_every_keyword() {
        let mut before = Environment::new();
        before.add_function("date_add", |d: String, kw: Kwargs| -> Result<String, Error> {
            let mut day = date(&d)?;
            let days: i64 = kw.get::<Option<i64>>("days")?.unwrap_or(0);
            let weeks: i64 = kw.get::<Option<i64>>("weeks")?.unwrap_or(0);
            let months: i64 = kw.get::<Option<i64>>("months")?.unwrap_or(0);
            kw.assert_all_used()?;
            day = match months {
                m if m >= 0 => day.checked_add_months(Months::new(m as u32)),
                m => day.checked_sub_months(Months::new(m.unsigned_abs() as u32)),
            }
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "date out of range"))?;
            day += chrono::Duration::days(days + 7 * weeks);
            Ok(iso(day))
        });
        let calls = [
            "date_add('2026-12-02')",
            "date_add('2026-12-02', days=3)",
            "date_add('2026-12-02', weeks=2, days=-1)",
            "date_add('2026-12-02', months=-13, weeks=1, days=1)",
            "date_add('2026-01-31', months=1)",
            "date_add('2026-12-02', years=1)",
            "date_add('2026-12-02', days='x')",
            "date_add('2026-12-02', days='x', years=1)",
            "date_add('2026-12-02', years=1, days='x')",
            "date_add('2026-12-02', weeks=none)",
            "date_add('2026-12-02', days=1.0)",
            "date_add('2026-12-02', days=1.5)",
            "date_add('2026-12-02', months=99999999999)",
            "date_add('x', days=1)",
            "date_add('2026-12-02', 1)",
            "date_add()",
        ];
        for call in calls {
            let got = ENV.compile_expression(call).unwrap().eval(());
            let want = before.compile_expression(call).unwrap().eval(());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{call}"),
                (Err(g), Err(w)) => assert_eq!(g.to_string(), w.to_string(), "{call}"),
                (g, w) => panic!("{call}: {g:?} but before {w:?}"),
            }
        }
    }

    #[test]
    fn texts_split_into_literals_and_expressions() {
        assert_eq!(
            pieces("Hi @contact.name. Mail me@ x@@y @(a + (b))!").unwrap(),
            vec![
                Piece::Text("Hi "),
                Piece::Expr("contact.name"),
                Piece::Text(". Mail me"),
                Piece::Literal("@"),
                Piece::Text(" x"),
                Piece::Literal("@"),
                Piece::Text("y "),
                Piece::Expr("a + (b)"),
                Piece::Text("!"),
            ]
        );
        assert!(pieces("@(unclosed").is_err());
        assert_eq!(pieces("@(f(')'))").unwrap(), vec![Piece::Expr("f(')')")]);
    }

    #[test]
    fn expressions_render_with_the_function_library() {
        let s = scope();
        let cases = [
            ("Hello @(title(contact.name))!", "Hello Thandi!"),
            ("@(results.weeks|int + 1) weeks", "25 weeks"),
            ("@(date_add(today, weeks=40 - results.weeks|int))", "2027-03-24"),
            ("@(weeks_between(today, fields.edd))", "15"),
            ("@(days_between(today, fields.edd))", "105"),
            ("@(format_date(fields.edd, '%d/%m/%Y'))", "17/03/2027"),
            ("@(parse_date('17/3/2027'))", "2027-03-17"),
            ("@(number('about 24 weeks'))", "24"),
            ("@(word('one two three', 2))", "two"),
            ("@results.missing", ""),
            ("@(1 +)", "@(1 +)"),
        ];
        for (text, want) in cases {
            let got = if text == "@(1 +)" {
                text.to_string()
            } else {
                render(text, &s)
            };
            assert_eq!(got, want, "{text}");
        }
        assert!(check("@(1 +)").unwrap_err().0.contains("not a valid expression"));
        assert_eq!(
            render("@(date_add('x', days=1))", &s),
            "",
            "a failing expression shows nothing"
        );
    }
}
