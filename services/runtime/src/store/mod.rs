//! The message store's interface: one trait per concern, and [`Store`], the sum of them that
//! services hold as `Arc<dyn Store>`. Implementations (SQLite, PostgreSQL, and sealed around
//! either) live in `seedgate-store`; all four pass one conformance suite per concern there.
//!
//! | concern | trait | file |
//! |---|---|---|
//! | messages and events (the bus's rows, searches) | [`Messages`] | `messages.rs` |
//! | USSD session records and billing | [`Sessions`] | `sessions.rs` |
//! | API accepts, idempotency keys, the outbox | [`Outbox`] | `outbox.rs` |
//! | webhook jobs | [`Webhooks`] | `webhooks.rs` |
//! | API tokens | [`Tokens`] | `tokens.rs` |
//! | the audit trail of changes | [`Audit`] | `audit.rs` |
//! | contacts | [`Contacts`] | `contacts.rs` |
//! | channel definitions made through the API | [`ChannelDefs`] | `channels.rs` |
//! | campaign subscriptions | [`Subscriptions`] | `subscriptions.rs` |
//! | SMS conversations' state | [`FlowRuns`] | `runs.rs` |
//! | retention (purge, archive) | [`Retention`] | `retention.rs` |
//! | staff accounts and browser sessions | [`Staff`] | `staff.rs` |
//! | flow files: drafts, versions, audit, arrow counters | [`FlowFiles`] | `flowfiles.rs` |
//! | the in-process bus's journal | [`Journal`] | `journal.rs` |
//! | carrier ids and held delivery receipts | [`Receipts`] | `receipts.rs` |
//!
//! Callers bring the concern traits into scope with `use seedgate_runtime::store::prelude::*`.

mod audit;
mod channels;
mod contacts;
mod flowfiles;
mod journal;
mod messages;
mod outbox;
mod receipts;
mod retention;
mod runs;
mod sessions;
mod staff;
mod subscriptions;
mod tokens;
mod webhooks;

use async_trait::async_trait;

pub use audit::{Audit, AuditEntry, AuditQuery};
pub use channels::{ChannelDefs, StoredChannel};
pub use contacts::{Contact, ContactQuery, Contacts};
pub use flowfiles::{FlowAudit, FlowDraft, FlowFileInfo, FlowFiles, FlowStat, FlowVersion, Published, Saved};
pub use journal::{Journal, JournalEntry};
pub use messages::{MessageQuery, MessageStatus, Messages, Record, StoredMessage};
pub use outbox::{Accepted, Idempotency, Outbox};
pub use receipts::{CarrierId, HeldReceipt, Receipts};
pub use retention::{Archive, ArchiveError, ArchiveSink, Purged, Retention};
pub use runs::FlowRuns;
pub use sessions::{SessionDay, SessionQuery, Sessions};
pub use staff::{Staff, StaffSession, StaffUser};
pub use subscriptions::{Advance, Subscription, SubscriptionCount, Subscriptions};
pub use tokens::{ApiToken, Tokens};
pub use webhooks::{WebhookJob, WebhookOutcome, Webhooks};

/// The concern traits, to call a store's methods: `use seedgate_runtime::store::prelude::*`.
pub mod prelude {
    pub use super::{
        Audit as _, ChannelDefs as _, Contacts as _, FlowFiles as _, FlowRuns as _, Journal as _,
        Messages as _, Outbox as _, Receipts as _, Retention as _, Sessions as _, Staff as _, Store as _,
        Subscriptions as _, Tokens as _, Webhooks as _,
    };
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the connection: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error for this data: do not retry as is.
    #[error("store rejected the write: {0}")]
    Rejected(String),
}

/// Every concern of the store, behind one handle.
#[async_trait]
pub trait Store:
    Messages
    + Sessions
    + Outbox
    + Webhooks
    + Tokens
    + Contacts
    + ChannelDefs
    + Subscriptions
    + FlowRuns
    + Retention
    + Staff
    + FlowFiles
    + Journal
    + Receipts
    + Audit
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Readiness: reachable and migrated.
    async fn check(&self) -> Result<(), StoreError>;
}
