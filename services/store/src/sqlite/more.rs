//! SQLite: contacts, channels made through the API, and retention.

use chrono::{DateTime, Utc};
use seedgate_runtime::store::{
    Archive, ArchiveSink, Contact, ContactQuery, Purged, StoreError, StoredChannel,
};
use sqlx::{Row, SqlitePool};

use super::{parse_ts, session_row, ts, SESSION_COLUMNS};
use crate::{classify, decode_json, encode_json};

pub(super) async fn contact(pool: &SqlitePool, msisdn: &str) -> Result<Option<Contact>, StoreError> {
    let row = sqlx::query("SELECT body FROM contacts WHERE msisdn = ?")
        .bind(msisdn)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    row.map(|r| decode_json(r.get::<&str, _>(0))).transpose()
}

pub(super) async fn contact_put(pool: &SqlitePool, c: &Contact) -> Result<bool, StoreError> {
    let mut next = c.clone();
    next.version = c.version + 1;
    let body = encode_json(&next)?;
    let mut tx = pool.begin().await.map_err(classify)?;
    let written = if c.version == 0 {
        sqlx::query(
            "INSERT INTO contacts (msisdn, body, opted_out, version, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (msisdn) DO NOTHING",
        )
        .bind(&c.msisdn)
        .bind(&body)
        .bind(c.opted_out_at.is_some())
        .bind(next.version)
        .bind(ts(&next.updated_at))
        .execute(&mut *tx)
        .await
    } else {
        sqlx::query(
            "UPDATE contacts SET body = ?, opted_out = ?, version = ?, updated_at = ?
             WHERE msisdn = ? AND version = ?",
        )
        .bind(&body)
        .bind(c.opted_out_at.is_some())
        .bind(next.version)
        .bind(ts(&next.updated_at))
        .bind(&c.msisdn)
        .bind(c.version)
        .execute(&mut *tx)
        .await
    }
    .map_err(classify)?
    .rows_affected();
    if written == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM contact_groups WHERE msisdn = ?")
        .bind(&c.msisdn)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    for g in &c.groups {
        sqlx::query("INSERT INTO contact_groups (grp, msisdn) VALUES (?, ?)")
            .bind(g)
            .bind(&c.msisdn)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)?;
    Ok(true)
}

pub(super) async fn contacts(pool: &SqlitePool, q: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT c.body FROM contacts c");
    if let Some(g) = &q.group {
        qb.push(" JOIN contact_groups g ON g.msisdn = c.msisdn AND g.grp = ")
            .push_bind(g.clone());
    }
    qb.push(" WHERE 1 = 1");
    if let Some(o) = q.opted_out {
        qb.push(" AND c.opted_out = ").push_bind(o);
    }
    if let Some(a) = &q.after {
        qb.push(" AND c.msisdn > ").push_bind(a.clone());
    }
    qb.push(" ORDER BY c.msisdn LIMIT ").push_bind(i64::from(q.limit));
    let rows = qb.build().fetch_all(pool).await.map_err(classify)?;
    rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
}

pub(super) async fn contact_delete(pool: &SqlitePool, msisdn: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    sqlx::query("DELETE FROM contact_groups WHERE msisdn = ?")
        .bind(msisdn)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    let n = sqlx::query("DELETE FROM contacts WHERE msisdn = ?")
        .bind(msisdn)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected();
    tx.commit().await.map_err(classify)?;
    Ok(n == 1)
}

fn channel_row(r: &sqlx::sqlite::SqliteRow) -> Result<StoredChannel, StoreError> {
    Ok(StoredChannel {
        name: r.get("name"),
        definition: r
            .get::<Option<&str>, _>("definition")
            .map(decode_json)
            .transpose()?,
        generation: r.get("generation"),
        updated_at: parse_ts(r.get("updated_at"))?,
    })
}

pub(super) async fn channels_stored(pool: &SqlitePool) -> Result<Vec<StoredChannel>, StoreError> {
    let rows = sqlx::query("SELECT name, definition, generation, updated_at FROM channels ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(classify)?;
    rows.iter().map(channel_row).collect()
}

/// Writes a channel row: `definition` replaces the stored one when given; the generation
/// always goes up.
pub(super) async fn channel_bump(
    pool: &SqlitePool,
    name: &str,
    definition: Option<&serde_json::Value>,
) -> Result<StoredChannel, StoreError> {
    let row = sqlx::query(
        "INSERT INTO channels (name, definition, generation, updated_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (name) DO UPDATE SET
           definition = COALESCE(excluded.definition, channels.definition),
           generation = channels.generation + 1,
           updated_at = excluded.updated_at
         RETURNING name, definition, generation, updated_at",
    )
    .bind(name)
    .bind(definition.map(encode_json).transpose()?)
    .bind(ts(&Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(classify)?;
    channel_row(&row)
}

pub(super) async fn channel_delete(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let n = sqlx::query("DELETE FROM channels WHERE name = ?")
        .bind(name)
        .execute(pool)
        .await
        .map_err(classify)?
        .rows_affected();
    Ok(n == 1)
}

pub(super) async fn purge(
    pool: &SqlitePool,
    channel: &str,
    before: DateTime<Utc>,
    limit: u32,
    archive: Option<&ArchiveSink<'_>>,
) -> Result<Purged, StoreError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    // SQLite takes the write lock at the first write; take it now so the rows read are the
    // rows deleted.
    sqlx::query("DELETE FROM channels WHERE 0")
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    let messages = sqlx::query(
        "SELECT id, body, status FROM messages
         WHERE channel = ? AND created_at < ? AND status <> 'queued' ORDER BY id LIMIT ?",
    )
    .bind(channel)
    .bind(ts(&before))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let ids: Vec<String> = messages.iter().map(|r| r.get::<String, _>("id")).collect();
    let sessions = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions
         WHERE channel = ? AND started_at < ? AND ended_at IS NOT NULL ORDER BY started_at, id LIMIT ?"
    ))
    .bind(channel)
    .bind(ts(&before))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let sessions = sessions.iter().map(session_row).collect::<Result<Vec<_>, _>>()?;
    let mut events = Vec::new();
    let mut purged = Purged::default();
    for chunk in ids.chunks(crate::CHUNK) {
        if archive.is_some() {
            let mut qb =
                sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT body FROM events WHERE message_id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            qb.push(") ORDER BY message_id, id");
            for r in qb.build().fetch_all(&mut *tx).await.map_err(classify)? {
                events.push(decode_json(r.get::<&str, _>(0))?);
            }
        }
        for table in ["events", "messages"] {
            let column = if table == "events" { "message_id" } else { "id" };
            let mut qb =
                sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("DELETE FROM {table} WHERE {column} IN ("));
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            qb.push(")");
            let n = qb
                .build()
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
            if table == "events" {
                purged.events += n;
            } else {
                purged.messages += n;
            }
        }
    }
    for s in &sessions {
        purged.sessions += sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(&s.id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
    }
    if let Some(sink) = archive {
        let rows = Archive {
            channel: channel.to_string(),
            messages: messages
                .iter()
                .map(|r| crate::archived_message(r.get("body"), r.get("status")))
                .collect::<Result<_, _>>()?,
            events,
            sessions,
        };
        if !rows.is_empty() {
            sink(&rows).map_err(|e| StoreError::Unavailable(format!("archiving before the purge: {e}")))?;
        }
    }
    tx.commit().await.map_err(classify)?;
    Ok(purged)
}
