//! `store-bench`: sustained message + event writes through the store, as the store service
//! writes them (`Store::write_batch`, one transaction per batch), on SQLite or PostgreSQL.
//!
//! Each outbound message is followed by its ack and its delivery report (3 rows per message,
//! like a real send). Bounded by `--messages`; prints progress every second.

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::time::{Duration, Instant};

use clap::Parser;
use seedgate_proto::{DeliveryStatus, Direction, Event, EventKind, Message, TransportType};
use seedgate_runtime::store::Record;

#[derive(Debug, Parser)]
struct Args {
    /// `sqlite://path` or `postgres://…` (loopback).
    #[arg(long, default_value = "sqlite://data/store-bench.db")]
    url: String,
    /// PostgreSQL schema (created if missing).
    #[arg(long)]
    schema: Option<String>,
    #[arg(long, default_value_t = 20_000)]
    messages: u64,
    /// Rows per transaction.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Encryption at rest with the key in this file (64 hex characters), as
    /// `store.encryption_key_file`.
    #[arg(long)]
    encryption_key_file: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let store = seedgate_loadtests::open_store(
        "store-bench",
        &args.url,
        args.schema.clone(),
        args.encryption_key_file.clone(),
    )
    .await;
    let mut rows: Vec<Record> = Vec::with_capacity(args.batch);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut written: u64 = 0;
    for n in 0..args.messages {
        let mut m = Message::inbound(
            "bench",
            TransportType::Sms,
            "MomConnect",
            format!("+2782{n:07}"),
            "Week 12: your baby is the size of a lime.",
        );
        m.direction = Direction::Outbound;
        let id = m.id;
        rows.push(Record::Message(m));
        rows.push(Record::Event(Event::new(
            "bench",
            id,
            EventKind::Ack {
                carrier_id: Some(format!("c{n}")),
            },
        )));
        rows.push(Record::Event(Event::new(
            "bench",
            id,
            EventKind::DeliveryReport {
                status: DeliveryStatus::Delivered,
            },
        )));
        if rows.len() >= args.batch {
            if let Err(e) = store.write_batch(&rows).await {
                eprintln!("store-bench: write failed: {e}");
                std::process::exit(1);
            }
            written += rows.len() as u64;
            rows.clear();
        }
        if last.elapsed() >= Duration::from_secs(1) {
            eprintln!("[{:>4.0}s] {written} rows", started.elapsed().as_secs_f64());
            last = Instant::now();
        }
    }
    if !rows.is_empty() {
        if let Err(e) = store.write_batch(&rows).await {
            eprintln!("store-bench: write failed: {e}");
            std::process::exit(1);
        }
        written += rows.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("store-bench report");
    println!("  store             {}", args.url);
    println!("  batch             {} rows per transaction", args.batch);
    println!(
        "  written           {written} rows ({} messages + {} events) in {secs:.1} s = {:.0} rows/s",
        args.messages,
        args.messages * 2,
        written as f64 / secs
    );
}
