//! `flow-bench`: the flow interpreter alone, on the repository's registration flow: each run
//! dials, consents, says pregnant, answers `24` weeks, picks English, and gets the
//! registry's answer (a stub) — every node, action, expression and webhook step of a real
//! registration, no IO. Bounded by `--runs`; prints steps/s and runs/s.

#![allow(clippy::print_stdout)] // a report is this tool's output

use std::time::Instant;

use clap::Parser;
use seedgate_flowlang::interp::{step, Input, RunContact, WebhookResponse};

#[derive(Debug, Parser)]
struct Args {
    /// Flow files (a folder or a file).
    #[arg(long, default_value = "flows")]
    flows: std::path::PathBuf,
    #[arg(long, default_value = "registration")]
    flow: String,
    #[arg(long, default_value_t = 20_000)]
    runs: u64,
}

fn main() {
    let args = Args::parse();
    let sources = match seedgate_flowlang::load::read_path(&args.flows) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flow-bench: {e}");
            std::process::exit(2);
        }
    };
    let (flows, report) = seedgate_flowlang::load::check(&sources, &Default::default());
    if let Some(e) = report.errors.first() {
        eprintln!("flow-bench: {e}");
        std::process::exit(2);
    }
    let contact = RunContact {
        msisdn: "+27820000001".into(),
        ..Default::default()
    };
    let registry = WebhookResponse {
        status: 201,
        body: "{\"id\": \"REG-1\"}".into(),
    };
    let now = chrono::Utc::now();
    let started = Instant::now();
    let (mut steps, mut nodes, mut ended) = (0u64, 0u64, 0u64);
    for _ in 0..args.runs {
        let mut out = step(&flows, &args.flow, None, &contact, Input::Start, now).expect("a start");
        nodes += out.steps as u64;
        steps += 1;
        for answer in ["1", "1", "24", "1"] {
            out = step(
                &flows,
                &args.flow,
                out.state.take(),
                &contact,
                Input::Reply(answer),
                now,
            )
            .expect("a step");
            nodes += out.steps as u64;
            steps += 1;
            if out.call.is_some() {
                out = step(
                    &flows,
                    &args.flow,
                    out.state.take(),
                    &contact,
                    Input::Webhook(&registry),
                    now,
                )
                .expect("a webhook answer");
                nodes += out.steps as u64;
                steps += 1;
            }
        }
        ended += u64::from(out.end);
    }
    let secs = started.elapsed().as_secs_f64();
    println!("flow-bench report");
    println!(
        "  flow              `{}` from {}",
        args.flow,
        args.flows.display()
    );
    println!(
        "  runs              {} ({} reached the end screen)",
        args.runs, ended
    );
    println!("  steps             {steps} ({nodes} nodes entered) in {secs:.2} s");
    println!("  steps/s           {:.0}", steps as f64 / secs);
    println!("  runs/s            {:.0}", args.runs as f64 / secs);
    println!("  µs per step       {:.1}", secs * 1e6 / steps as f64);
    if ended != args.runs {
        std::process::exit(1);
    }
}
