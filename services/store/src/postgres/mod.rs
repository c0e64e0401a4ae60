//! PostgreSQL store for split deployments. An optional `schema` (created if missing) keeps
//! tenants or test runs apart in one database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_proto::{Event, Message, SessionEndReason, SessionRecord};
use seedgate_runtime::config::StoreConfig;
use seedgate_runtime::store::{
    Accepted, Advance, ApiToken, ArchiveSink, Contact, ContactQuery, Idempotency, MessageQuery,
    MessageStatus, Purged, Record, SessionQuery, Store, StoreError, StoredChannel, StoredMessage,
    Subscription, SubscriptionCount, WebhookJob, WebhookOutcome,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    classify, decode_json, encode_json, enum_name, initial_status, split_scopes, unavailable, Plan, CHUNK,
};

mod flows;
mod more;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    schema: Option<String>,
    migrated: OnceCell<()>,
}

impl PgStore {
    /// Parses `cfg.url`; connects on first use.
    pub fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let mut opts = PgConnectOptions::from_str(&cfg.url)
            .map_err(|e| unavailable(format!("bad postgres url: {e}")))?
            .application_name("seedgate");
        if let Some(schema) = &cfg.schema {
            // Validated by config: letters, digits and `_` only.
            opts = opts.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(opts);
        Ok(Self {
            pool,
            schema: cfg.schema.clone(),
            migrated: OnceCell::new(),
        })
    }

    async fn ready(&self) -> Result<&PgPool, StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                if let Some(schema) = &self.schema {
                    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                        .execute(&self.pool)
                        .await
                        .map_err(classify)?;
                }
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|e| unavailable(format!("migrating: {e}")))
            })
            .await?;
        Ok(&self.pool)
    }

    async fn messages_where(&self, clause: &str, arg: &str) -> Result<Vec<Message>, StoreError> {
        let sql = format!("SELECT body::text FROM messages WHERE {clause} ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(arg)
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
    }
}

#[async_trait]
impl Store for PgStore {
    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        let plan = Plan::of(records);
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        for chunk in plan.messages.chunks(CHUNK) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
                   session_id, session_event, in_reply_to, created_at, body, status) ",
            );
            let mut bodies = Vec::with_capacity(chunk.len());
            for m in chunk {
                bodies.push(serde_json::to_value(*m).map_err(|e| StoreError::Rejected(e.to_string()))?);
            }
            qb.push_values(chunk.iter().zip(bodies), |mut b, (m, body)| {
                b.push_bind(m.id)
                    .push_bind(m.channel.clone())
                    .push_bind(enum_name(&m.transport))
                    .push_bind(enum_name(&m.direction))
                    .push_bind(m.from.clone())
                    .push_bind(m.to.clone())
                    .push_bind(m.content.clone())
                    .push_bind(m.session_id().map(str::to_string))
                    .push_bind(m.session_event().map(|e| enum_name(&e)))
                    .push_bind(m.in_reply_to)
                    .push_bind(m.created_at)
                    .push_bind(body)
                    .push_bind(initial_status(m).as_str());
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&mut *tx).await.map_err(classify)?;
        }
        for chunk in plan.events.chunks(CHUNK) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "INSERT INTO events (id, message_id, channel, kind, created_at, body) ",
            );
            let mut bodies = Vec::with_capacity(chunk.len());
            for e in chunk {
                bodies.push(serde_json::to_value(*e).map_err(|e| StoreError::Rejected(e.to_string()))?);
            }
            qb.push_values(chunk.iter().zip(bodies), |mut b, (e, body)| {
                b.push_bind(e.id)
                    .push_bind(e.message_id)
                    .push_bind(e.channel.clone())
                    .push_bind(e.kind_name())
                    .push_bind(e.created_at)
                    .push_bind(body);
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&mut *tx).await.map_err(classify)?;
        }
        for chunk in plan.statuses.chunks(CHUNK) {
            // One statement per chunk: each message's status moves only forward.
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
            let statuses: Vec<&str> = chunk.iter().map(|(_, s)| s.as_str()).collect();
            let ranks: Vec<i32> = chunk.iter().map(|(_, s)| i32::from(s.rank())).collect();
            sqlx::query(&format!(
                "UPDATE messages SET status = v.status
                 FROM UNNEST($1::uuid[], $2::text[], $3::int[]) AS v(id, status, rank)
                 WHERE messages.id = v.id AND {} < v.rank",
                RANK.replace("status", "messages.status")
            ))
            .bind(&ids)
            .bind(&statuses)
            .bind(&ranks)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            // An event means the connector has the message: it leaves the outbox.
            sqlx::query("DELETE FROM outbox WHERE message_id = ANY($1)")
                .bind(&ids)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        for session in &plan.sessions {
            upsert_session(&mut *tx, session).await?;
        }
        for (session_id, report) in &plan.carriers {
            // Kept with the session (the message row holds it too).
            sqlx::query("UPDATE sessions SET carrier = $1::jsonb WHERE id = $2")
                .bind(encode_json(report)?)
                .bind(*session_id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        Ok(self.messages_where("id = $1::uuid", &id.to_string()).await?.pop())
    }

    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        self.messages_where("session_id = $1", session_id).await
    }

    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError> {
        self.messages_where("from_addr = $1 OR to_addr = $1", address)
            .await
    }

    async fn session_report(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<seedgate_runtime::store::SessionDay>, StoreError> {
        let rows = sqlx::query("SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, channel, COALESCE(flow, '') AS flow,
                    COUNT(*)::BIGINT AS sessions, SUM(hops)::BIGINT AS hops, SUM(slices)::BIGINT AS slices
             FROM sessions WHERE started_at >= $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
            .bind(since)
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| seedgate_runtime::store::SessionDay {
                day: r.get("day"),
                channel: r.get("channel"),
                flow: r.get("flow"),
                sessions: u64::try_from(r.get::<i64, _>("sessions")).unwrap_or(0),
                hops: u64::try_from(r.get::<i64, _>("hops")).unwrap_or(0),
                slices: u64::try_from(r.get::<i64, _>("slices")).unwrap_or(0),
            })
            .collect())
    }

    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT body::text FROM events WHERE message_id = $1 ORDER BY created_at, id")
            .bind(message_id)
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
    }

    async fn accept(&self, msg: &Message, idem: Option<&Idempotency>) -> Result<Accepted, StoreError> {
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        if let Some(k) = idem {
            let horizon = Utc::now() - chrono::Duration::from_std(k.window).unwrap_or_default();
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3")
                .bind(&k.scope)
                .bind(&k.key)
                .bind(horizon)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, message_id, created_at)
                 VALUES ($1, $2, $3, $4, now()) ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&k.fingerprint)
            .bind(msg.id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if inserted == 0 {
                let row = sqlx::query(
                    "SELECT fingerprint, message_id FROM idempotency_keys WHERE scope = $1 AND key = $2",
                )
                .bind(&k.scope)
                .bind(&k.key)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
                let first: Uuid = row.get("message_id");
                return Ok(if row.get::<&str, _>("fingerprint") == k.fingerprint {
                    Accepted::Repeat(first)
                } else {
                    Accepted::Conflict(first)
                });
            }
        }
        insert_message(&mut *tx, msg, MessageStatus::Queued).await?;
        sqlx::query("INSERT INTO outbox (message_id, body, created_at) VALUES ($1, $2::jsonb, $3)")
            .bind(msg.id)
            .bind(encode_json(msg)?)
            .bind(msg.created_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Accepted::New)
    }

    async fn outbox_claim(&self, limit: u32, lease: Duration) -> Result<Vec<Message>, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or_default();
        let rows = sqlx::query(
            "UPDATE outbox SET claimed_until = now() + $1
             WHERE message_id IN (SELECT message_id FROM outbox WHERE claimed_until < now()
                                  ORDER BY message_id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING body::text",
        )
        .bind(lease)
        .bind(i64::from(limit))
        .fetch_all(self.ready().await?)
        .await
        .map_err(classify)?;
        let mut out: Vec<Message> = rows
            .iter()
            .map(|r| decode_json(r.get::<&str, _>(0)))
            .collect::<Result<_, _>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    async fn outbox_release(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET claimed_until = 'epoch'")
            .execute(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE message_id = ANY($1)")
            .bind(ids)
            .execute(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError> {
        let row = sqlx::query("SELECT body::text AS body, status FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        row.map(|r| stored(r.get("body"), r.get("status"))).transpose()
    }

    async fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "SELECT body::text AS body, status FROM messages WHERE true",
        );
        if let Some(c) = &q.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(a) = &q.address {
            qb.push(" AND (from_addr = ").push_bind(a.clone());
            qb.push(" OR to_addr = ").push_bind(a.clone()).push(")");
        }
        if let Some(t) = q.since {
            qb.push(" AND created_at >= ").push_bind(t);
        }
        if let Some(t) = q.until {
            qb.push(" AND created_at < ").push_bind(t);
        }
        if let Some(st) = q.status {
            qb.push(" AND status = ").push_bind(st.as_str());
        }
        if let Some(b) = q.before {
            qb.push(" AND id < ").push_bind(b);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(q.limit));
        let rows = qb
            .build()
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(|r| stored(r.get("body"), r.get("status")))
            .collect()
    }

    async fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE true"
        ));
        if let Some(c) = &q.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(t) = q.since {
            qb.push(" AND started_at >= ").push_bind(t);
        }
        match q.live {
            Some(true) => {
                qb.push(" AND ended_at IS NULL");
            }
            Some(false) => {
                qb.push(" AND ended_at IS NOT NULL");
            }
            None => {}
        }
        if let Some((t, id)) = &q.before {
            qb.push(" AND (started_at, id) < (").push_bind(*t);
            qb.push(", ").push_bind(id.clone()).push(")");
        }
        qb.push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let rows = qb
            .build()
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        rows.iter().map(session_row).collect()
    }

    async fn put_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(t.scopes.join(","))
        .bind(t.created_at)
        .execute(self.ready().await?)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query("SELECT id, name, hash, scopes, created_at FROM api_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(row.map(|r| ApiToken {
            id: r.get("id"),
            name: r.get("name"),
            hash: r.get("hash"),
            scopes: split_scopes(r.get("scopes")),
            created_at: r.get("created_at"),
        }))
    }

    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError> {
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        for j in jobs {
            sqlx::query(
                "INSERT INTO webhook_jobs (id, channel, kind, source_id, url, body, attempts, next_attempt_at, state, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (source_id, url) DO NOTHING",
            )
            .bind(j.id)
            .bind(&j.channel)
            .bind(&j.kind)
            .bind(j.source_id)
            .bind(&j.url)
            .bind(&j.body)
            .bind(i32::try_from(j.attempts).unwrap_or(i32::MAX))
            .bind(j.next_attempt_at)
            .bind(&j.state)
            .bind(&j.last_error)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn webhooks_due(&self, limit: u32, lease: Duration) -> Result<Vec<WebhookJob>, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or_default();
        let rows = sqlx::query(&format!(
            "UPDATE webhook_jobs SET claimed_until = now() + $1
             WHERE id IN (SELECT id FROM webhook_jobs WHERE state = 'pending' AND next_attempt_at <= now()
                          AND claimed_until < now() ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(lease)
        .bind(i64::from(limit))
        .fetch_all(self.ready().await?)
        .await
        .map_err(classify)?;
        Ok(rows.iter().map(webhook_row).collect())
    }

    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError> {
        let (state, next, error) = match outcome {
            WebhookOutcome::Delivered => ("delivered", None, None),
            WebhookOutcome::Retry { at, error } => ("pending", Some(*at), Some(error.as_str())),
            WebhookOutcome::Dead { error } => ("dead", None, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE webhook_jobs SET state = $1, attempts = attempts + 1, claimed_until = 'epoch',
               next_attempt_at = COALESCE($2, next_attempt_at), last_error = COALESCE($3, last_error)
             WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(self.ready().await?)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_jobs WHERE state = 'dead' ORDER BY next_attempt_at DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.ready().await?)
        .await
        .map_err(classify)?;
        Ok(rows.iter().map(webhook_row).collect())
    }

    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_jobs SET state = 'pending', attempts = 0, next_attempt_at = now(), claimed_until = 'epoch'
             WHERE id = $1 AND state = 'dead'",
        )
        .bind(id)
        .execute(self.ready().await?)
        .await
        .map_err(classify)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn purge(
        &self,
        channel: &str,
        before: DateTime<Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError> {
        more::purge(self.ready().await?, channel, before, limit, archive).await
    }

    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError> {
        more::contact(self.ready().await?, msisdn).await
    }

    async fn contact_put(&self, contact: &Contact) -> Result<bool, StoreError> {
        more::contact_put(self.ready().await?, contact).await
    }

    async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
        more::contacts(self.ready().await?, query).await
    }

    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError> {
        more::contact_delete(self.ready().await?, msisdn).await
    }

    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError> {
        more::channels_stored(self.ready().await?).await
    }

    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError> {
        more::channel_bump(self.ready().await?, name, Some(definition)).await
    }

    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError> {
        more::channel_bump(self.ready().await?, name, None).await
    }

    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError> {
        more::channel_delete(self.ready().await?, name).await
    }

    async fn subscribe(&self, sub: &Subscription) -> Result<bool, StoreError> {
        flows::subscribe(self.ready().await?, sub).await
    }

    async fn unsubscribe(&self, key: &str, set: &str) -> Result<bool, StoreError> {
        flows::unsubscribe(self.ready().await?, key, set).await
    }

    async fn subscriptions_of(&self, key: &str) -> Result<Vec<Subscription>, StoreError> {
        flows::subscriptions_of(self.ready().await?, key).await
    }

    async fn subscriptions_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Subscription>, StoreError> {
        flows::subscriptions_due(self.ready().await?, now, limit, lease).await
    }

    async fn subscription_advance(&self, step: &Advance, send: Option<&Message>) -> Result<bool, StoreError> {
        flows::subscription_advance(self.ready().await?, step, send).await
    }

    async fn subscription_counts(&self, behind: DateTime<Utc>) -> Result<Vec<SubscriptionCount>, StoreError> {
        flows::subscription_counts(self.ready().await?, behind).await
    }

    async fn run_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        flows::run_get(self.ready().await?, key).await
    }

    async fn run_put(
        &self,
        key: &str,
        body: &str,
        wait_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        flows::run_put(self.ready().await?, key, body, wait_until).await
    }

    async fn run_delete(&self, key: &str) -> Result<(), StoreError> {
        flows::run_delete(self.ready().await?, key).await
    }

    async fn runs_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        flows::runs_due(self.ready().await?, now, limit).await
    }
}

/// Orders statuses so an update only moves a message forward (see `MessageStatus::rank`).
const RANK: &str =
    "(CASE status WHEN 'received' THEN 0 WHEN 'queued' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END)";

const WEBHOOK_COLUMNS: &str =
    "id, channel, kind, source_id, url, body, attempts, next_attempt_at, state, last_error";

const SESSION_COLUMNS: &str =
    "id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason, carrier";

fn stored(body: &str, status: &str) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        message: decode_json(body)?,
        status: MessageStatus::parse(status)
            .ok_or_else(|| StoreError::Rejected(format!("bad stored status {status:?}")))?,
    })
}

fn webhook_row(r: &sqlx::postgres::PgRow) -> WebhookJob {
    WebhookJob {
        id: r.get("id"),
        channel: r.get("channel"),
        kind: r.get("kind"),
        source_id: r.get("source_id"),
        url: r.get("url"),
        body: r.get("body"),
        attempts: u32::try_from(r.get::<i32, _>("attempts")).unwrap_or(0),
        next_attempt_at: r.get("next_attempt_at"),
        state: r.get("state"),
        last_error: r.get("last_error"),
    }
}

fn session_row(r: &sqlx::postgres::PgRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: r.get("id"),
        channel: r.get("channel"),
        msisdn: r.get("msisdn"),
        flow: r.get("flow"),
        started_at: r.get::<DateTime<Utc>, _>("started_at"),
        ended_at: r.get("ended_at"),
        hops: u32::try_from(r.get::<i32, _>("hops")).unwrap_or(0),
        duration_ms: u64::try_from(r.get::<i64, _>("duration_ms")).unwrap_or(0),
        slices: u32::try_from(r.get::<i32, _>("slices")).unwrap_or(0),
        end_reason: r
            .get::<Option<&str>, _>("end_reason")
            .and_then(SessionEndReason::parse),
        carrier: r
            .get::<Option<serde_json::Value>, _>("carrier")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Rejected(format!("cannot decode a stored row: {e}")))?,
    })
}

async fn insert_message<'c, E>(conn: E, m: &Message, status: MessageStatus) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
           session_id, session_event, in_reply_to, created_at, body, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13) ON CONFLICT (id) DO NOTHING",
    )
    .bind(m.id)
    .bind(&m.channel)
    .bind(enum_name(&m.transport))
    .bind(enum_name(&m.direction))
    .bind(&m.from)
    .bind(&m.to)
    .bind(&m.content)
    .bind(m.session_id())
    .bind(m.session_event().map(|e| enum_name(&e)))
    .bind(m.in_reply_to)
    .bind(m.created_at)
    .bind(encode_json(m)?)
    .bind(status.as_str())
    .execute(conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_session<'c, E>(conn: E, s: &SessionRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO sessions (id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
           flow = COALESCE(EXCLUDED.flow, sessions.flow),
           ended_at = EXCLUDED.ended_at,
           hops = GREATEST(sessions.hops, EXCLUDED.hops),
           duration_ms = GREATEST(sessions.duration_ms, EXCLUDED.duration_ms),
           slices = GREATEST(sessions.slices, EXCLUDED.slices),
           end_reason = EXCLUDED.end_reason
         WHERE sessions.ended_at IS NULL",
    )
    .bind(&s.id)
    .bind(&s.channel)
    .bind(&s.msisdn)
    .bind(&s.flow)
    .bind(s.started_at)
    .bind(s.ended_at)
    .bind(i32::try_from(s.hops).unwrap_or(i32::MAX))
    .bind(i64::try_from(s.duration_ms).unwrap_or(i64::MAX))
    .bind(i32::try_from(s.slices).unwrap_or(i32::MAX))
    .bind(s.end_reason.map(SessionEndReason::as_str))
    .execute(conn)
    .await
    .map_err(classify)?;
    Ok(())
}
