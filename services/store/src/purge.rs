//! Retention's deletes: a channel's old messages (with their events) and ended sessions, a
//! batch per transaction, handed to the archive first when there is one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{Archive, ArchiveSink, Purged, Retention, StoreError};

use crate::sessions::{session_row, SESSION_COLUMNS};
use crate::sql::{Arg, Query, Tx};
use crate::{SqlStore, CHUNK};

/// Deletes the rows of `table` whose `column` is one of `ids`, a statement per [`CHUNK`].
async fn delete_in(tx: &mut Tx, table: &str, column: &str, ids: &[Arg]) -> Result<u64, StoreError> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let q =
            Query::new(format!("DELETE FROM {table} WHERE {column} IN (?)")).bind(Arg::List(chunk.to_vec()));
        n += tx.exec(&q).await?;
    }
    Ok(n)
}

#[async_trait]
impl Retention for SqlStore {
    async fn purge(
        &self,
        channel: &str,
        before: DateTime<Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError> {
        let mut tx = self.db.begin().await?;
        tx.lock_for_write().await?;
        let lock = self.db.dialect().for_update();
        let messages = Query::new(format!(
            "SELECT id, body, status FROM messages
             WHERE channel = ? AND created_at < ? AND status <> 'queued' ORDER BY id LIMIT ?{lock}"
        ))
        .bind(channel)
        .bind(before)
        .bind(limit);
        let messages = tx.fetch(&messages).await?;
        let sessions = Query::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions
             WHERE channel = ? AND started_at < ? AND ended_at IS NOT NULL ORDER BY started_at, id LIMIT ?{lock}"
        ))
        .bind(channel)
        .bind(before)
        .bind(limit);
        let sessions = tx
            .fetch(&sessions)
            .await?
            .iter()
            .map(session_row)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Arg> = messages
            .iter()
            .map(|r| r.uuid("id").map(Arg::from))
            .collect::<Result<_, _>>()?;
        let mut events = Vec::new();
        if archive.is_some() {
            for chunk in ids.chunks(CHUNK) {
                let mut q = Query::new("SELECT body FROM events WHERE message_id IN (");
                q.push_list(chunk.iter().cloned())
                    .push(") ORDER BY message_id, id");
                for r in tx.fetch(&q).await? {
                    events.push(r.json::<serde_json::Value>("body")?);
                }
            }
        }
        let session_ids: Vec<Arg> = sessions.iter().map(|s| Arg::from(&s.id)).collect();
        let purged = Purged {
            events: delete_in(&mut tx, "events", "message_id", &ids).await?,
            messages: delete_in(&mut tx, "messages", "id", &ids).await?,
            sessions: delete_in(&mut tx, "sessions", "id", &session_ids).await?,
        };
        if let Some(sink) = archive {
            let rows = Archive {
                channel: channel.to_string(),
                messages: messages
                    .iter()
                    .map(|r| Ok(archived_message(r.json("body")?, &r.text("status")?)))
                    .collect::<Result<_, StoreError>>()?,
                events,
                sessions,
            };
            if !rows.is_empty() {
                sink(&rows)
                    .map_err(|e| StoreError::Unavailable(format!("archiving before the purge: {e}")))?;
            }
        }
        tx.commit().await?;
        Ok(purged)
    }
}

/// A purged message as it goes to the archive: its stored JSON and its status.
fn archived_message(body: serde_json::Value, status: &str) -> serde_json::Value {
    serde_json::json!({ "kind": "message", "status": status, "message": body })
}
