//! SMS conversations' state (durable, unlike USSD runs, which live in the SessionStore).

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait FlowRuns: Send + Sync {
    /// An SMS conversation's state (`key`: channel and contact).
    async fn run_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores a conversation's state; `wait_until` is when its question times out.
    async fn run_put(
        &self,
        key: &str,
        body: &str,
        wait_until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), StoreError>;
    async fn run_delete(&self, key: &str) -> Result<(), StoreError>;
    /// Conversations whose question timed out by `now`: (key, state), oldest first.
    async fn runs_due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError>;
}
