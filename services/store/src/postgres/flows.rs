//! PostgreSQL: campaign subscriptions and SMS conversations.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::Message;
use seedgate_runtime::store::{Advance, MessageStatus, StoreError, Subscription, SubscriptionCount};
use sqlx::{PgPool, Row};

use super::insert_message;
use crate::{classify, encode_json};

const COLUMNS: &str = "id, key, msisdn, set_name, next_index, next_due, state, created_at";

fn row(r: &sqlx::postgres::PgRow) -> Subscription {
    Subscription {
        id: r.get("id"),
        key: r.get("key"),
        msisdn: r.get("msisdn"),
        set: r.get("set_name"),
        next_index: u32::try_from(r.get::<i32, _>("next_index")).unwrap_or(0),
        next_due: r.get("next_due"),
        state: r.get("state"),
        created_at: r.get("created_at"),
    }
}

pub(super) async fn subscribe(pool: &PgPool, s: &Subscription) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO subscriptions (id, key, msisdn, set_name, next_index, next_due, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) ON CONFLICT DO NOTHING",
    )
    .bind(s.id)
    .bind(&s.key)
    .bind(&s.msisdn)
    .bind(&s.set)
    .bind(i32::try_from(s.next_index).unwrap_or(i32::MAX))
    .bind(s.next_due)
    .bind(&s.state)
    .bind(s.created_at)
    .execute(pool)
    .await
    .map_err(classify)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn unsubscribe(pool: &PgPool, key: &str, set: &str) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE subscriptions SET state = 'cancelled', updated_at = now()
         WHERE key = $1 AND set_name = $2 AND state = 'active'",
    )
    .bind(key)
    .bind(set)
    .execute(pool)
    .await
    .map_err(classify)?
    .rows_affected();
    Ok(n > 0)
}

pub(super) async fn subscriptions_of(pool: &PgPool, key: &str) -> Result<Vec<Subscription>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE key = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(key)
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    Ok(rows.iter().map(row).collect())
}

pub(super) async fn subscriptions_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<Subscription>, StoreError> {
    let lease = chrono::Duration::from_std(lease).unwrap_or_default();
    let rows = sqlx::query(&format!(
        "UPDATE subscriptions SET claimed_until = now() + $1
         WHERE id IN (SELECT id FROM subscriptions WHERE state = 'active' AND next_due <= $2 AND claimed_until < now()
                      ORDER BY next_due LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    ))
    .bind(lease)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    let mut out: Vec<Subscription> = rows.iter().map(row).collect();
    out.sort_by_key(|s| s.next_due);
    Ok(out)
}

pub(super) async fn subscription_advance(
    pool: &PgPool,
    a: &Advance,
    send: Option<&Message>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    let n = sqlx::query(
        "UPDATE subscriptions SET next_index = $1, next_due = $2, state = $3, claimed_until = 'epoch', updated_at = now()
         WHERE id = $4 AND next_index = $5 AND state = 'active'",
    )
    .bind(i32::try_from(a.next_index).unwrap_or(i32::MAX))
    .bind(a.next_due)
    .bind(&a.state)
    .bind(a.id)
    .bind(i32::try_from(a.expected_index).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await
    .map_err(classify)?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    if let Some(m) = send {
        insert_message(&mut *tx, m, MessageStatus::Queued).await?;
        sqlx::query("INSERT INTO outbox (message_id, body, created_at) VALUES ($1, $2::jsonb, $3)")
            .bind(m.id)
            .bind(encode_json(m)?)
            .bind(m.created_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)?;
    Ok(true)
}

pub(super) async fn subscription_counts(
    pool: &PgPool,
    behind: DateTime<Utc>,
) -> Result<Vec<SubscriptionCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT set_name, state, COUNT(*) AS n,
                COUNT(*) FILTER (WHERE state = 'active' AND next_due < $1) AS behind
         FROM subscriptions GROUP BY set_name, state ORDER BY set_name, state",
    )
    .bind(behind)
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    Ok(rows
        .iter()
        .map(|r| SubscriptionCount {
            set: r.get("set_name"),
            state: r.get("state"),
            count: u64::try_from(r.get::<i64, _>("n")).unwrap_or(0),
            behind: u64::try_from(r.get::<i64, _>("behind")).unwrap_or(0),
        })
        .collect())
}

pub(super) async fn run_get(pool: &PgPool, key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT body FROM flow_runs WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    Ok(row.map(|r| r.get("body")))
}

pub(super) async fn run_put(
    pool: &PgPool,
    key: &str,
    body: &str,
    wait_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO flow_runs (key, body, wait_until, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, wait_until = EXCLUDED.wait_until,
           updated_at = EXCLUDED.updated_at",
    )
    .bind(key)
    .bind(body)
    .bind(wait_until)
    .execute(pool)
    .await
    .map_err(classify)?;
    Ok(())
}

pub(super) async fn run_delete(pool: &PgPool, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_runs WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await
        .map_err(classify)?;
    Ok(())
}

pub(super) async fn runs_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT key, body FROM flow_runs WHERE wait_until IS NOT NULL AND wait_until <= $1 ORDER BY wait_until LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    Ok(rows.iter().map(|r| (r.get("key"), r.get("body"))).collect())
}
