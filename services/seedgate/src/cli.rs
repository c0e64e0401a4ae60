//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// seedgate: a USSD/SMS messaging gateway for health programmes.
#[derive(Debug, Parser)]
#[command(name = "seedgate", version)]
pub struct Cli {
    /// TOML config file; `SEEDGATE_*` environment variables override its keys.
    #[arg(long, short, global = true, env = "SEEDGATE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process (embedded defaults: no external services needed).
    Up,
    /// Run one service against the bus, session store and store named in config.
    Run {
        #[arg(value_enum)]
        service: Service,
    },
    /// Apply the store's migrations and exit.
    Migrate,
    /// Write a commented starter config to FILE (the demo channels kept, and how to add a
    /// carrier and a partner's account).
    Init {
        /// Where to write it (must not exist).
        file: PathBuf,
    },
    /// Check this install: config, store, bus, session store, disk, clocks, certificates,
    /// every channel's flow, default passwords; each problem with what to do (exit 1 if any).
    Doctor,
    /// Copy the store to FILE while seedgate runs: SQLite, a consistent snapshot, checked;
    /// PostgreSQL, the `pg_dump` command to run is printed.
    Backup {
        /// Where the copy goes (must not exist).
        file: PathBuf,
    },
    /// Put a backup in place of the store, with seedgate stopped; the database it replaces is
    /// moved aside, not deleted. PostgreSQL: the `pg_restore` command is printed.
    Restore {
        /// A file `seedgate backup` wrote.
        file: PathBuf,
    },
    /// Session billing.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Message-set campaigns.
    Campaigns {
        #[command(subcommand)]
        command: CampaignsCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The SMPP server's accounts.
    Smpp {
        #[command(subcommand)]
        command: SmppCommand,
    },
    /// Staff accounts for the studio (`/studio/`).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Work with flow files.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// A phone in the terminal: dial a service code and answer each screen.
    ///
    /// Against a flow file or folder (`--flows`), the interpreter runs here (webhooks are
    /// called, effects are printed, nothing is stored). Otherwise it plays Africa's Talking
    /// against a running gateway's channel (`--url`, `--channel`).
    Dial {
        /// The service code, e.g. `*134*550#`.
        code: String,
        /// Run a flow file (or folder) here instead of calling a gateway.
        #[arg(long)]
        flows: Option<PathBuf>,
        /// Which flow of `--flows` (default: the only one, or the first USSD flow).
        #[arg(long)]
        flow: Option<String>,
        /// The gateway (default: `http://<http.listen>`).
        #[arg(long)]
        url: Option<String>,
        /// An `africastalking-ussd` channel of the gateway.
        #[arg(long, default_value = "demo-at")]
        channel: String,
        /// The phone number dialling.
        #[arg(long, default_value = "+27820000001")]
        msisdn: String,
        /// The contact's language (`--flows` only).
        #[arg(long)]
        language: Option<String>,
    },
    /// Run an SMSC simulator: accepts binds, acks submits, sends receipts (demos, tests, load).
    SmscSim {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:2776")]
        listen: String,
        /// Delay before each delivery receipt, in milliseconds.
        #[arg(long, default_value_t = 200)]
        dlr_delay_ms: u64,
        /// Share of receipts reported undelivered (0.0–1.0).
        #[arg(long, default_value_t = 0.0)]
        failure_rate: f64,
        /// Submits per second accepted before answering ESME_RTHROTTLED (0 = unlimited).
        #[arg(long, default_value_t = 0)]
        max_tps: u32,
        /// Only accept binds with this password.
        #[arg(long)]
        password: Option<String>,
    },
    /// Exit 0 if this host's seedgate answers `/healthz` (for container health checks).
    Healthcheck {
        /// Defaults to `http://<http.listen>/healthz`.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// HTTP channel connectors (Africa's Talking USSD, …).
    HttpChannels,
    /// The USSD session engine.
    Sessions,
    /// The flow runner.
    Flows,
    /// The message store writer.
    Store,
    /// SMPP connectors: the SMPP server partners bind to, and simulated carriers.
    Smpp,
    /// The HTTP API (`/api/v1`), its outbox relay and webhooks.
    Api,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::HttpChannels => "http-channels",
            Self::Sessions => "sessions",
            Self::Flows => "flows",
            Self::Store => "store",
            Self::Smpp => "smpp",
            Self::Api => "api",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum FlowCommand {
    /// Check flow files: every error with file, line and reason (exit 1 if any), warnings,
    /// and each USSD flow's longest path in 20 s billing slices.
    Validate {
        /// A flow file or a folder of them (default: `flows.dir`).
        path: Option<PathBuf>,
        /// The USSD screen limit (default: the smallest of the configured USSD channels').
        #[arg(long)]
        max_screen_chars: Option<usize>,
        /// Seconds a user typically spends on a screen, for the expected slices.
        #[arg(long, default_value_t = 10)]
        hop_secs: u64,
    },
    /// Print the JSON Schema of flow files (for editors).
    Schema,
    /// Run the transcripts (`tests:`) inside flow files; prints a diff for each failure.
    Test {
        /// A flow file or a folder of them (default: `flows.dir`).
        path: Option<PathBuf>,
    },
    /// Write the store's flow files into a folder (the published versions; with `--drafts`,
    /// the drafts), one `<file>.yaml` each, for a team that keeps its flows in git.
    Export {
        dir: PathBuf,
        #[arg(long)]
        drafts: bool,
    },
    /// Save every `*.yaml` file of a folder as its file's draft and publish it (checked
    /// together with the live files first: nothing is written if one has an error). Files
    /// that equal their live version are left alone.
    Import {
        dir: PathBuf,
        /// Save the drafts only; publish nothing.
        #[arg(long)]
        no_publish: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Sessions, hops and 20 s slices per day, channel and flow, from the store.
    Report {
        /// How many days back (UTC days, today included).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignsCommand {
    /// Subscriptions per message set and state, and how many are behind schedule (due over
    /// an hour ago and not sent).
    Report,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token in the store and print it (shown this once).
    Create {
        /// Comma-separated: admin, send, read.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// What the token is for (shown in logs and listings).
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List the API tokens: id, name, scopes, created, last used, revoked.
    List,
    /// Revoke an API token at once (its next request answers 401, on every process within a
    /// second).
    Revoke {
        /// The token's id (`seedgate token list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SmppCommand {
    /// Hash a password for `[[smpp_server.accounts]] password_hash` (Argon2id). Reads the
    /// password from standard input (one line), so it stays out of the shell's history and
    /// the process list: `seedgate smpp hash-password < file`, or type it and press Enter.
    HashPassword,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account; prints a one-time password (the last word of the output).
    Create {
        #[arg(long)]
        email: String,
        /// author, publisher, operator or admin.
        #[arg(long)]
        role: String,
    },
    /// List the staff accounts.
    List,
    /// Give an account a new one-time password and sign it out everywhere.
    Reset {
        #[arg(long)]
        email: String,
    },
}
