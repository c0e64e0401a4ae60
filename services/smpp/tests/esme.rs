//! The ESME client connector against the SMSC simulator, over real TCP on loopback, with the
//! in-process bus and session store: MT with receipts, throttling, an SMSC that dies
//! mid-stream, and MO with reassembly.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{DeliveryStatus, Event, EventKind, Message, TransportType};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, QueueSpec, Subscription};
use seedgate_runtime::config::{ChannelKind, Config};
use seedgate_runtime::session_store::memory::MemorySessionStore;
use seedgate_smpp::smsc_sim::{SimConfig, SmscSim};
use tokio_util::sync::CancellationToken;

async fn sim_on(port: u16, cfg: SimConfig) -> (SmscSim, CancellationToken) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let stop = CancellationToken::new();
    (SmscSim::start(listener, cfg, stop.clone()).unwrap(), stop)
}

fn esme_config(port: u16, tweak: impl FnOnce(&mut seedgate_runtime::config::EsmeConfig)) -> Config {
    let text = format!(
        "[channels.carrier]\ntype = \"smpp-esme\"\n[channels.carrier.smpp]\naddress = \"127.0.0.1:{port}\"\nsystem_id = \"seedgate\"\npassword = \"pw\"\nbinds = 2\nwindow = 10\nsource_addr = \"MomConnect\"\nresponse_timeout_secs = 2\n[smpp_server]\nenabled = false\n"
    );
    let dir = std::env::temp_dir().join(format!("esme-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.toml"), text).unwrap();
    let mut config = Config::load(Some(&dir.join("c.toml")), Vec::<(String, String)>::new()).unwrap();
    let ch = config.channels.get_mut("carrier").unwrap();
    let ChannelKind::SmppEsme(esme) = &mut ch.kind else {
        panic!("not an smpp-esme channel: {:?}", ch.kind)
    };
    tweak(&mut esme.smpp);
    config
}

struct Harness {
    bus: Arc<dyn Bus>,
    events: Subscription,
    inbound: Subscription,
    stop: CancellationToken,
}

async fn start_esme(config: Config) -> Harness {
    let config = Arc::new(config);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("t.events", ["carrier.event"]))
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("t.inbound", ["carrier.inbound"]))
        .await
        .unwrap();
    let events = bus.consume("t.events", 1000).await.unwrap();
    let inbound = bus.consume("t.inbound", 100).await.unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(seedgate_smpp::esme::run(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        Arc::new(MemorySessionStore::new()),
        sqlite_store(),
        seedgate_runtime::monitor::Monitor::new(),
        stop.clone(),
    ));
    Harness {
        bus,
        events,
        inbound,
        stop,
    }
}

fn mt(n: usize, text: &str) -> Message {
    let mut m = Message::inbound("carrier", TransportType::Sms, "", format!("+2782{n:07}"), text);
    m.direction = seedgate_proto::Direction::Outbound;
    m
}

/// Collects events until every message has an ack and a delivery report.
async fn await_outcomes(
    h: &mut Harness,
    ids: &HashSet<uuid::Uuid>,
    within: Duration,
) -> (HashMap<uuid::Uuid, String>, HashMap<uuid::Uuid, DeliveryStatus>) {
    let mut acks = HashMap::new();
    let mut reports = HashMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while acks.len() < ids.len() || reports.len() < ids.len() {
        let d = match tokio::time::timeout_at(deadline, h.events.next()).await {
            Ok(Some(d)) => d,
            _ => panic!(
                "timed out with {} acks and {} reports of {}",
                acks.len(),
                reports.len(),
                ids.len()
            ),
        };
        let e: Event = serde_json::from_slice(&d.payload).unwrap();
        d.ack().await.unwrap();
        assert!(
            ids.contains(&e.message_id),
            "an event for a message we did not send"
        );
        match e.kind {
            EventKind::Ack { carrier_id } => {
                acks.insert(e.message_id, carrier_id.unwrap());
            }
            EventKind::DeliveryReport { status } => {
                reports.insert(e.message_id, status);
            }
            EventKind::Nack { reason } | EventKind::Expired { reason } => panic!("not sent: {reason}"),
        }
    }
    (acks, reports)
}

async fn publish_all(h: &Harness, msgs: &[Message]) {
    for m in msgs {
        h.bus
            .publish("carrier.outbound", &serde_json::to_vec(m).unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn delivers_1000_mt_and_correlates_every_receipt() {
    let port = free_port();
    let (sim, _sim_stop) = sim_on(
        port,
        SimConfig {
            dlr_delay: Duration::from_millis(20),
            ..SimConfig::default()
        },
    )
    .await;
    let mut h = start_esme(esme_config(port, |_| {})).await;
    let msgs: Vec<Message> = (0..1000)
        .map(|n| match n % 3 {
            0 => mt(n, "Sawubona! Drink clean water."),
            1 => mt(n, "Ngiyabonga 👶🏽"),
            _ => mt(n, &"Week 20: talk and sing to your baby. ".repeat(6)),
        })
        .collect();
    publish_all(&h, &msgs).await;
    let ids: HashSet<_> = msgs.iter().map(|m| m.id).collect();
    let (acks, reports) = await_outcomes(&mut h, &ids, Duration::from_secs(60)).await;
    assert!(reports.values().all(|s| *s == DeliveryStatus::Delivered));
    let long = &msgs[2];
    assert_eq!(
        acks[&long.id].split(',').count(),
        2,
        "a 2-part message has two carrier ids"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.submits_accepted.load(std::sync::atomic::Ordering::Relaxed),
        667 + 333 * 2
    );
    h.stop.cancel();
}

#[tokio::test]
async fn throttling_by_the_smsc_delays_but_loses_nothing() {
    let port = free_port();
    let (sim, _s) = sim_on(
        port,
        SimConfig {
            max_tps: 40,
            dlr_delay: Duration::from_millis(10),
            ..SimConfig::default()
        },
    )
    .await;
    let mut h = start_esme(esme_config(port, |_| {})).await;
    let msgs: Vec<Message> = (0..120).map(|n| mt(n, "hello")).collect();
    publish_all(&h, &msgs).await;
    let ids: HashSet<_> = msgs.iter().map(|m| m.id).collect();
    await_outcomes(&mut h, &ids, Duration::from_secs(60)).await;
    assert!(
        sim.stats()
            .submits_throttled
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the SMSC did throttle"
    );
    h.stop.cancel();
}

#[tokio::test]
async fn an_smsc_killed_mid_stream_loses_nothing_and_the_client_finishes() {
    let port = free_port();
    let (sim, sim_stop) = sim_on(
        port,
        SimConfig {
            dlr_delay: Duration::from_millis(10),
            ..SimConfig::default()
        },
    )
    .await;
    let mut h = start_esme(esme_config(port, |e| e.tps = 200)).await;
    let msgs: Vec<Message> = (0..600).map(|n| mt(n, "hello again")).collect();
    publish_all(&h, &msgs).await;
    // Let some go out, then kill the SMSC and bring up a new one on the same port.
    while sim
        .stats()
        .submits_accepted
        .load(std::sync::atomic::Ordering::Relaxed)
        < 100
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim_stop.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_sim2, _s2) = sim_on(
        port,
        SimConfig {
            dlr_delay: Duration::from_millis(10),
            ..SimConfig::default()
        },
    )
    .await;
    let ids: HashSet<_> = msgs.iter().map(|m| m.id).collect();
    let mut acks = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acks.len() < ids.len() {
        let d = tokio::time::timeout_at(deadline, h.events.next())
            .await
            .expect("every message acked in time")
            .unwrap();
        let e: Event = serde_json::from_slice(&d.payload).unwrap();
        d.ack().await.unwrap();
        if let EventKind::Ack { .. } = e.kind {
            acks.insert(e.message_id);
        }
        assert!(!matches!(e.kind, EventKind::Nack { .. }), "{e:?}");
    }
    h.stop.cancel();
}

#[tokio::test]
async fn mo_messages_are_published_and_parts_reassembled() {
    let port = free_port();
    let (sim, _s) = sim_on(port, SimConfig::default()).await;
    let mut h = start_esme(esme_config(port, |e| e.binds = 1)).await;
    // Wait for the bind.
    for _ in 0..100 {
        if sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let single = seedgate_smpp::pdu::Sm {
        short_message: bytes::Bytes::from_static(b"STOP"),
        ..Default::default()
    };
    assert!(sim
        .send_mo("seedgate", "27820000001", "12345", single)
        .await
        .unwrap()
        .is_ok());
    let parts = seedgate_smpp::text::split::split(
        &"Ngiyabonga kakhulu 👶🏽 ".repeat(5),
        seedgate_smpp::text::split::Concat::Udh8,
        9,
    )
    .unwrap();
    assert_eq!(parts.len(), 2);
    for p in parts.iter().rev() {
        let sm = seedgate_smpp::pdu::Sm {
            esm_class: 0x40,
            data_coding: p.data_coding,
            short_message: bytes::Bytes::from(p.octets.clone()),
            ..Default::default()
        };
        assert!(sim
            .send_mo("seedgate", "27820000002", "12345", sm)
            .await
            .unwrap()
            .is_ok());
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(5), h.inbound.next())
            .await
            .unwrap()
            .unwrap();
        got.push(serde_json::from_slice::<Message>(&d.payload).unwrap());
        d.ack().await.unwrap();
    }
    assert_eq!(
        (got[0].from.as_str(), got[0].content.as_str()),
        ("+27820000001", "STOP"),
        "stored as E.164 whatever form the SMSC wrote it in"
    );
    assert_eq!(
        got[1].content,
        "Ngiyabonga kakhulu 👶🏽 ".repeat(5),
        "parts arrived last-first and were put back in order"
    );
    h.stop.cancel();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn an_unanswered_ussd_hop_gets_the_fallback_and_a_late_reply_is_nacked() {
    let port = free_port();
    let (sim, _s) = sim_on(port, SimConfig::default()).await;
    let mut config = esme_config(port, |e| {
        e.binds = 1;
        e.ussd_profile = Some("tata".into());
    });
    let ch = config.channels.get_mut("carrier").unwrap();
    ch.flow = Some("demo".into());
    ch.hop_deadline_ms = 300;
    let mut h = start_esme(config).await;
    let mut submits = sim.submits();
    for _ in 0..100 {
        if sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dial = seedgate_smpp::pdu::Sm {
        service_type: "USSD".into(),
        short_message: bytes::Bytes::from_static(b"*134*550#"),
        tlvs: seedgate_smpp::tlv::Tlvs::default().with(seedgate_smpp::tlv::tag::USSD_SERVICE_OP, vec![1u8]),
        ..Default::default()
    };
    let started = tokio::time::Instant::now();
    assert!(sim
        .send_mo("seedgate", "27820000001", "550", dial)
        .await
        .unwrap()
        .is_ok());
    let d = h.inbound.next().await.unwrap();
    let new: Message = serde_json::from_slice(&d.payload).unwrap();
    d.ack().await.unwrap();
    assert_eq!(
        (new.transport, new.session_event(), new.to.as_str()),
        (
            TransportType::Ussd,
            Some(seedgate_proto::SessionEvent::New),
            "*134*550#"
        )
    );

    // Nobody answers: the fallback goes out as an ending reply at the deadline.
    let sm = tokio::time::timeout(Duration::from_secs(5), submits.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sm.tlvs.ussd_service_op(), Some(17));
    assert!(
        seedgate_smpp::text::decode(sm.data_coding, sm.payload()).starts_with("Sorry, the service is busy")
    );
    let d = h.inbound.next().await.unwrap();
    let close: Message = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (close.session_event(), close.close_reason),
        (
            Some(seedgate_proto::SessionEvent::Close),
            Some(seedgate_proto::SessionEndReason::HopDeadline)
        )
    );

    // The flow's reply arrives too late: nacked, not sent.
    let late = new.reply("Welcome", seedgate_proto::SessionEvent::Resume);
    h.bus
        .publish("carrier.outbound", &serde_json::to_vec(&late).unwrap())
        .await
        .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(5), h.events.next())
        .await
        .unwrap()
        .unwrap();
    let e: Event = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(e.message_id, late.id);
    assert!(matches!(e.kind, EventKind::Nack { .. }), "{e:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), submits.recv())
            .await
            .is_err(),
        "nothing more was sent"
    );
    h.stop.cancel();
}

/// With `lease = true`, two processes running the same channel bind one at a time: the second
/// stands by, and binds when the first stops (its lease released).
#[tokio::test]
async fn a_leased_channel_is_bound_by_one_process_at_a_time() {
    let port = free_port();
    let (sim, _sim_stop) = sim_on(port, SimConfig::default()).await;
    let config = Arc::new(esme_config(port, |e| {
        e.lease = true;
        e.binds = 1;
    }));
    let sessions: Arc<dyn seedgate_runtime::session_store::SessionStore> =
        Arc::new(MemorySessionStore::new());
    let store = sqlite_store();
    let process = |stop: CancellationToken| {
        let (config, sessions, store) = (config.clone(), sessions.clone(), store.clone());
        async move {
            let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
            seedgate_runtime::topology::declare(bus.as_ref(), &config)
                .await
                .unwrap();
            seedgate_smpp::esme::run(
                config.clone(),
                seedgate_runtime::channels::Registry::new(&config),
                bus,
                sessions,
                store,
                seedgate_runtime::monitor::Monitor::new(),
                stop,
            )
            .await
        }
    };
    let (a, b) = (CancellationToken::new(), CancellationToken::new());
    let first = tokio::spawn(process(a.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn(process(b.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let binds = || sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(binds(), 1, "the second process stands by");
    a.cancel();
    first.await.unwrap().unwrap();
    // The second retries every third of the 15 s lease.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while binds() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(binds(), 2, "the standby took over");
    b.cancel();
    second.await.unwrap().unwrap();
}

/// A fresh SQLite store (carrier ids and held receipts live there).
fn sqlite_store() -> Arc<dyn seedgate_runtime::store::Store> {
    let dir = std::env::temp_dir().join(format!("seedgate-esme-{}", uuid::Uuid::now_v7().simple()));
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/seedgate.db", dir.display());
    seedgate_store::open(&cfg).unwrap()
}
