//! The checks of message sets: offsets or dates, the delivery window, the time zone, and the
//! set a finished one chains to.

use super::Ctx;
use crate::model::MessageSet;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

pub(super) fn message_set(cx: &mut Ctx<'_>, name: &str, set: &MessageSet) {
    let at = format!("message_sets.{name}");
    if set.channel.trim().is_empty() {
        cx.error(
            &format!("{at}.channel"),
            "a message set needs the SMS `channel` it sends on",
        );
    }
    if set.messages.is_empty() {
        cx.error(
            &format!("{at}.messages"),
            format!("message set `{name}` has no messages"),
        );
    }
    for (i, m) in set.messages.iter().enumerate() {
        let mp = format!("{at}.messages.{i}");
        match (&set.anchor, &m.offset, &m.at) {
            (Some(_), Some(o), None) if crate::model::parse_offset(o).is_none() => cx.error(
                &format!("{mp}.offset"),
                format!("offset `{o}` is not like `-36w`, `+2d` or `0d`"),
            ),
            (Some(_), Some(_), None) => {}
            (None, None, Some(d)) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => cx.error(
                &format!("{mp}.at"),
                format!("`at` is a date (YYYY-MM-DD), not `{d}`"),
            ),
            (None, None, Some(_)) => {}
            (Some(_), _, _) => cx.error(
                &mp,
                "with an `anchor`, each message has an `offset` (and no `at`)",
            ),
            (None, _, _) => cx.error(
                &mp,
                "without an `anchor`, each message has an `at` date (and no `offset`)",
            ),
        }
        cx.text(
            &format!("{mp}.text"),
            &format!("message {} of `{name}`", i + 1),
            &m.text,
        );
    }
    let w = &set.window;
    for d in &w.days {
        if !DAYS.contains(&d.as_str()) {
            cx.error(
                &format!("{at}.window.days"),
                format!("`{d}` is not one of {}", DAYS.join(", ")),
            );
        }
    }
    if w.days.is_empty() {
        cx.error(&format!("{at}.window.days"), "the window needs at least one day");
    }
    match (hhmm(&w.from), hhmm(&w.until)) {
        (Some(a), Some(b)) if a < b => {}
        (Some(_), Some(_)) => cx.error(
            &format!("{at}.window"),
            "the window's `from` must be before its `until`",
        ),
        _ => cx.error(
            &format!("{at}.window"),
            "`from` and `until` are times like `09:00`",
        ),
    }
    if w.timezone.parse::<chrono_tz::Tz>().is_err() {
        cx.error(
            &format!("{at}.window.timezone"),
            format!("`{}` is not a time zone (e.g. Africa/Johannesburg)", w.timezone),
        );
    }
    if let Some(next) = &set.on_complete.next {
        if cx.flows.message_set(next).is_none() {
            cx.error(
                &format!("{at}.on_complete.next"),
                format!("there is no message set `{next}`"),
            );
        }
    }
}
