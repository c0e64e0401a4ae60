//! The registration flow end to end through the flow runner, on a real store (SQLite and
//! PostgreSQL): a USSD registration creates the contact and the subscription; advancing the
//! clock sends each week's SMS exactly once, also with two schedulers at once and across a
//! restart of the runner; a scheduler that was down catches up by the set's policy.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use seedgate_proto::SessionEvent;
use seedgate_runtime::config::{Config, StoreKind};
use seedgate_runtime::store::{MessageQuery, Store};
use tokio::sync::Notify;

const MSISDN: &str = "+27820000808";

/// A registry that answers every registration with an id.
async fn registry() -> String {
    let app = axum::Router::new().route(
        "/register",
        axum::routing::post(|| async { (axum::http::StatusCode::CREATED, "{\"id\": \"REG-42\"}") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/register", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn flows(registry_url: &str) -> seedgate_flows::Flows {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../flows/registration.yaml"
    ))
    .unwrap()
    .replace("http://127.0.0.1:8080/demo/registry", registry_url);
    seedgate_flows::load_str("registration.yaml", &text).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The week-`n` campaign messages sent to the mother so far, by index.
async fn sent(store: &dyn Store) -> Vec<u64> {
    let q = MessageQuery {
        channel: Some("demo-sms".into()),
        address: Some(MSISDN.into()),
        limit: 500,
        ..Default::default()
    };
    let mut idx: Vec<u64> = store
        .messages(&q)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| {
            m.message
                .metadata
                .get("index")
                .and_then(serde_json::Value::as_u64)
        })
        .collect();
    idx.sort_unstable();
    idx
}

fn executor(store: &Arc<dyn Store>, flows: &seedgate_flows::Flows) -> seedgate_flows::effects::Executor {
    seedgate_flows::effects::Executor {
        catalog: seedgate_runtime::catalog::Catalog::fixed(flows.clone(), Vec::new()),
        store: store.clone(),
        http: reqwest::Client::new(),
        outbox: Arc::new(Notify::new()),
        scheduler: Arc::new(Notify::new()),
        sms_channel: "demo-sms".into(),
        registry: seedgate_runtime::channels::Registry::new(&Config::default()),
    }
}

async fn registration_then_weekly_messages(kind: StoreKind) {
    let store = common::store(kind);
    let flows = flows(&registry().await);
    let mut config = Config::default();
    config.channels.get_mut("demo-at").unwrap().flow = Some("registration".into());
    config.flows.scheduler_every_secs = 3600; // the test drives the scheduler itself
                                              // Registration on Wednesday 2 December 2026, 10:00 SAST.
    let mut phone = common::start(
        config,
        flows.clone(),
        store.clone(),
        common::clock("2026-12-02T08:00:00Z"),
    )
    .await;
    let welcome = phone.hop(MSISDN, "s1", SessionEvent::New, "").await.0;
    assert!(welcome.contains("Do you agree?"), "{welcome}");
    for input in ["1", "1", "24"] {
        phone.hop(MSISDN, "s1", SessionEvent::Resume, input).await;
    }
    let (end, closed) = phone.hop(MSISDN, "s1", SessionEvent::Resume, "1").await;
    assert!(closed);
    assert!(end.contains("You are registered"), "{end}");

    // The contact and the subscription are in the store.
    let contact = store.contact(MSISDN).await.unwrap().expect("the contact");
    assert_eq!(contact.fields.get("edd"), Some(&"2027-03-24".into()));
    assert_eq!(contact.fields.get("registration_id"), Some(&"REG-42".into()));
    assert_eq!(contact.language.as_deref(), Some("eng"));
    assert!(contact.groups.contains("registered"));
    let subs = store.subscriptions_of(MSISDN).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].set.as_str(), subs[0].state.as_str()),
        ("pregnancy_weekly", "active")
    );
    // Week 24 of 40: week 24's message (index 20) is due today, so the runner's scheduler
    // (woken by the subscription) sends it at once; then it waits for week 25's.
    for _ in 0..100 {
        if sent(store.as_ref()).await == [20] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sent(store.as_ref()).await, [20]);
    let subs = store.subscriptions_of(MSISDN).await.unwrap();
    assert_eq!(subs[0].next_index, 21);
    assert_eq!(
        subs[0].next_due,
        at("2026-12-09T07:00:00Z"),
        "Wednesday 9 December, 09:00 SAST"
    );
    // The welcome SMS went through the outbox.
    let welcome = store
        .messages(&MessageQuery {
            address: Some(MSISDN.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        welcome
            .iter()
            .any(|m| m.message.content.contains("due around 24 March 2027")),
        "{welcome:?}"
    );
    phone.stop().await;

    // The clock moves week by week. Two schedulers run side by side; each message goes once.
    let a = executor(&store, &flows);
    let b = executor(&store, &flows);
    let mut expected = vec![20];
    for (day, index) in [(9, 21), (16, 22), (23, 23)] {
        let now = Utc.with_ymd_and_hms(2026, 12, day, 8, 0, 0).single().unwrap();
        let (x, y) = tokio::join!(
            seedgate_flows::campaigns::tick(&a, now),
            seedgate_flows::campaigns::tick(&b, now)
        );
        assert_eq!(x.unwrap() + y.unwrap(), 1, "one message on {now}");
        // Again the same day: nothing more.
        assert_eq!(
            seedgate_flows::campaigns::tick(&a, now + chrono::Duration::hours(2))
                .await
                .unwrap(),
            0
        );
        expected.push(index);
        assert_eq!(sent(store.as_ref()).await, expected);
    }
    // The runner restarts (a new one, the same store): it goes on from where the last stopped.
    drop((a, b));
    let c2 = executor(&store, &flows);
    let now = at("2026-12-30T08:00:00Z");
    assert_eq!(seedgate_flows::campaigns::tick(&c2, now).await.unwrap(), 1);
    expected.push(24);
    assert_eq!(sent(store.as_ref()).await, expected);
    // Down for three weeks: `catch_up: latest` sends the newest due message, skipping two.
    let now = at("2027-01-20T08:00:00Z");
    assert_eq!(seedgate_flows::campaigns::tick(&c2, now).await.unwrap(), 1);
    expected.push(27);
    assert_eq!(sent(store.as_ref()).await, expected);
    // On a Saturday nothing goes out; on Monday the next one does.
    assert_eq!(
        seedgate_flows::campaigns::tick(&c2, at("2027-01-30T08:00:00Z"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        seedgate_flows::campaigns::tick(&c2, at("2027-02-01T08:00:00Z"))
            .await
            .unwrap(),
        1
    );
    expected.push(28);
    assert_eq!(sent(store.as_ref()).await, expected);
    // Each is a bulk message in the contact's language.
    let all = store
        .messages(&MessageQuery {
            channel: Some("demo-sms".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let week25 = all
        .iter()
        .find(|m| m.message.metadata.get("index") == Some(&21.into()))
        .unwrap();
    assert!(
        week25.message.content.starts_with("MomConnect week 25:"),
        "{}",
        week25.message.content
    );
    assert_eq!(week25.message.priority, seedgate_proto::Priority::Bulk);

    // Opted out: the subscription is cancelled, nothing more is sent.
    let mut c = store.contact(MSISDN).await.unwrap().unwrap();
    c.opted_out_at = Some(Utc::now());
    assert!(store.contact_put(&c).await.unwrap());
    assert_eq!(
        seedgate_flows::campaigns::tick(&c2, at("2027-02-08T08:00:00Z"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.subscriptions_of(MSISDN).await.unwrap()[0].state,
        "cancelled"
    );
}

#[tokio::test]
async fn registration_then_weekly_messages_on_sqlite() {
    registration_then_weekly_messages(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn registration_then_weekly_messages_on_postgres() {
    registration_then_weekly_messages(StoreKind::Postgres).await;
}
