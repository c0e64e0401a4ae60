//! When each message of a message set is due for a contact, as pure functions of the set, the
//! contact's anchor date and the time.
//!
//! A message falls on a day (the anchor plus its offset, or its fixed `at` date) and goes out
//! at the window's `from` time in the window's time zone; a day outside the window's days
//! moves to the next day in it. A message whose time has come is sent only within the window
//! (day and hours): otherwise at the window's next opening.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::model::{CatchUp, MessageSet, OnSubscribe, Window};

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn hhmm(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap_or(NaiveTime::MIN)
}

/// A window, parsed.
#[derive(Debug, Clone)]
pub struct Hours {
    days: Vec<Weekday>,
    from: NaiveTime,
    until: NaiveTime,
    tz: Tz,
}

impl Hours {
    pub fn of(w: &Window) -> Self {
        Self {
            days: w.days.iter().filter_map(|d| weekday(d)).collect(),
            from: hhmm(&w.from),
            until: hhmm(&w.until),
            tz: w.timezone.parse().unwrap_or(Tz::UTC),
        }
    }

    fn at(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = day.and_time(time);
        // A time a clock change skips goes an hour later; an ambiguous one takes the first.
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.tz
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// Whether messages may go out at `t`.
    pub fn open(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.tz);
        self.days.contains(&local.weekday()) && local.time() >= self.from && local.time() < self.until
    }

    /// `t` if the window is open then, else its next opening.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.open(t) {
            return t;
        }
        let today = t.with_timezone(&self.tz).date_naive();
        (0..8)
            .map(|d| today + Duration::days(d))
            .filter(|d| self.days.contains(&d.weekday()))
            .map(|d| self.at(d, self.from))
            .find(|o| *o > t)
            .unwrap_or(t + Duration::days(1))
    }

    /// The time a message falling on `day` goes out: the window's opening that day, or on the
    /// next day in the window.
    pub fn slot(&self, day: NaiveDate) -> DateTime<Utc> {
        (0..8)
            .map(|d| day + Duration::days(d))
            .find(|d| self.days.contains(&d.weekday()))
            .map_or_else(|| self.at(day, self.from), |d| self.at(d, self.from))
    }
}

/// The day message `i` falls on, for a contact whose anchor is `anchor`.
pub fn day_of(set: &MessageSet, i: usize, anchor: Option<NaiveDate>) -> Option<NaiveDate> {
    let m = set.messages.get(i)?;
    match (&set.anchor, &m.offset, &m.at) {
        (Some(_), Some(o), _) => Some(anchor? + Duration::days(crate::model::parse_offset(o)?)),
        (None, _, Some(d)) => NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
        _ => None,
    }
}

/// When message `i` is due.
pub fn due(set: &MessageSet, i: usize, anchor: Option<NaiveDate>) -> Option<DateTime<Utc>> {
    Some(Hours::of(&set.window).slot(day_of(set, i, anchor)?))
}

/// Where a new subscription starts at `now`: the first message to send and when. `None` when
/// nothing is left to send (every message's time passed, and the policy skips them) or the
/// anchor is missing.
pub fn start(
    set: &MessageSet,
    anchor: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Option<(usize, DateTime<Utc>)> {
    let times: Vec<DateTime<Utc>> = (0..set.messages.len())
        .map(|i| due(set, i, anchor))
        .collect::<Option<_>>()?;
    // A message due earlier today still goes out today.
    let grace = Duration::days(1);
    let first_future = times.iter().position(|t| *t + grace > now);
    match set.on_subscribe {
        OnSubscribe::Skip => first_future.map(|i| (i, times[i].max(now))),
        OnSubscribe::CatchUp => match times.iter().rposition(|t| *t <= now) {
            Some(i) => Some((i, now)),
            None => first_future.map(|i| (i, times[i])),
        },
    }
}

/// What a due subscription does at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send message `send` now; then the subscription stands at `then` (`None`: done).
    Send {
        send: usize,
        then: Option<(usize, DateTime<Utc>)>,
    },
    /// Nothing yet: look again at this time (not due yet, or outside the window).
    Wait(DateTime<Utc>),
    /// Nothing is left to send.
    Done,
}

/// The decision for a subscription standing at message `index` (due per the current anchor).
/// With several messages past due (the scheduler was down), `catch_up: latest` sends the
/// newest of them and skips the rest; `all` sends them one after another.
pub fn next(set: &MessageSet, index: usize, anchor: Option<NaiveDate>, now: DateTime<Utc>) -> Option<Next> {
    let hours = Hours::of(&set.window);
    if index >= set.messages.len() {
        return Some(Next::Done);
    }
    let at = due(set, index, anchor)?;
    if at > now {
        return Some(Next::Wait(at));
    }
    if !hours.open(now) {
        return Some(Next::Wait(hours.next_open(now)));
    }
    let send = match set.catch_up {
        CatchUp::All => index,
        CatchUp::Latest => (index..set.messages.len())
            .take_while(|i| due(set, *i, anchor).is_some_and(|t| t <= now))
            .last()
            .unwrap_or(index),
    };
    let then = (send + 1 < set.messages.len())
        .then(|| due(set, send + 1, anchor).map(|t| (send + 1, t)))
        .flatten();
    Some(Next::Send { send, then })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(yaml: &str) -> MessageSet {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const WEEKLY: &str = "
channel: demo-sms
anchor: edd
window: {days: [mon, tue, wed, thu, fri], from: '09:00', until: '17:00', timezone: Africa/Johannesburg}
messages:
  - {offset: '-3w', text: three}
  - {offset: '-2w', text: two}
  - {offset: '-1w', text: one}
";

    #[test]
    fn messages_fall_in_the_window_in_local_time() {
        let s = set(WEEKLY);
        // EDD Wednesday 2027-03-17: three weeks before is Wednesday 2027-02-24, 09:00 SAST.
        let edd = NaiveDate::from_ymd_opt(2027, 3, 17);
        assert_eq!(due(&s, 0, edd), Some(t("2027-02-24T07:00:00Z")));
        // A Saturday anchor moves to Monday.
        let sat = NaiveDate::from_ymd_opt(2027, 3, 20);
        assert_eq!(due(&s, 0, sat), Some(t("2027-03-01T07:00:00Z")));
        assert_eq!(due(&s, 0, None), None, "no anchor, no schedule");
    }

    #[test]
    fn subscribing_skips_or_catches_up() {
        let mut s = set(WEEKLY);
        let edd = NaiveDate::from_ymd_opt(2027, 3, 17);
        // On 2027-03-05 (a Friday, 10:00 SAST) the first message (02-24) has passed.
        let now = t("2027-03-05T08:00:00Z");
        assert_eq!(
            start(&s, edd, now),
            Some((2, t("2027-03-10T07:00:00Z"))),
            "skips what passed"
        );
        // One due earlier the same day still goes out.
        assert_eq!(
            start(&s, edd, t("2027-03-03T12:00:00Z")),
            Some((1, t("2027-03-03T12:00:00Z")))
        );
        s.on_subscribe = OnSubscribe::CatchUp;
        assert_eq!(
            start(&s, edd, now),
            Some((1, now)),
            "sends the latest that passed, now"
        );
        let late = t("2027-03-20T08:00:00Z");
        s.on_subscribe = OnSubscribe::Skip;
        assert_eq!(start(&s, edd, late), None, "every message passed");
    }

    #[test]
    fn due_subscriptions_send_once_then_wait_for_the_next() {
        let s = set(WEEKLY);
        let edd = NaiveDate::from_ymd_opt(2027, 3, 17);
        assert_eq!(
            next(&s, 0, edd, t("2027-02-24T06:59:00Z")),
            Some(Next::Wait(t("2027-02-24T07:00:00Z")))
        );
        assert_eq!(
            next(&s, 0, edd, t("2027-02-24T07:00:00Z")),
            Some(Next::Send {
                send: 0,
                then: Some((1, t("2027-03-03T07:00:00Z")))
            })
        );
        // Down for two weeks: `latest` sends the newest due one only.
        assert_eq!(
            next(&s, 0, edd, t("2027-03-10T08:00:00Z")),
            Some(Next::Send { send: 2, then: None })
        );
        // Outside the window (a Saturday): wait for Monday 09:00 SAST.
        assert_eq!(
            next(&s, 0, edd, t("2027-03-13T08:00:00Z")),
            Some(Next::Wait(t("2027-03-15T07:00:00Z")))
        );
        assert_eq!(next(&s, 3, edd, t("2027-04-01T08:00:00Z")), Some(Next::Done));
    }
}
