//! `seedgate`: one binary for every service.
//!
//! - `seedgate up` runs every service in one process (embedded defaults: in-process bus and
//!   session store, SQLite under `./data`, HTTP on 127.0.0.1:8080).
//! - `seedgate run <service>` runs one service against the backends named in config.
//! - `seedgate migrate`, `seedgate flow validate|test|schema`, `seedgate dial`,
//!   `seedgate campaigns report`, `seedgate sessions report`, `seedgate token
//!   create|list|revoke`, `seedgate user`, `seedgate smpp hash-password`, `seedgate backup|restore`, `seedgate doctor`, `seedgate init`,
//!   `seedgate healthcheck`, `seedgate smsc-sim` ([`cmd`], one module each).
//!
//! Exit codes: 0 after a clean drain, 64 for bad configuration or flow files (before any
//! port is bound), 1 for anything else.

mod cli;
mod cmd;
mod failure;
mod open;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use seedgate_runtime::config::Config;

use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => return Failure::Config(e.to_string()).report(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::Other(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(cmd::run(cli.command, config, cli.config.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
