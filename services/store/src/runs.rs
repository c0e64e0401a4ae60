//! SMS conversations' state, with the time each one's question times out.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{FlowRuns, StoreError};

use crate::sql::{Arg, Query};
use crate::SqlStore;

#[async_trait]
impl FlowRuns for SqlStore {
    async fn run_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let q = Query::new("SELECT body FROM flow_runs WHERE key = ?").bind(key);
        self.db
            .fetch_optional(&q)
            .await?
            .map(|r| r.text("body"))
            .transpose()
    }

    async fn run_put(
        &self,
        key: &str,
        body: &str,
        wait_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let q = Query::new(
            "INSERT INTO flow_runs (key, body, wait_until, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET body = excluded.body, wait_until = excluded.wait_until,
               updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(body)
        .bind(wait_until)
        .bind(Arg::Now);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn run_delete(&self, key: &str) -> Result<(), StoreError> {
        self.db
            .exec(&Query::new("DELETE FROM flow_runs WHERE key = ?").bind(key))
            .await?;
        Ok(())
    }

    async fn runs_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        let q = Query::new(
            "SELECT key, body FROM flow_runs WHERE wait_until IS NOT NULL AND wait_until <= ?
             ORDER BY wait_until LIMIT ?",
        )
        .bind(now)
        .bind(limit);
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| Ok((r.text("key")?, r.text("body")?)))
            .collect()
    }
}
