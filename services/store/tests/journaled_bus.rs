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
