//! Campaign subscriptions: a contact's place in a message set, moved on exactly once per
//! message.

use async_trait::async_trait;
use seedgate_proto::Message;
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Stores a new subscription; false if the contact (`key`) already has an active one to
    /// the same set.
    async fn subscribe(&self, sub: &Subscription) -> Result<bool, StoreError>;
    /// Cancels the contact's active subscription to `set`; false if there was none.
    async fn unsubscribe(&self, key: &str, set: &str) -> Result<bool, StoreError>;
    /// A contact's subscriptions, newest first.
    async fn subscriptions_of(&self, key: &str) -> Result<Vec<Subscription>, StoreError>;
    /// Claims up to `limit` active subscriptions due by `now`, not claimed in the last
    /// `lease` (another scheduler may hold them), earliest first.
    async fn subscriptions_due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<Subscription>, StoreError>;
    /// Moves a subscription on, in one transaction with the message it sends (stored with its
    /// outbox row, like an API send): only if it still stands at `expected_index`, so a
    /// message goes out once even when two schedulers race or one restarts mid-way. False
    /// when someone else moved it first (nothing is written).
    async fn subscription_advance(&self, step: &Advance, send: Option<&Message>) -> Result<bool, StoreError>;
    /// Per set and state: how many subscriptions, and how many of the active ones are due
    /// before `behind` (behind schedule).
    async fn subscription_counts(
        &self,
        behind: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<SubscriptionCount>, StoreError>;
}

/// A contact's subscription to a message set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    /// Looks the contact up: the MSISDN (a keyed hash of it, in a sealed store).
    pub key: String,
    pub msisdn: String,
    pub set: String,
    /// The message of the set to send next.
    pub next_index: u32,
    /// When it is due (or when to look again).
    pub next_due: chrono::DateTime<chrono::Utc>,
    /// `active`, `done` or `cancelled`.
    pub state: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// How a subscription moves on (see [`Subscriptions::subscription_advance`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub id: Uuid,
    pub expected_index: u32,
    pub next_index: u32,
    pub next_due: chrono::DateTime<chrono::Utc>,
    pub state: String,
}

/// Subscriptions of one set in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCount {
    pub set: String,
    pub state: String,
    pub count: u64,
    /// Active ones due before the `behind` time asked for.
    pub behind: u64,
}
