//! Campaign subscriptions: claimed with a lease, moved on once per message, in the same
//! transaction as the message they send.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_proto::Message;
use seedgate_runtime::store::{Advance, StoreError, Subscription, SubscriptionCount, Subscriptions};

use crate::grouped::{Write, Written};
use crate::messages::queue_all;
use crate::sql::{Arg, Query, Row, Tx};
use crate::SqlStore;

const COLUMNS: &str = "id, key, msisdn, set_name, next_index, next_due, state, created_at";

fn subscription(r: &Row) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.uuid("id")?,
        key: r.text("key")?,
        msisdn: r.text("msisdn")?,
        set: r.text("set_name")?,
        next_index: r.u32("next_index")?,
        next_due: r.ts("next_due")?,
        state: r.text("state")?,
        created_at: r.ts("created_at")?,
    })
}

#[async_trait]
impl Subscriptions for SqlStore {
    async fn subscribe(&self, s: &Subscription) -> Result<bool, StoreError> {
        match self.grouped(Write::Subscribe(s.clone())).await? {
            Written::Subscribed(new) => Ok(new),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn unsubscribe(&self, key: &str, set: &str) -> Result<bool, StoreError> {
        let q = Query::new(
            "UPDATE subscriptions SET state = 'cancelled', updated_at = ?
             WHERE key = ? AND set_name = ? AND state = 'active'",
        )
        .bind(Arg::Now)
        .bind(key)
        .bind(set);
        Ok(self.db.exec(&q).await? > 0)
    }

    async fn subscriptions_of(&self, key: &str) -> Result<Vec<Subscription>, StoreError> {
        let q = Query::new(format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE key = ? ORDER BY created_at DESC, id DESC"
        ))
        .bind(key);
        self.db.fetch(&q).await?.iter().map(subscription).collect()
    }

    async fn subscriptions_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Subscription>, StoreError> {
        let q = Query::new(format!(
            "UPDATE subscriptions SET claimed_until = ?
             WHERE id IN (SELECT id FROM subscriptions WHERE state = 'active' AND next_due <= ? AND claimed_until < ?
                          ORDER BY next_due LIMIT ?{})
             RETURNING {COLUMNS}",
            self.db.dialect().skip_locked()
        ))
        .bind(Arg::Later(lease))
        .bind(now)
        .bind(Arg::Now)
        .bind(limit);
        let mut out = self
            .db
            .fetch(&q)
            .await?
            .iter()
            .map(subscription)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|s| s.next_due);
        Ok(out)
    }

    async fn subscription_advance(&self, a: &Advance, send: Option<&Message>) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let q = Query::new(
            "UPDATE subscriptions SET next_index = ?, next_due = ?, state = ?, claimed_until = ?, updated_at = ?
             WHERE id = ? AND next_index = ? AND state = 'active'",
        )
        .bind(a.next_index)
        .bind(a.next_due)
        .bind(&a.state)
        .bind(DateTime::UNIX_EPOCH)
        .bind(Arg::Now)
        .bind(a.id)
        .bind(a.expected_index);
        if tx.exec(&q).await? == 0 {
            return Ok(false);
        }
        if let Some(m) = send {
            queue_all(&mut tx, &[m]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn subscription_counts(&self, behind: DateTime<Utc>) -> Result<Vec<SubscriptionCount>, StoreError> {
        let q = Query::new(
            "SELECT set_name, state, COUNT(*) AS n,
                    COUNT(*) FILTER (WHERE state = 'active' AND next_due < ?) AS behind
             FROM subscriptions GROUP BY set_name, state ORDER BY set_name, state",
        )
        .bind(behind);
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(SubscriptionCount {
                    set: r.text("set_name")?,
                    state: r.text("state")?,
                    count: r.u64("n")?,
                    behind: r.u64("behind")?,
                })
            })
            .collect()
    }
}

/// Inserts `s` in `tx` unless its key already has one; whether it is new.
pub(crate) async fn insert(tx: &mut Tx, s: &Subscription) -> Result<bool, StoreError> {
    let q = Query::new(format!(
        "INSERT INTO subscriptions ({COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING"
    ))
    .bind(s.id)
    .bind(&s.key)
    .bind(&s.msisdn)
    .bind(&s.set)
    .bind(s.next_index)
    .bind(s.next_due)
    .bind(&s.state)
    .bind(s.created_at)
    .bind(Arg::Now);
    Ok(tx.exec(&q).await? == 1)
}
