//! The store service end to end on the in-process bus and SQLite: every bus message is written,
//! deliveries are acked only after the commit, and bad payloads do not block the queue.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{Event, EventKind, Message, TransportType};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::config::Config;
use seedgate_runtime::store::Store;
use tokio_util::sync::CancellationToken;

async fn setup() -> (Arc<Config>, Arc<dyn Bus>, Arc<dyn Store>) {
    let dir = std::env::temp_dir().join(format!("seedgate-svc-{}", uuid::Uuid::now_v7().simple()));
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}/seedgate.db", dir.display());
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    let store = seedgate_store::open(&config.store).unwrap();
    (Arc::new(config), bus, store)
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn bus_traffic_lands_in_the_store_and_bad_payloads_do_not_block_it() {
    let (config, bus, store) = setup().await;
    let shutdown = CancellationToken::new();
    let svc = tokio::spawn(seedgate_store::run(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        store.clone(),
        shutdown.clone(),
    ));

    let msg = Message::inbound("demo-at", TransportType::Sms, "+27820000009", "12345", "hello");
    bus.publish("demo-at.event", b"{not json").await.unwrap();
    bus.publish("demo-at.inbound", &serde_json::to_vec(&msg).unwrap())
        .await
        .unwrap();
    let ev = Event::new("demo-at", msg.id, EventKind::Ack { carrier_id: None });
    bus.publish("demo-at.event", &serde_json::to_vec(&ev).unwrap())
        .await
        .unwrap();
    // The same message again (a redelivery after a crash) is not stored twice.
    bus.publish("demo-at.inbound", &serde_json::to_vec(&msg).unwrap())
        .await
        .unwrap();

    eventually("message and event stored", || {
        let store = store.clone();
        async move {
            store.message_events(msg.id).await.unwrap().len() == 1
                && store.message(msg.id).await.unwrap().is_some()
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.address_messages("+27820000009").await.unwrap(), vec![msg]);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), svc)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Everything was acked: a new consumer finds the queue empty.
    let mut sub = bus
        .consume(seedgate_runtime::topology::STORE_QUEUE, 10)
        .await
        .unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(200), sub.next())
        .await
        .is_err());
}

#[tokio::test]
async fn deliveries_stay_queued_while_the_database_is_away() {
    let (mut config, bus, _) = setup().await;
    let mut cfg = (*config).clone();
    cfg.store.kind = seedgate_runtime::config::StoreKind::Postgres;
    cfg.store.url = "postgres://postgres@127.0.0.1:1/test".into();
    config = Arc::new(cfg);
    let dead = seedgate_store::open(&config.store).unwrap();
    let shutdown = CancellationToken::new();
    let registry = seedgate_runtime::channels::Registry::new(&config);
    let svc = tokio::spawn(seedgate_store::run(
        config,
        registry,
        bus.clone(),
        dead,
        shutdown.clone(),
    ));
    let msg = Message::inbound("demo-at", TransportType::Sms, "+27820000010", "12345", "keep me");
    bus.publish("demo-at.inbound", &serde_json::to_vec(&msg).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), svc)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut sub = bus
        .consume(seedgate_runtime::topology::STORE_QUEUE, 10)
        .await
        .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert!(d.redelivered, "the message was handed back, not dropped");
    assert_eq!(serde_json::from_slice::<Message>(&d.payload).unwrap(), msg);
}

#[tokio::test]
async fn the_service_applies_each_channels_retention() {
    let dir = std::env::temp_dir().join(format!("seedgate-svc-{}", uuid::Uuid::now_v7().simple()));
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}/seedgate.db", dir.display());
    config.channels.get_mut("demo-at").unwrap().retention_days = Some(7);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    let store = seedgate_store::open(&config.store).unwrap();
    let mut old = Message::inbound("demo-at", TransportType::Sms, "+27820000009", "12345", "old");
    old.created_at = chrono::Utc::now() - chrono::Duration::days(8);
    let mut kept = Message::inbound(
        "demo-sms",
        TransportType::Sms,
        "+27820000009",
        "12345",
        "no retention",
    );
    kept.created_at = old.created_at;
    let recent = Message::inbound("demo-at", TransportType::Sms, "+27820000009", "12345", "recent");
    store
        .write_batch(&[
            seedgate_runtime::store::Record::Message(old.clone()),
            seedgate_runtime::store::Record::Message(kept.clone()),
            seedgate_runtime::store::Record::Message(recent.clone()),
        ])
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let registry = seedgate_runtime::channels::Registry::new(&config);
    let svc = tokio::spawn(seedgate_store::run(
        Arc::new(config),
        registry,
        bus,
        store.clone(),
        shutdown.clone(),
    ));
    eventually("the 8-day-old message is purged", || {
        let store = store.clone();
        async move { store.message(old.id).await.unwrap().is_none() }
    })
    .await;
    assert!(
        store.message(kept.id).await.unwrap().is_some(),
        "a channel without retention keeps all"
    );
    assert!(store.message(recent.id).await.unwrap().is_some());
    shutdown.cancel();
    svc.await.unwrap().unwrap();
}
