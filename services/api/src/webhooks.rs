//! Webhooks: inbound messages, events and status changes of channels with
//! `[channels.<name>.webhooks]` are posted to the configured URLs, signed.
//!
//! [`collect`] consumes the `api.webhooks` queue and turns each delivery into a job in the
//! store (one per source and URL, so a redelivery adds nothing), acking only after the commit.
//! [`watch_status`] reads the channels' status reports (see `runtime::monitor`) and makes a
//! job of each change, named by the change's id, so API replicas that both see it send it once.
//! [`send`] claims due jobs and POSTs them with
//!
//! - `X-Seedgate-Delivery`: the job id (the same on every attempt: receivers dedupe on it),
//! - `X-Seedgate-Event`: `inbound`, `event` or `status`,
//! - `X-Seedgate-Timestamp`: Unix seconds of this attempt,
//! - `X-Seedgate-Signature`: `v1=` and hex HMAC-SHA256 of `"<timestamp>.<body>"` with the
//!   channel's secret.
//!
//! A 2xx answer settles the job; anything else (or no answer within `api.webhook_timeout_ms`)
//! retries after `api.webhook_backoff_ms`, doubled each time up to an hour, and after
//! `api.webhook_max_attempts` the job is dead: listed at `/api/v1/webhooks/dead`, replayable.

use std::time::Duration;

use hmac::{Hmac, Mac};
use seedgate_proto::{Event, Message, RoutingKey};
use seedgate_runtime::bus::BusError;
use seedgate_runtime::store::{WebhookJob, WebhookOutcome};
use seedgate_runtime::topology::WEBHOOKS_QUEUE;
use seedgate_runtime::worker::{decode, ErrorCode, HandleError};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Api;

const BATCH: u32 = 50;
const POLL: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Turns webhook-bound deliveries into stored jobs, until `shutdown`.
pub async fn collect(api: Api, shutdown: CancellationToken) -> Result<(), BusError> {
    let bus = api.bus.clone();
    let prefetch = api.config.bus.prefetch;
    let handler = move |key: String, payload: Vec<u8>| {
        let api = api.clone();
        async move { enqueue(&api, &key, &payload).await }
    };
    seedgate_runtime::worker::consume("webhooks", bus, WEBHOOKS_QUEUE, prefetch, shutdown, handler).await
}

async fn enqueue(api: &Api, key: &str, payload: &[u8]) -> Result<(), HandleError> {
    let (channel, kind, source_id, body) = match RoutingKey::parse(key) {
        Some(RoutingKey::Inbound(ch)) => {
            let msg: Message = decode(payload)?;
            (ch.to_string(), "inbound", msg.id, serde_json::to_string(&msg))
        }
        Some(RoutingKey::Event(ch)) => {
            let ev: Event = decode(payload)?;
            (ch.to_string(), "event", ev.id, serde_json::to_string(&ev))
        }
        _ => {
            return Err(HandleError::new(
                ErrorCode::BadRequest,
                format!("unexpected routing key {key}"),
            ))
        }
    };
    let body = body.map_err(|e| HandleError::new(ErrorCode::Internal, e))?;
    let Some(config) = api.registry.get(&channel) else {
        return Ok(());
    };
    let Some(hooks) = config.webhooks.as_ref() else {
        return Ok(());
    };
    let url = match kind {
        "inbound" => hooks.inbound.clone(),
        _ => hooks.events.clone(),
    };
    let Some(url) = url else { return Ok(()) };
    api.store
        .webhooks_enqueue(&[job(channel, kind, source_id, url, body)])
        .await
        .map_err(|e| HandleError::Retry(e.to_string()))?;
    Ok(())
}

fn job(channel: String, kind: &str, source_id: Uuid, url: String, body: String) -> WebhookJob {
    WebhookJob {
        id: Uuid::now_v7(),
        channel,
        kind: kind.into(),
        source_id,
        url,
        body,
        attempts: 0,
        next_attempt_at: chrono::Utc::now(),
        state: "pending".into(),
        last_error: None,
    }
}

/// How often channel status is looked at for status webhooks.
const STATUS_POLL: Duration = Duration::from_secs(2);

/// Makes a status webhook job of every status change of channels with a `status` URL, until
/// `shutdown`. A channel nobody reports any more counts as a change to `down`.
pub async fn watch_status(api: Api, shutdown: CancellationToken) {
    let mut sent: std::collections::HashMap<String, Uuid> = std::collections::HashMap::new();
    // Since when a channel has had no report: it counts as down once that lasts a whole TTL
    // (a channel just made or restarted has not reported yet).
    let mut silent: std::collections::HashMap<String, tokio::time::Instant> =
        std::collections::HashMap::new();
    loop {
        let set = api.registry.current();
        for live in set.iter() {
            let Some(url) = live.config.webhooks.as_ref().and_then(|w| w.status.clone()) else {
                continue;
            };
            let mut report = crate::channels::report(&api, &live.name, live.changed_at).await;
            if report.status == seedgate_runtime::monitor::Health::Starting {
                continue; // not a status yet: the first report (or its absence) is the change
            }
            let last = sent.get(&live.name).copied();
            if report.change_id.is_nil() {
                let since = *silent
                    .entry(live.name.clone())
                    .or_insert_with(tokio::time::Instant::now);
                if since.elapsed() < seedgate_runtime::monitor::TTL {
                    continue;
                }
                // A change of its own, named after the last change seen.
                let basis = format!("{}:silent:{}", live.name, last.unwrap_or_default());
                let digest = <sha2::Sha256 as sha2::Digest>::digest(basis.as_bytes());
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                report.change_id = Uuid::from_bytes(bytes);
            } else {
                silent.remove(&live.name);
            }
            if last == Some(report.change_id) {
                continue;
            }
            let body = serde_json::json!({
                "channel": live.name,
                "status": report.status.as_str(),
                "reasons": report.reasons,
                "since": report.since,
                "change_id": report.change_id,
            })
            .to_string();
            let j = job(live.name.clone(), "status", report.change_id, url, body);
            match api.store.webhooks_enqueue(&[j]).await {
                Ok(()) => {
                    tracing::info!(channel = %live.name, status = report.status.as_str(), change = %report.change_id, "status webhook queued");
                    sent.insert(live.name.clone(), report.change_id);
                }
                Err(e) => {
                    tracing::warn!(channel = %live.name, error = %e, "cannot queue a status webhook; retrying")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(STATUS_POLL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Delivers due jobs until `shutdown`.
pub async fn send(api: Api, shutdown: CancellationToken) {
    let timeout = Duration::from_millis(api.config.api.webhook_timeout_ms);
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks stay queued");
            return;
        }
    };
    let lease = timeout + Duration::from_secs(5);
    loop {
        if !api.registry.current().iter().any(|l| l.config.webhooks.is_some()) {
            // No channel has webhooks (now): do not poll the store.
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                () = shutdown.cancelled() => return,
            }
        }
        let jobs = match api.store.webhooks_due(BATCH, lease).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim webhook jobs; retrying");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(POLL) => continue,
                () = shutdown.cancelled() => return,
            }
        }
        let mut calls = tokio::task::JoinSet::new();
        for job in jobs {
            let (api, client) = (api.clone(), client.clone());
            calls.spawn(async move { attempt(&api, &client, job).await });
        }
        while calls.join_next().await.is_some() {}
    }
}

async fn attempt(api: &Api, client: &reqwest::Client, job: WebhookJob) {
    let secret = match api.registry.get(&job.channel).and_then(|c| {
        c.webhooks
            .as_ref()
            .map(seedgate_runtime::config::WebhookConfig::secret)
    }) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::error!(channel = %job.channel, error = %e, "cannot read the webhook secret; will retry");
            return;
        }
        None => String::new(),
    };
    let ts = chrono::Utc::now().timestamp();
    let result = client
        .post(&job.url)
        .header("content-type", "application/json")
        .header("x-seedgate-delivery", job.id.to_string())
        .header("x-seedgate-event", job.kind.clone())
        .header("x-seedgate-timestamp", ts.to_string())
        .header("x-seedgate-signature", signature(&secret, ts, &job.body))
        .body(job.body.clone())
        .send()
        .await;
    let error = match result {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Some("timed out".to_string()),
        Err(e) if e.is_connect() => Some("connection refused or unreachable".to_string()),
        Err(e) => Some(format!("request failed: {e}")),
    };
    let outcome = match error {
        None => WebhookOutcome::Delivered,
        Some(error) if job.attempts + 1 >= api.config.api.webhook_max_attempts => {
            WebhookOutcome::Dead { error }
        }
        Some(error) => {
            let base = Duration::from_millis(api.config.api.webhook_backoff_ms);
            let delay = base
                .checked_mul(1u32 << job.attempts.min(20))
                .unwrap_or(BACKOFF_CAP)
                .min(BACKOFF_CAP);
            WebhookOutcome::Retry {
                at: chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                error,
            }
        }
    };
    let label = match &outcome {
        WebhookOutcome::Delivered => "delivered",
        WebhookOutcome::Retry { .. } => "retry",
        WebhookOutcome::Dead { .. } => "dead",
    };
    metrics::counter!("seedgate_api_webhooks_total", "channel" => job.channel.clone(), "outcome" => label)
        .increment(1);
    if let WebhookOutcome::Dead { error } = &outcome {
        tracing::warn!(job = %job.id, channel = %job.channel, %error, attempts = job.attempts + 1, "webhook dead-lettered");
    }
    if let Err(e) = api.store.webhook_settle(job.id, &outcome).await {
        tracing::warn!(job = %job.id, error = %e, "cannot record a webhook attempt; it will be retried after its lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // From OpenSSL: printf '1764000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature("s3cret", 1_764_000_000, "{\"a\":1}"),
            "v1=ece4ac47663d3ad88bb0892d55cacbb8177c0af8203f4a4e2e1e25c47ec628d5"
        );
        assert_ne!(
            signature("other", 1_764_000_000, "{\"a\":1}"),
            signature("s3cret", 1_764_000_000, "{\"a\":1}")
        );
    }
}
