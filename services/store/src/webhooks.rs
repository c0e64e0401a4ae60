//! Webhook jobs: queued once per source and URL, claimed with a lease, settled, dead-lettered
//! and replayed.

use std::time::Duration;

use async_trait::async_trait;
use seedgate_runtime::store::{StoreError, WebhookJob, WebhookOutcome, Webhooks};
use uuid::Uuid;

use crate::sql::{Arg, Query, Row};
use crate::SqlStore;

const COLUMNS: &str = "id, channel, kind, source_id, url, body, attempts, next_attempt_at, state, last_error";

fn job(r: &Row) -> Result<WebhookJob, StoreError> {
    Ok(WebhookJob {
        id: r.uuid("id")?,
        channel: r.text("channel")?,
        kind: r.text("kind")?,
        source_id: r.uuid("source_id")?,
        url: r.text("url")?,
        body: r.text("body")?,
        attempts: r.u32("attempts")?,
        next_attempt_at: r.ts("next_attempt_at")?,
        state: r.text("state")?,
        last_error: r.opt_text("last_error")?,
    })
}

#[async_trait]
impl Webhooks for SqlStore {
    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for j in jobs {
            let q = Query::new(format!(
                "INSERT INTO webhook_jobs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source_id, url) DO NOTHING"
            ))
            .bind(j.id)
            .bind(&j.channel)
            .bind(&j.kind)
            .bind(j.source_id)
            .bind(&j.url)
            .bind(&j.body)
            .bind(j.attempts)
            .bind(j.next_attempt_at)
            .bind(&j.state)
            .bind(&j.last_error);
            tx.exec(&q).await?;
        }
        tx.commit().await
    }

    async fn webhooks_due(&self, limit: u32, lease: Duration) -> Result<Vec<WebhookJob>, StoreError> {
        let q = Query::new(format!(
            "UPDATE webhook_jobs SET claimed_until = ?
             WHERE id IN (SELECT id FROM webhook_jobs WHERE state = 'pending' AND next_attempt_at <= ?
                          AND claimed_until < ? ORDER BY next_attempt_at LIMIT ?{})
             RETURNING {COLUMNS}",
            self.db.dialect().skip_locked()
        ))
        .bind(Arg::Later(lease))
        .bind(Arg::Now)
        .bind(Arg::Now)
        .bind(limit);
        self.db.fetch(&q).await?.iter().map(job).collect()
    }

    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError> {
        let (state, next, error) = match outcome {
            WebhookOutcome::Delivered => ("delivered", None, None),
            WebhookOutcome::Retry { at, error } => ("pending", Some(*at), Some(error.as_str())),
            WebhookOutcome::Dead { error } => ("dead", None, Some(error.as_str())),
        };
        let q = Query::new(
            "UPDATE webhook_jobs SET state = ?, attempts = attempts + 1, claimed_until = ?,
               next_attempt_at = COALESCE(?, next_attempt_at), last_error = COALESCE(?, last_error)
             WHERE id = ?",
        )
        .bind(state)
        .bind(chrono::DateTime::UNIX_EPOCH)
        .bind(next)
        .bind(error)
        .bind(id);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError> {
        let q = Query::new(format!(
            "SELECT {COLUMNS} FROM webhook_jobs WHERE state = 'dead' ORDER BY next_attempt_at DESC LIMIT ?"
        ))
        .bind(limit);
        self.db.fetch(&q).await?.iter().map(job).collect()
    }

    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError> {
        let q = Query::new(
            "UPDATE webhook_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, claimed_until = ?
             WHERE id = ? AND state = 'dead'",
        )
        .bind(Arg::Now)
        .bind(chrono::DateTime::UNIX_EPOCH)
        .bind(id);
        Ok(self.db.exec(&q).await? == 1)
    }
}
