//! How a run goes through the bodies that route without asking: `subflow` (a call stack in
//! the run state), `random` (a roll from a seed, pure), `wait` (the timeout mechanism of SMS
//! questions) and `group` (the contact's groups).

use chrono::{DateTime, NaiveDate, Utc};

use super::{Frame, Output, Run, StepError};
use crate::model::{GroupSplit, Random, Subflow, Wait};

/// Subflows a run may be inside at once (the validator refuses deeper nesting and cycles).
pub const MAX_SUBFLOW_DEPTH: usize = 5;

/// The number a `random` node rolls: a hash of the runner's `seed`, the flow and node, the
/// contact, `now` (to the nanosecond) and how many nodes the step has entered. The same
/// inputs always roll the same number (FNV-1a, then the SplitMix64 finaliser: stable across
/// builds and platforms); a branch is `roll % total weight` along the branches.
pub fn roll(seed: u64, flow: &str, node: &str, msisdn: &str, now: DateTime<Utc>, steps: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&seed.to_le_bytes());
    for s in [flow, node, msisdn] {
        eat(s.as_bytes());
        eat(&[0xff]);
    }
    eat(&now.timestamp().to_le_bytes());
    eat(&now.timestamp_subsec_nanos().to_le_bytes());
    eat(&(steps as u64).to_le_bytes());
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A `wait: {until: …}` value: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC) or `YYYY-MM-DD`
/// (midnight UTC).
pub(crate) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

impl<'a> Run<'a> {
    /// Enters a subflow: the caller's place goes on the stack; the node to enter next.
    pub(super) fn call(&mut self, sub: &Subflow) -> Result<&'a str, StepError> {
        if !self.flows.has(&sub.flow) {
            return Err(StepError::UnknownFlow(sub.flow.clone()));
        }
        if self.state.stack.len() >= MAX_SUBFLOW_DEPTH {
            return Err(StepError::SubflowDepth(self.state.flow.clone()));
        }
        self.state.stack.push(Frame {
            flow: std::mem::replace(&mut self.state.flow, sub.flow.clone()),
            then: sub.then.clone(),
        });
        Ok(&self.flow()?.start)
    }

    /// The flow ends with `text`: inside a subflow the run goes back to the caller's `then`
    /// (the text kept to show above the next screen), else the run ends.
    pub(super) fn finish(&mut self, text: Option<String>) -> Result<Output, StepError> {
        let Some(frame) = self.state.stack.pop() else {
            return Ok(self.output(text, true, None));
        };
        if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
            self.state.carry = Some(match self.state.carry.take() {
                Some(before) => format!("{before}\n{t}"),
                None => t,
            });
        }
        self.state.flow = frame.flow;
        self.enter(&frame.then)
    }

    /// The branch a `random` node takes.
    pub(super) fn pick(&mut self, r: &'a Random) -> &'a str {
        let total: u64 = r.branches.iter().map(|b| u64::from(b.weight)).sum();
        let rolled = roll(
            self.seed,
            &self.state.flow,
            &self.state.node,
            &self.state.contact.msisdn,
            self.now,
            self.steps,
        ) % total.max(1);
        let mut upto = 0;
        let branch = r.branches.iter().find(|b| {
            upto += u64::from(b.weight);
            rolled < upto
        });
        let Some(branch) = branch.or(r.branches.first()) else {
            return ""; // the validator refuses a random node without branches
        };
        let category = branch.category.clone().unwrap_or_else(|| branch.goto.clone());
        self.save(&r.result, category.clone(), category);
        &branch.goto
    }

    /// Where a `group` split sends the contact: the first case whose group it is in.
    pub(super) fn split_by_group(&mut self, g: &'a GroupSplit) -> &'a str {
        match g
            .cases
            .iter()
            .find(|c| self.state.contact.groups.contains(&c.group))
        {
            Some(case) => {
                self.save(&g.result, case.group.clone(), case.group.clone());
                &case.goto
            }
            None => {
                self.save(&g.result, "other".into(), "other".into());
                &g.other
            }
        }
    }

    /// Starts a `wait`: whether the run now waits (false when the time is already past or
    /// `until` gives no date: the run goes on at once).
    pub(super) fn sleep(&mut self, w: &Wait) -> Result<bool, StepError> {
        let until = match (&w.duration, &w.until) {
            (Some(d), _) => crate::model::parse_duration(d).map(|d| self.now + d),
            (None, Some(e)) => parse_datetime(&self.value_of(e)),
            (None, None) => None,
        };
        let Some(until) = until.filter(|t| *t > self.now) else {
            return Ok(false);
        };
        self.state.wait_until = Some(until);
        let expire = crate::model::parse_duration(&self.flow()?.expire_after);
        self.state.expires_at = expire.map(|e| until + e);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_are_stable_and_spread() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = roll(7, "f", "n", "+27820000001", now, 3);
        assert_eq!(a, roll(7, "f", "n", "+27820000001", now, 3));
        assert_ne!(a, roll(8, "f", "n", "+27820000001", now, 3));
        let low = (0..1000u64)
            .filter(|s| roll(*s, "f", "n", "+27820000001", now, 3).is_multiple_of(4))
            .count();
        assert!(
            (180..320).contains(&low),
            "a quarter of the rolls, got {low}/1000"
        );
    }

    #[test]
    fn until_takes_dates_and_times() {
        let at = |s: &str| parse_datetime(s).map(|d| d.to_rfc3339());
        assert_eq!(at("2027-03-17"), Some("2027-03-17T00:00:00+00:00".into()));
        assert_eq!(at("2027-03-17 08:30"), Some("2027-03-17T08:30:00+00:00".into()));
        assert_eq!(
            at("2027-03-17T08:30:00+02:00"),
            Some("2027-03-17T06:30:00+00:00".into())
        );
        assert_eq!(at("next week"), None);
    }
}
