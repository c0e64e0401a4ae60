//! The durability concerns through [`Sealed`]: the bus journal's payloads hold messages (numbers
//! and text), so they are sealed; carrier ids and held receipts hold neither and pass through.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{
    CarrierId, HeldReceipt, Journal, JournalEntry, Receipts, Record, Store, StoreError,
};
use uuid::Uuid;

use super::Sealed;

#[async_trait]
impl<S: Store> Journal for Sealed<S> {
    async fn journal_commit(&self, add: &[JournalEntry], done: &[i64]) -> Result<(), StoreError> {
        self.journal_commit_with(add, done, &[]).await
    }

    async fn journal_commit_with(
        &self,
        add: &[JournalEntry],
        done: &[i64],
        records: &[Record],
    ) -> Result<(), StoreError> {
        let sealed: Vec<JournalEntry> = add
            .iter()
            .map(|e| JournalEntry {
                payload: self.key.seal(&e.payload).into_bytes(),
                ..e.clone()
            })
            .collect();
        self.inner
            .journal_commit_with(&sealed, done, &self.seal_records(records))
            .await
    }

    async fn journal_pending(&self) -> Result<Vec<JournalEntry>, StoreError> {
        self.inner
            .journal_pending()
            .await?
            .into_iter()
            .map(|mut e| {
                let text = String::from_utf8(std::mem::take(&mut e.payload))
                    .map_err(|_| StoreError::Rejected("a journal row is not text".into()))?;
                e.payload = self.key.open(&text)?;
                Ok(e)
            })
            .collect()
    }
}

#[async_trait]
impl<S: Store> Receipts for Sealed<S> {
    async fn carrier_ids_put(
        &self,
        channel: &str,
        ids: &[CarrierId],
    ) -> Result<Vec<(Uuid, HeldReceipt)>, StoreError> {
        self.inner.carrier_ids_put(channel, ids).await
    }
    async fn carrier_id_find(&self, channel: &str, forms: &[String]) -> Result<Option<Uuid>, StoreError> {
        self.inner.carrier_id_find(channel, forms).await
    }
    async fn carrier_sent(&self, channel: &str, message: Uuid) -> Result<bool, StoreError> {
        self.inner.carrier_sent(channel, message).await
    }
    async fn receipt_hold(&self, receipt: &HeldReceipt) -> Result<(), StoreError> {
        self.inner.receipt_hold(receipt).await
    }
    async fn receipts_held(&self, channel: Option<&str>, limit: u32) -> Result<Vec<HeldReceipt>, StoreError> {
        self.inner.receipts_held(channel, limit).await
    }
    async fn receipts_purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.receipts_purge(before).await
    }
}
