//! `seedgate`: one binary for every service.
//!
//! - `seedgate up` runs every service in one process (embedded defaults: in-process bus and
//!   session store, SQLite under `./data`, HTTP on 127.0.0.1:8080).
//! - `seedgate run <service>` runs one service against the backends named in config.
//! - `seedgate migrate`, `seedgate flow validate|test|schema`, `seedgate dial`,
//!   `seedgate campaigns report`, `seedgate healthcheck`, `seedgate smsc-sim`.
//!
//! Exit codes: 0 after a clean drain, 64 for bad configuration or flow files (before any
//! port is bound), 1 for anything else.

mod cli;
mod dial;
mod flow_cmd;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use seedgate_runtime::config::Config;

/// Exit code for bad configuration (BSD `EX_USAGE`).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seedgate: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seedgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            cli::Command::Up => serve::serve(config, serve::Role::All).await,
            cli::Command::Run { service } => serve::serve(config, serve::Role::One(service)).await,
            cli::Command::Migrate => serve::migrate(config).await,
            cli::Command::Sessions {
                command: cli::SessionsCommand::Report { days },
            } => serve::sessions_report(&config, days).await,
            cli::Command::Campaigns {
                command: cli::CampaignsCommand::Report,
            } => serve::campaigns_report(&config).await,
            cli::Command::Token {
                command: cli::TokenCommand::Create { scopes, name },
            } => serve::token_create(&config, &name, &scopes).await,
            cli::Command::Flow { command } => flow_cmd::run(&config, command),
            cli::Command::Dial {
                code,
                flows,
                flow,
                url,
                channel,
                msisdn,
                language,
            } => {
                let d = dial::Dial {
                    code,
                    flows,
                    flow,
                    url,
                    channel,
                    msisdn,
                    language,
                };
                dial::run(&config, d).await
            }
            cli::Command::Healthcheck { url } => serve::healthcheck(&config, url).await,
            cli::Command::SmscSim {
                listen,
                dlr_delay_ms,
                failure_rate,
                max_tps,
                password,
            } => {
                let sim = seedgate_smpp::smsc_sim::SimConfig {
                    dlr_delay: std::time::Duration::from_millis(dlr_delay_ms),
                    failure_rate: failure_rate.clamp(0.0, 1.0),
                    max_tps,
                    password,
                };
                serve::smsc_sim(&config, &listen, sim).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(serve::Failure::Config(msg)) => {
            eprintln!("seedgate: {msg}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(serve::Failure::Other(msg)) => {
            eprintln!("seedgate: {msg}");
            ExitCode::FAILURE
        }
    }
}
