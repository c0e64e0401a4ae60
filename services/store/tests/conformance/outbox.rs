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

/// Concurrent accepts share commits (`store/src/grouped.rs`); each still gets its own exact
/// answer: two requests with one key in the same group are one `New` and one `Repeat` of it.
async fn concurrent_accepts_each_get_their_own_answer(store: Arc<dyn Store>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300u32 {
        let store = store.clone();
        tasks.spawn(async move {
            let m = sms_to(&format!("+2782{:07}", i % 150), "weekly");
            let k = (i >= 100).then(|| key(&format!("k{}", if i >= 200 { i % 50 } else { i }), "same"));
            let answer = store.accept(&m, k.as_ref()).await.unwrap();
            (i, m.id, answer)
        });
    }
    let mut new = std::collections::HashMap::new();
    let mut repeats = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (i, id, answer) = r.unwrap();
        match answer {
            Accepted::New => {
                new.insert(id, i);
            }
            Accepted::Repeat(first) => repeats.push((i, first)),
            Accepted::Conflict(_) => panic!("the same fingerprint is a repeat, not a conflict"),
        }
    }
    // 100 without a key, 100 with a key of their own (k100..k199), and 100 sharing 50 keys
    // (k0..k49, two requests each): 250 new, 50 repeats.
    assert_eq!((new.len(), repeats.len()), (250, 50));
    for (_, first) in &repeats {
        assert!(
            new.contains_key(first),
            "a repeat names a message that was stored"
        );
    }
    let mut claimed = 0;
    loop {
        let batch = store.outbox_claim(100, Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        claimed += batch.len();
    }
    assert_eq!(
        claimed,
        new.len(),
        "one outbox row per new message, none for a repeat"
    );
}

conformance!(
    concurrent_accepts_each_get_their_own_answer,
    accepted_messages_wait_in_the_outbox_until_done,
    an_expired_lease_is_claimed_again,
    idempotency_keys_repeat_or_conflict,
);
