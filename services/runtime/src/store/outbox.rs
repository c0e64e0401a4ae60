//! Where an API send becomes durable: the message, its outbox row and its idempotency key in
//! one transaction; the relay claims, publishes and deletes outbox rows.

use async_trait::async_trait;
use seedgate_proto::Message;
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Stores an outbound message accepted through the API with its outbox row (and the
    /// idempotency key, if given) in one transaction: once this returns `New`, the message is
    /// durable and will be handed to its connector.
    async fn accept(&self, msg: &Message, idempotency: Option<&Idempotency>) -> Result<Accepted, StoreError>;
    /// Claims up to `limit` outbox messages not claimed in the last `lease` (another relay may
    /// have died holding them), oldest first.
    async fn outbox_claim(&self, limit: u32, lease: std::time::Duration) -> Result<Vec<Message>, StoreError>;
    /// Ends every outbox lease: for a process whose in-process bus (and everything it had
    /// published) died with its predecessor.
    async fn outbox_release(&self) -> Result<(), StoreError>;
    /// Removes outbox rows whose messages reached the bus.
    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError>;
}

/// A client's `Idempotency-Key`: a retry with the same key (for the same token) within the
/// window gets the first message back instead of sending again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// Whose key it is (the API token's id).
    pub scope: String,
    pub key: String,
    /// A digest of the request, so the same key on a different request is refused.
    pub fingerprint: String,
    /// Keys older than this are forgotten.
    pub window: std::time::Duration,
}

/// What [`Outbox::accept`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored with its outbox row.
    New,
    /// The key was used for this same request: here is the message it made.
    Repeat(Uuid),
    /// The key was used for a different request.
    Conflict(Uuid),
}
