//! `faults`: the fault suite. Runs each fault against real processes (`seedgate up`, the npm
//! `smpp` SMSC, PostgreSQL) with a ledger of every acknowledgement, and prints the table:
//! sent, acknowledged, lost (must be 0), duplicates, temporary codes, detect and recover.
//!
//! `--quick` (CI: F1, F11, F13, F14, small counts, a few minutes) or `--full` (every fault
//! it has). Exits 1 if any row lost an acknowledged message or failed a check. Loopback only;
//! needs `seedgate` built (`--seedgate`, default: beside this binary) and `npm ci` in
//! `tests/interop`.

#![allow(clippy::print_stdout)] // the table is this tool's output

use std::path::PathBuf;

use clap::Parser;
use seedgate_loadtests::faults::procs::Tools;
use seedgate_loadtests::faults::run::{self, Size};
use seedgate_loadtests::faults::{table, Row};

#[derive(Debug, Parser)]
struct Args {
    /// A few faults with small counts (what CI runs).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Every fault, bigger loads.
    #[arg(long)]
    full: bool,
    /// Only these faults (e.g. `--only F1,F13`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The seedgate binary.
    #[arg(long)]
    seedgate: Option<PathBuf>,
    /// The folder of `npm_smsc.js` (with its node_modules).
    #[arg(long, default_value = "tests/interop")]
    interop: PathBuf,
    /// PostgreSQL for F4.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let seedgate = args.seedgate.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("seedgate")))
            .unwrap_or_else(|| PathBuf::from("seedgate"))
    });
    // Absolute: the processes run in folders of their own.
    let seedgate = std::fs::canonicalize(&seedgate).unwrap_or(seedgate);
    let interop = std::fs::canonicalize(&args.interop).unwrap_or(args.interop.clone());
    let tools = Tools { seedgate, interop };
    let size = if args.full { Size::FULL } else { Size::QUICK };
    let wanted = |id: &str| {
        if !args.only.is_empty() {
            return args.only.iter().any(|o| o.eq_ignore_ascii_case(id));
        }
        args.full || ["F1", "F11", "F13", "F14"].contains(&id)
    };
    let mut rows: Vec<Row> = Vec::new();
    macro_rules! fault {
        ($id:literal, $f:expr) => {
            if wanted($id) {
                eprintln!("faults: {} …", $id);
                let row = $f.await;
                eprintln!(
                    "{}",
                    table(std::slice::from_ref(&row))
                        .lines()
                        .last()
                        .unwrap_or_default()
                );
                rows.push(row);
            }
        };
    }
    fault!("F1", run::f1_kill9(&tools, size));
    fault!("F4", run::f4_postgres(&tools, size, &args.postgres));
    fault!("F7", run::misbehaving_smsc(&tools, size, "F7"));
    fault!("F8", run::misbehaving_smsc(&tools, size, "F8"));
    fault!("F9", run::misbehaving_smsc(&tools, size, "F9"));
    fault!("F10", run::f10_half_open(&tools, size));
    fault!("F11", run::f11_id_reuse(&tools, size));
    fault!("F12", run::f12_clock(&tools, size));
    fault!("F13", run::f13_disk_full(&tools, size));
    fault!("F14", run::f14_sigterm(&tools, size));
    println!("{}", table(&rows));
    let bad: Vec<&str> = rows.iter().filter(|r| !r.ok()).map(|r| r.id).collect();
    if !bad.is_empty() {
        eprintln!("faults: FAILED: {}", bad.join(", "));
        std::process::exit(1);
    }
}
