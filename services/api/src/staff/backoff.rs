//! Backoff after repeated wrong passwords, per email and per client address, in fixed-capacity
//! maps: a flood of wrong passwords for a million emails costs no more memory than a few.
//!
//! After `threshold` failures in a row, each further attempt must wait `base · 2^(n − threshold)`
//! (at most `max`) after the last failure; an attempt inside the wait is answered 429 without
//! checking the password, and does not count. A success clears the email's count; an hour
//! without failures forgets a key. When a map is full, the key seen first goes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// When waiting starts and how long it grows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub threshold: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Limits {
    /// Per email: 5 wrong passwords, then 2 s, 4 s, … up to 15 min.
    pub const EMAIL: Limits = Limits {
        threshold: 5,
        base: Duration::from_secs(2),
        max: Duration::from_secs(15 * 60),
    };
    /// Per client address: more room, since colleagues may share one (an office's NAT).
    pub const ADDRESS: Limits = Limits {
        threshold: 20,
        ..Limits::EMAIL
    };

    /// The wait after `failures` failures in a row.
    pub fn wait(&self, failures: u32) -> Duration {
        if failures < self.threshold {
            return Duration::ZERO;
        }
        let doublings = (failures - self.threshold).min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

/// A key forgets its failures after this long without one.
const FORGET: Duration = Duration::from_secs(3600);

/// How many emails (and, separately, addresses) are remembered.
pub const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Failure counts by key, at most `cap` of them; the first-seen key is evicted first.
#[derive(Debug)]
pub struct Bounded {
    limits: Limits,
    cap: usize,
    map: HashMap<String, Entry>,
    /// Keys in the order they were added; always the map's keys.
    order: VecDeque<String>,
}

impl Bounded {
    pub fn new(limits: Limits, cap: usize) -> Self {
        Self {
            limits,
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How long `key` must still wait at `now`, if it must.
    pub fn blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        let e = self.map.get(key)?;
        let until = e.last + self.limits.wait(e.failures);
        (until > now).then(|| until - now)
    }

    /// Counts a failure of `key` at `now`.
    pub fn fail(&mut self, key: &str, now: Instant) {
        if let Some(e) = self.map.get_mut(key) {
            if now.saturating_duration_since(e.last) >= FORGET {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last = now;
            return;
        }
        while self.map.len() >= self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.map.insert(
            key.to_owned(),
            Entry {
                failures: 1,
                last: now,
            },
        );
        self.order.push_back(key.to_owned());
    }

    /// Clears `key`'s failures (it stays in the map until evicted, so the order stays exact).
    pub fn succeed(&mut self, key: &str) {
        if let Some(e) = self.map.get_mut(key) {
            e.failures = 0;
        }
    }
}

/// The sign-in backoff: one map per email, one per client address.
#[derive(Debug)]
pub struct Backoff {
    emails: Mutex<Bounded>,
    addresses: Mutex<Bounded>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

fn lock(m: &Mutex<Bounded>) -> std::sync::MutexGuard<'_, Bounded> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Backoff {
    pub fn new(cap: usize) -> Self {
        Self {
            emails: Mutex::new(Bounded::new(Limits::EMAIL, cap)),
            addresses: Mutex::new(Bounded::new(Limits::ADDRESS, cap)),
        }
    }

    /// How long a sign-in as `email` from `address` must still wait, if it must.
    pub fn blocked(&self, email: &str, address: Option<&str>, now: Instant) -> Option<Duration> {
        let by_email = lock(&self.emails).blocked(email, now);
        let by_address = address.and_then(|a| lock(&self.addresses).blocked(a, now));
        by_email.max(by_address)
    }

    pub fn fail(&self, email: &str, address: Option<&str>, now: Instant) {
        lock(&self.emails).fail(email, now);
        if let Some(a) = address {
            lock(&self.addresses).fail(a, now);
        }
    }

    /// A right password: the email starts afresh (the address keeps its count, so one good
    /// account does not reset a guesser's).
    pub fn succeed(&self, email: &str) {
        lock(&self.emails).succeed(email);
    }

    /// How many emails and addresses are remembered.
    pub fn sizes(&self) -> (usize, usize) {
        (lock(&self.emails).len(), lock(&self.addresses).len())
    }
}

/// Whole seconds to tell the user, rounded up.
pub fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_starts_after_five_failures_and_doubles_up_to_fifteen_minutes() {
        let l = Limits::EMAIL;
        assert_eq!(l.wait(4), Duration::ZERO);
        assert_eq!(l.wait(5), Duration::from_secs(2));
        assert_eq!(l.wait(6), Duration::from_secs(4));
        assert_eq!(l.wait(10), Duration::from_secs(64));
        assert_eq!(l.wait(14), Duration::from_secs(900));
        assert_eq!(l.wait(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn an_email_is_blocked_after_repeated_failures_until_its_wait_passes() {
        let b = Backoff::default();
        let t = Instant::now();
        for _ in 0..4 {
            b.fail("a@x.org", Some("10.0.0.1"), t);
        }
        assert_eq!(b.blocked("a@x.org", Some("10.0.0.1"), t), None);
        b.fail("a@x.org", Some("10.0.0.1"), t);
        assert_eq!(b.blocked("a@x.org", None, t), Some(Duration::from_secs(2)));
        assert_eq!(
            b.blocked("b@x.org", Some("10.0.0.1"), t),
            None,
            "the address has room"
        );
        assert_eq!(b.blocked("a@x.org", None, t + Duration::from_secs(2)), None);
        b.fail("a@x.org", None, t + Duration::from_secs(2));
        assert_eq!(
            b.blocked("a@x.org", None, t + Duration::from_secs(3)),
            Some(Duration::from_secs(3))
        );
        b.succeed("a@x.org");
        assert_eq!(b.blocked("a@x.org", None, t + Duration::from_secs(3)), None);
    }

    #[test]
    fn an_address_guessing_many_emails_is_blocked() {
        let b = Backoff::default();
        let t = Instant::now();
        for i in 0..20 {
            b.fail(&format!("user{i}@x.org"), Some("10.0.0.9"), t);
        }
        assert_eq!(
            b.blocked("new@x.org", Some("10.0.0.9"), t),
            Some(Duration::from_secs(2))
        );
        assert_eq!(b.blocked("new@x.org", Some("10.0.0.10"), t), None);
    }

    #[test]
    fn failures_are_forgotten_after_an_hour_of_quiet() {
        let mut m = Bounded::new(Limits::EMAIL, 10);
        let t = Instant::now();
        for _ in 0..5 {
            m.fail("a", t);
        }
        m.fail("a", t + FORGET);
        assert_eq!(
            m.blocked("a", t + FORGET),
            None,
            "one failure after the quiet hour"
        );
    }

    #[test]
    fn a_flood_of_a_million_emails_keeps_the_map_at_its_cap() {
        let b = Backoff::default();
        let t = Instant::now();
        for _ in 0..5 {
            b.fail("victim@x.org", None, t);
        }
        for i in 0..1_000_000u32 {
            b.fail(
                &format!("flood{i}@x.org"),
                Some(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)),
                t,
            );
            if i % 100_000 == 0 {
                assert!(b.sizes().0 <= CAPACITY && b.sizes().1 <= CAPACITY);
            }
        }
        assert_eq!(b.sizes(), (CAPACITY, CAPACITY));
        let m = lock(&b.emails);
        assert_eq!(m.order.len(), CAPACITY, "the order holds exactly the map's keys");
        assert!(m.blocked("victim@x.org", t).is_none(), "the oldest went first");
        assert!(m.map.contains_key("flood999999@x.org"));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(secs(Duration::from_millis(1500)), 2);
        assert_eq!(secs(Duration::from_secs(2)), 2);
    }
}
