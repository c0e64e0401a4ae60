//! SQLite store: the embedded default, one file under `./data`, WAL with full sync so a commit
//! survives a crash.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_proto::{Event, Message, SessionEndReason, SessionRecord};
use seedgate_runtime::config::StoreConfig;
use seedgate_runtime::store::{Record, Store, StoreError};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{carrier_report, classify, decode_json, encode_json, enum_name, unavailable};

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
        let mut tx = self.ready().await?.begin().await.map_err(classify)?;
        for record in records {
            match record {
                Record::Message(m) => {
                    sqlx::query(
                        "INSERT INTO messages (id, channel, transport, direction, from_addr, to_addr, content,
                           session_id, session_event, in_reply_to, created_at, body)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
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
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    if let Some((session_id, report)) = carrier_report(m) {
                        // Kept with the session (the message row holds it too).
                        sqlx::query("UPDATE sessions SET carrier = ? WHERE id = ?")
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
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(e.id.to_string())
                    .bind(e.message_id.to_string())
                    .bind(&e.channel)
                    .bind(e.kind_name())
                    .bind(ts(&e.created_at))
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
             FROM sessions WHERE id = ?",
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
            started_at: parse_ts(r.get("started_at"))?,
            ended_at: r.get::<Option<&str>, _>("ended_at").map(parse_ts).transpose()?,
            hops: u32::try_from(r.get::<i64, _>("hops")).unwrap_or(0),
            duration_ms: u64::try_from(r.get::<i64, _>("duration_ms")).unwrap_or(0),
            slices: u32::try_from(r.get::<i64, _>("slices")).unwrap_or(0),
            end_reason: r
                .get::<Option<&str>, _>("end_reason")
                .and_then(SessionEndReason::parse),
            carrier: r.get::<Option<&str>, _>("carrier").map(decode_json).transpose()?,
        }))
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
