//! The audit trail: who changed what through the API, the console or the CLI, when, and from
//! where. Rows are only ever added (retention leaves them alone). An entry names what it
//! changed (a channel, a token id, a user's email) and never holds a phone number.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Audit: Send + Sync {
    async fn audit_append(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Entries newest first, filtered by `q`.
    async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
}

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// A UUIDv7: entries sort by it in time order.
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// A staff user's email, `token:<name>`, or `cli:<user>`.
    pub actor: String,
    /// What was done, as `<thing>.<verb>`: `token.revoke`, `channel.create`, …
    pub action: String,
    /// What it was done to: a channel's name, a token's id, a user's email.
    pub target: String,
    /// More about it (the fields changed, a token's name and scopes), as JSON.
    pub detail: serde_json::Value,
    /// Where the change came from: the client's IP address, or `cli`.
    pub source: String,
}

impl AuditEntry {
    /// An entry made now.
    pub fn now(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        detail: serde_json::Value,
        source: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            at: Utc::now(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail,
            source: source.into(),
        }
    }
}

/// A page of the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries older than this one (the previous page's last id).
    pub before: Option<Uuid>,
    /// Only this action (`token.revoke`), or this kind of thing when it ends in `.` (`token.`).
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    pub limit: u32,
}
