//! The Redis session store through a TCP relay to this machine's Redis that the test cuts and
//! stalls: a store whose connection broke, or stopped answering, uses Redis again within a
//! second of it being reachable (not after a reconnect backoff), and fails promptly meanwhile.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seedgate_runtime::config::{SessionStoreConfig, SessionStoreKind};
use seedgate_runtime::session_store::redis::RedisSessionStore;
use seedgate_runtime::session_store::SessionStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

fn redis_addr() -> String {
    std::env::var("SEEDGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string()
}

/// A relay on `port` to Redis. Dropping it (or [`Relay::cut`]) closes every connection.
struct Relay {
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<JoinSet<()>>>,
    /// One flag per connection made: while set, that connection passes no bytes.
    stalls: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl Relay {
    async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let stalls = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (conns, stalls) = (conns.clone(), stalls.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let stalled = Arc::new(AtomicBool::new(false));
                    stalls.lock().unwrap().push(stalled.clone());
                    conns.lock().unwrap().spawn(async move {
                        let Ok(server) = TcpStream::connect(redis_addr()).await else {
                            return;
                        };
                        pipe(client, server, stalled).await;
                    });
                }
            }
        });
        Self {
            accept,
            conns,
            stalls,
        }
    }

    /// Stops listening and closes every connection, as a Redis shutting down does.
    async fn cut(mut self) {
        self.accept.abort();
        let _ = (&mut self.accept).await;
        self.conns.lock().unwrap().abort_all();
        tokio::time::sleep(Duration::from_millis(50)).await; // the aborted tasks close their sockets
    }

    /// The connections made so far hang (bytes stop, the socket stays open); new ones work.
    fn stall_existing(&self) -> usize {
        let stalls = self.stalls.lock().unwrap();
        for s in stalls.iter() {
            s.store(true, Ordering::SeqCst);
        }
        stalls.len()
    }

    fn connections_made(&self) -> usize {
        self.stalls.lock().unwrap().len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.conns.lock().unwrap().abort_all();
    }
}

/// Copies bytes both ways, holding them while `stalled` is set.
async fn pipe(client: TcpStream, server: TcpStream, stalled: Arc<AtomicBool>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::select! {
        () = one_way(cr, sw, stalled.clone()) => {}
        () = one_way(sr, cw, stalled) => {}
    }
}

async fn one_way(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn store_on(port: u16) -> RedisSessionStore {
    let mut cfg = SessionStoreConfig::default();
    cfg.kind = SessionStoreKind::Redis;
    cfg.url = format!("redis://127.0.0.1:{port}");
    cfg.key_prefix = format!("seedgate-test:{}:", uuid::Uuid::now_v7().simple());
    RedisSessionStore::new(&cfg).unwrap()
}

/// Polls `store` every 50 ms until a write and a read succeed; how long that took.
async fn answers_again(store: &RedisSessionStore) -> Duration {
    let started = Instant::now();
    loop {
        let ok = store.put("k", b"v", Duration::from_secs(30)).await.is_ok()
            && store.get("k").await.is_ok_and(|v| v.is_some());
        if ok {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Redis never used again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_store_uses_redis_again_within_a_second_of_it_coming_back() {
    let port = free_port();
    let relay = Relay::start(port).await;
    let store = store_on(port);
    store.check().await.unwrap();
    store.put("k", b"before", Duration::from_secs(30)).await.unwrap();

    // Redis goes away for 2 s: commands fail, promptly.
    relay.cut().await;
    let down = Instant::now();
    let mut attempts = 0;
    while down.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        assert!(store.check().await.is_err(), "no Redis, no answer");
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "a failure is prompt: {:?}",
            t.elapsed()
        );
        attempts += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attempts >= 5, "{attempts}");

    let _relay = Relay::start(port).await;
    let took = answers_again(&store).await;
    assert!(
        took < Duration::from_secs(1),
        "used again {took:?} after Redis came back"
    );
    store.check().await.unwrap();
}

#[tokio::test]
async fn a_connection_that_stops_answering_is_replaced() {
    let port = free_port();
    let relay = Relay::start(port).await;
    let store = store_on(port);
    store.check().await.unwrap();
    assert_eq!(relay.connections_made(), 1);

    // The connection in use hangs (a half-open socket); a new one would work.
    relay.stall_existing();
    let t = Instant::now();
    let err = store.check().await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "a hung command times out: {:?}",
        t.elapsed()
    );
    assert!(err.to_string().contains("timed out"), "{err}");

    // The hung connection is not waited on again: the next command connects afresh.
    let t = Instant::now();
    store.check().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(relay.connections_made(), 2, "a new connection was made");
}
