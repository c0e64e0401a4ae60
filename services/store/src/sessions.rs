//! USSD session records and the billing report.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_proto::{SessionEndReason, SessionRecord};
use seedgate_runtime::store::{SessionDay, SessionQuery, Sessions, StoreError};

use crate::sql::{Query, Row};
use crate::SqlStore;

pub(crate) const SESSION_COLUMNS: &str =
    "id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason, carrier";

pub(crate) fn session_row(r: &Row) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: r.text("id")?,
        channel: r.text("channel")?,
        msisdn: r.text("msisdn")?,
        flow: r.opt_text("flow")?,
        started_at: r.ts("started_at")?,
        ended_at: r.opt_ts("ended_at")?,
        hops: r.u32("hops")?,
        duration_ms: r.u64("duration_ms")?,
        slices: r.u32("slices")?,
        end_reason: r
            .opt_text("end_reason")?
            .as_deref()
            .and_then(SessionEndReason::parse),
        carrier: r.opt_json("carrier")?,
    })
}

#[async_trait]
impl Sessions for SqlStore {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let q = Query::new(format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?")).bind(id);
        self.db
            .fetch_optional(&q)
            .await?
            .as_ref()
            .map(session_row)
            .transpose()
    }

    async fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let mut sql = Query::new(format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1"));
        if let Some(c) = &q.channel {
            sql.push(" AND channel = ").push_bind(c);
        }
        if let Some(t) = q.since {
            sql.push(" AND started_at >= ").push_bind(t);
        }
        match q.live {
            Some(true) => {
                sql.push(" AND ended_at IS NULL");
            }
            Some(false) => {
                sql.push(" AND ended_at IS NOT NULL");
            }
            None => {}
        }
        if let Some((t, id)) = &q.before {
            sql.push(" AND (started_at, id) < (").push_bind(t);
            sql.push(", ").push_bind(id).push(")");
        }
        sql.push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .push_bind(q.limit);
        self.db.fetch(&sql).await?.iter().map(session_row).collect()
    }

    async fn session_report(&self, since: DateTime<Utc>) -> Result<Vec<SessionDay>, StoreError> {
        let q = Query::new(format!(
            "SELECT {} AS day, channel, COALESCE(flow, '') AS flow, COUNT(*) AS sessions,
                    CAST(SUM(hops) AS BIGINT) AS hops, CAST(SUM(slices) AS BIGINT) AS slices
             FROM sessions WHERE started_at >= ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            self.db.dialect().day("started_at")
        ))
        .bind(since);
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(SessionDay {
                    day: r.text("day")?,
                    channel: r.text("channel")?,
                    flow: r.text("flow")?,
                    sessions: r.u64("sessions")?,
                    hops: r.u64("hops")?,
                    slices: r.u64("slices")?,
                })
            })
            .collect()
    }
}
