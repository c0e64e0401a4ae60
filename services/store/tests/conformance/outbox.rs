//! API accepts: the outbox, its leases and idempotency keys.

use super::*;
use crate::helpers::{key, sms_to};

async fn accepted_messages_wait_in_the_outbox_until_done(store: Arc<dyn Store>) {
    let a = sms_to("+27820000001", "one");
    let b = sms_to("+27820000002", "two");
    assert_eq!(store.accept(&a, None).await.unwrap(), Accepted::New);
    assert_eq!(store.accept(&b, None).await.unwrap(), Accepted::New);
    assert_eq!(
        store.stored_message(a.id).await.unwrap().unwrap().status,
        MessageStatus::Queued
    );
    let claimed = store.outbox_claim(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a.id, b.id]);
    assert!(
        store
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "claimed rows wait out their lease"
    );
    store.outbox_done(&[a.id]).await.unwrap();
    // `b` is still leased; `a` is gone for good.
    assert!(store.outbox_claim(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn an_expired_lease_is_claimed_again(store: Arc<dyn Store>) {
    let a = sms_to("+27820000003", "lease");
    store.accept(&a, None).await.unwrap();
    let first = store.outbox_claim(10, Duration::from_millis(300)).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = store.outbox_claim(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a.id]);
    store.outbox_done(&[a.id]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.outbox_claim(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn idempotency_keys_repeat_or_conflict(store: Arc<dyn Store>) {
    let a = sms_to("+27820000004", "hello");
    assert_eq!(
        store.accept(&a, Some(&key("k1", "f1"))).await.unwrap(),
        Accepted::New
    );
    let retry = sms_to("+27820000004", "hello");
    assert_eq!(
        store.accept(&retry, Some(&key("k1", "f1"))).await.unwrap(),
        Accepted::Repeat(a.id)
    );
    let other = sms_to("+27820000005", "different");
    assert_eq!(
        store.accept(&other, Some(&key("k1", "f2"))).await.unwrap(),
        Accepted::Conflict(a.id)
    );
    assert!(
        store.stored_message(retry.id).await.unwrap().is_none(),
        "nothing sent twice"
    );
    assert_eq!(
        store
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap()
            .len(),
        1
    );
    // Another token's key of the same name is its own.
    let mut theirs = key("k1", "f1");
    theirs.scope = "token-2".into();
    assert_eq!(store.accept(&retry, Some(&theirs)).await.unwrap(), Accepted::New);
}

conformance!(
    accepted_messages_wait_in_the_outbox_until_done,
    an_expired_lease_is_claimed_again,
    idempotency_keys_repeat_or_conflict,
);
