//! `at-walk`: simulated phones walking the demo menu through the Africa's Talking endpoint.
//!
//! Each simulated session dials, answers `7` (not an option: the menu comes again with an
//! error), then `1`, `1`, `2` — 5 hops — checking every screen (`CON`, `CON … not one of the
//! options`, `CON`, `CON`, `END Thank you…`); `--hops 4` leaves out the wrong answer. A phone
//! waits `--think-ms` before each answer, as a user reads the screen. Bounded: `--sessions` in
//! all, at most `--concurrency` at once, stopping after `--max-seconds` whatever happens.
//! Loopback targets only. Prints progress every second on stderr and a report on stdout.
//!
//! `--verify-store <url>` (`sqlite://…` or `postgres://…`, `--verify-schema` for a schema) then
//! checks the gateway's store: every completed session recorded once, completed, with its
//! hops and its 20 s slices; every hop stored with exactly one reply. With `--url`'s
//! `/metrics`, the slices counted in `seedgate_sessions_slices_total` during the run must
//! equal the slices stored (`--metrics-url` for the `sessions` process of a split deployment).

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
    /// Hops per session: 5 (with one wrong answer) or 4.
    #[arg(long, default_value_t = 5)]
    hops: u8,
    /// `demo` (the demo menu) or `registration` (the registration flow of `flows/`, on the
    /// `momconnect-at` channel: consent, pregnant, 24 weeks, English; 5 hops with a webhook,
    /// a contact write, a subscription and a welcome SMS each).
    #[arg(long, default_value = "demo")]
    walk: String,
    /// Pause before each answer, in milliseconds (a user reading the screen).
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Spread the phones' first dials over this many seconds (0: all at once).
    #[arg(long, default_value_t = 0)]
    ramp_secs: u64,
    /// After the run, check the gateway's store at this URL.
    #[arg(long)]
    verify_store: Option<String>,
    /// Where the session engine's metrics are (default: `--url`'s `/metrics`; in a split
    /// deployment, the `sessions` process's).
    #[arg(long)]
    metrics_url: Option<String>,
    /// PostgreSQL schema of the store, if not the default.
    #[arg(long)]
    verify_schema: Option<String>,
}

const REGISTRATION: [(&str, &str); 5] = [
    ("", "CON Welcome to MomConnect"),
    ("1", "CON Are you pregnant?"),
    ("1*1", "CON How many weeks"),
    ("1*1*24", "CON Which language"),
    ("1*1*24*1", "END Thank you. You are registered"),
];

const STEPS_5: [(&str, &str); 5] = [
    ("", "CON "),
    ("7", "CON Sorry, that is not one of the options"),
    ("7*1", "CON "),
    ("7*1*1", "CON "),
    ("7*1*1*2", "END Thank you"),
];

#[derive(Default)]
struct Tally {
    hops: AtomicU64,
    sessions_ok: AtomicU64,
    sessions_failed: AtomicU64,
    fallbacks: AtomicU64,
    errors: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    /// Session ids walked to the end.
    completed: Mutex<Vec<String>>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    seedgate_loadtests::require_loopback("at-walk", &args.url);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.concurrency).unwrap_or(64))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    if !(args.hops == 4 || args.hops == 5) {
        eprintln!("at-walk: --hops is 4 or 5");
        std::process::exit(2);
    }
    let steps: Vec<(&'static str, &'static str)> = if args.walk == "registration" {
        if args.hops != 5 {
            eprintln!("at-walk: the registration walk has 5 hops");
            std::process::exit(2);
        }
        REGISTRATION.to_vec()
    } else if args.hops == 5 {
        STEPS_5.to_vec()
    } else {
        STEPS_5
            .iter()
            .filter(|(t, _)| !t.starts_with('7') || t.len() > 1)
            .map(|(t, w)| (t.strip_prefix("7*").unwrap_or(t), *w))
            .collect()
    };
    let url = format!("{}/channels/{}/callback", args.url, args.channel);
    let metrics_url = args
        .metrics_url
        .clone()
        .unwrap_or_else(|| format!("{}/metrics", args.url));
    let slices_before = slices_counted(&client, &metrics_url, &args.channel).await;
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
    let phones = args.concurrency.min(args.sessions);
    for phone_no in 0..phones {
        let delay = Duration::from_secs(args.ramp_secs).mul_f64(phone_no as f64 / phones as f64);
        let (client, url, tally, next) = (client.clone(), url.clone(), tally.clone(), next.clone());
        let total = args.sessions;
        let steps = steps.clone();
        let channel = args.channel.clone();
        let think = Duration::from_millis(args.think_ms);
        workers.spawn(async move {
            tokio::time::sleep(delay).await;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total || Instant::now() >= stop_at {
                    return;
                }
                let session = format!("load-{run_id:x}-{n}");
                let phone = format!("%2B2782{:07}", n % 10_000_000);
                let mut ok = true;
                for (i, (text, want)) in steps.iter().enumerate() {
                    if i > 0 && !think.is_zero() {
                        tokio::time::sleep(think).await;
                    }
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
                if ok {
                    if let Ok(mut c) = tally.completed.lock() {
                        c.push(format!("{}:{session}", channel));
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    progress.abort();
    let elapsed = started.elapsed();
    let mut lat = tally.latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| seedgate_loadtests::percentile_ms(&lat, p);
    let hops = tally.hops.load(Ordering::Relaxed);
    println!("at-walk report");
    println!("  target            {url}");
    println!(
        "  concurrency       {} ({} hops per session, think {} ms, ramp {} s)",
        args.concurrency, args.hops, args.think_ms, args.ramp_secs
    );
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
    let mut failed = tally.sessions_failed.load(Ordering::Relaxed) > 0;
    if let Some(store_url) = &args.verify_store {
        let completed = tally.completed.lock().map(|c| c.clone()).unwrap_or_default();
        let stored_slices = match verify(store_url, args.verify_schema.clone(), &completed, args.hops).await {
            Ok(slices) => slices,
            Err(e) => {
                println!("  store check       FAILED: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "  store check       ok: {} sessions recorded once, completed, {} hops each; every hop has exactly one reply; {stored_slices} slices",
            completed.len(),
            args.hops
        );
        let counted = slices_counted(&client, &metrics_url, &args.channel).await;
        match (slices_before, counted) {
            (Some(before), Some(after)) if after - before == stored_slices => {
                println!(
                    "  slices metric     ok: {} counted = {stored_slices} stored",
                    after - before
                );
            }
            (Some(before), Some(after)) => {
                println!(
                    "  slices metric     FAILED: {} counted, {stored_slices} stored",
                    after - before
                );
                failed = true;
            }
            _ => println!("  slices metric     (no /metrics at {metrics_url})"),
        }
    }
    if failed {
        std::process::exit(1);
    }
}

/// `seedgate_sessions_slices_total` of `channel` (all flows) on the gateway's `/metrics`.
async fn slices_counted(client: &reqwest::Client, url: &str, channel: &str) -> Option<u64> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    let label = format!("channel=\"{channel}\"");
    Some(
        text.lines()
            .filter(|l| l.starts_with("seedgate_sessions_slices_total{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64,
    )
}

/// Checks every completed session in the store; returns the slices stored for them.
async fn verify(
    url: &str,
    schema: Option<String>,
    sessions: &[String],
    hops: u8,
) -> Result<u64, Box<dyn std::error::Error>> {
    use seedgate_proto::{Direction, SessionEndReason, SessionRecord};
    let cfg = seedgate_runtime::config::StoreConfig {
        kind: if url.starts_with("postgres") {
            seedgate_runtime::config::StoreKind::Postgres
        } else {
            seedgate_runtime::config::StoreKind::Sqlite
        },
        url: url.to_string(),
        schema,
        ..Default::default()
    };
    let store = seedgate_store::open(&cfg)?;
    let hops = u32::from(hops);
    // The store writes behind the replies: wait for the last session's final record.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut slices = 0;
    for id in sessions {
        let record = loop {
            let r = store.session(id).await?;
            match r {
                Some(r) if r.end_reason.is_some() => break r,
                _ if Instant::now() > deadline => {
                    return Err(format!("session {id} not recorded as ended").into())
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let SessionRecord {
            hops: got_hops,
            end_reason,
            slices: got_slices,
            duration_ms,
            ..
        } = record;
        if end_reason != Some(SessionEndReason::Completed) || got_hops != hops {
            return Err(format!("session {id}: {end_reason:?} after {got_hops} hops").into());
        }
        if got_slices != SessionRecord::slices_for(duration_ms) {
            return Err(format!("session {id}: {got_slices} slices for {duration_ms} ms").into());
        }
        slices += u64::from(got_slices);
        let messages = loop {
            let m = store.session_messages(id).await?;
            if m.len() >= 2 * hops as usize || Instant::now() > deadline {
                break m;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let inbound: Vec<_> = messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .collect();
        let replies: Vec<_> = messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .collect();
        if inbound.len() != hops as usize || replies.len() != hops as usize {
            return Err(format!(
                "session {id}: {} hops and {} replies stored",
                inbound.len(),
                replies.len()
            )
            .into());
        }
        if !inbound
            .iter()
            .all(|i| replies.iter().filter(|r| r.in_reply_to == Some(i.id)).count() == 1)
        {
            return Err(format!("session {id}: a hop without exactly one reply").into());
        }
    }
    Ok(slices)
}
