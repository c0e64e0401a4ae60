//! The flow runner's side of the store, on all four stores: subscriptions (one active per
//! contact and set, claimed with a lease, moved on exactly once with the message they send)
//! and SMS conversations waiting with a timeout.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use seedgate_proto::{Message, TransportType};
use seedgate_runtime::store::{Advance, MessageStatus, Store, Subscription};
use uuid::Uuid;

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, day, 9, 0, 0).single().unwrap()
}

fn sub(msisdn: &str, set: &str, due: u32) -> Subscription {
    Subscription {
        id: Uuid::now_v7(),
        key: msisdn.into(),
        msisdn: msisdn.into(),
        set: set.into(),
        next_index: 0,
        next_due: at(due),
        state: "active".into(),
        created_at: Utc::now(),
    }
}

fn sms(to: &str) -> Message {
    let mut m = Message::inbound("demo-sms", TransportType::Sms, "MomConnect", to, "Week 20: …");
    m.direction = seedgate_proto::Direction::Outbound;
    m.metadata.insert("priority".into(), "bulk".into());
    m
}

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
    let due = store.subscriptions_due(at(10), 10, lease).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), [early.id]);
    assert_eq!(due[0].msisdn, "+27820000702");
    // Claimed: another scheduler does not get it while the lease runs.
    assert!(store
        .subscriptions_due(at(10), 10, lease)
        .await
        .unwrap()
        .is_empty());
    let msg = sms("+27820000702");
    let step = Advance {
        id: early.id,
        expected_index: 0,
        next_index: 1,
        next_due: at(17),
        state: "active".into(),
    };
    assert!(store.subscription_advance(&step, Some(&msg)).await.unwrap());
    // A second scheduler, or a restart, with the same step: nothing moves, nothing is sent.
    let twin = sms("+27820000702");
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
        .subscriptions_due(at(16), 10, lease)
        .await
        .unwrap()
        .is_empty());
    let again = store.subscriptions_due(at(17), 10, lease).await.unwrap();
    assert_eq!((again[0].id, again[0].next_index), (early.id, 1));
    let finish = Advance {
        id: early.id,
        expected_index: 1,
        next_index: 2,
        next_due: at(17),
        state: "done".into(),
    };
    assert!(store.subscription_advance(&finish, None).await.unwrap());
    assert!(store
        .subscriptions_due(at(30), 10, lease)
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != early.id));
    let counts = store.subscription_counts(at(25)).await.unwrap();
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

async fn conversations_wait_and_time_out(store: Arc<dyn Store>) {
    store
        .run_put("sms:demo-sms:+27820000704", "{\"a\":1}", Some(at(5)))
        .await
        .unwrap();
    store
        .run_put("sms:demo-sms:+27820000705", "{\"b\":2}", None)
        .await
        .unwrap();
    assert_eq!(
        store
            .run_get("sms:demo-sms:+27820000704")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":1}")
    );
    assert!(store.runs_due(at(4), 10).await.unwrap().is_empty());
    let due = store.runs_due(at(6), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1, "{\"a\":1}");
    store
        .run_put("sms:demo-sms:+27820000704", "{\"a\":2}", None)
        .await
        .unwrap();
    assert!(
        store.runs_due(at(6), 10).await.unwrap().is_empty(),
        "answered: no timeout left"
    );
    store.run_delete("sms:demo-sms:+27820000704").await.unwrap();
    assert!(store
        .run_get("sms:demo-sms:+27820000704")
        .await
        .unwrap()
        .is_none());
}

conformance!(
    one_active_subscription_per_contact_and_set,
    due_subscriptions_move_on_once_with_their_message,
    conversations_wait_and_time_out,
);
