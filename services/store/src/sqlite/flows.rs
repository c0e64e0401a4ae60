//! SQLite: campaign subscriptions and SMS conversations.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::Message;
use seedgate_runtime::store::{Advance, MessageStatus, StoreError, Subscription, SubscriptionCount};
use sqlx::{Row, SqlitePool};

use super::{insert_message, parse_ts, parse_uuid, ts};
use crate::{classify, encode_json};

const COLUMNS: &str = "id, key, msisdn, set_name, next_index, next_due, state, created_at";

fn row(r: &sqlx::sqlite::SqliteRow) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: parse_uuid(r.get("id"))?,
        key: r.get("key"),
        msisdn: r.get("msisdn"),
        set: r.get("set_name"),
        next_index: u32::try_from(r.get::<i64, _>("next_index")).unwrap_or(0),
        next_due: parse_ts(r.get("next_due"))?,
        state: r.get("state"),
        created_at: parse_ts(r.get("created_at"))?,
    })
}

pub(super) async fn subscribe(pool: &SqlitePool, s: &Subscription) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO subscriptions (id, key, msisdn, set_name, next_index, next_due, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(s.id.to_string())
    .bind(&s.key)
    .bind(&s.msisdn)
    .bind(&s.set)
    .bind(i64::from(s.next_index))
    .bind(ts(&s.next_due))
    .bind(&s.state)
    .bind(ts(&s.created_at))
    .bind(ts(&Utc::now()))
    .execute(pool)
    .await
    .map_err(classify)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn unsubscribe(pool: &SqlitePool, key: &str, set: &str) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE subscriptions SET state = 'cancelled', updated_at = ? WHERE key = ? AND set_name = ? AND state = 'active'",
    )
    .bind(ts(&Utc::now()))
    .bind(key)
    .bind(set)
    .execute(pool)
    .await
    .map_err(classify)?
    .rows_affected();
    Ok(n > 0)
}

pub(super) async fn subscriptions_of(pool: &SqlitePool, key: &str) -> Result<Vec<Subscription>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE key = ? ORDER BY created_at DESC, id DESC"
    ))
    .bind(key)
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    rows.iter().map(row).collect()
}

pub(super) async fn subscriptions_due(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<Subscription>, StoreError> {
    let wall = Utc::now();
    let until = wall + chrono::Duration::from_std(lease).unwrap_or_default();
    let rows = sqlx::query(&format!(
        "UPDATE subscriptions SET claimed_until = ?
         WHERE id IN (SELECT id FROM subscriptions WHERE state = 'active' AND next_due <= ? AND claimed_until < ?
                      ORDER BY next_due LIMIT ?)
         RETURNING {COLUMNS}"
    ))
    .bind(ts(&until))
    .bind(ts(&now))
    .bind(ts(&wall))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    let mut out = rows.iter().map(row).collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|s| s.next_due);
    Ok(out)
}

pub(super) async fn subscription_advance(
    pool: &SqlitePool,
    a: &Advance,
    send: Option<&Message>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    let n = sqlx::query(
        "UPDATE subscriptions SET next_index = ?, next_due = ?, state = ?, claimed_until = '', updated_at = ?
         WHERE id = ? AND next_index = ? AND state = 'active'",
    )
    .bind(i64::from(a.next_index))
    .bind(ts(&a.next_due))
    .bind(&a.state)
    .bind(ts(&Utc::now()))
    .bind(a.id.to_string())
    .bind(i64::from(a.expected_index))
    .execute(&mut *tx)
    .await
    .map_err(classify)?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    if let Some(m) = send {
        insert_message(&mut *tx, m, MessageStatus::Queued).await?;
        sqlx::query("INSERT INTO outbox (message_id, body, created_at) VALUES (?, ?, ?)")
            .bind(m.id.to_string())
            .bind(encode_json(m)?)
            .bind(ts(&m.created_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)?;
    Ok(true)
}

pub(super) async fn subscription_counts(
    pool: &SqlitePool,
    behind: DateTime<Utc>,
) -> Result<Vec<SubscriptionCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT set_name, state, COUNT(*) AS n,
                SUM(CASE WHEN state = 'active' AND next_due < ? THEN 1 ELSE 0 END) AS behind
         FROM subscriptions GROUP BY set_name, state ORDER BY set_name, state",
    )
    .bind(ts(&behind))
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    Ok(rows
        .iter()
        .map(|r| SubscriptionCount {
            set: r.get("set_name"),
            state: r.get("state"),
            count: u64::try_from(r.get::<i64, _>("n")).unwrap_or(0),
            behind: u64::try_from(r.get::<Option<i64>, _>("behind").unwrap_or(0)).unwrap_or(0),
        })
        .collect())
}

pub(super) async fn run_get(pool: &SqlitePool, key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT body FROM flow_runs WHERE key = ?")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    Ok(row.map(|r| r.get("body")))
}

pub(super) async fn run_put(
    pool: &SqlitePool,
    key: &str,
    body: &str,
    wait_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO flow_runs (key, body, wait_until, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET body = excluded.body, wait_until = excluded.wait_until,
           updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(body)
    .bind(wait_until.as_ref().map(ts))
    .bind(ts(&Utc::now()))
    .execute(pool)
    .await
    .map_err(classify)?;
    Ok(())
}

pub(super) async fn run_delete(pool: &SqlitePool, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_runs WHERE key = ?")
        .bind(key)
        .execute(pool)
        .await
        .map_err(classify)?;
    Ok(())
}

pub(super) async fn runs_due(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT key, body FROM flow_runs WHERE wait_until IS NOT NULL AND wait_until <= ? ORDER BY wait_until LIMIT ?",
    )
    .bind(ts(&now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    Ok(rows.iter().map(|r| (r.get("key"), r.get("body"))).collect())
}
