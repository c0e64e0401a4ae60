//! SMPP 3.4 times (§7.1.1): `schedule_delivery_time` and `validity_period`, absolute
//! (`YYMMDDhhmmsstnn+` / `-`, with the offset from UTC in quarter hours) or relative
//! (`YYMMDDhhmmss000R`, an amount of each unit).

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The moment `text` names, seen at `now`; `Ok(None)` for an empty field, `Err` for one that
/// is not an SMPP time.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || format!("`{t}` is not an SMPP time (YYMMDDhhmmsstnnp)");
    if t.len() != 16 || !t.is_ascii() {
        return Err(bad());
    }
    let num = |i: usize, n: usize| t[i..i + n].parse::<i64>().map_err(|_| bad());
    let (yy, mo, dd, hh, mi, ss) = (
        num(0, 2)?,
        num(2, 2)?,
        num(4, 2)?,
        num(6, 2)?,
        num(8, 2)?,
        num(10, 2)?,
    );
    let tenths = num(12, 1)?;
    let nn = num(13, 2)?;
    match &t[15..] {
        "R" => {
            // Months as 30 days and years as 365: carriers read it so too.
            let secs = ((yy * 365 + mo * 30 + dd) * 24 + hh) * 3600 + mi * 60 + ss;
            Ok(Some(now + Duration::seconds(secs)))
        }
        sign @ ("+" | "-") => {
            let date = NaiveDate::from_ymd_opt(2000 + yy as i32, mo as u32, dd as u32).ok_or_else(bad)?;
            let local = date
                .and_hms_milli_opt(hh as u32, mi as u32, ss as u32, tenths as u32 * 100)
                .ok_or_else(bad)?;
            let offset = Duration::minutes(nn * 15);
            let utc = if sign == "+" {
                local - offset
            } else {
                local + offset
            };
            Ok(Some(utc.and_utc()))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_times_parse_and_bad_ones_are_refused() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse(s, now).unwrap().unwrap().to_rfc3339();
        assert_eq!(at("000001020000000R"), "2026-12-04T12:00:00+00:00");
        assert_eq!(at("000000000130000R"), "2026-12-03T10:01:30+00:00");
        // 14:00 at UTC+2 (8 quarter hours) is 12:00 UTC.
        assert_eq!(at("261203140000008+"), "2026-12-03T12:00:00+00:00");
        assert_eq!(at("261203140000508-"), "2026-12-03T16:00:00.500+00:00");
        assert_eq!(parse("", now), Ok(None));
        for bad in [
            "2612031400",
            "261303140000008+",
            "26120314000000Z+",
            "000001020000000X",
        ] {
            assert!(parse(bad, now).is_err(), "{bad}");
        }
    }
}
