//! The tests that `validate`, `cases` and `switch` apply to an answer, named as in RapidPro's
//! goflow so staff who know it can read them. Each returns the value it matched (saved as the
//! result), or `None`.
//!
//! `has_text`, `has_number`, `has_number_between(min, max)`, `has_number_lt/lte/gt/gte/eq(n)`,
//! `has_any_word(words)`, `has_all_words(words)`, `has_phrase(p)`, `has_only_phrase(p)`,
//! `has_beginning(p)`, `has_pattern(regex)`, `has_date`, `has_date_lt(d)`, `has_date_gt(d)`,
//! `has_phone`, `has_email`, `has_value(v)` (exactly, any case). Words compare without case
//! and punctuation.

use chrono::NaiveDate;
use serde_json::Value;

use crate::expr::{first_number, parse_date_text};

/// Every test and how many arguments it takes.
pub const TESTS: &[(&str, usize)] = &[
    ("has_text", 0),
    ("has_number", 0),
    ("has_number_between", 2),
    ("has_number_lt", 1),
    ("has_number_lte", 1),
    ("has_number_gt", 1),
    ("has_number_gte", 1),
    ("has_number_eq", 1),
    ("has_any_word", 1),
    ("has_all_words", 1),
    ("has_phrase", 1),
    ("has_only_phrase", 1),
    ("has_beginning", 1),
    ("has_pattern", 1),
    ("has_date", 0),
    ("has_date_lt", 1),
    ("has_date_gt", 1),
    ("has_phone", 0),
    ("has_email", 0),
    ("has_value", 1),
];

/// Checks a test's name, arity and (for patterns and dates) arguments.
pub fn check(test: &str, args: &[Value]) -> Result<(), CaseError> {
    let Some((_, n)) = TESTS.iter().find(|(t, _)| *t == test) else {
        let known: Vec<&str> = TESTS.iter().map(|(t, _)| *t).collect();
        return Err(CaseError(format!(
            "unknown test `{test}` (known: {})",
            known.join(", ")
        )));
    };
    if args.len() != *n {
        return Err(CaseError(format!(
            "`{test}` takes {n} argument(s), got {}",
            args.len()
        )));
    }
    if test == "has_pattern" {
        regex::Regex::new(&arg_text(&args[0])).map_err(|e| CaseError(format!("`has_pattern`: {e}")))?;
    }
    if test.starts_with("has_number_") && args.iter().any(|a| arg_number(a).is_none()) {
        return Err(CaseError(format!("`{test}` takes numbers")));
    }
    Ok(())
}

/// A case test that cannot run as written: unknown, with the wrong number of arguments, or
/// with an argument it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaseError(pub String);

fn arg_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arg_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn show_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Applies `test` with `args` to `input`; `today` for date tests.
pub fn apply(test: &str, args: &[Value], input: &str, today: NaiveDate) -> Option<String> {
    let input = input.trim();
    let number = || first_number(input);
    let n = |i: usize| args.get(i).and_then(arg_number);
    let a = |i: usize| args.get(i).map(arg_text).unwrap_or_default();
    let date_arg = |i: usize| {
        let t = a(i);
        if t == "today" {
            Some(today)
        } else {
            parse_date_text(&t)
        }
    };
    match test {
        "has_text" => (!input.is_empty()).then(|| input.to_string()),
        "has_number" => number().map(show_number),
        "has_number_between" => number()
            .filter(|x| n(0).is_some_and(|lo| *x >= lo) && n(1).is_some_and(|hi| *x <= hi))
            .map(show_number),
        "has_number_lt" => number().filter(|x| n(0).is_some_and(|v| *x < v)).map(show_number),
        "has_number_lte" => number()
            .filter(|x| n(0).is_some_and(|v| *x <= v))
            .map(show_number),
        "has_number_gt" => number().filter(|x| n(0).is_some_and(|v| *x > v)).map(show_number),
        "has_number_gte" => number()
            .filter(|x| n(0).is_some_and(|v| *x >= v))
            .map(show_number),
        "has_number_eq" => number()
            .filter(|x| n(0).is_some_and(|v| *x == v))
            .map(show_number),
        "has_any_word" => {
            let have = words(input);
            words(&a(0)).into_iter().find(|w| have.contains(w))
        }
        "has_all_words" => {
            let have = words(input);
            let want = words(&a(0));
            (!want.is_empty() && want.iter().all(|w| have.contains(w))).then(|| want.join(" "))
        }
        "has_phrase" => {
            let (have, want) = (words(input), words(&a(0)));
            (!want.is_empty() && have.windows(want.len()).any(|w| w == want.as_slice()))
                .then(|| want.join(" "))
        }
        "has_only_phrase" => {
            let want = words(&a(0));
            (words(input) == want).then(|| want.join(" "))
        }
        "has_beginning" => input
            .to_lowercase()
            .starts_with(&a(0).to_lowercase())
            .then(|| input.to_string()),
        "has_pattern" => regex::RegexBuilder::new(&a(0))
            .case_insensitive(true)
            .build()
            .ok()?
            .find(input)
            .map(|m| m.as_str().to_string()),
        "has_date" => parse_date_text(input).map(|d| d.to_string()),
        "has_date_lt" => parse_date_text(input)
            .filter(|d| date_arg(0).is_some_and(|lim| *d < lim))
            .map(|d| d.to_string()),
        "has_date_gt" => parse_date_text(input)
            .filter(|d| date_arg(0).is_some_and(|lim| *d > lim))
            .map(|d| d.to_string()),
        "has_phone" => {
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            let plausible = (9..=15).contains(&digits.len())
                && input.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
            plausible.then(|| format!("+{}", digits.trim_start_matches("00")))
        }
        "has_email" => {
            let ok = input.split_once('@').is_some_and(|(u, d)| {
                !u.is_empty()
                    && d.contains('.')
                    && !d.starts_with('.')
                    && !d.ends_with('.')
                    && !input.contains(' ')
            });
            ok.then(|| input.to_lowercase())
        }
        "has_value" => input.eq_ignore_ascii_case(a(0).trim()).then(|| input.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(test: &str, args: Value, input: &str) -> Option<String> {
        let args: Vec<Value> = args.as_array().cloned().unwrap_or_default();
        check(test, &args).unwrap();
        apply(test, &args, input, NaiveDate::from_ymd_opt(2026, 12, 2).unwrap())
    }

    #[test]
    fn tests_match_as_goflow_does() {
        assert_eq!(
            t("has_number_between", json!([4, 42]), "I am 24 weeks"),
            Some("24".into())
        );
        assert_eq!(t("has_number_between", json!([4, 42]), "3"), None);
        assert_eq!(t("has_number_between", json!([4, 42]), "abc"), None);
        assert_eq!(t("has_number_gte", json!([18]), "18"), Some("18".into()));
        assert_eq!(
            t("has_any_word", json!(["yes yebo ewe"]), "Yebo!"),
            Some("yebo".into())
        );
        assert_eq!(t("has_any_word", json!(["yes yebo"]), "yesterday"), None);
        assert_eq!(
            t("has_all_words", json!(["stop now"]), "now STOP"),
            Some("stop now".into())
        );
        assert_eq!(
            t("has_phrase", json!(["sore throat"]), "I have a sore throat."),
            Some("sore throat".into())
        );
        assert_eq!(
            t("has_only_phrase", json!(["stop"]), " Stop "),
            Some("stop".into())
        );
        assert_eq!(t("has_only_phrase", json!(["stop"]), "stop it"), None);
        assert_eq!(
            t("has_beginning", json!(["reg"]), "Register me"),
            Some("Register me".into())
        );
        assert_eq!(
            t("has_pattern", json!(["^[0-9]{13}$"]), "8001015009087"),
            Some("8001015009087".into())
        );
        assert_eq!(t("has_date", json!([]), "17/03/2027"), Some("2027-03-17".into()));
        assert_eq!(
            t("has_date_gt", json!(["today"]), "2027-01-01"),
            Some("2027-01-01".into())
        );
        assert_eq!(t("has_date_lt", json!(["today"]), "2027-01-01"), None);
        assert_eq!(
            t("has_phone", json!([]), "+27 82 000 0001"),
            Some("+27820000001".into())
        );
        assert_eq!(t("has_phone", json!([]), "12"), None);
        assert_eq!(
            t("has_email", json!([]), "Nurse@Clinic.org"),
            Some("nurse@clinic.org".into())
        );
        assert_eq!(t("has_value", json!(["ok"]), "OK"), Some("OK".into()));
        assert_eq!(t("has_text", json!([]), "  "), None);
    }

    #[test]
    fn bad_tests_are_named() {
        assert!(check("has_numbr", &[])
            .unwrap_err()
            .0
            .contains("unknown test `has_numbr`"));
        assert!(check("has_number_between", &[json!(1)])
            .unwrap_err()
            .0
            .contains("takes 2"));
        assert!(check("has_pattern", &[json!("(")]).is_err());
        assert!(check("has_number_lt", &[json!("x")])
            .unwrap_err()
            .0
            .contains("numbers"));
    }
}
