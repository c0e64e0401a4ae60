//! Campaign subscriptions: one active per contact and set, moved on once with their message.

use super::*;
use crate::helpers::{at_day, bulk_sms, sub};

async fn one_active_subscription_per_contact_and_set(store: Arc<dyn Store>) {
    let a = sub("+27820000701", "weekly", 5);
    assert!(store.subscribe(&a).await.unwrap());
    assert!(
        !store.subscribe(&sub("+27820000701", "weekly", 6)).await.unwrap(),
        "already active"
    );
    assert!(store
        .subscribe(&sub("+27820000701", "postbirth", 6))
        .await
        .unwrap());
    assert!(store.unsubscribe("+27820000701", "weekly").await.unwrap());
    assert!(!store.unsubscribe("+27820000701", "weekly").await.unwrap());
    assert!(
        store.subscribe(&sub("+27820000701", "weekly", 7)).await.unwrap(),
        "again after cancelling"
    );
    let mine = store.subscriptions_of("+27820000701").await.unwrap();
    let states: Vec<(&str, &str)> = mine.iter().map(|s| (s.set.as_str(), s.state.as_str())).collect();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(states.contains(&("weekly", "cancelled")) && states.contains(&("weekly", "active")));
    assert!(mine.iter().all(|s| s.msisdn == "+27820000701"));
}

async fn due_subscriptions_move_on_once_with_their_message(store: Arc<dyn Store>) {
    let early = sub("+27820000702", "weekly", 3);
    let later = sub("+27820000703", "weekly", 20);
    store.subscribe(&early).await.unwrap();
    store.subscribe(&later).await.unwrap();
    let lease = Duration::from_secs(60);
    let due = store.subscriptions_due(at_day(10), 10, lease).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), [early.id]);
    assert_eq!(due[0].msisdn, "+27820000702");
    // Claimed: another scheduler does not get it while the lease runs.
    assert!(store
        .subscriptions_due(at_day(10), 10, lease)
        .await
        .unwrap()
        .is_empty());
    let msg = bulk_sms("+27820000702");
    let step = Advance {
        id: early.id,
        expected_index: 0,
        next_index: 1,
        next_due: at_day(17),
        state: "active".into(),
    };
    assert!(store.subscription_advance(&step, Some(&msg)).await.unwrap());
    // A second scheduler, or a restart, with the same step: nothing moves, nothing is sent.
    let twin = bulk_sms("+27820000702");
    assert!(!store.subscription_advance(&step, Some(&twin)).await.unwrap());
    assert!(store.stored_message(twin.id).await.unwrap().is_none());
    let stored = store.stored_message(msg.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.message.to.as_str()),
        (MessageStatus::Queued, "+27820000702")
    );
    let outbox = store.outbox_claim(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(outbox.iter().map(|m| m.id).collect::<Vec<_>>(), [msg.id]);
    assert_eq!(outbox[0].metadata["priority"], "bulk");
    // Its next message is due on the 17th; done subscriptions are never due.
    assert!(store
        .subscriptions_due(at_day(16), 10, lease)
        .await
        .unwrap()
        .is_empty());
    let again = store.subscriptions_due(at_day(17), 10, lease).await.unwrap();
    assert_eq!((again[0].id, again[0].next_index), (early.id, 1));
    let finish = Advance {
        id: early.id,
        expected_index: 1,
        next_index: 2,
        next_due: at_day(17),
        state: "done".into(),
    };
    assert!(store.subscription_advance(&finish, None).await.unwrap());
    assert!(store
        .subscriptions_due(at_day(30), 10, lease)
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != early.id));
    let counts = store.subscription_counts(at_day(25)).await.unwrap();
    let get = |state: &str| {
        counts
            .iter()
            .find(|c| c.set == "weekly" && c.state == state)
            .cloned()
    };
    assert_eq!(get("done").map(|c| c.count), Some(1));
    let active = get("active").unwrap();
    assert_eq!(
        (active.count, active.behind),
        (1, 1),
        "the one due on the 20th is behind by the 25th"
    );
}

conformance!(
    one_active_subscription_per_contact_and_set,
    due_subscriptions_move_on_once_with_their_message,
);
