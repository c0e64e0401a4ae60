//! What the engine keeps per live session, and the billing record it derives from it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, SessionEndReason, SessionRecord};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The live state of one session, stored (as JSON) under `session:<id>` with the budget as TTL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub id: String,
    pub channel: String,
    pub msisdn: String,
    /// Wall-clock start, for the record only; durations come from the TTL.
    pub started_at: DateTime<Utc>,
    pub hops: u32,
    #[serde(default)]
    pub flow: Option<String>,
    /// The last inbound message counted as a hop, so a redelivery is not counted twice.
    #[serde(default)]
    pub last_inbound: Option<Uuid>,
    /// Pages of a long screen not shown yet (the user asks for them with the "more" key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_pages: Vec<String>,
    /// Whether the screen being paged ends the session after its last page.
    #[serde(default)]
    pub pending_close: bool,
    /// Monotonic time from the start to the session's last activity (a hop counted, a reply
    /// shown), in ms: what a session that ends without a request used.
    #[serde(default)]
    pub active_ms: u64,
}

impl SessionState {
    /// The state of a session that `msg` (the dial) starts at wall-clock time `now`.
    pub fn start(id: &str, msg: &Message, now: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            channel: msg.channel.clone(),
            msisdn: msg.msisdn().to_string(),
            started_at: now,
            hops: 1,
            flow: None,
            last_inbound: Some(msg.id),
            pending_pages: Vec::new(),
            pending_close: false,
            active_ms: 0,
        }
    }

    /// Notes activity `elapsed` into the session (never moving back).
    pub fn active(&mut self, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.active_ms = self.active_ms.max(ms);
    }

    /// Monotonic time from the start to the last activity.
    pub fn last_active(&self) -> Duration {
        Duration::from_millis(self.active_ms)
    }

    /// The billing record after `elapsed` of the session (measured on the monotonic clock),
    /// ended at wall-clock time `now` if `end` is given.
    pub fn record(
        &self,
        elapsed: Duration,
        end: Option<SessionEndReason>,
        now: DateTime<Utc>,
    ) -> SessionRecord {
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        SessionRecord {
            id: self.id.clone(),
            channel: self.channel.clone(),
            msisdn: self.msisdn.clone(),
            flow: self.flow.clone(),
            started_at: self.started_at,
            ended_at: end.map(|_| now),
            hops: self.hops,
            duration_ms,
            slices: SessionRecord::slices_for(duration_ms),
            end_reason: end,
            carrier: None,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}
