//! Browser sessions: the `sg_session` cookie (a random secret of which only the SHA-256 is
//! stored), its flags, sliding idle expiry, and the per-session CSRF token.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use rand::RngCore;
use seedgate_runtime::store::StaffSession;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The cookie's name.
pub const COOKIE_NAME: &str = "sg_session";

/// A session unused for this long has expired (each use moves it on).
pub const IDLE: chrono::Duration = chrono::Duration::hours(8);

/// A session's expiry is written again only when it moved by more than this (one write a
/// minute per active session, not one per request).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// 32 random bytes, hex.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new session of `user_id` at `now`, and its cookie secret (seen only by the browser).
pub fn new_session(user_id: Uuid, now: DateTime<Utc>) -> (String, StaffSession) {
    let secret = random_hex();
    let session = StaffSession {
        hash: crate::auth::hash_token(&secret),
        user_id,
        csrf: random_hex(),
        created_at: now,
        expires_at: now + IDLE,
    };
    (secret, session)
}

/// The expiry to write for a session used at `now`, if it is worth a write.
pub fn slide(session: &StaffSession, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let next = now + IDLE;
    (next - session.expires_at > TOUCH_EVERY).then_some(next)
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty()
        && expected.len() == given.len()
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The `sg_session` secret the request carries, if any.
pub fn secret_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Whether cookies should carry `Secure`.
///
/// seedgate's HTTP port does not serve TLS itself (`http.listen` is plain HTTP), and no
/// setting says a proxy in front of it is trusted, so today both are false and cookies go
/// without `Secure`; a deployment that terminates TLS in a proxy would set
/// `trust_forwarded_proto` (from a config setting still to add) to honour
/// `X-Forwarded-Proto: https`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CookiePolicy {
    /// The port itself serves TLS.
    pub tls: bool,
    /// A proxy in front is trusted to say the request came over TLS.
    pub trust_forwarded_proto: bool,
}

impl CookiePolicy {
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.tls
            || (self.trust_forwarded_proto
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }

    /// The `Set-Cookie` that keeps `secret` in the browser (a browser-session cookie; the
    /// server ends it after 8 idle hours).
    pub fn set(&self, headers: &HeaderMap, secret: &str) -> (axum::http::HeaderName, HeaderValue) {
        self.cookie(headers, secret, "")
    }

    /// The `Set-Cookie` that removes it.
    pub fn clear(&self, headers: &HeaderMap) -> (axum::http::HeaderName, HeaderValue) {
        self.cookie(headers, "", "; Max-Age=0")
    }

    fn cookie(&self, headers: &HeaderMap, value: &str, extra: &str) -> (axum::http::HeaderName, HeaderValue) {
        let secure = if self.secure(headers) { "; Secure" } else { "" };
        let cookie = format!("{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/{secure}{extra}");
        (
            SET_COOKIE,
            HeaderValue::from_str(&cookie).unwrap_or_else(|_| unreachable!("hex and ASCII")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_only_the_hash_of_a_64_hex_secret() {
        let now = Utc::now();
        let (secret, s) = new_session(Uuid::now_v7(), now);
        assert_eq!(secret.len(), 64);
        assert!(secret.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(s.hash, crate::auth::hash_token(&secret));
        assert_ne!(s.hash, secret);
        assert_eq!(s.csrf.len(), 64);
        assert_eq!(s.expires_at - now, IDLE);
    }

    #[test]
    fn expiry_slides_at_most_once_a_minute() {
        let now = Utc::now();
        let (_, s) = new_session(Uuid::now_v7(), now);
        assert_eq!(slide(&s, now + chrono::Duration::seconds(30)), None);
        let later = now + chrono::Duration::minutes(5);
        assert_eq!(slide(&s, later), Some(later + IDLE));
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        let t = random_hex();
        assert!(csrf_matches(&t, &t.clone()));
        assert!(!csrf_matches(&t, &t[..63]));
        assert!(!csrf_matches(&t, ""));
        assert!(!csrf_matches("", ""));
        let mut other = t.clone().into_bytes();
        other[10] = if other[10] == b'a' { b'b' } else { b'a' };
        assert!(!csrf_matches(&t, std::str::from_utf8(&other).unwrap_or_default()));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; sg_session=abc123 ; x=1"),
        );
        assert_eq!(secret_of(&h), Some("abc123"));
        h.insert(COOKIE, HeaderValue::from_static("sg_session="));
        assert_eq!(secret_of(&h), None);
        assert_eq!(secret_of(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_only_over_tls() {
        let mut h = HeaderMap::new();
        let (_, v) = CookiePolicy::default().set(&h, "abc");
        assert_eq!(v, "sg_session=abc; HttpOnly; SameSite=Strict; Path=/");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let (_, v) = CookiePolicy::default().set(&h, "abc");
        assert!(
            !v.to_str().unwrap_or_default().contains("Secure"),
            "an untrusted proxy's word"
        );
        let trusted = CookiePolicy {
            tls: false,
            trust_forwarded_proto: true,
        };
        assert!(trusted
            .set(&h, "abc")
            .1
            .to_str()
            .unwrap_or_default()
            .ends_with("; Secure"));
        let tls = CookiePolicy {
            tls: true,
            trust_forwarded_proto: false,
        };
        assert_eq!(
            tls.clear(&HeaderMap::new()).1,
            "sg_session=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0"
        );
    }
}
