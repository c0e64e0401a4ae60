//! The message store's interface. Implementations (SQLite, PostgreSQL) live in
//! `seedgate-store`; both pass one conformance suite there.

use async_trait::async_trait;
use seedgate_proto::{Event, Message, SessionRecord};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the connection: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error for this data: do not retry as is.
    #[error("store rejected the write: {0}")]
    Rejected(String),
}

/// Billing per day, channel and flow (from `Store::session_report`).
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

/// Where an outbound message stands, derived from its events: `queued` (stored, not yet handed
/// to the carrier) → `submitted` (acked) → `delivered` | `failed` | `expired` (final). A later
/// or repeated event never moves a message back; the first final state stays. Inbound
/// messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Received,
    Queued,
    Submitted,
    Delivered,
    Failed,
    Expired,
}

impl MessageStatus {
    pub const ALL: [Self; 6] = [
        Self::Received,
        Self::Queued,
        Self::Submitted,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Submitted => "submitted",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The status an event reports.
    pub fn of_event(kind: &seedgate_proto::EventKind) -> Self {
        use seedgate_proto::{DeliveryStatus, EventKind};
        match kind {
            EventKind::Ack { .. }
            | EventKind::DeliveryReport {
                status: DeliveryStatus::Pending,
            } => Self::Submitted,
            EventKind::Nack { .. }
            | EventKind::DeliveryReport {
                status: DeliveryStatus::Failed,
            } => Self::Failed,
            EventKind::DeliveryReport {
                status: DeliveryStatus::Delivered,
            } => Self::Delivered,
            EventKind::DeliveryReport {
                status: DeliveryStatus::Expired,
            } => Self::Expired,
        }
    }

    /// 0 for not yet sent, 1 for submitted, 2 for final: a status only moves up.
    pub fn rank(self) -> u8 {
        match self {
            Self::Received | Self::Queued => 0,
            Self::Submitted => 1,
            Self::Delivered | Self::Failed | Self::Expired => 2,
        }
    }
}

/// A message with its derived status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub message: Message,
    pub status: MessageStatus,
}

/// A search over messages, newest first. `before` is the cursor: the id of the last message
/// of the previous page (ids are UUIDv7, so they sort by time).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageQuery {
    pub channel: Option<String>,
    /// Matches the sender or the recipient.
    pub address: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub status: Option<MessageStatus>,
    pub before: Option<Uuid>,
    pub limit: u32,
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

/// What [`Store::accept`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored with its outbox row.
    New,
    /// The key was used for this same request: here is the message it made.
    Repeat(Uuid),
    /// The key was used for a different request.
    Conflict(Uuid),
}

/// An API token as stored: only a hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    pub scopes: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
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

/// One row to write: a message, an event, or a session's latest state.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Message(Message),
    Event(Event),
    /// Inserted or updated; an ended session is never reopened by a late update.
    Session(SessionRecord),
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Readiness: reachable and migrated.
    async fn check(&self) -> Result<(), StoreError>;
    /// Writes all records in one transaction. Messages and events already stored (same id) are
    /// skipped and session updates never reopen an ended session, so a redelivered batch is
    /// harmless.
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError>;
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError>;
    /// Messages of a session, oldest first.
    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError>;
    /// Messages from or to an address, oldest first.
    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError>;
    /// Events about a message, oldest first.
    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError>;
    /// Sessions, hops and 20 s slices per UTC day, channel and flow, for sessions started at
    /// or after `since`; ordered by day, channel, flow.
    async fn session_report(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<SessionDay>, StoreError>;

    // --- the API's side ---

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
    /// A message with its status.
    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError>;
    /// Messages matching `query`, newest first.
    async fn messages(&self, query: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError>;
    /// Sessions matching `query`, newest first.
    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError>;
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    /// The token whose secret hashes to `hash`.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;
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
    /// Retention: deletes up to `limit` of `channel`'s messages created before `before` (with
    /// their events), except messages still waiting to be sent, and up to `limit` of its ended
    /// sessions started before it. With `archive`, the rows are handed to it first, in the same
    /// transaction: if it fails, nothing is deleted. Call again while a count reaches `limit`.
    async fn purge(
        &self,
        channel: &str,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError>;

    // --- contacts ---

    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError>;
    /// Writes `contact` if nobody changed it since it was read: `version` is the version read
    /// (0 for a new contact); the stored one becomes `version + 1`. False when someone else
    /// wrote first (read it again and retry).
    async fn contact_put(&self, contact: &Contact) -> Result<bool, StoreError>;
    /// Contacts matching `query`, ordered by MSISDN.
    async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>, StoreError>;
    /// Deletes a contact (and its groups); false if there was none.
    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError>;

    // --- channels created or restarted through the API ---

    /// Every stored channel row, by name.
    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError>;
    /// Creates or replaces a channel's definition (the same keys as a `[channels.<name>]`
    /// section), bumping its generation.
    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError>;
    /// Bumps a channel's generation so its connectors restart (a row without a definition
    /// is made for a channel from the config file).
    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError>;
    /// Deletes a channel's row; false if there was none.
    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError>;

    // --- the flow runner: campaign subscriptions and SMS conversations ---

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

/// How a subscription moves on (see [`Store::subscription_advance`]).
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

/// Receives the rows a purge is about to delete; an error keeps them.
pub type ArchiveSink<'a> = dyn Fn(&Archive) -> Result<(), String> + Send + Sync + 'a;

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

/// A contact: the person behind an MSISDN, with the fields flows and partners keep about them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub msisdn: String,
    pub name: Option<String>,
    /// Preferred language (ISO 639-3, e.g. `eng`, `zul`).
    pub language: Option<String>,
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
    pub groups: std::collections::BTreeSet<String>,
    /// Set when the contact opted out: nothing is sent to them until they opt in again.
    pub opted_out_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

impl Contact {
    pub fn new(msisdn: impl Into<String>, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            msisdn: msisdn.into(),
            name: None,
            language: None,
            fields: Default::default(),
            groups: Default::default(),
            opted_out_at: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// A contact search; `after` is the last MSISDN of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactQuery {
    pub group: Option<String>,
    pub opted_out: Option<bool>,
    pub after: Option<String>,
    pub limit: u32,
}

/// A channel row: a definition made through the API (none for a channel from the config
/// file that was only restarted) and the generation its connectors run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChannel {
    pub name: String,
    pub definition: Option<serde_json::Value>,
    pub generation: i64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub events: u64,
    pub sessions: u64,
}
