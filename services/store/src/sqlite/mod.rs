//! SQLite store: the embedded default, one file under `./data`, WAL with full sync so a commit
//! survives a crash.

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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    classify, decode_json, encode_json, enum_name, initial_status, split_scopes, unavailable, Plan, CHUNK,
};

mod flows;
mod more;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    migrated: OnceCell<()>,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Rejected(format!("bad stored timestamp {s:?}: {e}")))
}

impl SqliteStore {
    /// Opens `cfg.url` (e.g. `sqlite://data/seedgate.db`), creating the file and its folder.
    pub fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(&cfg.url)
            .map_err(|e| unavailable(format!("bad sqlite url {}: {e}", cfg.url)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        Ok(Self {
            pool,
            migrated: OnceCell::new(),
        })
    }

    async fn ready(&self) -> Result<&SqlitePool, StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|e| unavailable(format!("migrating: {e}")))
            })
            .await?;
        Ok(&self.pool)
    }

    async fn messages_where(&self, clause: &str, args: &[&str]) -> Result<Vec<Message>, StoreError> {
        let sql = format!("SELECT body FROM messages WHERE {clause} ORDER BY created_at, id");
        let mut q = sqlx::query(&sql);
        for a in args {
            q = q.bind(*a);
        }
        let rows = q.fetch_all(self.ready().await?).await.map_err(classify)?;
        rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
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
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
                   session_id, session_event, in_reply_to, created_at, body, status) ",
            );
            let mut bodies = Vec::with_capacity(chunk.len());
            for m in chunk {
                bodies.push(encode_json(*m)?);
            }
            qb.push_values(chunk.iter().zip(bodies), |mut b, (m, body)| {
                b.push_bind(m.id.to_string())
                    .push_bind(m.channel.clone())
                    .push_bind(enum_name(&m.transport))
                    .push_bind(enum_name(&m.direction))
                    .push_bind(m.from.clone())
                    .push_bind(m.to.clone())
                    .push_bind(m.content.clone())
                    .push_bind(m.session_id().map(str::to_string))
                    .push_bind(m.session_event().map(|e| enum_name(&e)))
                    .push_bind(m.in_reply_to.map(|id| id.to_string()))
                    .push_bind(ts(&m.created_at))
                    .push_bind(body)
                    .push_bind(initial_status(m).as_str());
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&mut *tx).await.map_err(classify)?;
        }
        for chunk in plan.events.chunks(CHUNK) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO events (id, message_id, channel, kind, created_at, body) ",
            );
            let mut bodies = Vec::with_capacity(chunk.len());
            for e in chunk {
                bodies.push(encode_json(*e)?);
            }
            qb.push_values(chunk.iter().zip(bodies), |mut b, (e, body)| {
                b.push_bind(e.id.to_string())
                    .push_bind(e.message_id.to_string())
                    .push_bind(e.channel.clone())
                    .push_bind(e.kind_name())
                    .push_bind(ts(&e.created_at))
                    .push_bind(body);
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&mut *tx).await.map_err(classify)?;
        }
        let update = format!("UPDATE messages SET status = ? WHERE id = ? AND {RANK} < ?");
        for (id, status) in &plan.statuses {
            // SQLite runs in-process: a statement per message costs no round trip.
            sqlx::query(&update)
                .bind(status.as_str())
                .bind(id.to_string())
                .bind(i64::from(status.rank()))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        // An event means the connector has the message: it leaves the outbox.
        let delivered: Vec<Uuid> = plan.statuses.iter().map(|(id, _)| *id).collect();
        delete_outbox(&mut tx, &delivered).await?;
        for session in &plan.sessions {
            upsert_session(&mut *tx, session).await?;
        }
        for (session_id, report) in &plan.carriers {
            // Kept with the session (the message row holds it too).
            sqlx::query("UPDATE sessions SET carrier = ? WHERE id = ?")
                .bind(encode_json(report)?)
                .bind(*session_id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        Ok(self.messages_where("id = ?", &[&id.to_string()]).await?.pop())
    }

    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        self.messages_where("session_id = ?", &[session_id]).await
    }

    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError> {
        self.messages_where("from_addr = ? OR to_addr = ?", &[address, address])
            .await
    }

    async fn session_report(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<seedgate_runtime::store::SessionDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT substr(started_at, 1, 10) AS day, channel, COALESCE(flow, '') AS flow,
                    COUNT(*) AS sessions, SUM(hops) AS hops, SUM(slices) AS slices
             FROM sessions WHERE started_at >= ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .bind(ts(&since))
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
        let rows = sqlx::query("SELECT body FROM events WHERE message_id = ? ORDER BY created_at, id")
            .bind(message_id.to_string())
            .fetch_all(self.ready().await?)
            .await
            .map_err(classify)?;
        rows.iter().map(|r| decode_json(r.get::<&str, _>(0))).collect()
    }

    async fn accept(&self, msg: &Message, idem: Option<&Idempotency>) -> Result<Accepted, StoreError> {
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        if let Some(k) = idem {
            let horizon = Utc::now() - chrono::Duration::from_std(k.window).unwrap_or_default();
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND created_at < ?")
                .bind(&k.scope)
                .bind(&k.key)
                .bind(ts(&horizon))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, message_id, created_at)
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&k.fingerprint)
            .bind(msg.id.to_string())
            .bind(ts(&Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if inserted == 0 {
                let row = sqlx::query(
                    "SELECT fingerprint, message_id FROM idempotency_keys WHERE scope = ? AND key = ?",
                )
                .bind(&k.scope)
                .bind(&k.key)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
                let first = parse_uuid(row.get("message_id"))?;
                return Ok(if row.get::<&str, _>("fingerprint") == k.fingerprint {
                    Accepted::Repeat(first)
                } else {
                    Accepted::Conflict(first)
                });
            }
        }
        insert_message(&mut *tx, msg, MessageStatus::Queued).await?;
        sqlx::query("INSERT INTO outbox (message_id, body, created_at) VALUES (?, ?, ?)")
            .bind(msg.id.to_string())
            .bind(encode_json(msg)?)
            .bind(ts(&msg.created_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Accepted::New)
    }

    async fn outbox_claim(&self, limit: u32, lease: Duration) -> Result<Vec<Message>, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let rows = sqlx::query(
            "UPDATE outbox SET claimed_until = ?
             WHERE message_id IN (SELECT message_id FROM outbox WHERE claimed_until < ?
                                  ORDER BY message_id LIMIT ?)
             RETURNING body",
        )
        .bind(ts(&until))
        .bind(ts(&now))
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
        sqlx::query("UPDATE outbox SET claimed_until = ''")
            .execute(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        delete_outbox(&mut tx, ids).await?;
        tx.commit().await.map_err(classify)
    }

    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError> {
        let row = sqlx::query("SELECT body, status FROM messages WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        row.map(|r| stored(r.get("body"), r.get("status"))).transpose()
    }

    async fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT body, status FROM messages WHERE 1 = 1");
        if let Some(c) = &q.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(a) = &q.address {
            qb.push(" AND (from_addr = ").push_bind(a.clone());
            qb.push(" OR to_addr = ").push_bind(a.clone()).push(")");
        }
        if let Some(t) = &q.since {
            qb.push(" AND created_at >= ").push_bind(ts(t));
        }
        if let Some(t) = &q.until {
            qb.push(" AND created_at < ").push_bind(ts(t));
        }
        if let Some(st) = q.status {
            qb.push(" AND status = ").push_bind(st.as_str());
        }
        if let Some(b) = q.before {
            qb.push(" AND id < ").push_bind(b.to_string());
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
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1"
        ));
        if let Some(c) = &q.channel {
            qb.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(t) = &q.since {
            qb.push(" AND started_at >= ").push_bind(ts(t));
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
            qb.push(" AND (started_at < ").push_bind(ts(t));
            qb.push(" OR (started_at = ").push_bind(ts(t));
            qb.push(" AND id < ").push_bind(id.clone()).push("))");
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
        sqlx::query("INSERT INTO api_tokens (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(t.id.to_string())
            .bind(&t.name)
            .bind(&t.hash)
            .bind(t.scopes.join(","))
            .bind(ts(&t.created_at))
            .execute(self.ready().await?)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query("SELECT id, name, hash, scopes, created_at FROM api_tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(self.ready().await?)
            .await
            .map_err(classify)?;
        row.map(|r| {
            Ok(ApiToken {
                id: parse_uuid(r.get("id"))?,
                name: r.get("name"),
                hash: r.get("hash"),
                scopes: split_scopes(r.get("scopes")),
                created_at: parse_ts(r.get("created_at"))?,
            })
        })
        .transpose()
    }

    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError> {
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        for j in jobs {
            sqlx::query(
                "INSERT INTO webhook_jobs (id, channel, kind, source_id, url, body, attempts, next_attempt_at, state, last_error)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, url) DO NOTHING",
            )
            .bind(j.id.to_string())
            .bind(&j.channel)
            .bind(&j.kind)
            .bind(j.source_id.to_string())
            .bind(&j.url)
            .bind(&j.body)
            .bind(i64::from(j.attempts))
            .bind(ts(&j.next_attempt_at))
            .bind(&j.state)
            .bind(&j.last_error)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn webhooks_due(&self, limit: u32, lease: Duration) -> Result<Vec<WebhookJob>, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let rows = sqlx::query(&format!(
            "UPDATE webhook_jobs SET claimed_until = ?
             WHERE id IN (SELECT id FROM webhook_jobs WHERE state = 'pending' AND next_attempt_at <= ?
                          AND claimed_until < ? ORDER BY next_attempt_at LIMIT ?)
             RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(ts(&until))
        .bind(ts(&now))
        .bind(ts(&now))
        .bind(i64::from(limit))
        .fetch_all(self.ready().await?)
        .await
        .map_err(classify)?;
        rows.iter().map(webhook_row).collect()
    }

    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError> {
        let (state, next, error) = match outcome {
            WebhookOutcome::Delivered => ("delivered", None, None),
            WebhookOutcome::Retry { at, error } => ("pending", Some(ts(at)), Some(error.as_str())),
            WebhookOutcome::Dead { error } => ("dead", None, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE webhook_jobs SET state = ?, attempts = attempts + 1, claimed_until = '',
               next_attempt_at = COALESCE(?, next_attempt_at), last_error = COALESCE(?, last_error)
             WHERE id = ?",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id.to_string())
        .execute(self.ready().await?)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_jobs WHERE state = 'dead' ORDER BY next_attempt_at DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.ready().await?)
        .await
        .map_err(classify)?;
        rows.iter().map(webhook_row).collect()
    }

    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, claimed_until = ''
             WHERE id = ? AND state = 'dead'",
        )
        .bind(ts(&Utc::now()))
        .bind(id.to_string())
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

const SESSION_COLUMNS: &str =
    "id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason, carrier";

/// Orders statuses so an update only moves a message forward (see `MessageStatus::rank`).
const RANK: &str =
    "(CASE status WHEN 'received' THEN 0 WHEN 'queued' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END)";

const WEBHOOK_COLUMNS: &str =
    "id, channel, kind, source_id, url, body, attempts, next_attempt_at, state, last_error";

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Rejected(format!("bad stored id {s:?}: {e}")))
}

fn stored(body: &str, status: &str) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        message: decode_json(body)?,
        status: MessageStatus::parse(status)
            .ok_or_else(|| StoreError::Rejected(format!("bad stored status {status:?}")))?,
    })
}

fn webhook_row(r: &sqlx::sqlite::SqliteRow) -> Result<WebhookJob, StoreError> {
    Ok(WebhookJob {
        id: parse_uuid(r.get("id"))?,
        channel: r.get("channel"),
        kind: r.get("kind"),
        source_id: parse_uuid(r.get("source_id"))?,
        url: r.get("url"),
        body: r.get("body"),
        attempts: u32::try_from(r.get::<i64, _>("attempts")).unwrap_or(0),
        next_attempt_at: parse_ts(r.get("next_attempt_at"))?,
        state: r.get("state"),
        last_error: r.get("last_error"),
    })
}

pub(super) fn session_row(r: &sqlx::sqlite::SqliteRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: r.get("id"),
        channel: r.get("channel"),
        msisdn: r.get("msisdn"),
        flow: r.get("flow"),
        started_at: parse_ts(r.get("started_at"))?,
        ended_at: r.get::<Option<&str>, _>("ended_at").map(parse_ts).transpose()?,
        hops: u32::try_from(r.get::<i64, _>("hops")).unwrap_or(0),
        duration_ms: u64::try_from(r.get::<i64, _>("duration_ms")).unwrap_or(0),
        slices: u32::try_from(r.get::<i64, _>("slices")).unwrap_or(0),
        end_reason: r
            .get::<Option<&str>, _>("end_reason")
            .and_then(SessionEndReason::parse),
        carrier: r.get::<Option<&str>, _>("carrier").map(decode_json).transpose()?,
    })
}

/// Deletes the outbox rows of `ids`, one statement per chunk.
async fn delete_outbox(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, ids: &[Uuid]) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK) {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new("DELETE FROM outbox WHERE message_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.to_string());
        }
        qb.push(")");
        qb.build().execute(&mut **tx).await.map_err(classify)?;
    }
    Ok(())
}

async fn insert_message<'c, E>(conn: E, m: &Message, status: MessageStatus) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
           session_id, session_event, in_reply_to, created_at, body, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    )
    .bind(m.id.to_string())
    .bind(&m.channel)
    .bind(enum_name(&m.transport))
    .bind(enum_name(&m.direction))
    .bind(&m.from)
    .bind(&m.to)
    .bind(&m.content)
    .bind(m.session_id())
    .bind(m.session_event().map(|e| enum_name(&e)))
    .bind(m.in_reply_to.map(|id| id.to_string()))
    .bind(ts(&m.created_at))
    .bind(encode_json(m)?)
    .bind(status.as_str())
    .execute(conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_session<'c, E>(conn: E, s: &SessionRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO sessions (id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET
           flow = COALESCE(excluded.flow, sessions.flow),
           ended_at = excluded.ended_at,
           hops = MAX(sessions.hops, excluded.hops),
           duration_ms = MAX(sessions.duration_ms, excluded.duration_ms),
           slices = MAX(sessions.slices, excluded.slices),
           end_reason = excluded.end_reason
         WHERE sessions.ended_at IS NULL",
    )
    .bind(&s.id)
    .bind(&s.channel)
    .bind(&s.msisdn)
    .bind(&s.flow)
    .bind(ts(&s.started_at))
    .bind(s.ended_at.as_ref().map(ts))
    .bind(i64::from(s.hops))
    .bind(i64::try_from(s.duration_ms).unwrap_or(i64::MAX))
    .bind(i64::from(s.slices))
    .bind(s.end_reason.map(SessionEndReason::as_str))
    .execute(conn)
    .await
    .map_err(classify)?;
    Ok(())
}
