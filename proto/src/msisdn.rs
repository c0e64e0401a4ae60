//! Phone numbers in one form, so `27820000001`, `+27 82 000 0001` and `0027820000001` are the
//! same person everywhere (contacts, subscriptions, conversations).

/// The E.164 form of an MSISDN: `+` and digits (spaces, dashes, dots, brackets and a `00`
/// prefix taken out). Whether it is a plausible number is [`is_msisdn`]'s business.
pub fn normalise(msisdn: &str) -> String {
    let digits: String = msisdn
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = digits
        .strip_prefix('+')
        .or_else(|| digits.strip_prefix("00"))
        .unwrap_or(&digits);
    format!("+{digits}")
}

/// The form an address is stored and searched in, whatever direction it came from: an
/// international number in E.164 (`27820000001`, `0027820000001`, `+27 82 000 0001` →
/// `+27820000001`), anything else as it came: a short code (`31000`), a service code, an
/// alphanumeric sender, or a national number (`0821234567`, which needs a country to be read).
pub fn canonical(addr: &str) -> String {
    let t = addr.trim();
    let e164 = normalise(t);
    let digits = &e164[1..];
    let international = t.starts_with('+') || t.starts_with("00") || !t.starts_with('0');
    if international && (10..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        e164
    } else {
        t.to_string()
    }
}

/// [`canonical`] of an owned address, handing it back untouched (no new allocation) when it
/// is already in its stored form: every message from a connector goes through this.
pub fn into_canonical(addr: String) -> String {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let already = addr.strip_prefix('+').is_some_and(digits)
        || (!addr.is_empty()
            && !digits(&addr)
            && !addr.starts_with('0')
            && addr.trim().len() == addr.len()
            && !addr
                .bytes()
                .any(|b| matches!(b, b' ' | b'-' | b'(' | b')' | b'.')));
    if already {
        addr
    } else {
        canonical(&addr)
    }
}

/// `+` (optional) and 5 to 15 digits.
pub fn is_msisdn(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdns_are_kept_in_one_form() {
        for raw in ["+27820000001", "27820000001", "0027820000001", "+27 82 000-0001"] {
            assert_eq!(normalise(raw), "+27820000001", "{raw}");
            assert!(is_msisdn(&normalise(raw)));
        }
        assert!(!is_msisdn("0800 CALL ME"));
    }

    #[test]
    fn an_international_number_has_one_stored_form_and_anything_else_is_kept() {
        for raw in [
            "+27820000001",
            "27820000001",
            "0027820000001",
            "+27 82 000-0001",
            " 27820000001 ",
        ] {
            assert_eq!(canonical(raw), "+27820000001", "{raw}");
        }
        for kept in [
            "31000",
            "*134*550#",
            "MomConnect",
            "0821234567",
            "",
            "+2782x000001",
            "2782000000112345",
        ] {
            assert_eq!(canonical(kept), kept.trim(), "{kept}");
        }
    }
}
