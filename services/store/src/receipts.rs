//! Carrier ids of our messages and receipts held until a submit claims them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{CarrierId, HeldReceipt, Receipts, StoreError};
use uuid::Uuid;

use crate::grouped::{Write, Written};
use crate::sql::{Arg, Query, Row, Tx};
use crate::{SqlStore, CHUNK};

/// Whether a message was handed to a channel's carrier (asked before every submit).
const SENT: &str = "SELECT 1 AS one FROM carrier_ids WHERE message_id = ? AND channel = ? LIMIT 1";
/// The newest message a carrier id (in any of its forms) names on a channel (every receipt).
const FIND: &str = "SELECT message_id FROM carrier_ids WHERE channel = ? AND carrier_id IN (?)
     ORDER BY at DESC, message_id DESC LIMIT 1";

fn held(r: &Row) -> Result<HeldReceipt, StoreError> {
    Ok(HeldReceipt {
        channel: r.text("channel")?,
        carrier_id: r.text("carrier_id")?,
        status: r.text("status")?,
        received_at: r.ts("received_at")?,
    })
}

#[async_trait]
impl Receipts for SqlStore {
    async fn carrier_ids_put(
        &self,
        channel: &str,
        ids: &[CarrierId],
    ) -> Result<Vec<(Uuid, HeldReceipt)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let w = Write::CarrierIds {
            channel: channel.to_string(),
            ids: ids.to_vec(),
        };
        match self.grouped(w).await? {
            Written::Claimed(claimed) => Ok(claimed),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn carrier_id_find(&self, channel: &str, forms: &[String]) -> Result<Option<Uuid>, StoreError> {
        if forms.is_empty() {
            return Ok(None);
        }
        let q = Query::new(FIND)
            .bind(channel)
            .bind(Arg::List(forms.iter().map(|f| f.as_str().into()).collect()));
        self.db
            .fetch_optional(&q)
            .await?
            .map(|r| r.uuid("message_id"))
            .transpose()
    }

    async fn carrier_sent(&self, channel: &str, message: Uuid) -> Result<bool, StoreError> {
        let q = Query::new(SENT).bind(message).bind(channel);
        Ok(self.db.fetch_optional(&q).await?.is_some())
    }

    async fn receipt_hold(&self, r: &HeldReceipt) -> Result<(), StoreError> {
        let q = Query::new(
            "INSERT INTO held_receipts (channel, carrier_id, status, received_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (channel, carrier_id, status) DO NOTHING",
        )
        .bind(&r.channel)
        .bind(&r.carrier_id)
        .bind(&r.status)
        .bind(r.received_at);
        self.db.exec(&q).await.map(drop)
    }

    async fn receipts_held(&self, channel: Option<&str>, limit: u32) -> Result<Vec<HeldReceipt>, StoreError> {
        let mut q = Query::new("SELECT channel, carrier_id, status, received_at FROM held_receipts");
        if let Some(channel) = channel {
            q.push(" WHERE channel = ").push_bind(channel);
        }
        q.push(" ORDER BY received_at LIMIT ").push_bind(limit);
        self.db.fetch(&q).await?.iter().map(held).collect()
    }

    async fn receipts_purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.db.begin().await?;
        let a = tx
            .exec(&Query::new("DELETE FROM carrier_ids WHERE at < ?").bind(before))
            .await?;
        let b = tx
            .exec(&Query::new("DELETE FROM held_receipts WHERE received_at < ?").bind(before))
            .await?;
        tx.commit().await?;
        Ok(a + b)
    }
}

/// Records `ids` for `channel` in `tx` and takes the receipts held for them (one group of the
/// store's writer, [`crate::grouped`]).
pub(crate) async fn put(
    tx: &mut Tx,
    channel: &str,
    ids: &[CarrierId],
) -> Result<Vec<(Uuid, HeldReceipt)>, StoreError> {
    let rows: Vec<(&str, Uuid, DateTime<Utc>)> = ids
        .iter()
        .flat_map(|c| c.forms.iter().map(move |f| (f.as_str(), c.message_id, c.at)))
        .collect();
    let mut claimed = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::new("INSERT INTO carrier_ids (channel, carrier_id, message_id, at) VALUES ");
        for (i, (form, id, at)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row([channel.into(), (*form).into(), (*id).into(), (*at).into()]);
        }
        q.push(" ON CONFLICT (channel, carrier_id, message_id) DO UPDATE SET at = excluded.at");
        tx.exec(&q).await?;
        let take = Query::new(
            "DELETE FROM held_receipts WHERE channel = ? AND carrier_id IN (?)
             RETURNING channel, carrier_id, status, received_at",
        )
        .bind(channel)
        .bind(Arg::List(chunk.iter().map(|(f, _, _)| (*f).into()).collect()));
        for r in tx.fetch(&take).await? {
            let h = held(&r)?;
            // The newest submit of this batch with that id claims the receipt.
            if let Some((_, id, _)) = chunk
                .iter()
                .filter(|(f, _, _)| *f == h.carrier_id)
                .max_by_key(|(_, _, at)| *at)
            {
                claimed.push((*id, h));
            }
        }
    }
    claimed.sort_by_key(|(_, h)| h.received_at);
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: panics are failures

    use seedgate_runtime::config::{StoreConfig, StoreKind};

    use super::*;

    /// SQLite's plan for `sql` with two arguments, one line per step.
    async fn plan(store: &SqlStore, sql: &str, args: &[&str]) -> Vec<String> {
        let mut q = Query::new(format!("EXPLAIN QUERY PLAN {sql}"));
        for a in args {
            q = q.bind(*a);
        }
        store
            .db
            .fetch(&q)
            .await
            .unwrap()
            .iter()
            .map(|r| r.text("detail").unwrap())
            .collect()
    }

    /// Each submit and each receipt asks these: a plan that reads the channel's rows (every
    /// message ever sent on it) instead of the one message's made the gateway slower with every
    /// message it sent (issue 15). They search an index on the columns they are asked by.
    #[tokio::test]
    async fn lookups_before_each_submit_and_receipt_search_an_index() {
        let dir = std::env::temp_dir().join(format!("seedgate-plans-{}", Uuid::now_v7()));
        let cfg = StoreConfig {
            kind: StoreKind::Sqlite,
            url: format!("sqlite://{}/s.db", dir.display()),
            ..StoreConfig::default()
        };
        let store = SqlStore::open(&cfg).unwrap();
        store.carrier_sent("c", Uuid::nil()).await.unwrap();

        let sent = plan(&store, SENT, &[&Uuid::nil().to_string(), "c"]).await;
        assert_eq!(
            sent,
            ["SEARCH carrier_ids USING COVERING INDEX carrier_ids_message (message_id=? AND channel=?)"],
            "{sent:?}"
        );
        let find = plan(&store, &FIND.replace("IN (?)", "IN (?, ?)"), &["c", "1", "2"]).await;
        assert!(
            find[0].starts_with(
                "SEARCH carrier_ids USING INDEX carrier_ids_newest (channel=? AND carrier_id=?)"
            ),
            "{find:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
