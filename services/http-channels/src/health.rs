//! An HTTP channel's status from its recent hops: `ok` while hops are answered by the flow,
//! `degraded` when too many of the last [`WINDOW`] got the fallback text, `down` while
//! requests cannot be passed on at all (bus or session store unreachable).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use seedgate_runtime::monitor::{Health, Monitor};

/// Hops looked at.
const WINDOW: usize = 20;
/// Fallbacks among them that make the channel `degraded`.
const DEGRADED_AT: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered,
    Fallback,
    Unavailable(String),
}

#[derive(Debug, Default)]
pub(crate) struct Hops {
    recent: Mutex<HashMap<String, VecDeque<Outcome>>>,
}

impl Hops {
    /// A channel's connector (re)started: nothing is known against it.
    pub fn reset(&self, monitor: &Monitor, channel: &str) {
        self.lock().remove(channel);
        monitor.status(
            channel,
            Health::Ok,
            vec![format!("taking callbacks at /channels/{channel}/callback")],
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Outcome>>> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one request's outcome and sets the channel's status from the window.
    pub fn note(&self, monitor: &Monitor, channel: &str, outcome: Outcome) {
        let (health, reasons) = {
            let mut all = self.lock();
            let recent = all.entry(channel.to_string()).or_default();
            if recent.len() == WINDOW {
                recent.pop_front();
            }
            recent.push_back(outcome);
            judge(channel, recent)
        };
        monitor.status(channel, health, reasons);
    }
}

fn judge(channel: &str, recent: &VecDeque<Outcome>) -> (Health, Vec<String>) {
    if let Some(Outcome::Unavailable(why)) = recent.back() {
        return (Health::Down, vec![format!("requests cannot be passed on: {why}")]);
    }
    let missed = recent.iter().filter(|o| **o != Outcome::Answered).count();
    if missed >= DEGRADED_AT {
        let reason = format!(
            "{missed} of the last {} hops got the fallback text (the flow runner or session engine is slow or down)",
            recent.len()
        );
        return (Health::Degraded, vec![reason]);
    }
    (
        Health::Ok,
        vec![format!("taking callbacks at /channels/{channel}/callback")],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(outcomes: &[Outcome]) -> Health {
        judge("c", &outcomes.iter().cloned().collect()).0
    }

    #[test]
    fn the_status_follows_the_recent_hops() {
        use Outcome::*;
        assert_eq!(status(&vec![Answered; 20]), Health::Ok);
        let mut some = vec![Answered; 16];
        some.extend(vec![Fallback; 4]);
        assert_eq!(status(&some), Health::Ok);
        some.push(Fallback);
        assert_eq!(status(&some), Health::Degraded);
        some.push(Unavailable("bus down".into()));
        assert_eq!(status(&some), Health::Down);
        some.push(Answered);
        assert_eq!(
            status(&some),
            Health::Degraded,
            "a recovery counts, the misses stay in the window"
        );
    }
}
