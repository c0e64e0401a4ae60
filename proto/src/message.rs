//! `Message`: one SMS or one USSD screen, inbound (from a phone) or outbound (to a phone).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SessionEndReason;

/// How the message travels between the carrier and the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportType {
    Sms,
    Ussd,
}

/// Inbound: from a phone towards seedgate; outbound: from seedgate towards a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Where a message stands in its USSD session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionEvent {
    /// The first message of a session (the user dialled).
    New,
    /// Any later message of the session.
    Resume,
    /// The session ends with this message (user abort, timeout, or a final screen).
    Close,
}

/// Which lane an outbound message takes to its connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Interactive traffic (USSD replies, API sends): `<channel>.outbound`.
    #[default]
    Normal,
    /// Campaign messages: `<channel>.bulk`, taken at most one at a time beside the interactive
    /// traffic so a campaign never fills the connector's window.
    Bulk,
}

impl Priority {
    pub fn is_normal(&self) -> bool {
        *self == Self::Normal
    }
}

/// The session a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// Session id, stable for the whole dialog (the gateway's id, namespaced by channel).
    pub id: String,
    pub event: SessionEvent,
}

/// One message. Ids are UUIDv7, so they sort by creation time.
///
/// Decoding also accepts what processes before the typed `close_reason` and `priority` fields
/// wrote: `metadata.reason` on a `close` message and `metadata.priority = "bulk"` fill those
/// fields when they are absent (see [`Message::lift_legacy_metadata`]). New messages carry only
/// the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
pub struct Message {
    pub id: Uuid,
    /// Wire contract version (`PROTO_VERSION`).
    #[serde(default = "default_version")]
    pub version: u32,
    /// The configured connector instance, e.g. `demo-at`.
    pub channel: String,
    pub transport: TransportType,
    pub direction: Direction,
    /// Sender address: an MSISDN for inbound, a service code or short code for outbound.
    pub from: String,
    /// Recipient address.
    pub to: String,
    /// Text as the user sees or typed it; empty for a USSD session start.
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
    /// Why the session ended, on a `close` message from a connector (absent: the user or the
    /// network closed it, `user_abort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<SessionEndReason>,
    /// The lane an outbound message takes (absent: `normal`).
    #[serde(default, skip_serializing_if = "Priority::is_normal")]
    pub priority: Priority,
    /// The inbound message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Connector- or flow-specific details (network code, service code, flow name, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

fn default_version() -> u32 {
    crate::PROTO_VERSION
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut msg = Message::deserialize(d)?;
        msg.lift_legacy_metadata();
        Ok(msg)
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Message::serialize(self, s)
    }
}

impl Message {
    /// A new inbound message from `from` on `channel`.
    pub fn inbound(
        channel: impl Into<String>,
        transport: TransportType,
        from: impl Into<String>,
        to: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            version: crate::PROTO_VERSION,
            channel: channel.into(),
            transport,
            direction: Direction::Inbound,
            // One stored form for a person's number, from every connector and the API.
            from: crate::msisdn::into_canonical(from.into()),
            to: crate::msisdn::into_canonical(to.into()),
            content: content.into(),
            session: None,
            close_reason: None,
            priority: Priority::Normal,
            in_reply_to: None,
            created_at: Utc::now(),
            metadata: BTreeMap::new(),
        }
    }

    /// The reply to this message: addresses swapped, same channel and session.
    pub fn reply(&self, content: impl Into<String>, session_event: SessionEvent) -> Self {
        Self {
            id: Uuid::now_v7(),
            version: crate::PROTO_VERSION,
            channel: self.channel.clone(),
            transport: self.transport,
            direction: match self.direction {
                Direction::Inbound => Direction::Outbound,
                Direction::Outbound => Direction::Inbound,
            },
            from: self.to.clone(),
            to: self.from.clone(),
            content: content.into(),
            session: self.session.as_ref().map(|s| SessionInfo {
                id: s.id.clone(),
                event: session_event,
            }),
            close_reason: None,
            priority: Priority::Normal,
            in_reply_to: Some(self.id),
            created_at: Utc::now(),
            metadata: BTreeMap::new(),
        }
    }

    /// Reads the meanings older processes wrote as metadata into the typed fields, where those
    /// are absent: a known `metadata.reason` on a `close` message is its `close_reason`, and
    /// `metadata.priority = "bulk"` is `priority: bulk`. The metadata is left as it came, so
    /// an older consumer further on still finds it; an unknown reason, or a `reason` on a
    /// message that is not a close, means nothing. Decoding does this; call it again after
    /// adding metadata from elsewhere (an API request, a sealed store's private part).
    pub fn lift_legacy_metadata(&mut self) {
        if self.close_reason.is_none() && self.session_event() == Some(SessionEvent::Close) {
            self.close_reason = self
                .metadata
                .get("reason")
                .and_then(|v| v.as_str())
                .and_then(SessionEndReason::parse);
        }
        if self.metadata.get("priority").and_then(|v| v.as_str()) == Some("bulk") {
            self.priority = Priority::Bulk;
        }
    }

    /// The session event, if the message belongs to a session.
    /// When the message stops being worth sending (`metadata.expires_at`, RFC 3339): set by
    /// the API's `expires_at` and by an SMPP `validity_period`; a connector that gets the
    /// message later reports it `expired` instead of sending it.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        let text = self.metadata.get("expires_at")?.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Sets [`Message::expires_at`].
    pub fn set_expires_at(&mut self, at: DateTime<Utc>) {
        self.metadata.insert(
            "expires_at".into(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into(),
        );
    }

    pub fn session_event(&self) -> Option<SessionEvent> {
        self.session.as_ref().map(|s| s.event)
    }

    /// The session id, if the message belongs to a session.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// The phone's address: `from` for inbound, `to` for outbound.
    pub fn msisdn(&self) -> &str {
        match self.direction {
            Direction::Inbound => &self.from,
            Direction::Outbound => &self.to,
        }
    }
}
