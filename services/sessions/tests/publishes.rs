//! How the engine publishes: a hop's publishes go out as one batch (one wait for the broker's
//! confirms), and never ahead of the session-store write they depend on. A bus that records
//! each batch, and whether the session's state was stored when it went out, wraps the
//! in-process bus. A live session's messages and progress records go as hops
//! (`Bus::publish_hop`: delivered before they are durable); its final record does not.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::hop;
use seedgate_proto::{SessionEndReason, SessionEvent, SessionRecord};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, BusError, QueueSpec, Subscription};
use seedgate_runtime::config::Config;
use seedgate_runtime::session_store::memory::MemorySessionStore;
use seedgate_runtime::session_store::SessionStore;
use tokio_util::sync::CancellationToken;

/// One publish call: its routing keys, which of them went as hops, and whether the session's
/// state was in the session store at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Batch {
    keys: Vec<String>,
    hop: Vec<bool>,
    state_stored: bool,
}

#[derive(Debug)]
struct Recording {
    inner: MemoryBus,
    store: Arc<MemorySessionStore>,
    state_key: String,
    batches: Mutex<Vec<Batch>>,
}

impl Recording {
    async fn note(&self, keys: Vec<String>, hop: Vec<bool>) {
        let state_stored = self.store.get(&self.state_key).await.unwrap().is_some();
        self.batches.lock().unwrap().push(Batch {
            keys,
            hop,
            state_stored,
        });
    }

    /// The batches the engine published (not the test's own), taken.
    fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
            .into_iter()
            .filter(|b| {
                !b.keys
                    .iter()
                    .any(|k| k.ends_with(".inbound") && !k.contains(".app."))
            })
            .filter(|b| !b.keys.iter().any(|k| k.ends_with(".app.outbound")))
            .collect()
    }
}

#[async_trait]
impl Bus for Recording {
    async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        self.inner.declare(spec).await
    }
    async fn publish(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        self.note(vec![routing_key.to_string()], vec![false]).await;
        self.inner.publish(routing_key, payload).await
    }
    async fn publish_hop(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        self.note(vec![routing_key.to_string()], vec![true]).await;
        self.inner.publish_hop(routing_key, payload).await
    }
    async fn publish_all(&self, batch: &[(String, Vec<u8>)]) -> Result<(), BusError> {
        self.note(
            batch.iter().map(|(k, _)| k.clone()).collect(),
            vec![false; batch.len()],
        )
        .await;
        self.inner.publish_all(batch).await
    }
    async fn publish_all_hops(&self, batch: &[(String, Vec<u8>)], hop: &[bool]) -> Result<(), BusError> {
        self.note(batch.iter().map(|(k, _)| k.clone()).collect(), hop.to_vec())
            .await;
        self.inner.publish_all_hops(batch, hop).await
    }
    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError> {
        self.inner.consume(queue, prefetch).await
    }
    async fn check(&self) -> Result<(), BusError> {
        self.inner.check().await
    }
    fn durable(&self) -> bool {
        self.inner.durable()
    }
}

async fn next(sub: &mut Subscription) -> Vec<u8> {
    let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a delivery")
        .unwrap();
    let payload = d.payload.clone();
    d.ack().await.unwrap();
    payload
}

#[tokio::test(start_paused = true)]
async fn a_hop_publishes_once_after_its_write_and_a_final_record_goes_before_the_state() {
    let config = Arc::new(Config::default());
    let store = Arc::new(MemorySessionStore::new());
    let bus = Arc::new(Recording {
        inner: MemoryBus::new(),
        store: store.clone(),
        state_key: "session:p1".into(),
        batches: Mutex::default(),
    });
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("test.records", ["*.session"]))
        .await
        .unwrap();
    let mut app = bus
        .consume(seedgate_runtime::topology::FLOWS_QUEUE, 10)
        .await
        .unwrap();
    let mut out = bus
        .consume(&seedgate_runtime::topology::channel_outbound_queue("demo-at"), 10)
        .await
        .unwrap();
    let mut records = bus.consume("test.records", 10).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(seedgate_sessions::run_with_clock(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        store.clone(),
        shutdown.clone(),
        Arc::new(chrono::Utc::now),
    ));
    let both = |state_stored| Batch {
        keys: vec!["demo-at.session".into(), "demo-at.app.inbound".into()],
        hop: vec![true, true],
        state_stored,
    };

    // The dial: the session is created, then its record and the forward go out together.
    let dial = hop("p1", SessionEvent::New, "");
    bus.publish("demo-at.inbound", &serde_json::to_vec(&dial).unwrap())
        .await
        .unwrap();
    next(&mut app).await;
    next(&mut records).await;
    assert_eq!(bus.take(), vec![both(true)]);

    // A reply to the connector.
    let mut reply = dial.reply("Welcome", SessionEvent::Resume);
    reply.metadata.insert("flow".into(), "demo".into());
    bus.publish("demo-at.app.outbound", &serde_json::to_vec(&reply).unwrap())
        .await
        .unwrap();
    next(&mut out).await;
    let keys = |k: &str, hop| Batch {
        keys: vec![k.to_string()],
        hop: vec![hop],
        state_stored: true,
    };
    assert_eq!(bus.take(), vec![keys("demo-at.outbound", true)]);

    // An answer: saved, then one batch.
    let answer = hop("p1", SessionEvent::Resume, "1");
    bus.publish("demo-at.inbound", &serde_json::to_vec(&answer).unwrap())
        .await
        .unwrap();
    next(&mut app).await;
    next(&mut records).await;
    assert_eq!(bus.take(), vec![both(true)]);

    // The closing reply: the final record is published, durably, while the state is still
    // stored (a failed publish is retried with it), the state goes, then the screen goes out.
    let close = answer.reply("Thank you", SessionEvent::Close);
    bus.publish("demo-at.app.outbound", &serde_json::to_vec(&close).unwrap())
        .await
        .unwrap();
    next(&mut out).await;
    let last: SessionRecord = serde_json::from_slice(&next(&mut records).await).unwrap();
    assert_eq!(last.end_reason, Some(SessionEndReason::Completed));
    assert_eq!(
        bus.take(),
        vec![
            keys("demo-at.session", false),
            Batch {
                keys: vec!["demo-at.outbound".into()],
                hop: vec![true],
                state_stored: false
            }
        ]
    );
    assert!(store.get("session:p1").await.unwrap().is_none());
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
