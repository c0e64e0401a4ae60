//! PostgreSQL: contacts, channels made through the API, and retention.

use chrono::{DateTime, Utc};
use seedgate_runtime::store::{
    Archive, ArchiveSink, Contact, ContactQuery, Purged, StoreError, StoredChannel,
};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{session_row, SESSION_COLUMNS};
use crate::{classify, decode_json, encode_json};

pub(super) async fn contact(pool: &PgPool, msisdn: &str) -> Result<Option<Contact>, StoreError> {
    let row = sqlx::query("SELECT body::text FROM contacts WHERE msisdn = $1")
        .bind(msisdn)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    row.map(|r| decode_json(r.get::<&str, _>(0))).transpose()
}

pub(super) async fn contact_put(pool: &PgPool, c: &Contact) -> Result<bool, StoreError> {
    let mut next = c.clone();
    next.version = c.version + 1;
    let body = encode_json(&next)?;
    let mut tx = pool.begin().await.map_err(classify)?;
    let written = if c.version == 0 {
        sqlx::query(
            "INSERT INTO contacts (msisdn, body, opted_out, version, updated_at) VALUES ($1, $2::jsonb, $3, $4, $5)
             ON CONFLICT (msisdn) DO NOTHING",
        )
        .bind(&c.msisdn)
        .bind(&body)
        .bind(c.opted_out_at.is_some())
        .bind(next.version)
        .bind(next.updated_at)
        .execute(&mut *tx)
        .await
    } else {
        sqlx::query(
            "UPDATE contacts SET body = $1::jsonb, opted_out = $2, version = $3, updated_at = $4
             WHERE msisdn = $5 AND version = $6",
        )
        .bind(&body)
        .bind(c.opted_out_at.is_some())
        .bind(next.version)
        .bind(next.updated_at)
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
    sqlx::query("DELETE FROM contact_groups WHERE msisdn = $1")
        .bind(&c.msisdn)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    let groups: Vec<&str> = c.groups.iter().map(String::as_str).collect();
    sqlx::query("INSERT INTO contact_groups (grp, msisdn) SELECT unnest($1::text[]), $2")
        .bind(&groups)
        .bind(&c.msisdn)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(true)
}

pub(super) async fn contacts(pool: &PgPool, q: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT c.body::text FROM contacts c");
    if let Some(g) = &q.group {
        qb.push(" JOIN contact_groups g ON g.msisdn = c.msisdn AND g.grp = ")
            .push_bind(g.clone());
    }
    qb.push(" WHERE true");
    if let Some(o) = q.opted_out {
        qb.push(" AND c.opted_out = ").push_bind(o);
    }
    if let Some(a) = &q.after {
        qb.push(" AND c.msisdn > ").push_bind(a.clone());
    }
    qb.push(" ORDER BY c.msisdn COLLATE \"C\" LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = qb.build().fetch_all(pool).await.map_err(classify)?;
    rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
}

pub(super) async fn contact_delete(pool: &PgPool, msisdn: &str) -> Result<bool, StoreError> {
    // Its groups go with it (ON DELETE CASCADE).
    let n = sqlx::query("DELETE FROM contacts WHERE msisdn = $1")
        .bind(msisdn)
        .execute(pool)
        .await
        .map_err(classify)?
        .rows_affected();
    Ok(n == 1)
}

fn channel_row(r: &sqlx::postgres::PgRow) -> Result<StoredChannel, StoreError> {
    Ok(StoredChannel {
        name: r.get("name"),
        definition: r
            .get::<Option<&str>, _>("definition")
            .map(decode_json)
            .transpose()?,
        generation: r.get("generation"),
        updated_at: r.get("updated_at"),
    })
}

const CHANNEL_COLUMNS: &str = "name, definition::text AS definition, generation, updated_at";

pub(super) async fn channels_stored(pool: &PgPool) -> Result<Vec<StoredChannel>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY name"))
        .fetch_all(pool)
        .await
        .map_err(classify)?;
    rows.iter().map(channel_row).collect()
}

/// Writes a channel row: `definition` replaces the stored one when given; the generation
/// always goes up.
pub(super) async fn channel_bump(
    pool: &PgPool,
    name: &str,
    definition: Option<&serde_json::Value>,
) -> Result<StoredChannel, StoreError> {
    let row = sqlx::query(&format!(
        "INSERT INTO channels (name, definition, generation, updated_at) VALUES ($1, $2::jsonb, 1, now())
         ON CONFLICT (name) DO UPDATE SET
           definition = COALESCE(EXCLUDED.definition, channels.definition),
           generation = channels.generation + 1,
           updated_at = EXCLUDED.updated_at
         RETURNING {CHANNEL_COLUMNS}"
    ))
    .bind(name)
    .bind(definition.map(encode_json).transpose()?)
    .fetch_one(pool)
    .await
    .map_err(classify)?;
    channel_row(&row)
}

pub(super) async fn channel_delete(pool: &PgPool, name: &str) -> Result<bool, StoreError> {
    let n = sqlx::query("DELETE FROM channels WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(classify)?
        .rows_affected();
    Ok(n == 1)
}

pub(super) async fn purge(
    pool: &PgPool,
    channel: &str,
    before: DateTime<Utc>,
    limit: u32,
    archive: Option<&ArchiveSink<'_>>,
) -> Result<Purged, StoreError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    let messages = sqlx::query(
        "SELECT id, body::text AS body, status FROM messages
         WHERE channel = $1 AND created_at < $2 AND status <> 'queued' ORDER BY id LIMIT $3 FOR UPDATE",
    )
    .bind(channel)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let ids: Vec<Uuid> = messages.iter().map(|r| r.get("id")).collect();
    let sessions = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions
         WHERE channel = $1 AND started_at < $2 AND ended_at IS NOT NULL ORDER BY started_at, id LIMIT $3 FOR UPDATE"
    ))
    .bind(channel)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let sessions = sessions.iter().map(session_row).collect::<Result<Vec<_>, _>>()?;
    let events = if archive.is_some() {
        let rows =
            sqlx::query("SELECT body::text FROM events WHERE message_id = ANY($1) ORDER BY message_id, id")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
        rows.iter()
            .map(|r| decode_json(r.get::<&str, _>(0)))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let events_deleted = sqlx::query("DELETE FROM events WHERE message_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected();
    let messages_deleted = sqlx::query("DELETE FROM messages WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected();
    let session_ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let sessions_deleted = sqlx::query("DELETE FROM sessions WHERE id = ANY($1)")
        .bind(&session_ids)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected();
    let purged = Purged {
        messages: messages_deleted,
        events: events_deleted,
        sessions: sessions_deleted,
    };
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
