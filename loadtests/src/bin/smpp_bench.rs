//! `smpp-bench`: an ESME load generator on seedgate's SMPP link layer.
//!
//! Opens `--binds` transceiver binds to `--target`, keeps `--window` submits outstanding on
//! each, and sends `--messages` in all (or stops after `--max-seconds`). Receipts from the
//! SMSC are answered. Prints progress every second on stderr and a report on stdout:
//! throughput and submit→response latency percentiles. Loopback targets only.
//!
//! Targets: `seedgate smsc-sim` (MT throughput of our client side), the npm `smpp` SMSC in
//! `tests/interop/npm_smsc.js`, or `seedgate up`'s SMPP server (system_id/password `demo`).

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use seedgate_smpp::link::{Link, LinkConfig};
use seedgate_smpp::pdu::{Address, Bind, Frame, Pdu, Sm, SmResp};
use seedgate_smpp::CommandStatus;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:2776")]
    target: String,
    #[arg(long, default_value = "bench")]
    system_id: String,
    #[arg(long, default_value = "bench")]
    password: String,
    #[arg(long, default_value_t = 1)]
    binds: usize,
    #[arg(long, default_value_t = 10)]
    window: usize,
    #[arg(long, default_value_t = 20_000)]
    messages: u64,
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// Ask for delivery receipts.
    #[arg(long)]
    receipts: bool,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    receipts: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    seedgate_loadtests::require_loopback("smpp-bench", &args.target);
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(args.max_seconds);
    let progress = {
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let ok = tally.ok.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>4.0}s] submitted {ok} ({} /s), failed {}, receipts {}",
                    started.elapsed().as_secs_f64(),
                    ok - last,
                    tally.failed.load(Ordering::Relaxed),
                    tally.receipts.load(Ordering::Relaxed)
                );
                last = ok;
            }
        })
    };
    let mut binds = tokio::task::JoinSet::new();
    for b in 0..args.binds {
        let (tally, next, target) = (tally.clone(), next.clone(), args.target.clone());
        let (system_id, password, window, total, receipts) = (
            args.system_id.clone(),
            args.password.clone(),
            args.window,
            args.messages,
            args.receipts,
        );
        binds.spawn(async move {
            let stream = tokio::net::TcpStream::connect(&target)
                .await
                .unwrap_or_else(|e| panic!("connect {target}: {e}"));
            let _ = stream.set_nodelay(true);
            let (link, mut incoming) = Link::spawn(
                stream,
                LinkConfig {
                    window,
                    ..LinkConfig::default()
                },
            );
            let bind = Bind {
                system_id,
                password,
                interface_version: 0x34,
                ..Bind::default()
            };
            let resp = link
                .request(Pdu::BindTransceiver(bind))
                .await
                .expect("bind answered");
            assert!(resp.status.is_ok(), "bind {b} refused: {}", resp.status);
            // Answer receipts and other requests from the SMSC.
            let answer = {
                let (link, tally) = (link.clone(), tally.clone());
                tokio::spawn(async move {
                    while let Some(f) = incoming.requests.recv().await {
                        if let Pdu::DeliverSm(_) = f.pdu {
                            tally.receipts.fetch_add(1, Ordering::Relaxed);
                            let _ = link
                                .respond(Frame::response(
                                    f.sequence,
                                    CommandStatus::ESME_ROK,
                                    Pdu::DeliverSmResp(SmResp::default()),
                                ))
                                .await;
                        }
                    }
                })
            };
            let mut inflight = tokio::task::JoinSet::new();
            loop {
                while inflight.len() < window {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total || Instant::now() >= stop_at {
                        break;
                    }
                    let (link, tally) = (link.clone(), tally.clone());
                    inflight.spawn(async move {
                        let sm = Sm {
                            source: Address::new(5, 0, "Bench"),
                            dest: Address::new(1, 1, format!("2782{:07}", n % 10_000_000)),
                            registered_delivery: u8::from(receipts),
                            short_message: bytes::Bytes::from_static(
                                b"Sawubona! Your weekly message: drink clean water.",
                            ),
                            ..Sm::default()
                        };
                        let t0 = Instant::now();
                        match link.request(Pdu::SubmitSm(sm)).await {
                            Ok(r) if r.status.is_ok() => {
                                tally.ok.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut l) = tally.latencies.lock() {
                                    l.push(t0.elapsed());
                                }
                            }
                            _ => {
                                tally.failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
                if inflight.join_next().await.is_none() {
                    break;
                }
            }
            if receipts {
                // Stay bound until every receipt is in (receipts go to any bind), 15 s at most.
                let until = Instant::now() + Duration::from_secs(15);
                while Instant::now() < until
                    && (next.load(Ordering::Relaxed) < total
                        || tally.receipts.load(Ordering::Relaxed) < tally.ok.load(Ordering::Relaxed))
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), link.request(Pdu::Unbind)).await;
            link.close();
            answer.abort();
        });
    }
    while binds.join_next().await.is_some() {}
    progress.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = tally.latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| seedgate_loadtests::percentile_ms(&lat, p);
    let ok = tally.ok.load(Ordering::Relaxed);
    println!("smpp-bench report");
    println!(
        "  target            {} ({} binds, window {})",
        args.target, args.binds, args.window
    );
    println!(
        "  submits           {ok} ok, {} failed, {} receipts",
        tally.failed.load(Ordering::Relaxed),
        tally.receipts.load(Ordering::Relaxed)
    );
    println!(
        "  throughput        {:.0} msg/s over {elapsed:.1} s",
        ok as f64 / elapsed
    );
    println!(
        "  latency ms        p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}
