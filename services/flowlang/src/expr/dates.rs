//! Dates for the function library and the tests: `YYYY-MM-DD` read and written (directly for
//! the plain form, through chrono's `%Y-%m-%d` for anything else), dates as people type them,
//! and `format_date`'s formats parsed once per thread. Each gives what chrono's format-string
//! functions give; the tests below compare them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{Datelike, NaiveDate};
use minijinja::{Error, ErrorKind};

/// `%Y-%m-%d`, parsed once: what `NaiveDate::parse_from_str(s, "%Y-%m-%d")` and
/// `format("%Y-%m-%d")` parse again at every call.
static ISO_DATE: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| {
    StrftimeItems::new("%Y-%m-%d")
        .parse_to_owned()
        .expect("a valid format")
});

/// `NaiveDate::parse_from_str(s, "%Y-%m-%d")`.
fn parse_iso(s: &str) -> chrono::ParseResult<NaiveDate> {
    if let Some(d) = plain_iso(s) {
        return Ok(d);
    }
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, s, ISO_DATE.iter())?;
    parsed.to_naive_date()
}

pub(crate) fn date(s: &str) -> Result<NaiveDate, Error> {
    parse_iso(s.trim()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`{s}` is not a date (YYYY-MM-DD)"),
        )
    })
}

thread_local! {
    /// Date formats parsed once per thread: what `format(fmt)` parses at every call.
    static FORMATS: RefCell<HashMap<String, Rc<[Item<'static>]>>> = RefCell::new(HashMap::new());
}

/// Formats kept parsed per thread at most (a flow has a few).
const MAX_FORMATS: usize = 64;

/// `day.format(fmt).to_string()`, with `fmt` parsed once.
pub(super) fn format_day(day: NaiveDate, fmt: &str) -> String {
    let items = FORMATS.with(|formats| {
        let mut formats = formats.borrow_mut();
        if let Some(items) = formats.get(fmt) {
            return Some(items.clone());
        }
        let items: Rc<[Item<'static>]> = StrftimeItems::new(fmt).parse_to_owned().ok()?.into();
        if formats.len() >= MAX_FORMATS {
            formats.clear();
        }
        formats.insert(fmt.to_string(), items.clone());
        Some(items)
    });
    match items {
        Some(items) => day.format_with_items(items.iter()).to_string(),
        // A format chrono does not parse: formatted as it always was.
        None => day.format(fmt).to_string(),
    }
}

/// A valid date written exactly `YYYY-MM-DD`, read without the format machinery (as
/// `%Y-%m-%d` reads it); anything else is left to chrono.
fn plain_iso(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..])?)
}

/// `d.format("%Y-%m-%d")`: years 0 to 9999 written directly, others by chrono (a sign, more
/// digits).
pub(super) fn iso(d: NaiveDate) -> String {
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return d.format_with_items(ISO_DATE.iter()).to_string();
    }
    let mut s = String::with_capacity(10);
    for (n, width) in [(year as u32, 4), (d.month(), 2), (d.day(), 2)] {
        if width == 2 {
            s.push('-');
        }
        for shift in (0..width).rev() {
            let digit = n / 10u32.pow(shift) % 10;
            s.push(char::from(b'0' + digit as u8));
        }
    }
    s
}

/// Reads a date as people type it: `2027-03-01`, `01/03/2027`, `1-3-2027`, `1 3 2027`.
pub fn parse_date_text(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Ok(d) = parse_iso(t) {
        return Some(d);
    }
    let parts: Vec<&str> = t
        .split(|c: char| c == '/' || c == '-' || c == '.' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    if let [d, m, y] = parts.as_slice() {
        let (d, m, y): (u32, u32, i32) = (d.parse().ok()?, m.parse().ok()?, y.parse().ok()?);
        let y = if y < 100 { 2000 + y } else { y };
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse_and_show_as_with_the_format_string() {
        for s in [
            "2027-03-17",
            "2027-3-7",
            "0001-01-01",
            "0000-01-01",
            "9999-12-31",
            "+10000-01-01",
            "-0001-01-01",
            "2027-02-29",
            "2028-02-29",
            "2027-13-01",
            "27-03-17",
            "2027-03-17x",
            "2027/03/17",
            " 2027-03-17",
            "",
            "x",
        ] {
            let want = NaiveDate::parse_from_str(s, "%Y-%m-%d");
            assert_eq!(parse_iso(s), want, "{s:?}");
            if let Ok(d) = want {
                assert_eq!(iso(d), d.format("%Y-%m-%d").to_string(), "{s:?}");
            }
        }
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            assert_eq!(iso(d), d.format("%Y-%m-%d").to_string());
        }
        // Every 97th day from 5 BCE to 10001, both ways.
        let mut d = NaiveDate::from_ymd_opt(-5, 1, 1).unwrap();
        while d.year() <= 10001 {
            let shown = d.format("%Y-%m-%d").to_string();
            assert_eq!(iso(d), shown);
            assert_eq!(parse_iso(&shown), NaiveDate::parse_from_str(&shown, "%Y-%m-%d"));
            assert_eq!(parse_iso(&shown), Ok(d), "{shown}");
            d += chrono::Duration::days(97);
        }
        for s in [
            "2027-00-10",
            "2027-12-32",
            "2027-04-31",
            "0000-02-29",
            "0001-02-29",
            "2027-1a-01",
        ] {
            assert_eq!(parse_iso(s), NaiveDate::parse_from_str(s, "%Y-%m-%d"), "{s}");
        }
    }

    #[test]
    fn dates_format_as_with_the_format_string() {
        let formats = [
            "%d %B %Y",
            "%d/%m/%Y",
            "%A %e %b",
            "%-d %B",
            "%%",
            "week %W of %G",
            "",
            "plain",
            "%Y-%m-%d",
            "%j %U %u %w",
            "%C%y %h",
            "%Y年%m月%d日",
        ];
        for d in ["2027-03-17", "2026-12-02", "0001-01-01", "2028-02-29"] {
            let day = date(d).unwrap();
            // Twice round: parsed, then from the per-thread cache.
            for fmt in formats.iter().chain(formats.iter()) {
                assert_eq!(format_day(day, fmt), day.format(fmt).to_string(), "{d} {fmt:?}");
            }
        }
        for i in 0..(2 * MAX_FORMATS) {
            let fmt = format!("%d {i}");
            let day = date("2027-03-17").unwrap();
            assert_eq!(format_day(day, &fmt), day.format(&fmt).to_string());
        }
    }
}
