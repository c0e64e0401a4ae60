//! 50 concurrent wrong-password binds keep the server's memory bounded, and it is given back
//! afterwards: Argon2 verification (19 MiB of working memory per hash of the demo account's
//! parameters) must not pile up per bind, nor stay with the threads that ran it. Its own test
//! binary, so the process's resident set (`/proc/self/status`) is this test's alone.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::sync::Arc;
use std::time::{Duration, Instant};

use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::config::Config;
use seedgate_smpp::link::{Link, LinkConfig};
use seedgate_smpp::pdu::Bind;
use seedgate_smpp::{CommandStatus, Pdu};
use tokio_util::sync::CancellationToken;

const MIB: u64 = 1024 * 1024;

/// The resident set of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

async fn bind(addr: std::net::SocketAddr, password: &str) -> CommandStatus {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (link, _incoming) = Link::spawn(
        stream,
        LinkConfig {
            response_timeout: Duration::from_secs(60),
            ..LinkConfig::default()
        },
    );
    let bind = Bind {
        system_id: "demo".into(),
        password: password.into(),
        interface_version: 0x34,
        ..Default::default()
    };
    link.request(Pdu::BindTransceiver(bind)).await.unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_wrong_binds_keep_memory_bounded_and_give_it_back() {
    let config = Arc::new(Config::default());
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = seedgate_smpp::server::Server::new(config, bus).unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(seedgate_smpp::server::run(server, listener, None, stop.clone()));

    // One good bind first, so what is measured is the flood, not the first use of Argon2.
    assert_eq!(bind(addr, "demo").await, CommandStatus::ESME_ROK);
    let before = rss();

    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let flood: Vec<_> = (0..50)
        .map(|i| tokio::spawn(async move { bind(addr, &format!("guess{i}")).await }))
        .collect();
    for f in flood {
        assert_eq!(f.await.unwrap(), CommandStatus::ESME_RINVPASWD);
    }
    let took = started.elapsed();
    sampler.abort();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);

    // Given back: within a few seconds of the flood, the resident set is near where it was.
    let settle = Instant::now();
    let mut after = rss();
    while after > before + 24 * MIB && settle.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = rss();
    }
    eprintln!(
        "50 wrong binds in {took:?}: RSS {} MiB before, {} MiB at the peak, {} MiB after",
        before / MIB,
        peak / MIB,
        after / MIB
    );
    assert!(
        peak < before + 80 * MIB,
        "the flood grew the process by {} MiB",
        (peak - before) / MIB
    );
    assert!(
        after < before + 24 * MIB,
        "the flood left {} MiB behind",
        (after - before) / MIB
    );
    stop.cancel();
}
