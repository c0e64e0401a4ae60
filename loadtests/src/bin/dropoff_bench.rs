//! `dropoff-bench`: the studio's drop-off view against a store holding `--sessions` session
//! records of one flow spread over 30 days (and the per-day arrow counters those sessions
//! made), on SQLite or PostgreSQL: how long the 1-, 7- and 30-day queries take
//! (`FlowFiles::flow_stats` + `FlowFiles::flow_session_summary`, what
//! `GET /api/v1/flows/{file}/stats` runs). Bounded by `--sessions`.

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use seedgate_proto::{SessionEndReason, SessionRecord};
use seedgate_runtime::store::{FlowStat, Record};

#[derive(Debug, Parser)]
struct Args {
    /// `sqlite://path` or `postgres://…` (loopback).
    #[arg(long, default_value = "sqlite://data/dropoff-bench.db")]
    url: String,
    /// PostgreSQL schema (created if missing).
    #[arg(long)]
    schema: Option<String>,
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
    /// Times each query is run (the slowest is reported).
    #[arg(long, default_value_t = 5)]
    runs: u32,
}

const FLOW: &str = "registration";
const NODES: [&str; 6] = [
    "consent",
    "pregnant",
    "weeks",
    "language",
    "register",
    "registered",
];

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let store = seedgate_loadtests::open_store("dropoff-bench", &args.url, args.schema.clone(), None).await;
    let now = Utc::now();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..args.sessions {
        // Spread over 30 days; a fifth of the sessions are another flow's.
        let at = now - chrono::Duration::seconds(((n * 7_919) % 2_592_000) as i64);
        let flow = if n % 5 == 4 { "demo" } else { FLOW };
        batch.push(Record::Session(SessionRecord {
            id: format!("bench-{n}"),
            channel: "bench".into(),
            msisdn: format!("+2782{:07}", n % 10_000_000),
            flow: Some(flow.into()),
            started_at: at,
            ended_at: Some(at + chrono::Duration::seconds(40)),
            hops: 4,
            duration_ms: 40_000,
            slices: 1 + (n % 3) as u32,
            end_reason: Some(SessionEndReason::Completed),
            carrier: None,
        }));
        if batch.len() == 1000 {
            if let Err(e) = store.write_batch(&batch).await {
                eprintln!("dropoff-bench: {e}");
                std::process::exit(1);
            }
            batch.clear();
        }
    }
    if !batch.is_empty() {
        if let Err(e) = store.write_batch(&batch).await {
            eprintln!("dropoff-bench: {e}");
            std::process::exit(1);
        }
    }
    // The counters the runner adds up: one row per arrow and day.
    let mut stats = Vec::new();
    for d in 0..31 {
        let day = (now - chrono::Duration::days(d)).date_naive();
        let mut from = "";
        for (i, to) in NODES.iter().enumerate() {
            stats.push(FlowStat {
                flow: FLOW.into(),
                day,
                from: from.into(),
                to: (*to).into(),
                count: 1000 - 100 * i as i64,
            });
            from = to;
        }
        stats.push(FlowStat {
            flow: FLOW.into(),
            day,
            from: "registered".into(),
            to: String::new(),
            count: 500,
        });
    }
    if let Err(e) = store.flow_stats_add(&stats).await {
        eprintln!("dropoff-bench: {e}");
        std::process::exit(1);
    }
    println!(
        "wrote {} session records and {} counters in {:.1} s",
        args.sessions,
        stats.len(),
        started.elapsed().as_secs_f64()
    );
    for days in [1i64, 7, 30] {
        let since = now - chrono::Duration::days(days);
        let mut slowest = Duration::ZERO;
        let mut seen = (0, 0.0, 0);
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            let rows = store.flow_stats(FLOW, since.date_naive()).await;
            let summary = store.flow_session_summary(FLOW, since).await;
            let took = t.elapsed();
            match (rows, summary) {
                (Ok(rows), Ok((sessions, avg))) => seen = (sessions, avg, rows.len()),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("dropoff-bench: {e}");
                    std::process::exit(1);
                }
            }
            slowest = slowest.max(took);
        }
        println!(
            "{days:>2} day(s): {} sessions, average {:.2} slices, {} arrows; slowest of {} runs {:.1} ms",
            seen.0,
            seen.1,
            seen.2,
            args.runs,
            slowest.as_secs_f64() * 1000.0
        );
    }
}
