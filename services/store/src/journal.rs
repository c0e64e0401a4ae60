//! The in-process bus's journal: rows written and deleted in one transaction per group commit,
//! with the store's own rows for what was published to its queue.

use async_trait::async_trait;
use seedgate_runtime::store::{Journal, JournalEntry, Record, StoreError};

use crate::grouped::{Write, Written};
use crate::sql::{Arg, Query, Tx};
use crate::{SqlStore, CHUNK};

#[async_trait]
impl Journal for SqlStore {
    async fn journal_commit(&self, add: &[JournalEntry], done: &[i64]) -> Result<(), StoreError> {
        self.journal_commit_with(add, done, &[]).await
    }

    async fn journal_commit_with(
        &self,
        add: &[JournalEntry],
        done: &[i64],
        records: &[Record],
    ) -> Result<(), StoreError> {
        if add.is_empty() && done.is_empty() && records.is_empty() {
            return Ok(());
        }
        let w = Write::Journal {
            add: add.to_vec(),
            done: done.to_vec(),
            records: records.to_vec(),
        };
        match self.grouped(w).await? {
            Written::Done => Ok(()),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn journal_pending(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let q = Query::new(
            "SELECT id, queue, routing_key, payload FROM bus_journal WHERE queue <> '' ORDER BY id",
        );
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(JournalEntry {
                    id: r.int("id")?,
                    queue: r.text("queue")?,
                    routing_key: r.text("routing_key")?,
                    payload: r.text("payload")?.into_bytes(),
                })
            })
            .collect()
    }
}

/// Writes `add` and deletes `done` in `tx`, with the store's rows `records` (one group of the
/// store's writer, [`crate::grouped`]).
pub(crate) async fn write(
    tx: &mut Tx,
    add: &[JournalEntry],
    done: &[i64],
    records: &[Record],
) -> Result<(), StoreError> {
    for chunk in add.chunks(CHUNK) {
        let mut q = Query::new("INSERT INTO bus_journal (id, queue, routing_key, payload) VALUES ");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let payload = std::str::from_utf8(&e.payload)
                .map_err(|_| StoreError::Rejected("a bus payload is not UTF-8".into()))?;
            q.push_row([
                e.id.into(),
                e.queue.as_str().into(),
                e.routing_key.as_str().into(),
                payload.into(),
            ]);
        }
        tx.exec(&q).await?;
    }
    for chunk in done.chunks(CHUNK) {
        let q = Query::new("DELETE FROM bus_journal WHERE id IN (?)")
            .bind(Arg::List(chunk.iter().map(|&id| id.into()).collect()));
        tx.exec(&q).await?;
    }
    crate::messages::write_records(tx, records).await
}
