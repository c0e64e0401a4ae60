//! Webhook calls to make: queued once per source and URL, claimed with a lease, settled,
//! dead-lettered and replayed.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Queues webhook calls; a job for a source and URL already queued is skipped.
    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError>;
    /// Claims up to `limit` pending jobs due now, not claimed in the last `lease`.
    async fn webhooks_due(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<WebhookJob>, StoreError>;
    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError>;
    /// Dead jobs, newest first.
    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError>;
    /// Puts a dead job back in the queue, due now; false if there is no dead job `id`.
    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError>;
}

/// One webhook call to make (or made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookJob {
    pub id: Uuid,
    pub channel: String,
    /// `inbound`, `event` or `status`.
    pub kind: String,
    /// The message or event it reports; one job per source and URL.
    pub source_id: Uuid,
    pub url: String,
    /// The JSON body to POST.
    pub body: String,
    pub attempts: u32,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub last_error: Option<String>,
}

/// How a webhook attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    Delivered,
    /// Try again at this time.
    Retry {
        at: chrono::DateTime<chrono::Utc>,
        error: String,
    },
    /// Out of attempts: on the dead-letter list until replayed.
    Dead {
        error: String,
    },
}
