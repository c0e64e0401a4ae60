//! Retention: deleting a channel's old rows, optionally archiving them first in the same
//! transaction.

use async_trait::async_trait;
use seedgate_proto::SessionRecord;

use super::StoreError;

#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes up to `limit` of `channel`'s messages created before `before` (with their
    /// events), except messages still waiting to be sent, and up to `limit` of its ended
    /// sessions started before it. With `archive`, the rows are handed to it first, in the same
    /// transaction: if it fails, nothing is deleted. Call again while a count reaches `limit`.
    async fn purge(
        &self,
        channel: &str,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError>;
}

/// Why an archive could not be written (the rows stay).
pub type ArchiveError = std::io::Error;

/// Receives the rows a purge is about to delete; an error keeps them.
pub type ArchiveSink<'a> = dyn Fn(&Archive) -> Result<(), ArchiveError> + Send + Sync + 'a;

/// Rows a purge removes, as their stored JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Archive {
    pub channel: String,
    pub messages: Vec<serde_json::Value>,
    pub events: Vec<serde_json::Value>,
    pub sessions: Vec<SessionRecord>,
}

impl Archive {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.events.is_empty() && self.sessions.is_empty()
    }
}

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub events: u64,
    pub sessions: u64,
}
