//! Group commit for the store's own writers: concurrent API accepts (message, outbox row,
//! idempotency key), flow sends, contact writes and subscriptions share one transaction and
//! one fsync. A writer task takes whatever is waiting (up to [`GROUP_MAX`]), carries each
//! write out in order in one transaction and answers each caller after the commit; while one
//! group is on the disk the next gathers, and a quiet system commits each write at once (no
//! linger). If the database refuses a group (a row it will not take), each write is tried
//! alone, so one bad request does not fail the others.

use seedgate_proto::Message;
use seedgate_runtime::group::GroupCommit;
use seedgate_runtime::store::{Accepted, Contact, Idempotency, StoreError, Subscription};

use crate::sql::Db;
use crate::SqlStore;

/// Most writes sharing one commit.
const GROUP_MAX: usize = 1_000;

/// One write waiting for its group's commit.
#[derive(Debug)]
pub(crate) enum Write {
    Accept(Message, Option<Idempotency>),
    ContactPut(Contact),
    Subscribe(Subscription),
}

/// What a write did (as the store trait's method answers).
#[derive(Debug)]
pub(crate) enum Written {
    Accepted(Accepted),
    /// `contact_put`: whether the row was written (its version was still the one read).
    Put(bool),
    /// `subscribe`: whether the subscription is new.
    Subscribed(bool),
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
            GroupCommit::spawn(GROUP_MAX, None, move |items: Vec<Write>| {
                let db = db.clone();
                async move { group(&db, &items).await }
            })
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
        });
    }
    crate::messages::queue_all(&mut tx, &new).await?;
    tx.commit().await?;
    Ok(answers)
}
