//! The in-process bus journaled in a real store (what `seedgate up` runs on): what it accepted
//! outlives the process, acked deliveries do not come back, and a store that cannot commit
//! (a full disk) refuses publishes with a temporary error and readiness, and recovers.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, BusError, QueueSpec, Subscription};
use seedgate_runtime::config::{StoreConfig, StoreKind};
use seedgate_runtime::store::Store;

async fn declare(bus: &dyn Bus) {
    bus.declare(&QueueSpec::new("store", ["*.outbound"]))
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("channel.sms.outbound", ["sms.outbound"]))
        .await
        .unwrap();
}

async fn take(sub: &mut Subscription, n: usize) -> Vec<seedgate_runtime::bus::Delivery> {
    let mut out = Vec::new();
    while out.len() < n {
        let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("a delivery within 5 s")
            .unwrap();
        out.push(d);
    }
    out
}

async fn nothing_more(sub: &mut Subscription) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        panic!("unexpected delivery {:?}", String::from_utf8_lossy(&d.payload));
    }
}

async fn what_a_process_accepted_is_delivered_by_the_next(store: Arc<dyn Store>) {
    let first = MemoryBus::journaled(store.clone());
    assert!(first.durable());
    declare(&first).await;
    let mut tasks = tokio::task::JoinSet::new();
    let first = Arc::new(first);
    for i in 0..300 {
        let bus = first.clone();
        tasks.spawn(async move {
            bus.publish("sms.outbound", format!("{{\"n\":{i}}}").as_bytes())
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    // The connector takes 100 and acks 60; the store queue acks all 300.
    let mut conn = first.consume("channel.sms.outbound", 100).await.unwrap();
    let taken = take(&mut conn, 100).await;
    let mut kept = Vec::new();
    for (i, d) in taken.into_iter().enumerate() {
        if i < 60 {
            d.ack().await.unwrap();
        } else {
            kept.push(d); // in flight at the "kill"
        }
    }
    let mut st = first.consume("store", 300).await.unwrap();
    for d in take(&mut st, 300).await {
        d.ack().await.unwrap();
    }
    // Acks are deleted on a later commit (within 50 ms when nothing else commits).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // kill -9: the process's memory is gone, its store is not.
    std::mem::forget(kept);
    std::mem::forget(conn);
    std::mem::forget(st);

    let second = MemoryBus::journaled(store.clone());
    declare(&second).await;
    let mut conn = second.consume("channel.sms.outbound", 500).await.unwrap();
    let again = take(&mut conn, 240).await;
    assert!(again.iter().all(|d| d.redelivered));
    let mut ns: Vec<u32> = again
        .iter()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
            v["n"].as_u64().unwrap() as u32
        })
        .collect();
    ns.sort_unstable();
    ns.dedup();
    assert_eq!(ns.len(), 240, "each unacked message once");
    nothing_more(&mut conn).await;
    let mut st = second.consume("store", 10).await.unwrap();
    nothing_more(&mut st).await;
    for d in again {
        d.ack().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        store.journal_pending().await.unwrap().is_empty(),
        "every ack deleted its row"
    );
}

#[tokio::test]
async fn sqlite_what_a_process_accepted_is_delivered_by_the_next() {
    what_a_process_accepted_is_delivered_by_the_next(common::sqlite()).await;
}

#[tokio::test]
async fn postgres_what_a_process_accepted_is_delivered_by_the_next() {
    what_a_process_accepted_is_delivered_by_the_next(common::postgres()).await;
}

#[tokio::test]
async fn a_journal_that_cannot_commit_refuses_publishes_and_readiness() {
    let mut cfg = StoreConfig::default();
    cfg.kind = StoreKind::Postgres;
    cfg.url = "postgres://postgres@127.0.0.1:1/test".into();
    let bus = MemoryBus::journaled(seedgate_store::open(&cfg).unwrap());
    let err = bus
        .declare(&QueueSpec::new("store", ["*.outbound"]))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Unavailable(_)), "{err:?}");
    assert!(bus.check().await.is_err());
}

/// A small tmpfs of its own (root only: CI runs as root), unmounted when dropped.
struct Disk(std::path::PathBuf);

impl Disk {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("seedgate-disk-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir))
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_publishes_until_it_has_room_again() {
    let Some(disk) = Disk::mount("4m") else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let mut cfg = StoreConfig::default();
    cfg.url = format!("sqlite://{}/seedgate.db", disk.0.display());
    let bus = MemoryBus::journaled(seedgate_store::open(&cfg).unwrap());
    declare(&bus).await;
    bus.publish("sms.outbound", b"{}").await.unwrap();

    // Full: a file takes every free block.
    let filler = disk.0.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let big = "x".repeat(200_000);
    let mut refused = None;
    for _ in 0..50 {
        if let Err(e) = bus
            .publish("sms.outbound", format!("{{\"t\":\"{big}\"}}").as_bytes())
            .await
        {
            refused = Some(e);
            break;
        }
    }
    assert!(matches!(refused, Some(BusError::Rejected(_))), "{refused:?}");
    assert!(bus.check().await.is_err(), "not ready while the disk is full");
    std::fs::remove_file(&filler).unwrap();
    bus.check().await.unwrap();
    bus.publish("sms.outbound", b"{}").await.unwrap();
}

fn outbound_sms(content: &str) -> seedgate_proto::Message {
    let mut m = seedgate_proto::Message::inbound(
        "sms",
        seedgate_proto::TransportType::Sms,
        "",
        "+27820000001",
        content,
    );
    m.direction = seedgate_proto::Direction::Outbound;
    m
}

/// Publishes to the store's queue are written to the store in the journal's commit: stored
/// when the publish returns, never queued for the store service; other queues still get
/// them. An undecodable payload (and a row the database refuses) is queued for the store
/// service as before, which logs and drops it.
async fn the_store_queue_is_written_with_the_journal(store: Arc<dyn Store>, refused: Option<&str>) {
    let bus = Arc::new(MemoryBus::journaled(store.clone()).write_through("store"));
    bus.declare(&QueueSpec::new("store", ["*.outbound", "*.event"]))
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("channel.sms.outbound", ["sms.outbound"]))
        .await
        .unwrap();
    let messages: Vec<_> = (0..50).map(|i| outbound_sms(&format!("week {i}"))).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for m in &messages {
        let (bus, payload) = (bus.clone(), serde_json::to_vec(m).unwrap());
        tasks.spawn(async move { bus.publish("sms.outbound", &payload).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    for m in &messages {
        let stored = store
            .stored_message(m.id)
            .await
            .unwrap()
            .expect("stored when published");
        assert_eq!(stored.message.content, m.content);
        assert_eq!(stored.status, seedgate_runtime::store::MessageStatus::Queued);
    }
    let ack = seedgate_proto::Event::new(
        "sms",
        messages[0].id,
        seedgate_proto::EventKind::Ack { carrier_id: None },
    );
    bus.publish("sms.event", &serde_json::to_vec(&ack).unwrap())
        .await
        .unwrap();
    let first = store.stored_message(messages[0].id).await.unwrap().unwrap();
    assert_eq!(first.status, seedgate_runtime::store::MessageStatus::Submitted);
    bus.publish("sms.outbound", b"{\"n\":1}").await.unwrap();
    let odd = refused.map(outbound_sms);
    if let Some(m) = &odd {
        bus.publish("sms.outbound", &serde_json::to_vec(m).unwrap())
            .await
            .unwrap();
        assert!(store.stored_message(m.id).await.unwrap().is_none());
    }
    let mut conn = bus.consume("channel.sms.outbound", 100).await.unwrap();
    let queued = 51 + usize::from(odd.is_some());
    assert_eq!(take(&mut conn, queued).await.len(), queued);
    let mut st = bus.consume("store", 10).await.unwrap();
    let for_service = take(&mut st, 1 + usize::from(odd.is_some())).await;
    assert_eq!(&for_service[0].payload[..], b"{\"n\":1}");
    if let Some(m) = &odd {
        let back: seedgate_proto::Message = serde_json::from_slice(&for_service[1].payload).unwrap();
        assert_eq!(back.id, m.id, "the refused row is queued for the store service");
    }
    nothing_more(&mut st).await;
}

#[tokio::test]
async fn sqlite_the_store_queue_is_written_with_the_journal() {
    the_store_queue_is_written_with_the_journal(common::sqlite(), None).await;
}

#[tokio::test]
async fn sealed_sqlite_the_store_queue_is_written_with_the_journal() {
    the_store_queue_is_written_with_the_journal(common::sealed(StoreKind::Sqlite), None).await;
}

#[tokio::test]
async fn postgres_the_store_queue_is_written_with_the_journal_and_a_refused_row_is_queued() {
    // PostgreSQL refuses a NUL in text: that row goes to the store service's queue instead.
    the_store_queue_is_written_with_the_journal(common::postgres(), Some("a\u{0}b")).await;
}

/// A live USSD session's hops (`publish_hop`) are handed on at once and journaled for no
/// other queue; their store copies are committed behind them. A copy the database refuses is
/// journaled and queued for the store service instead, as a publish's is.
async fn a_hop_is_handed_on_and_stored_behind(store: Arc<dyn Store>, refused: Option<&str>) {
    let bus = Arc::new(MemoryBus::journaled(store.clone()).write_through("store"));
    bus.declare(&QueueSpec::new("store", ["*.inbound"]))
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("sessions", ["*.inbound"]))
        .await
        .unwrap();
    let hop = |text: &str, i: usize| {
        let mut m = seedgate_proto::Message::inbound(
            "at",
            seedgate_proto::TransportType::Ussd,
            "+27820000001",
            "*134*550#",
            text,
        );
        m.session = Some(seedgate_proto::SessionInfo {
            id: format!("at:s{i}"),
            event: seedgate_proto::SessionEvent::Resume,
        });
        m
    };
    let hops: Vec<_> = (0..50).map(|i| hop(&i.to_string(), i)).collect();
    for m in &hops {
        bus.publish_hop("at.inbound", &serde_json::to_vec(m).unwrap())
            .await
            .unwrap();
    }
    // Delivered, not acked: a journaled hop would still have its row for `sessions`.
    let mut engine = bus.consume("sessions", 100).await.unwrap();
    let mut taken = take(&mut engine, 50).await;
    let mut stored = 0;
    for _ in 0..100 {
        stored = 0;
        for m in &hops {
            stored += usize::from(store.stored_message(m.id).await.unwrap().is_some());
        }
        if stored == hops.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, hops.len(), "every hop's store copy is committed");
    // Alone in its commit, so the database refuses only its own group.
    let odd = refused.map(|text| hop(text, 50));
    if let Some(m) = &odd {
        bus.publish_hop("at.inbound", &serde_json::to_vec(m).unwrap())
            .await
            .unwrap();
        taken.extend(take(&mut engine, 1).await);
    }
    let rows = store.journal_pending().await.unwrap();
    assert!(
        rows.iter().all(|r| r.queue == "store"),
        "no hop journaled for the session engine: {:?}",
        rows.iter().map(|r| &r.queue).collect::<Vec<_>>()
    );
    let mut st = bus.consume("store", 10).await.unwrap();
    match &odd {
        None => {
            assert!(rows.is_empty());
            nothing_more(&mut st).await;
        }
        Some(m) => {
            let back: seedgate_proto::Message =
                serde_json::from_slice(&take(&mut st, 1).await[0].payload).unwrap();
            assert_eq!(back.id, m.id, "the refused copy is queued for the store service");
            let rows = store.journal_pending().await.unwrap();
            assert_eq!(rows.len(), 1, "and journaled: {rows:?}");
            assert_eq!(rows[0].queue, "store");
        }
    }
    drop(taken);
}

#[tokio::test]
async fn sqlite_a_hop_is_handed_on_and_stored_behind() {
    a_hop_is_handed_on_and_stored_behind(common::sqlite(), None).await;
}

#[tokio::test]
async fn postgres_a_hop_is_handed_on_and_stored_behind_and_a_refused_copy_is_queued() {
    a_hop_is_handed_on_and_stored_behind(common::postgres(), Some("a\u{0}b")).await;
}
