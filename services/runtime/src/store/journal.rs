//! The in-process bus's journal: what `seedgate up` has accepted onto its bus and not yet
//! handled, on disk, so a kill -9 loses none of it (`bus::memory`, with a journal).

use async_trait::async_trait;

use super::{Record, StoreError};

/// One message in one queue of the in-process bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Given by the bus, unique among the rows not yet done.
    pub id: i64,
    pub queue: String,
    pub routing_key: String,
    /// The bus payload (JSON).
    pub payload: Vec<u8>,
}

#[async_trait]
pub trait Journal {
    /// Writes `add` and deletes the rows `done`, in one transaction (one fsync).
    async fn journal_commit(&self, add: &[JournalEntry], done: &[i64]) -> Result<(), StoreError>;
    /// [`Journal::journal_commit`] and [`super::Messages::write_batch`]'s `records` in the
    /// same transaction: what the in-process bus would have queued for the store service is
    /// written as it is journaled. A store that cannot refuses (the bus then journals them).
    async fn journal_commit_with(
        &self,
        add: &[JournalEntry],
        done: &[i64],
        records: &[Record],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            self.journal_commit(add, done).await
        } else {
            Err(StoreError::Rejected(
                "this store writes records only through its queue".into(),
            ))
        }
    }
    /// Every row written and not yet done, in id order.
    async fn journal_pending(&self) -> Result<Vec<JournalEntry>, StoreError>;
}
