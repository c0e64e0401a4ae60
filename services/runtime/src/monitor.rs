//! Channel health as the connectors see it: a status (`ok`, `degraded` or `down`, with the
//! reasons) and a short log of recent protocol traffic (PDUs, HTTP requests) per channel.
//!
//! Connectors report to their process's [`Monitor`]. Its [`Monitor::run`] task writes each
//! channel's [`Report`] to the session store (`monitor:<channel>`; Redis in a split
//! deployment) within a second of a change, and every [`REFRESH`] otherwise, with a TTL of
//! [`TTL`]: the API of any process reads it with [`read`], and a channel whose connector
//! stopped reporting (its process died) reads as `down`.
//!
//! Log lines are summaries written by the connectors: MSISDNs masked, message text left out.
//! The gauge `seedgate_channel_health{channel}` is 2 (ok), 1 (degraded) or 0 (down), one per
//! channel whose connector runs in this process ([`Monitor::prometheus`], rendered with the
//! other metrics): a channel deleted or moved leaves no gauge behind for an alert to fire on.
//! A channel reports `starting` until its connector says how it is (no gauge meanwhile).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::session_store::{SessionStore, SessionStoreError};

/// Lines kept per channel.
pub const LOG_LINES: usize = 100;
/// How often an unchanged report is written again.
pub const REFRESH: Duration = Duration::from_secs(10);
/// A report not written again within this long is gone: its channel reads as `down`.
pub const TTL: Duration = Duration::from_secs(30);
const FLUSH: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Degraded,
    Down,
    /// Made, changed or restarted moments ago: its connector has not reported yet.
    Starting,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Starting => "starting",
        }
    }

    /// The gauge's value; none while starting.
    fn gauge(self) -> Option<u8> {
        match self {
            Self::Ok => Some(2),
            Self::Degraded => Some(1),
            Self::Down => Some(0),
            Self::Starting => None,
        }
    }
}

/// The health gauge's name.
const HEALTH_GAUGE: &str = "seedgate_channel_health";

/// The reason a channel gives while it is [`Health::Starting`].
pub const STARTING: &str = "starting: its connector has not reported yet";

/// One line of a channel's traffic log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    /// `in` (from the carrier or aggregator) or `out` (to it).
    pub direction: String,
    pub summary: String,
}

/// A channel's status and recent traffic, as written by the process running its connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub channel: String,
    pub status: Health,
    pub reasons: Vec<String>,
    /// When the status last changed.
    pub since: DateTime<Utc>,
    /// Names this status change: a status webhook carries it, and is sent once per change.
    pub change_id: Uuid,
    pub log: VecDeque<LogLine>,
}

#[derive(Debug)]
struct Entry {
    report: Report,
    dirty: bool,
}

/// This process's view of the channels it runs connectors for.
#[derive(Debug, Default)]
pub struct Monitor {
    entries: Mutex<HashMap<String, Entry>>,
    /// Channels stopped here: their reports are removed from the session store.
    gone: Mutex<Vec<String>>,
    /// The logs of channels stopped here, for when they start again (a restart keeps them).
    kept_logs: Mutex<HashMap<String, VecDeque<LogLine>>>,
    changed: Notify,
}

fn key(channel: &str) -> String {
    format!("monitor:{channel}")
}

impl Monitor {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn with<R>(&self, channel: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The common case (a log line of a running channel) allocates no key.
        if !entries.contains_key(channel) {
            let entry = Entry {
                report: Report {
                    channel: channel.to_string(),
                    status: Health::Starting,
                    reasons: vec![STARTING.into()],
                    since: Utc::now(),
                    change_id: Uuid::now_v7(),
                    log: self
                        .kept_logs
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(channel)
                        .unwrap_or_default(),
                },
                dirty: true,
            };
            entries.insert(channel.to_string(), entry);
        }
        let Some(entry) = entries.get_mut(channel) else {
            unreachable!("inserted above")
        };
        let out = f(entry);
        entry.dirty = true;
        out
    }

    /// Sets a channel's status; a new status or new reasons make a new change.
    pub fn status(&self, channel: &str, status: Health, reasons: Vec<String>) {
        let changed = self.with(channel, |e| {
            let r = &mut e.report;
            if r.status == status && r.reasons == reasons {
                return false;
            }
            if r.status != status {
                tracing::info!(channel, status = status.as_str(), reasons = ?reasons, was = r.status.as_str(), "channel status changed");
            }
            r.status = status;
            r.reasons = reasons;
            r.since = Utc::now();
            r.change_id = Uuid::now_v7();
            true
        });
        if changed {
            self.changed.notify_one();
        }
    }

    /// Adds a line to a channel's traffic log (the oldest goes beyond [`LOG_LINES`]).
    pub fn log(&self, channel: &str, direction: &str, summary: impl Into<String>) {
        self.with(channel, |e| {
            let log = &mut e.report.log;
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(LogLine {
                at: Utc::now(),
                direction: direction.to_string(),
                summary: summary.into(),
            });
        });
    }

    /// The channel's connector stopped in this process (restarted, deleted, or moved
    /// elsewhere): its report goes; its log is kept for a restart.
    pub fn forget(&self, channel: &str) {
        let gone = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(channel);
        if let Some(e) = gone {
            self.kept_logs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(channel.to_string(), e.report.log);
        }
        self.gone
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(channel.to_string());
        self.changed.notify_one();
    }

    /// `seedgate_channel_health` for the channels whose connectors run here, in Prometheus's
    /// text format (appended to the other metrics at `/metrics`).
    pub fn prometheus(&self) -> String {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut lines: Vec<String> = entries
            .values()
            .filter_map(|e| {
                let v = e.report.status.gauge()?;
                let name = e.report.channel.replace('\\', "\\\\").replace('"', "\\\"");
                Some(format!("{HEALTH_GAUGE}{{channel=\"{name}\"}} {v}\n"))
            })
            .collect();
        if lines.is_empty() {
            return String::new();
        }
        lines.sort();
        format!(
            "# HELP {HEALTH_GAUGE} A channel's status: 2 ok, 1 degraded, 0 down.\n# TYPE {HEALTH_GAUGE} gauge\n{}",
            lines.concat()
        )
    }

    /// This process's report of `channel`.
    pub fn local(&self, channel: &str) -> Option<Report> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(channel)
            .map(|e| e.report.clone())
    }

    /// Reports to write now: the changed ones, or all of them when `all`.
    fn due(&self, all: bool) -> (Vec<Report>, Vec<String>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reports = entries
            .values_mut()
            .filter(|e| all || e.dirty)
            .map(|e| {
                e.dirty = false;
                e.report.clone()
            })
            .collect();
        let gone = std::mem::take(
            &mut *self
                .gone
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        (reports, gone)
    }

    /// Writes reports to `sessions` until `shutdown`: changes within a second, everything
    /// every [`REFRESH`].
    pub async fn run(self: Arc<Self>, sessions: Arc<dyn SessionStore>, shutdown: CancellationToken) {
        let mut last_all = tokio::time::Instant::now();
        let mut warned = false;
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep(FLUSH) => {}
                () = shutdown.cancelled() => return,
            }
            let all = last_all.elapsed() >= REFRESH;
            if all {
                last_all = tokio::time::Instant::now();
            }
            let (reports, gone) = self.due(all);
            let written = write(sessions.as_ref(), &reports, &gone).await;
            match written {
                Ok(()) => warned = false,
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "cannot write channel status; retrying");
                        warned = true;
                    }
                    // Write everything again next time.
                    last_all = tokio::time::Instant::now() - REFRESH;
                }
            }
            // Pace writes of busy channels to one per FLUSH.
            tokio::select! {
                () = tokio::time::sleep(FLUSH) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

async fn write(
    sessions: &dyn SessionStore,
    reports: &[Report],
    gone: &[String],
) -> Result<(), SessionStoreError> {
    for r in reports {
        let value = serde_json::to_vec(r).unwrap_or_default();
        sessions.put(&key(&r.channel), &value, TTL).await?;
    }
    for channel in gone {
        sessions.remove(&key(channel)).await?;
    }
    Ok(())
}

/// The latest report of `channel` from whichever process runs its connector; `None` when no
/// process has reported it within [`TTL`].
pub async fn read(sessions: &dyn SessionStore, channel: &str) -> Result<Option<Report>, SessionStoreError> {
    Ok(sessions
        .get(&key(channel))
        .await?
        .and_then(|s| serde_json::from_slice(&s.value).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_store::memory::MemorySessionStore;

    #[test]
    fn the_log_keeps_the_last_lines_and_survives_a_restart() {
        let m = Monitor::new();
        for i in 0..150 {
            m.log("sms", "out", format!("submit {i}"));
        }
        let r = m.local("sms").unwrap();
        assert_eq!(r.log.len(), LOG_LINES);
        assert_eq!(r.log.front().unwrap().summary, "submit 50");
        m.forget("sms");
        assert!(m.local("sms").is_none());
        m.status("sms", Health::Ok, vec!["up".into()]);
        let r = m.local("sms").unwrap();
        assert_eq!(
            (r.status, r.log.len()),
            (Health::Ok, LOG_LINES),
            "a restart keeps the log"
        );
    }

    #[test]
    fn the_health_gauge_is_one_per_running_channel_and_none_while_starting_or_after_it_stops() {
        let m = Monitor::new();
        assert_eq!(m.prometheus(), "", "no channel, no gauge");
        m.log("mtn-sms", "out", "bind_transceiver");
        assert_eq!(m.local("mtn-sms").unwrap().status, Health::Starting);
        assert_eq!(m.local("mtn-sms").unwrap().reasons, [STARTING]);
        assert_eq!(m.prometheus(), "", "starting: no gauge yet");
        m.status("mtn-sms", Health::Degraded, vec!["1 of 2 binds up".into()]);
        m.status("at-ussd", Health::Ok, vec![]);
        m.status("old-sms", Health::Down, vec!["0 of 1 binds up".into()]);
        let text = m.prometheus();
        assert!(text.starts_with("# HELP seedgate_channel_health"), "{text}");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "seedgate_channel_health{channel=\"at-ussd\"} 2",
                "seedgate_channel_health{channel=\"mtn-sms\"} 1",
                "seedgate_channel_health{channel=\"old-sms\"} 0",
            ]
        );
        m.forget("old-sms");
        assert!(
            !m.prometheus().contains("old-sms"),
            "a channel stopped here leaves no gauge"
        );
    }

    #[test]
    fn a_change_of_status_or_reasons_is_a_new_change() {
        let m = Monitor::new();
        m.status("c", Health::Ok, vec!["1 of 1 binds up".into()]);
        let first = m.local("c").unwrap().change_id;
        m.status("c", Health::Ok, vec!["1 of 1 binds up".into()]);
        assert_eq!(
            m.local("c").unwrap().change_id,
            first,
            "the same status is no change"
        );
        m.status("c", Health::Down, vec!["0 of 1 binds up".into()]);
        assert_ne!(m.local("c").unwrap().change_id, first);
    }

    #[tokio::test(start_paused = true)]
    async fn reports_reach_the_session_store_and_expire_when_nobody_writes_them() {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
        let m = Monitor::new();
        let stop = CancellationToken::new();
        let task = tokio::spawn(m.clone().run(store.clone(), stop.clone()));
        m.status("c", Health::Degraded, vec!["1 of 2 binds up".into()]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let r = read(store.as_ref(), "c").await.unwrap().unwrap();
        assert_eq!(
            (r.status, r.reasons.as_slice()),
            (Health::Degraded, ["1 of 2 binds up".to_string()].as_slice())
        );
        // Refreshed while the process runs…
        tokio::time::sleep(TTL * 2).await;
        assert!(read(store.as_ref(), "c").await.unwrap().is_some());
        // …gone a TTL after it stops.
        stop.cancel();
        task.await.unwrap();
        tokio::time::sleep(TTL + Duration::from_secs(1)).await;
        assert!(read(store.as_ref(), "c").await.unwrap().is_none());
    }
}
