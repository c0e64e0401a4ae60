//! The commands of the binary, one module each; [`run`] dispatches the parsed command line.
//! `up` and `run <service>` are the process itself ([`crate::serve`]).

pub mod backup;
pub mod campaigns;
pub mod dial;
pub mod doctor;
pub mod flow;
pub mod flowstore;
pub mod healthcheck;
pub mod init;
pub mod migrate;
pub mod sessions;
pub mod smpp;
pub mod smsc_sim;
pub mod token;
pub mod user;

use std::time::Duration;

use seedgate_runtime::config::Config;

use crate::cli::{
    CampaignsCommand, Command, FlowCommand, SessionsCommand, SmppCommand, TokenCommand, UserCommand,
};
use crate::failure::Failure;
use crate::serve::{serve, Role};

/// Runs `command` with `config` (read from `config_path`, if a file was named).
pub async fn run(
    command: Command,
    config: Config,
    config_path: Option<&std::path::Path>,
) -> Result<(), Failure> {
    match command {
        Command::Doctor => doctor::run(&config, config_path).await,
        Command::Init { file } => init::run(&file),
        Command::Up => serve(config, Role::All).await,
        Command::Run { service } => serve(config, Role::One(service)).await,
        Command::Migrate => migrate::run(&config).await,
        Command::Backup { file } => backup::backup(&config, &file).await,
        Command::Restore { file } => backup::restore(&config, &file).await,
        Command::Sessions {
            command: SessionsCommand::Report { days },
        } => sessions::report(&config, days).await,
        Command::Campaigns {
            command: CampaignsCommand::Report,
        } => campaigns::report(&config).await,
        Command::Token { command } => match command {
            TokenCommand::Create { scopes, name } => token::create(&config, &name, &scopes).await,
            TokenCommand::List => token::list(&config).await,
            TokenCommand::Revoke { id } => token::revoke(&config, &id).await,
        },
        Command::Smpp {
            command: SmppCommand::HashPassword,
        } => smpp::hash_password(),
        Command::Flow {
            command: FlowCommand::Export { dir, drafts },
        } => flowstore::export(&config, &dir, drafts).await,
        Command::Flow {
            command: FlowCommand::Import { dir, no_publish },
        } => flowstore::import(&config, &dir, !no_publish).await,
        Command::User { command } => match command {
            UserCommand::Create { email, role } => user::create(&config, &email, &role).await,
            UserCommand::List => user::list(&config).await,
            UserCommand::Reset { email } => user::reset(&config, &email).await,
        },
        Command::Flow { command } => flow::run(&config, command),
        Command::Dial {
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
        Command::Healthcheck { url } => healthcheck::run(&config, url).await,
        Command::SmscSim {
            listen,
            dlr_delay_ms,
            failure_rate,
            max_tps,
            password,
        } => {
            let sim = seedgate_smpp::smsc_sim::SimConfig {
                dlr_delay: Duration::from_millis(dlr_delay_ms),
                failure_rate: failure_rate.clamp(0.0, 1.0),
                max_tps,
                password,
            };
            smsc_sim::run(&config, &listen, sim).await
        }
    }
}
