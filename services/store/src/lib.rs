//! The message store: every message, event and session, in SQLite (embedded default) or
//! PostgreSQL, through `sqlx`. This is the only crate that uses `sqlx`.
//!
//! - [`open`] builds the configured [`Store`]; connections and migrations happen lazily, so a
//!   process starts while its database is away and `/readyz` reports it.
//! - [`SqlStore`] is both databases: one file per concern of the store (`messages.rs`,
//!   `sessions.rs`, `outbox.rs`, `webhooks.rs`, `tokens.rs`, `contacts.rs`, `channels.rs`,
//!   `subscriptions.rs`, `runs.rs`, `purge.rs`, `staff.rs`, `flowfiles.rs`), each query
//!   written once; what differs between the databases is in [`sql`](crate::sql)
//!   (placeholders, the clock, UUID, timestamp, day and JSON codecs, a few fragments) and the
//!   two migration folders.
//! - [`sealed`] wraps either database to seal personal data at rest.
//! - [`run`] is the store service: it consumes every connector-facing message and event from
//!   the bus and writes them in batches, acknowledging each delivery only after its batch
//!   committed. Rows are keyed by message/event id, so redeliveries are harmless. It also
//!   applies each channel's retention ([`retention`]).

mod audit;
pub mod backup;
mod channels;
mod contacts;
mod flowfiles;
mod grouped;
mod journal;
mod messages;
mod outbox;
mod purge;
mod receipts;
pub mod retention;
mod runs;
pub mod sealed;
mod service;
mod sessions;
mod sql;
mod staff;
mod subscriptions;
mod tokens;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use seedgate_runtime::config::StoreConfig;
use seedgate_runtime::store::{Store, StoreError};

pub use service::{run, Service};

/// SQLite or PostgreSQL, as configured.
#[derive(Debug)]
pub struct SqlStore {
    db: Arc<sql::Db>,
    /// The writes concurrent callers share commits for, started on first use ([`grouped`]).
    writer: std::sync::OnceLock<grouped::Writer>,
}

impl SqlStore {
    /// Parses `cfg.url`; connects and migrates on first use.
    pub fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        Ok(Self {
            db: Arc::new(sql::Db::open(cfg)?),
            writer: std::sync::OnceLock::new(),
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn check(&self) -> Result<(), StoreError> {
        self.db.exec(&sql::Query::new("SELECT 1")).await.map(drop)
    }
}

/// Opens the configured store without waiting for the database; with
/// `encryption_key_file`, personal data is sealed at rest ([`sealed`]).
pub fn open(cfg: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    let key = encryption_key(cfg).map_err(|e| StoreError::Rejected(e.to_string()))?;
    open_with(cfg, key)
}

/// The key named by `cfg.encryption_key_file`, if any; the error says what is wrong with it.
pub fn encryption_key(cfg: &StoreConfig) -> Result<Option<sealed::Key>, sealed::KeyError> {
    cfg.encryption_key_file
        .as_deref()
        .map(sealed::Key::load)
        .transpose()
}

/// [`open`] with the key already loaded.
pub fn open_with(cfg: &StoreConfig, key: Option<sealed::Key>) -> Result<Arc<dyn Store>, StoreError> {
    let store = SqlStore::open(cfg)?;
    Ok(match key {
        None => Arc::new(store),
        Some(k) => Arc::new(sealed::Sealed::new(store, k)),
    })
}

/// Connects and applies pending migrations now (for `seedgate migrate`).
pub async fn migrate(cfg: &StoreConfig) -> Result<(), StoreError> {
    open(cfg)?.check().await
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Maps a sqlx error: connection trouble is retryable, a database's "no" is not.
fn classify(e: sqlx::Error) -> StoreError {
    match e {
        // The server going away (shutdown, restart, connection lost, overloaded) or a
        // serialization conflict: retry later. Anything else the database says is about the data.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57P")
                    || c == "40001"
                    || c == "40P01"
                    || sqlite_transient(&c)
            }) =>
        {
            unavailable(db)
        }
        sqlx::Error::Database(db) => StoreError::Rejected(db.to_string()),
        sqlx::Error::Decode(d) | sqlx::Error::ColumnDecode { source: d, .. } => {
            StoreError::Rejected(format!("cannot decode a stored row: {d}"))
        }
        other => unavailable(other),
    }
}

/// SQLite result codes (primary, of an extended code) that say the disk or the file is in
/// trouble, not the data: busy or locked, read-only, an I/O error, full, cannot open, no memory.
/// PostgreSQL's SQLSTATEs are five characters, never all digits of this range.
pub(crate) fn sqlite_transient(code: &str) -> bool {
    code.len() <= 4
        && code
            .parse::<u32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14))
}

fn decode_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Rejected(format!("cannot decode a stored row: {e}")))
}

fn encode_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Rejected(e.to_string()))
}

fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The gateway's end-of-session report a `Close` message carries (`metadata.carrier`), with the
/// session it is about.
fn carrier_report(m: &seedgate_proto::Message) -> Option<(&str, seedgate_proto::CarrierReport)> {
    if m.session_event() != Some(seedgate_proto::SessionEvent::Close) {
        return None;
    }
    let report = serde_json::from_value(m.metadata.get("carrier")?.clone()).ok()?;
    Some((m.session_id()?, report))
}

/// A message's status when first stored: `received` inbound, `queued` outbound.
fn initial_status(m: &seedgate_proto::Message) -> seedgate_runtime::store::MessageStatus {
    use seedgate_runtime::store::MessageStatus;
    match m.direction {
        seedgate_proto::Direction::Inbound => MessageStatus::Received,
        seedgate_proto::Direction::Outbound => MessageStatus::Queued,
    }
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// One batch, grouped so each kind of row is written with a few multi-row statements instead
/// of one statement per row (one round trip per statement is what limits PostgreSQL).
#[derive(Debug, Default)]
struct Plan<'a> {
    messages: Vec<&'a seedgate_proto::Message>,
    events: Vec<&'a seedgate_proto::Event>,
    /// Per message, the status its events in this batch move it to (the first of the highest
    /// rank, as applying them one by one would).
    statuses: Vec<(uuid::Uuid, seedgate_runtime::store::MessageStatus)>,
    sessions: Vec<&'a seedgate_proto::SessionRecord>,
    /// Gateway end-of-session reports, applied after the sessions.
    carriers: Vec<(&'a str, seedgate_proto::CarrierReport)>,
}

impl<'a> Plan<'a> {
    fn of(records: &'a [seedgate_runtime::store::Record]) -> Self {
        use seedgate_runtime::store::{MessageStatus, Record};
        let mut plan = Plan::default();
        let mut index: std::collections::HashMap<uuid::Uuid, usize> = std::collections::HashMap::new();
        for r in records {
            match r {
                Record::Message(m) => {
                    plan.messages.push(m);
                    if let Some(c) = carrier_report(m) {
                        plan.carriers.push(c);
                    }
                }
                Record::Event(e) => {
                    plan.events.push(e);
                    let status = MessageStatus::of_event(&e.kind);
                    match index.get(&e.message_id) {
                        Some(&i) if plan.statuses[i].1.rank() < status.rank() => plan.statuses[i].1 = status,
                        Some(_) => {}
                        None => {
                            index.insert(e.message_id, plan.statuses.len());
                            plan.statuses.push((e.message_id, status));
                        }
                    }
                }
                Record::Session(s) => plan.sessions.push(s),
            }
        }
        plan
    }
}

/// Rows per multi-row statement (well under both databases' bind-parameter limits).
const CHUNK: usize = 500;
