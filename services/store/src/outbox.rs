//! Where an API send becomes durable: the message, its outbox row and its idempotency key
//! commit together, and concurrent accepts share one commit ([`crate::grouped`]). The relay
//! claims rows with a lease and deletes what it published.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use seedgate_proto::Message;
use seedgate_runtime::store::{Accepted, Idempotency, Outbox, StoreError};
use uuid::Uuid;

use crate::grouped::{Write, Written};
use crate::sql::{Arg, Query, Tx};
use crate::SqlStore;

/// Records `k` for `msg` unless the key is already known: then the first message's id, as
/// a repeat of the same request or a conflicting one.
pub(crate) async fn remember_key(
    tx: &mut Tx,
    msg: &Message,
    k: &Idempotency,
) -> Result<Accepted, StoreError> {
    let horizon = Utc::now() - chrono::Duration::from_std(k.window).unwrap_or_default();
    let forget = Query::new("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND created_at < ?")
        .bind(&k.scope)
        .bind(&k.key)
        .bind(horizon);
    tx.exec(&forget).await?;
    let remember = Query::new(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, message_id, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&k.scope)
    .bind(&k.key)
    .bind(&k.fingerprint)
    .bind(msg.id)
    .bind(Arg::Now);
    if tx.exec(&remember).await? > 0 {
        return Ok(Accepted::New);
    }
    let first =
        Query::new("SELECT fingerprint, message_id FROM idempotency_keys WHERE scope = ? AND key = ?")
            .bind(&k.scope)
            .bind(&k.key);
    let row = tx.fetch_one(&first).await?;
    let id = row.uuid("message_id")?;
    Ok(if row.text("fingerprint")? == k.fingerprint {
        Accepted::Repeat(id)
    } else {
        Accepted::Conflict(id)
    })
}

#[async_trait]
impl Outbox for SqlStore {
    async fn accept(&self, msg: &Message, idem: Option<&Idempotency>) -> Result<Accepted, StoreError> {
        match self.grouped(Write::Accept(msg.clone(), idem.cloned())).await? {
            Written::Accepted(a) => Ok(a),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn outbox_claim(&self, limit: u32, lease: Duration) -> Result<Vec<Message>, StoreError> {
        match self.grouped(Write::OutboxClaim { limit, lease }).await? {
            Written::Messages(m) => Ok(m),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn outbox_release(&self) -> Result<(), StoreError> {
        self.db
            .exec(&Query::new("UPDATE outbox SET claimed_until = ?").bind(chrono::DateTime::UNIX_EPOCH))
            .await?;
        Ok(())
    }

    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        match self.grouped(Write::OutboxDone(ids.to_vec())).await? {
            Written::Done => Ok(()),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }
}

/// Claims up to `limit` outbox rows whose lease ended, for `lease`, in `tx` (one group of the
/// store's writer, [`crate::grouped`]).
pub(crate) async fn claim(tx: &mut Tx, limit: u32, lease: Duration) -> Result<Vec<Message>, StoreError> {
    let q = Query::new(format!(
        "UPDATE outbox SET claimed_until = ?
         WHERE message_id IN (SELECT message_id FROM outbox WHERE claimed_until < ?
                              ORDER BY message_id LIMIT ?{})
         RETURNING message_id, body",
        tx.dialect().skip_locked()
    ))
    .bind(Arg::Later(lease))
    .bind(Arg::Now)
    .bind(limit);
    let rows = tx.fetch(&q).await?;
    let mut out: Vec<Message> = rows.iter().map(|r| r.json("body")).collect::<Result<_, _>>()?;
    out.sort_by_key(|m| m.id);
    Ok(out)
}
