//! USSD session records (written through [`super::Messages::write_batch`]) and their billing.

use async_trait::async_trait;
use seedgate_proto::SessionRecord;

use super::StoreError;

#[async_trait]
pub trait Sessions: Send + Sync {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Sessions matching `query`, newest first.
    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError>;
    /// Sessions, hops and 20 s slices per UTC day, channel and flow, for sessions started at
    /// or after `since`; ordered by day, channel, flow.
    async fn session_report(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<SessionDay>, StoreError>;
}

/// Billing per day, channel and flow (from [`Sessions::session_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDay {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub channel: String,
    /// Empty when the session never reached a flow.
    pub flow: String,
    pub sessions: u64,
    pub hops: u64,
    pub slices: u64,
}

/// A search over sessions, newest first; `before` is the id-and-start cursor of the last
/// session of the previous page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionQuery {
    pub channel: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// `Some(true)`: only sessions not ended; `Some(false)`: only ended ones.
    pub live: Option<bool>,
    pub before: Option<(chrono::DateTime<chrono::Utc>, String)>,
    pub limit: u32,
}
