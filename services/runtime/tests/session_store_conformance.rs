//! One conformance suite, two session stores: in-process (on tokio's paused clock) and Redis
//! (the real server of this machine, `SEEDGATE_TEST_REDIS_URL`, real TTLs).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::config::{SessionStoreConfig, SessionStoreKind};
use seedgate_runtime::session_store::memory::MemorySessionStore;
use seedgate_runtime::session_store::redis::RedisSessionStore;
use seedgate_runtime::session_store::{SessionStore, Write};

/// A Redis store config with a key prefix of its own.
fn redis_config() -> SessionStoreConfig {
    let mut cfg = SessionStoreConfig::default();
    cfg.kind = SessionStoreKind::Redis;
    cfg.url = std::env::var("SEEDGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    cfg.key_prefix = format!("seedgate-test:{}:", uuid::Uuid::now_v7().simple());
    cfg
}

fn redis_store() -> Arc<dyn SessionStore> {
    Arc::new(RedisSessionStore::new(&redis_config()).unwrap())
}

async fn create_is_exclusive_and_get_reports_remaining_time(s: Arc<dyn SessionStore>) {
    assert!(s.create("a", b"one", Duration::from_secs(180)).await.unwrap());
    assert!(
        !s.create("a", b"two", Duration::from_secs(180)).await.unwrap(),
        "a duplicate start does not overwrite"
    );
    let got = s.get("a").await.unwrap().unwrap();
    assert_eq!(got.value, b"one");
    assert!(
        got.remaining <= Duration::from_secs(180) && got.remaining > Duration::from_secs(170),
        "{:?}",
        got.remaining
    );
    assert_eq!(s.get("missing").await.unwrap(), None);
}

async fn update_keeps_the_ttl(s: Arc<dyn SessionStore>) {
    assert!(s.create("k", b"v1", Duration::from_millis(1500)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(s.update("k", b"v2").await.unwrap());
    let got = s.get("k").await.unwrap().unwrap();
    assert_eq!(got.value, b"v2");
    assert!(
        got.remaining <= Duration::from_millis(900),
        "update must not extend the budget: {:?}",
        got.remaining
    );
    assert!(!s.update("absent", b"x").await.unwrap());
}

async fn entries_expire_with_their_ttl(s: Arc<dyn SessionStore>) {
    assert!(s.create("short", b"x", Duration::from_millis(300)).await.unwrap());
    assert!(s.get("short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(s.get("short").await.unwrap(), None);
    assert!(
        !s.update("short", b"y").await.unwrap(),
        "an expired session cannot be revived by update"
    );
    assert_eq!(s.remove("short").await.unwrap(), None);
    assert!(
        s.create("short", b"new", Duration::from_secs(5)).await.unwrap(),
        "the id is free again"
    );
}

async fn put_and_remove(s: Arc<dyn SessionStore>) {
    s.put("p", b"1", Duration::from_secs(5)).await.unwrap();
    s.put("p", b"2", Duration::from_secs(10)).await.unwrap();
    assert!(s.get("p").await.unwrap().unwrap().remaining > Duration::from_secs(9));
    assert_eq!(s.remove("p").await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.remove("p").await.unwrap(), None);
    s.check().await.unwrap();
}

async fn get_many_reads_each_key_with_its_time(s: Arc<dyn SessionStore>) {
    s.put("a", b"1", Duration::from_secs(5)).await.unwrap();
    s.put("b", b"2", Duration::from_secs(60)).await.unwrap();
    let got = s.get_many(&["b", "missing", "a"]).await.unwrap();
    let values: Vec<Option<&[u8]>> = got
        .iter()
        .map(|g| g.as_ref().map(|g| g.value.as_slice()))
        .collect();
    assert_eq!(
        values,
        vec![Some(&b"2"[..]), None, Some(&b"1"[..])],
        "in the order asked"
    );
    assert!(got[0].as_ref().unwrap().remaining > Duration::from_secs(50));
    assert!(got[2].as_ref().unwrap().remaining <= Duration::from_secs(5));
    assert!(s.get_many(&[]).await.unwrap().is_empty());
}

async fn write_all_puts_and_removes_in_order(s: Arc<dyn SessionStore>) {
    assert!(s.create("old", b"x", Duration::from_secs(5)).await.unwrap());
    s.write_all(&[
        Write::Put {
            key: "w",
            value: b"first",
            ttl: Duration::from_secs(5),
        },
        Write::Remove("old"),
        Write::Remove("never"),
        Write::Put {
            key: "w",
            value: b"second",
            ttl: Duration::from_secs(60),
        },
    ])
    .await
    .unwrap();
    let w = s.get("w").await.unwrap().unwrap();
    assert_eq!(w.value, b"second", "the later write of a key wins");
    assert!(w.remaining > Duration::from_secs(50), "with its own fresh TTL");
    assert_eq!(s.get("old").await.unwrap(), None);
    s.write_all(&[]).await.unwrap();
}

/// Writes `v` under both `left` and `right`.
fn pair(v: &[u8]) -> [Write<'_>; 2] {
    [
        Write::Put {
            key: "left",
            value: v,
            ttl: Duration::from_secs(30),
        },
        Write::Put {
            key: "right",
            value: v,
            ttl: Duration::from_secs(30),
        },
    ]
}

/// A reader (`r`: the same data, its own connection) never sees half of a batch of writes.
async fn a_batch_of_writes_is_seen_whole(s: Arc<dyn SessionStore>, r: Arc<dyn SessionStore>) {
    s.write_all(&pair(b"0")).await.unwrap();
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 1..=200u32 {
                let v = i.to_string();
                s.write_all(&pair(v.as_bytes())).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let got = r.get_many(&["left", "right"]).await.unwrap();
        let values: Vec<Vec<u8>> = got.into_iter().map(|g| g.unwrap().value).collect();
        assert_eq!(values[0], values[1], "read {reads} saw half a batch");
        reads += 1;
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert_eq!(s.get("left").await.unwrap().unwrap().value, b"200");
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(start_paused = true)]
              async fn $name() { super::$name(std::sync::Arc::new(super::MemorySessionStore::new())).await; })*
        }
        mod redis_store {
            $(#[tokio::test] async fn $name() { super::$name(super::redis_store()).await; })*
        }
    };
}

conformance!(
    create_is_exclusive_and_get_reports_remaining_time,
    update_keeps_the_ttl,
    entries_expire_with_their_ttl,
    put_and_remove,
    get_many_reads_each_key_with_its_time,
    write_all_puts_and_removes_in_order,
);

#[tokio::test(start_paused = true)]
async fn memory_store_a_batch_of_writes_is_seen_whole() {
    let s: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
    a_batch_of_writes_is_seen_whole(s.clone(), s).await;
}

#[tokio::test]
async fn redis_store_a_batch_of_writes_is_seen_whole() {
    let cfg = redis_config();
    let writer: Arc<dyn SessionStore> = Arc::new(RedisSessionStore::new(&cfg).unwrap());
    let reader: Arc<dyn SessionStore> = Arc::new(RedisSessionStore::new(&cfg).unwrap());
    a_batch_of_writes_is_seen_whole(writer, reader).await;
}

#[tokio::test]
async fn redis_down_is_a_prompt_error() {
    let mut cfg = SessionStoreConfig::default();
    cfg.url = "redis://127.0.0.1:1".into();
    let s = RedisSessionStore::new(&cfg).unwrap();
    assert!(s.check().await.is_err());
    assert!(s.get("x").await.is_err());
}
