//! `seedgate flow validate|test|schema` (export and import, which need the store, are in
//! [`super::flowstore`]).

use seedgate_flowlang::load::{load_checked, load_path};
use seedgate_flows::check::limits;
use seedgate_runtime::config::Config;

use crate::cli::FlowCommand;
use crate::failure::Failure;

#[allow(clippy::print_stdout)] // a command-line report
pub fn run(config: &Config, command: FlowCommand) -> Result<(), Failure> {
    match command {
        FlowCommand::Validate {
            path,
            max_screen_chars,
            hop_secs,
        } => {
            let path = path.unwrap_or_else(|| config.flows.dir.clone());
            let mut limits = limits(config);
            if let Some(m) = max_screen_chars {
                limits.max_screen_chars = m;
            }
            limits.hop_secs = hop_secs;
            let (flows, report) = load_checked(&path, &limits).map_err(|e| Failure::Other(e.to_string()))?;
            for e in &report.errors {
                println!("error: {e}");
            }
            for w in &report.warnings {
                println!("warning: {w}");
            }
            for s in &report.slices {
                println!("{s}");
            }
            if report.errors.is_empty() {
                println!(
                    "{}: {} flow(s) and {} message set(s) valid, {} warning(s)",
                    path.display(),
                    flows.names().count(),
                    flows.message_sets().count(),
                    report.warnings.len()
                );
                Ok(())
            } else {
                Err(Failure::Other(format!(
                    "{} error(s) in {}",
                    report.errors.len(),
                    path.display()
                )))
            }
        }
        FlowCommand::Test { path } => {
            let path = path.unwrap_or_else(|| config.flows.dir.clone());
            let flows = load_path(&path, &limits(config)).map_err(|e| Failure::Other(e.to_string()))?;
            let (ran, failures) = seedgate_flowlang::transcript::run_all(&flows);
            for f in &failures {
                println!("FAIL {f}");
            }
            println!("{} passed, {} failed", ran - failures.len(), failures.len());
            if failures.is_empty() {
                Ok(())
            } else {
                Err(Failure::Other(format!("{} transcript(s) failed", failures.len())))
            }
        }
        FlowCommand::Export { .. } | FlowCommand::Import { .. } => {
            Err(Failure::Other("export and import run through flowstore".into()))
        }
        FlowCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&seedgate_flowlang::schema()).unwrap_or_default()
            );
            Ok(())
        }
    }
}
