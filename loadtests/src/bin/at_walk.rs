//! `at-walk`: simulated phones walking the demo menu through the Africa's Talking endpoint.
//!
//! Each simulated session dials and answers `1`, `1`, `2` (4 hops), checking every screen
//! (`CON`, `CON`, `CON`, `END Thank you…`). Bounded: `--sessions` in all, at most `--concurrency`
//! at once, stopping after `--max-seconds` whatever happens. Loopback targets only.
//! Prints progress every second on stderr and a report on stdout.

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the gateway (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "demo-at")]
    channel: String,
    /// Sessions to walk in all.
    #[arg(long, default_value_t = 1000)]
    sessions: u64,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 100)]
    concurrency: u64,
    /// Hard stop.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

const STEPS: [(&str, &str); 4] = [
    ("", "CON "),
    ("1", "CON "),
    ("1*1", "CON "),
    ("1*1*2", "END Thank you"),
];

#[derive(Default)]
struct Tally {
    hops: AtomicU64,
    sessions_ok: AtomicU64,
    sessions_failed: AtomicU64,
    fallbacks: AtomicU64,
    errors: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let host = args
        .url
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or_default()
        .to_string();
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        eprintln!("at-walk: refusing a non-loopback target {}", args.url);
        std::process::exit(2);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.concurrency).unwrap_or(64))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let url = format!("{}/channels/{}/callback", args.url, args.channel);
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(args.max_seconds);
    let run_id = started.elapsed().as_nanos() ^ u128::from(std::process::id());

    let progress = {
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let hops = tally.hops.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>4.0}s] sessions ok {} failed {} | hops {} ({} /s)",
                    started.elapsed().as_secs_f64(),
                    tally.sessions_ok.load(Ordering::Relaxed),
                    tally.sessions_failed.load(Ordering::Relaxed),
                    hops,
                    hops - last
                );
                last = hops;
            }
        })
    };

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.min(args.sessions) {
        let (client, url, tally, next) = (client.clone(), url.clone(), tally.clone(), next.clone());
        let total = args.sessions;
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total || Instant::now() >= stop_at {
                    return;
                }
                let session = format!("load-{run_id:x}-{n}");
                let phone = format!("%2B2782{:07}", n % 10_000_000);
                let mut ok = true;
                for (text, want) in STEPS {
                    let body = format!("sessionId={session}&serviceCode=%2A134%2A550%23&phoneNumber={phone}&networkCode=65501&text={}", text.replace('*', "%2A"));
                    let t0 = Instant::now();
                    let resp = client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await;
                    let got = match resp {
                        Ok(r) => r.text().await.unwrap_or_default(),
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            ok = false;
                            break;
                        }
                    };
                    let latency = t0.elapsed();
                    tally.hops.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut l) = tally.latencies.lock() {
                        l.push(latency);
                    }
                    if !got.starts_with(want) {
                        if got.starts_with("END Sorry") {
                            tally.fallbacks.fetch_add(1, Ordering::Relaxed);
                        }
                        ok = false;
                        break;
                    }
                }
                let counter = if ok { &tally.sessions_ok } else { &tally.sessions_failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    progress.abort();
    let elapsed = started.elapsed();
    let mut lat = tally.latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[i].as_secs_f64() * 1000.0
    };
    let hops = tally.hops.load(Ordering::Relaxed);
    println!("at-walk report");
    println!("  target            {url}");
    println!("  concurrency       {}", args.concurrency);
    println!(
        "  sessions          {} ok, {} failed ({} fallback screens, {} transport errors)",
        tally.sessions_ok.load(Ordering::Relaxed),
        tally.sessions_failed.load(Ordering::Relaxed),
        tally.fallbacks.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed)
    );
    println!(
        "  hops              {hops} in {:.1} s = {:.0} hops/s",
        elapsed.as_secs_f64(),
        hops as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  hop latency ms    p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    if tally.sessions_failed.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}
