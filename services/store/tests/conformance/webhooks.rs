//! Webhook jobs: retries, dead letters, replay.

use super::*;

async fn webhook_jobs_retry_die_and_replay(store: Arc<dyn Store>) {
    let source = Uuid::now_v7();
    let job = WebhookJob {
        id: Uuid::now_v7(),
        channel: "demo-sms".into(),
        kind: "event".into(),
        source_id: source,
        url: "http://127.0.0.1:9/hook".into(),
        body: "{}".into(),
        attempts: 0,
        next_attempt_at: Utc::now(),
        state: "pending".into(),
        last_error: None,
    };
    store.webhooks_enqueue(std::slice::from_ref(&job)).await.unwrap();
    let mut dup = job.clone();
    dup.id = Uuid::now_v7();
    store.webhooks_enqueue(&[dup]).await.unwrap();
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(due.len(), 1, "one job per source and URL");
    assert!(store
        .webhooks_due(10, Duration::from_secs(30))
        .await
        .unwrap()
        .is_empty());
    store
        .webhook_settle(
            job.id,
            &WebhookOutcome::Retry {
                at: Utc::now() - chrono::Duration::seconds(1),
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));
    store
        .webhook_settle(
            job.id,
            &WebhookOutcome::Dead {
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    let dead = store.webhooks_dead(10).await.unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("HTTP 500")));
    assert!(store.webhook_replay(job.id).await.unwrap());
    assert!(
        !store.webhook_replay(job.id).await.unwrap(),
        "only dead jobs replay"
    );
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(due.len(), 1);
    store
        .webhook_settle(job.id, &WebhookOutcome::Delivered)
        .await
        .unwrap();
    assert!(store.webhooks_dead(10).await.unwrap().is_empty());
}

conformance!(webhook_jobs_retry_die_and_replay,);
