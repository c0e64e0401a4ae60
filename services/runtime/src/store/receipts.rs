//! Carrier ids and delivery receipts: which of our messages a carrier calls by which id, and
//! the receipts that came before (or without) their submit's response. Kept in the store, so a
//! restart or another replica loses none; rows expire ([`Receipts::receipts_purge`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// A carrier's name for one of our messages, in every form it may echo it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierId {
    pub message_id: Uuid,
    /// The normalised forms (`smpp::esme::correlate::variants`).
    pub forms: Vec<String>,
    /// When the submit was answered: the newest claims a reused id.
    pub at: DateTime<Utc>,
}

/// A receipt no recorded submit has claimed yet: kept, counted and listed until one does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReceipt {
    pub channel: String,
    /// The normalised form the receipt named.
    pub carrier_id: String,
    /// `delivered`, `failed`, `expired` or `pending`.
    pub status: String,
    pub received_at: DateTime<Utc>,
}

#[async_trait]
pub trait Receipts {
    /// Records the carrier ids of messages sent on `channel`, in one transaction, and takes
    /// the held receipts any of their forms claims (each with the message it belongs to).
    async fn carrier_ids_put(
        &self,
        channel: &str,
        ids: &[CarrierId],
    ) -> Result<Vec<(Uuid, HeldReceipt)>, StoreError>;
    /// The newest message of `channel` a carrier called by any of `forms`.
    async fn carrier_id_find(&self, channel: &str, forms: &[String]) -> Result<Option<Uuid>, StoreError>;
    /// Whether a carrier id was recorded for `message` on `channel` (the message was sent).
    async fn carrier_sent(&self, channel: &str, message: Uuid) -> Result<bool, StoreError>;
    /// Keeps a receipt no submit claims yet.
    async fn receipt_hold(&self, receipt: &HeldReceipt) -> Result<(), StoreError>;
    /// The held receipts, oldest first (of one channel, or all).
    async fn receipts_held(&self, channel: Option<&str>, limit: u32) -> Result<Vec<HeldReceipt>, StoreError>;
    /// Forgets carrier ids and held receipts older than `before`; how many rows went.
    async fn receipts_purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
