//! Group commit for every durable write of the process: API accepts (message, outbox row,
//! idempotency key), flow sends, contact writes, subscriptions, the in-process bus's journal
//! (with the store's rows written through), carrier ids, and the outbox relay's claims and
//! deletes share one transaction and one fsync. A writer task takes whatever is waiting (up
//! to [`GROUP_MAX`]), carries each write out in order in one transaction and answers each
//! caller after the commit; while one group is on the disk the next gathers, and a quiet
//! system commits each write at once (no linger). If the database refuses a group (a row it
//! will not take), each write is tried alone, so one bad request does not fail the others.
//!
//! One writer, not one per kind: SQLite has one write lock, and each kind's own group commit
//! was its own transaction and fsync, one after the other on that lock. An MT message's
//! accept, claim, publish, delete, carrier id and receipt were six commits, and a busy
//! gateway's accepts went at the pace of its deliveries (loadtests/README.md, issue 15).

use std::time::Duration;

use seedgate_proto::Message;
use seedgate_runtime::group::GroupCommit;
use seedgate_runtime::store::{
    Accepted, CarrierId, Contact, HeldReceipt, Idempotency, JournalEntry, Record, StoreError, Subscription,
};
use uuid::Uuid;

use crate::sql::{Db, Dialect};
use crate::SqlStore;

/// Most writes sharing one commit.
const GROUP_MAX: usize = 1_000;

/// One write waiting for its group's commit.
#[derive(Debug)]
pub(crate) enum Write {
    Accept(Message, Option<Idempotency>),
    ContactPut(Contact),
    Subscribe(Subscription),
    /// The bus journal's rows to add and delete, and the store's rows written through.
    Journal {
        add: Vec<JournalEntry>,
        done: Vec<i64>,
        records: Vec<Record>,
    },
    CarrierIds {
        channel: String,
        ids: Vec<CarrierId>,
    },
    OutboxClaim {
        limit: u32,
        lease: Duration,
    },
    OutboxDone(Vec<Uuid>),
}

/// What a write did (as the store trait's method answers).
#[derive(Debug)]
pub(crate) enum Written {
    Accepted(Accepted),
    /// `contact_put`: whether the row was written (its version was still the one read).
    Put(bool),
    /// `subscribe`: whether the subscription is new.
    Subscribed(bool),
    /// A write that answers nothing (journal, outbox deletes).
    Done,
    /// `carrier_ids_put`: the held receipts the ids claimed.
    Claimed(Vec<(Uuid, HeldReceipt)>),
    /// `outbox_claim`: the messages claimed.
    Messages(Vec<Message>),
}

pub(crate) type Writer = GroupCommit<Write, Result<Written, StoreError>>;

/// An answer of the wrong kind: a bug here, said plainly rather than a panic.
pub(crate) fn mismatch(w: &Written) -> StoreError {
    StoreError::Rejected(format!(
        "the store's writer answered {w:?} to another kind of write"
    ))
}

impl SqlStore {
    /// Hands `w` to the writer and waits for its commit.
    pub(crate) async fn grouped(&self, w: Write) -> Result<Written, StoreError> {
        let writer = self.writer.get_or_init(|| {
            let db = self.db.clone();
            let commit = move |items: Vec<Write>| {
                let db = db.clone();
                async move { group(&db, &items).await }
            };
            // SQLite's connections are threads of their own, so its writer can be one too
            // (PostgreSQL's are sockets of the process's runtime).
            match self.db.dialect() {
                Dialect::Sqlite => GroupCommit::spawn_thread("store-writer", GROUP_MAX, None, commit.clone())
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "no thread for the store's writer; it shares the runtime");
                        GroupCommit::spawn(GROUP_MAX, None, commit)
                    }),
                Dialect::Postgres => GroupCommit::spawn(GROUP_MAX, None, commit),
            }
        });
        writer.submit(w).await?
    }
}

async fn group(db: &Db, items: &[Write]) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    match in_one(db, items).await {
        Ok(answers) => Ok(answers.into_iter().map(Ok).collect()),
        Err(StoreError::Rejected(_)) if items.len() > 1 => {
            let mut answers = Vec::with_capacity(items.len());
            for item in items {
                answers.push(
                    in_one(db, std::slice::from_ref(item))
                        .await
                        .map(|mut a| a.remove(0)),
                );
            }
            Ok(answers)
        }
        Err(e) => Err(e),
    }
}

/// One transaction: each write in order (an idempotency key used twice in the group answers
/// the second with the first), then every newly accepted message with its outbox row.
async fn in_one(db: &Db, items: &[Write]) -> Result<Vec<Written>, StoreError> {
    let mut tx = db.begin().await?;
    let mut answers = Vec::with_capacity(items.len());
    let mut new = Vec::new();
    for item in items {
        answers.push(match item {
            Write::Accept(msg, idem) => {
                let answer = match idem {
                    Some(k) => crate::outbox::remember_key(&mut tx, msg, k).await?,
                    None => Accepted::New,
                };
                if answer == Accepted::New {
                    new.push(msg);
                }
                Written::Accepted(answer)
            }
            Write::ContactPut(c) => Written::Put(crate::contacts::put(&mut tx, c).await?),
            Write::Subscribe(s) => Written::Subscribed(crate::subscriptions::insert(&mut tx, s).await?),
            Write::Journal { add, done, records } => {
                crate::journal::write(&mut tx, add, done, records).await?;
                Written::Done
            }
            Write::CarrierIds { channel, ids } => {
                Written::Claimed(crate::receipts::put(&mut tx, channel, ids).await?)
            }
            Write::OutboxClaim { limit, lease } => {
                Written::Messages(crate::outbox::claim(&mut tx, *limit, *lease).await?)
            }
            Write::OutboxDone(ids) => {
                crate::messages::delete_outbox(&mut tx, ids).await?;
                Written::Done
            }
        });
    }
    crate::messages::queue_all(&mut tx, &new).await?;
    tx.commit().await?;
    Ok(answers)
}
