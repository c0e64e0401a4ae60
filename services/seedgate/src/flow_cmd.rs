//! `seedgate flow validate|test`.

use std::path::Path;

use seedgate_flows::{load_dir, load_str, FlowError, Flows};
use seedgate_runtime::config::Config;

use crate::cli::FlowCommand;
use crate::serve::Failure;

/// Loads a flow file or a folder of them.
pub fn load_path(path: &Path) -> Result<Flows, FlowError> {
    if path.is_dir() {
        load_dir(path)
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| FlowError {
            file: path.display().to_string(),
            line: None,
            reason: e.to_string(),
        })?;
        load_str(&path.display().to_string(), &text)
    }
}

#[allow(clippy::print_stdout)] // a command-line report
pub fn run(config: &Config, command: FlowCommand) -> Result<(), Failure> {
    match command {
        FlowCommand::Validate { path } => {
            let path = path.unwrap_or_else(|| config.flows.dir.clone());
            let flows = load_path(&path).map_err(|e| Failure::Other(e.to_string()))?;
            println!("{}: {} flow(s) valid", path.display(), flows.names().count());
            Ok(())
        }
        FlowCommand::Test { path } => {
            let path = path.unwrap_or_else(|| config.flows.dir.clone());
            let flows = load_path(&path).map_err(|e| Failure::Other(e.to_string()))?;
            let (ran, failures) = seedgate_flows::transcript::run_all(&flows);
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
    }
}
