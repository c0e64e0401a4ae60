//! The flow runner as the tests run it: on the in-process bus and session store and a real
//! store (SQLite, or PostgreSQL in its own schema), with a clock the test moves, and a phone
//! that talks to it over the bus as the session engine would.
#![allow(dead_code, clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, SessionEvent, SessionInfo, TransportType};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, QueueSpec, Subscription};
use seedgate_runtime::config::{Config, StoreConfig, StoreKind};
use seedgate_runtime::session_store::memory::MemorySessionStore;
use seedgate_runtime::store::Store;
use tokio_util::sync::CancellationToken;

/// A fresh store: SQLite in a temporary folder, or a fresh PostgreSQL schema.
pub fn store(kind: StoreKind) -> Arc<dyn Store> {
    let mut cfg = StoreConfig::default();
    if kind == StoreKind::Postgres {
        cfg.kind = kind;
        cfg.url = std::env::var("SEEDGATE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        cfg.schema = Some(format!("t{}", uuid::Uuid::now_v7().simple()));
    } else {
        let dir = std::env::temp_dir().join(format!("seedgate-flows-{}", uuid::Uuid::now_v7().simple()));
        cfg.url = format!("sqlite://{}/seedgate.db", dir.display());
    }
    seedgate_store::open(&cfg).unwrap()
}

/// A wall clock the test sets.
pub type Clock = Arc<Mutex<DateTime<Utc>>>;

pub fn clock(at: &str) -> Clock {
    Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
    ))
}

/// A running flow runner and a phone.
pub struct Harness {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
    replies: Subscription,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), seedgate_runtime::bus::BusError>>,
}

/// Starts the runner with `config` and `flows` on `store`, reading time from `clock`.
pub async fn start(
    config: Config,
    flows: seedgate_flows::Flows,
    store: Arc<dyn Store>,
    clock: Clock,
) -> Harness {
    let config = Arc::new(config);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("test.replies", ["*.app.outbound"]))
        .await
        .unwrap();
    let replies = bus.consume("test.replies", 10).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(seedgate_flows::run_with_clock(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        seedgate_runtime::catalog::Catalog::fixed(flows, Vec::new()),
        seedgate_flows::Backends {
            bus: bus.clone(),
            sessions: Arc::new(MemorySessionStore::new()),
            store: store.clone(),
        },
        Arc::new(move || *clock.lock().unwrap()),
        shutdown.clone(),
    ));
    Harness {
        bus,
        store,
        replies,
        shutdown,
        task,
    }
}

impl Harness {
    /// One USSD hop of `session` on `demo-at` from `msisdn`: the screen shown, and whether it
    /// closed the session.
    pub async fn hop(
        &mut self,
        msisdn: &str,
        session: &str,
        event: SessionEvent,
        input: &str,
    ) -> (String, bool) {
        let mut m = Message::inbound("demo-at", TransportType::Ussd, msisdn, "*134*550#", input);
        m.session = Some(SessionInfo {
            id: session.into(),
            event,
        });
        self.bus
            .publish("demo-at.app.inbound", &serde_json::to_vec(&m).unwrap())
            .await
            .unwrap();
        let d = tokio::time::timeout(Duration::from_secs(10), self.replies.next())
            .await
            .expect("a reply")
            .unwrap();
        let r: Message = serde_json::from_slice(&d.payload).unwrap();
        d.ack().await.unwrap();
        assert_eq!(r.in_reply_to, Some(m.id));
        let closed = r.session_event() == Some(SessionEvent::Close);
        (r.content, closed)
    }

    /// One SMS from `msisdn` on `channel`.
    pub async fn sms(&self, channel: &str, msisdn: &str, text: &str) -> Message {
        let m = Message::inbound(channel, TransportType::Sms, msisdn, "12345", text);
        self.bus
            .publish(
                &format!("{channel}.app.inbound"),
                &serde_json::to_vec(&m).unwrap(),
            )
            .await
            .unwrap();
        m
    }

    /// Stops the runner and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}
