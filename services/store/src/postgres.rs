//! PostgreSQL store for split deployments. An optional `schema` (created if missing) keeps
//! tenants or test runs apart in one database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_proto::{Event, Message, SessionEndReason, SessionRecord};
use seedgate_runtime::config::StoreConfig;
use seedgate_runtime::store::{Record, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{carrier_report, classify, decode_json, encode_json, enum_name, unavailable};

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
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        for record in records {
            match record {
                Record::Message(m) => {
                    sqlx::query(
                        "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
                           session_id, session_event, in_reply_to, created_at, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) ON CONFLICT (id) DO NOTHING",
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
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    if let Some((session_id, report)) = carrier_report(m) {
                        // Kept with the session (the message row holds it too).
                        sqlx::query("UPDATE sessions SET carrier = $1::jsonb WHERE id = $2")
                            .bind(encode_json(&report)?)
                            .bind(session_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Record::Session(session) => upsert_session(&mut *tx, session).await?,
                Record::Event(e) => {
                    sqlx::query(
                        "INSERT INTO events (id, message_id, channel, kind, created_at, body)
                         VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(e.id)
                    .bind(e.message_id)
                    .bind(&e.channel)
                    .bind(e.kind_name())
                    .bind(e.created_at)
                    .bind(encode_json(e)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                }
            }
        }
        tx.commit().await.map_err(classify)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason, carrier
             FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.ready().await?)
        .await
        .map_err(classify)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
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
        }))
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
