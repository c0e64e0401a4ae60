//! `SessionRecord`: the durable, billable account of one USSD session.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Carriers bill USSD by started 20-second slice.
pub const SLICE_SECS: u64 = 20;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionEndReason {
    /// The flow reached an end screen.
    Completed,
    /// The user or the network closed the session.
    UserAbort,
    /// The session used up its total budget (180 s by default).
    BudgetExhausted,
    /// A hop was not answered in time; the user got the channel's fallback text.
    HopDeadline,
    /// The session was found expired (no activity until its budget ran out).
    Expired,
    /// The network timed the session out (the gateway said so).
    NetworkTimeout,
    /// The gateway ended the session on an error of its own.
    GatewayError,
    /// Nobody asked again: the session went quiet until its budget ran out without a final
    /// request, or its state was lost (a session store restarted empty). Its duration runs to
    /// its last activity, not to the budget.
    Abandoned,
}

impl SessionEndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::UserAbort => "user_abort",
            Self::BudgetExhausted => "budget_exhausted",
            Self::HopDeadline => "hop_deadline",
            Self::Expired => "expired",
            Self::NetworkTimeout => "network_timeout",
            Self::GatewayError => "gateway_error",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Completed,
            Self::UserAbort,
            Self::BudgetExhausted,
            Self::HopDeadline,
            Self::Expired,
            Self::NetworkTimeout,
            Self::GatewayError,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One USSD session as recorded for billing and reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRecord {
    pub id: String,
    pub channel: String,
    pub msisdn: String,
    /// The flow that served the session, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Wall-clock start, for display and reporting only.
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Inbound screens answered so far (the first dial counts as one hop).
    pub hops: u32,
    /// Session length measured on a monotonic clock (or a Redis TTL), never by wall-clock
    /// differences.
    pub duration_ms: u64,
    /// Billed 20 s slices: `ceil(duration / 20 s)`, at least 1.
    pub slices: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<SessionEndReason>,
    /// The gateway's own account of the session, where it sends one after the end (Africa's
    /// Talking's end-of-session notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<CarrierReport>,
}

/// What a gateway reports about a session after it ended; carried on the `Close` message as
/// `metadata.carrier` and kept with the session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CarrierReport {
    /// The gateway's status word (`Success`, `Incomplete`, `Failed`, …).
    pub status: String,
    /// The charge as the gateway writes it (e.g. `KES 0.4000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// The session's length as the gateway measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SessionRecord {
    /// Billed slices for a session of `duration_ms`: every started slice counts, minimum one.
    pub fn slices_for(duration_ms: u64) -> u32 {
        let slice_ms = SLICE_SECS * 1000;
        u32::try_from(duration_ms.div_ceil(slice_ms).max(1)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_count_every_started_slice() {
        for (ms, slices) in [
            (0, 1),
            (1, 1),
            (20_000, 1),
            (20_001, 2),
            (179_999, 9),
            (180_000, 9),
        ] {
            assert_eq!(SessionRecord::slices_for(ms), slices, "{ms} ms");
        }
    }

    #[test]
    fn end_reasons_round_trip_through_their_names() {
        for r in [
            SessionEndReason::Completed,
            SessionEndReason::UserAbort,
            SessionEndReason::BudgetExhausted,
            SessionEndReason::HopDeadline,
            SessionEndReason::Expired,
            SessionEndReason::NetworkTimeout,
            SessionEndReason::GatewayError,
            SessionEndReason::Abandoned,
        ] {
            assert_eq!(SessionEndReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(SessionEndReason::parse("nope"), None);
    }
}
