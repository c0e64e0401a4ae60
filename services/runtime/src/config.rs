//! Configuration: one TOML file plus `SEEDGATE_*` environment overrides.
//!
//! A value can come from a file (a secret mounted as one): `SEEDGATE_FILE__STORE__URL=/run/secrets/store_url`.
//! An override names a key path with `__` between levels: `SEEDGATE_BUS__KIND=rabbitmq`,
//! `SEEDGATE_CHANNELS__DEMO_AT__HOP_DEADLINE_MS=3000` (an existing key matches when `-` and `_`
//! are taken as equal). Values are read as TOML literals when they parse as one (numbers,
//! booleans) and as strings otherwise. Every error names the key it is about; the binary exits
//! with code 64 on any of them, before it binds a port.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a configuration was refused. Each variant names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid config at `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The whole configuration of a seedgate process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub bus: BusConfig,
    #[serde(default)]
    pub session_store: SessionStoreConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub sessions: SessionsConfig,
    #[serde(default)]
    pub flows: FlowsConfig,
    #[serde(default = "default_channels")]
    pub channels: BTreeMap<String, ChannelConfig>,
    #[serde(default)]
    pub smpp_server: SmppServerConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub api: ApiConfig,
}

/// The HTTP API under `/api/v1` (served on `http.listen`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Requests per second each token may make (a token bucket; 0: unlimited).
    #[serde(default = "default_api_rate")]
    pub rate_per_sec: u32,
    /// How many requests a token may make at once above its rate.
    #[serde(default = "default_api_burst")]
    pub burst: u32,
    /// How long an `Idempotency-Key` is remembered.
    #[serde(default = "default_idempotency_window_secs")]
    pub idempotency_window_secs: u64,
    /// Webhook calls per job before it goes on the dead-letter list.
    #[serde(default = "default_webhook_attempts")]
    pub webhook_max_attempts: u32,
    /// The first retry's delay; each later one doubles it (capped at an hour).
    #[serde(default = "default_webhook_backoff_ms")]
    pub webhook_backoff_ms: u64,
    /// A webhook call that takes longer fails (and is retried).
    #[serde(default = "default_webhook_timeout_ms")]
    pub webhook_timeout_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rate_per_sec: default_api_rate(),
            burst: default_api_burst(),
            idempotency_window_secs: default_idempotency_window_secs(),
            webhook_max_attempts: default_webhook_attempts(),
            webhook_backoff_ms: default_webhook_backoff_ms(),
            webhook_timeout_ms: default_webhook_timeout_ms(),
        }
    }
}

fn default_api_rate() -> u32 {
    50
}
fn default_api_burst() -> u32 {
    100
}
fn default_idempotency_window_secs() -> u64 {
    24 * 3600
}
fn default_webhook_attempts() -> u32 {
    8
}
fn default_webhook_backoff_ms() -> u64 {
    1000
}
fn default_webhook_timeout_ms() -> u64 {
    10_000
}

/// Where a channel's webhooks go, and the secret that signs them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Inbound messages (`POST`, the message as JSON).
    #[serde(default)]
    pub inbound: Option<String>,
    /// Events about outbound messages (acks, nacks, delivery reports).
    #[serde(default)]
    pub events: Option<String>,
    /// Changes of the channel's status (`ok`, `degraded`, `down`, with the reasons).
    #[serde(default)]
    pub status: Option<String>,
    /// The HMAC-SHA256 key (or read it from `secret_file`).
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

impl WebhookConfig {
    /// The signing secret, from the file if one is named.
    pub fn secret(&self) -> std::io::Result<String> {
        match &self.secret_file {
            Some(path) => Ok(std::fs::read_to_string(path)?.trim_end().to_string()),
            None => Ok(self.secret.clone()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the HTTP server (channel callbacks, `/healthz`, `/readyz`, `/metrics`).
    #[serde(default = "default_listen")]
    pub listen: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    InProcess,
    Rabbitmq,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    #[serde(default = "default_bus_kind")]
    pub kind: BusKind,
    #[serde(default = "default_amqp_url")]
    pub url: String,
    /// The one topic exchange.
    #[serde(default = "default_exchange")]
    pub exchange: String,
    /// Prefix for every queue name (lets several deployments share one broker).
    #[serde(default)]
    pub queue_prefix: String,
    /// Unacknowledged deliveries per consumer.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// If set, queues are deleted after this long without consumers (tests, demos).
    #[serde(default)]
    pub queue_expires_ms: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStoreKind {
    InProcess,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStoreConfig {
    #[serde(default = "default_session_store_kind")]
    pub kind: SessionStoreKind,
    #[serde(default = "default_redis_url")]
    pub url: String,
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_store_kind")]
    pub kind: StoreKind,
    /// `sqlite://data/seedgate.db` or `postgres://user@host/db`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// PostgreSQL schema to use (created if missing); lets tests and tenants share a database.
    #[serde(default)]
    pub schema: Option<String>,
    /// Rows per write transaction at most.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How often the store service applies the channels' `retention_days`.
    #[serde(default = "default_purge_every_secs")]
    pub purge_every_secs: u64,
    /// Where channels with `retention_archive` keep what retention removes.
    #[serde(default = "default_archive_dir")]
    pub archive_dir: PathBuf,
    /// A file holding a 32-byte key (64 hex characters): message content, addresses and
    /// contacts are then encrypted at rest, and addresses are looked up by a keyed hash.
    #[serde(default)]
    pub encryption_key_file: Option<PathBuf>,
}

fn default_archive_dir() -> PathBuf {
    PathBuf::from("data/archive")
}

fn default_purge_every_secs() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Total budget of a USSD session, in seconds (carriers cut sessions at 180 s).
    #[serde(default = "default_budget_secs")]
    pub budget_secs: u64,
    /// Sent when a session reaches its budget, where the protocol allows a last screen.
    #[serde(default = "default_closing_text")]
    pub closing_text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsConfig {
    /// Folder of flow files (`*.yaml`).
    #[serde(default = "default_flows_dir")]
    pub dir: PathBuf,
    /// Where `send_sms` actions of USSD flows go when they name no channel.
    #[serde(default = "default_sms_channel")]
    pub sms_channel: String,
    /// How often the campaign scheduler looks for due messages (a subscription or a
    /// restart also wakes it).
    #[serde(default = "default_scheduler_every_secs")]
    pub scheduler_every_secs: u64,
}

fn default_sms_channel() -> String {
    "demo-sms".into()
}

fn default_scheduler_every_secs() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ChannelType {
    /// Africa's Talking USSD callbacks (`CON `/`END ` plain-text replies).
    #[serde(rename = "africastalking-ussd")]
    AfricasTalkingUssd,
    /// An in-process stand-in for a carrier: acks every message and reports delivery after
    /// `sim_dlr_delay_ms`, failing `sim_failure_rate` of them. For demos and tests.
    #[serde(rename = "simulated-carrier")]
    SimulatedCarrier,
    /// seedgate binds to a carrier's SMSC as an ESME (settings in `[channels.<name>.smpp]`).
    #[serde(rename = "smpp-esme")]
    SmppEsme,
    /// USSD dialogs from a gateway that binds to seedgate's SMPP server (an account's
    /// `ussd_channel`); replies go back as `deliver_sm` on the dialog's bind.
    #[serde(rename = "smpp-server-ussd")]
    SmppServerUssd,
    /// Infobip-style USSD: `POST …/session/{id}/start`, `PUT …/session/{id}/response` and
    /// `PUT …/session/{id}/end` under the channel's callback URL, JSON both ways.
    #[serde(rename = "infobip-ussd")]
    InfobipUssd,
    /// Hubtel USSD: JSON with `Type` Initiation / Response / Release / Timeout and `ClientState`.
    #[serde(rename = "hubtel-ussd")]
    HubtelUssd,
    /// Nalo Solutions USSD: JSON `USERID` / `MSISDN` / `USERDATA` / `MSGTYPE`. The protocol has
    /// no session id, so sessions are keyed by MSISDN and dialog.
    #[serde(rename = "nalo-ussd")]
    NaloUssd,
    /// Arkesel USSD: JSON `sessionID` / `userID` / `newSession` / `msisdn` / `userData`.
    #[serde(rename = "arkesel-ussd")]
    ArkeselUssd,
    /// Any other aggregator, described by `[channels.<name>.mapping]`.
    #[serde(rename = "generic-ussd")]
    GenericUssd,
}

impl ChannelType {
    /// Whether channels of this type carry USSD sessions (and so must name a flow).
    pub fn is_ussd(self) -> bool {
        !matches!(self, Self::SimulatedCarrier | Self::SmppEsme)
    }
}

/// How the session engine identifies a session across its hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKey {
    /// The gateway's session id, the same on every hop (most gateways).
    Gateway,
    /// The MSISDN and the dialog it is in: for gateways whose ids change mid-session, or that
    /// send none. A "new" request starts a dialog; later ones join the MSISDN's open dialog.
    Msisdn,
}

/// `generic-ussd`: where the fields of an aggregator's request are, and how to answer it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericMapping {
    /// `json` (a JSON object; nested fields as `a.b`) or `form` (urlencoded body or query).
    pub format: RequestFormat,
    /// Field holding the gateway's session id (leave out to key sessions by MSISDN).
    #[serde(default)]
    pub session_id: Option<String>,
    pub msisdn: String,
    #[serde(default)]
    pub service_code: Option<String>,
    /// Field holding the user's input.
    pub text: String,
    /// `latest` (the newest input only) or `cumulative` (every input so far joined by `*`, as
    /// Africa's Talking sends it).
    #[serde(default)]
    pub text_mode: TextMode,
    /// The request starts a session when this field equals `new_value` (for a boolean field,
    /// `new_value = true`); with neither, when the input is empty.
    #[serde(default)]
    pub new_field: Option<String>,
    #[serde(default)]
    pub new_value: Option<serde_json::Value>,
    /// The request reports the end of the session when `end_field` equals `end_value`.
    #[serde(default)]
    pub end_field: Option<String>,
    #[serde(default)]
    pub end_value: Option<serde_json::Value>,
    pub reply: GenericReply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestFormat {
    Json,
    Form,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextMode {
    #[default]
    Latest,
    Cumulative,
}

/// How a `generic-ussd` reply is written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericReply {
    /// `json` (an object with `text_field`, `continue_field` and the echoed fields) or `text`
    /// (`continue_prefix` or `end_prefix` and the screen, as Africa's Talking does).
    pub format: ReplyFormat,
    #[serde(default)]
    pub text_field: Option<String>,
    /// A JSON field set to `continue_value` while the session goes on, `end_value` at its end.
    #[serde(default)]
    pub continue_field: Option<String>,
    #[serde(default = "default_true_value")]
    pub continue_value: serde_json::Value,
    #[serde(default = "default_false_value")]
    pub end_value: serde_json::Value,
    #[serde(default = "default_con")]
    pub continue_prefix: String,
    #[serde(default = "default_end")]
    pub end_prefix: String,
    /// Request fields copied into the JSON reply unchanged (session id, user id, …).
    #[serde(default)]
    pub echo: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyFormat {
    Json,
    Text,
}

fn default_true_value() -> serde_json::Value {
    serde_json::Value::Bool(true)
}

fn default_false_value() -> serde_json::Value {
    serde_json::Value::Bool(false)
}

fn default_con() -> String {
    "CON ".into()
}

fn default_end() -> String {
    "END ".into()
}

/// How an `smpp-esme` channel binds to its SMSC.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsmeConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    pub system_id: String,
    /// The bind password (or read it from `password_file`).
    #[serde(default)]
    pub password: String,
    /// A file holding the password (a mounted secret), instead of `password`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub system_type: String,
    /// `transceiver`, or `transmitter` + `receiver` binds.
    #[serde(default = "default_bind_mode")]
    pub bind_mode: BindMode,
    /// Binds to open (each of them a transceiver, or a transmitter and a receiver).
    #[serde(default = "default_one")]
    pub binds: usize,
    /// Outstanding submits per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Submits per second per bind (0 = unlimited).
    #[serde(default)]
    pub tps_per_bind: u32,
    /// Submits per second across all binds of the account (0 = unlimited).
    #[serde(default)]
    pub tps: u32,
    #[serde(default = "default_enquire_link_secs")]
    pub enquire_link_secs: u64,
    #[serde(default = "default_response_timeout_secs")]
    pub response_timeout_secs: u64,
    /// Used when a message's `from` is empty.
    #[serde(default)]
    pub source_addr: String,
    #[serde(default = "default_source_ton")]
    pub source_ton: u8,
    #[serde(default)]
    pub source_npi: u8,
    #[serde(default = "default_one_u8")]
    pub dest_ton: u8,
    #[serde(default = "default_one_u8")]
    pub dest_npi: u8,
    /// Ask for delivery receipts (`registered_delivery` 1).
    #[serde(default = "default_true")]
    pub registered_delivery: bool,
    /// How long messages travel: `udh8`, `udh16`, `sar` or `payload`.
    #[serde(default = "default_concat")]
    pub concat: String,
    /// One process at a time binds this channel (a carrier account that allows one bind):
    /// an app-level lease in the session store (`lease:esme:<channel>`, 15 s, renewed every
    /// 5 s). Other processes stand by and take over when the holder stops renewing.
    #[serde(default)]
    pub lease: bool,
    /// USSD over this bind, with a vendor profile: `tata`, `6d` or `mica`. Dialogs go to the
    /// channel's `flow`, and every hop is answered within the channel's `hop_deadline_ms`.
    #[serde(default)]
    pub ussd_profile: Option<String>,
    /// Bind over TLS, trusting the CA certificates in `tls_ca_file` (PEM).
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// The name to verify the SMSC's certificate against (default: the host of `address`).
    #[serde(default)]
    pub tls_server_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    Transceiver,
    TransmitterReceiver,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// Name of the flow that answers this channel's sessions (USSD channels).
    #[serde(default)]
    pub flow: Option<String>,
    /// Every hop is answered within this deadline: with the flow's reply, or the fallback.
    #[serde(default = "default_hop_deadline_ms")]
    pub hop_deadline_ms: u64,
    /// What the user sees when the reply does not come in time.
    #[serde(default = "default_fallback_text")]
    pub fallback_text: String,
    /// This channel's session budget in seconds, if not `sessions.budget_secs`.
    #[serde(default)]
    pub budget_secs: Option<u64>,
    /// The longest USSD screen the channel shows; longer replies are paginated.
    #[serde(default = "default_max_screen_chars")]
    pub max_screen_chars: usize,
    /// The option that shows the next page of a paginated screen.
    #[serde(default = "default_more_key")]
    pub more_key: String,
    #[serde(default = "default_more_label")]
    pub more_label: String,
    /// Simulated carrier: delay before the delivery report.
    #[serde(default = "default_sim_dlr_delay_ms")]
    pub sim_dlr_delay_ms: u64,
    /// Simulated carrier: share of messages reported failed (0.0–1.0).
    #[serde(default)]
    pub sim_failure_rate: f64,
    /// `smpp-esme` channels: the SMSC and the bind.
    #[serde(default)]
    pub smpp: Option<EsmeConfig>,
    /// `generic-ussd` channels: the request and reply mapping.
    #[serde(default)]
    pub mapping: Option<GenericMapping>,
    /// How sessions are identified across hops (default: the gateway's id, or the MSISDN for
    /// gateways that send no id).
    #[serde(default)]
    pub session_key: Option<SessionKey>,
    /// A user whose session broke off mid-flow and who dials again within this many seconds
    /// of their last answered screen is offered to continue where they were (0: never).
    #[serde(default = "default_resume_window_secs")]
    pub resume_window_secs: u64,
    /// The offer shown on such a redial; option 1 continues, option 2 starts again.
    #[serde(default = "default_resume_prompt")]
    pub resume_prompt: String,
    /// Where inbound messages and events of this channel are posted, signed.
    #[serde(default)]
    pub webhooks: Option<WebhookConfig>,
    /// Messages, events and ended sessions of this channel older than this many days are
    /// deleted by the store service (messages still waiting to be sent are kept). Unset: kept.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// With `retention_days`: write what is purged to gzipped JSON-lines files under
    /// `store.archive_dir` first (a failed write purges nothing).
    #[serde(default)]
    pub retention_archive: bool,
}

impl ChannelConfig {
    /// Checks that go beyond types, for the channel called `name` (also for channels created
    /// through the API).
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let key = |field: &str| format!("channels.{name}.{field}");
        if !seedgate_proto::is_valid_channel_name(name) {
            return Err(invalid(
                format!("channels.{name}"),
                "channel names use ASCII letters, digits, `-` and `_` (1-64 characters)",
            ));
        }
        match (self.kind, self.flow.as_deref()) {
            (kind, None) if kind.is_ussd() => {
                return Err(invalid(
                    key("flow"),
                    "a USSD channel must name the flow that answers it",
                ))
            }
            (_, Some(f)) if f.trim().is_empty() => return Err(invalid(key("flow"), "must name a flow")),
            _ => {}
        }
        match (self.kind, &self.smpp) {
            (ChannelType::SmppEsme, None) => {
                return Err(invalid(
                    format!("channels.{name}.smpp"),
                    "an smpp-esme channel needs its [smpp] section",
                ))
            }
            (ChannelType::SmppEsme, Some(e)) => {
                let key = |field: &str| format!("channels.{name}.smpp.{field}");
                if e.address
                    .rsplit_once(':')
                    .is_none_or(|(_, p)| p.parse::<u16>().is_err())
                {
                    return Err(invalid(
                        key("address"),
                        format!("`{}` is not host:port", e.address),
                    ));
                }
                if e.system_id.is_empty() || e.system_id.len() > 15 {
                    return Err(invalid(key("system_id"), "must be 1-15 characters (SMPP 3.4)"));
                }
                if e.binds == 0 || e.window == 0 {
                    return Err(invalid(key("binds"), "binds and window must be at least 1"));
                }
                if e.tls && e.tls_ca_file.is_none() {
                    return Err(invalid(
                        key("tls_ca_file"),
                        "TLS binds need the CA certificate(s) to trust (PEM)",
                    ));
                }
                if e.ussd_profile.is_some() && self.flow.is_none() {
                    return Err(invalid(
                        key("ussd_profile"),
                        "USSD over this bind needs the channel's `flow`",
                    ));
                }
                if !["udh8", "udh16", "sar", "payload"].contains(&e.concat.as_str()) {
                    return Err(invalid(key("concat"), "must be udh8, udh16, sar or payload"));
                }
            }
            (_, Some(_)) => {
                return Err(invalid(
                    format!("channels.{name}.smpp"),
                    "only smpp-esme channels take an [smpp] section",
                ))
            }
            _ => {}
        }
        if self.budget_secs == Some(0) {
            return Err(invalid(key("budget_secs"), "must be at least 1"));
        }
        if self.retention_archive && self.retention_days.is_none() {
            return Err(invalid(
                key("retention_archive"),
                "archives what retention removes: set retention_days too",
            ));
        }
        if self.retention_days == Some(0) {
            return Err(invalid(
                key("retention_days"),
                "must be at least 1 (leave it out to keep everything)",
            ));
        }
        if let Some(w) = &self.webhooks {
            for (field, url) in [
                ("inbound", &w.inbound),
                ("events", &w.events),
                ("status", &w.status),
            ] {
                if let Some(url) = url {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(invalid(
                            format!("channels.{name}.webhooks.{field}"),
                            format!("`{url}` is not an http:// or https:// URL"),
                        ));
                    }
                }
            }
            if w.secret.is_empty() && w.secret_file.is_none() {
                return Err(invalid(
                    format!("channels.{name}.webhooks.secret"),
                    "webhooks are signed: give a secret or a secret_file",
                ));
            }
        }
        match (self.kind, &self.mapping) {
            (ChannelType::GenericUssd, None) => {
                return Err(invalid(
                    key("mapping"),
                    "a generic-ussd channel needs its [mapping] section",
                ))
            }
            (ChannelType::GenericUssd, Some(m)) => {
                let key = |field: &str| format!("channels.{name}.mapping.{field}");
                if m.new_field.is_some() != m.new_value.is_some() {
                    return Err(invalid(key("new_value"), "give new_field and new_value together"));
                }
                if m.end_field.is_some() != m.end_value.is_some() {
                    return Err(invalid(key("end_value"), "give end_field and end_value together"));
                }
                if m.reply.format == ReplyFormat::Json
                    && (m.reply.text_field.is_none() || m.reply.continue_field.is_none())
                {
                    return Err(invalid(
                        key("reply.text_field"),
                        "a JSON reply needs text_field and continue_field",
                    ));
                }
            }
            (_, Some(_)) => {
                return Err(invalid(
                    key("mapping"),
                    "only generic-ussd channels take a [mapping]",
                ))
            }
            _ => {}
        }
        if self.max_screen_chars < 40 + self.more_key.chars().count() + self.more_label.chars().count() {
            return Err(invalid(
                key("max_screen_chars"),
                "too small to show a page and its \"more\" option",
            ));
        }
        if !(0.0..=1.0).contains(&self.sim_failure_rate) {
            return Err(invalid(key("sim_failure_rate"), "must be between 0.0 and 1.0"));
        }
        if self.hop_deadline_ms == 0 || self.hop_deadline_ms > 60_000 {
            return Err(invalid(key("hop_deadline_ms"), "must be between 1 and 60000"));
        }
        if self.fallback_text.trim().is_empty() {
            return Err(invalid(key("fallback_text"), "must not be empty: users read it"));
        }
        Ok(())
    }

    /// How this channel's sessions are identified across hops.
    pub fn session_key(&self) -> SessionKey {
        match (self.session_key, self.kind, &self.mapping) {
            (Some(k), _, _) => k,
            (None, ChannelType::NaloUssd, _) => SessionKey::Msisdn,
            (None, ChannelType::GenericUssd, Some(m)) if m.session_id.is_none() => SessionKey::Msisdn,
            _ => SessionKey::Gateway,
        }
    }
}

fn default_resume_window_secs() -> u64 {
    300
}

fn default_resume_prompt() -> String {
    "Welcome back.\n1. Continue where you left off\n2. Start again".into()
}

/// The SMPP server that carriers, aggregators and partner apps bind to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppServerConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_smpp_listen")]
    pub listen: String,
    /// A connection that has not bound within this many seconds is closed.
    #[serde(default = "default_unbound_timeout_secs")]
    pub unbound_timeout_secs: u64,
    #[serde(default = "default_enquire_link_secs")]
    pub enquire_link_secs: u64,
    #[serde(default = "default_smpp_accounts")]
    pub accounts: Vec<SmppAccount>,
    /// A second listener for SMPP over TLS.
    #[serde(default)]
    pub tls: Option<SmppTlsConfig>,
}

/// SMPP over TLS: where to listen, and the server's certificate chain and key (PEM files).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppTlsConfig {
    pub listen: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// One account partners bind with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppAccount {
    pub system_id: String,
    /// An Argon2 PHC string (`seedgate smpp hash-password` prints one).
    pub password_hash: String,
    /// Networks allowed to bind (CIDR); loopback only by default.
    #[serde(default = "default_allowed_ips")]
    pub allowed_ips: Vec<String>,
    #[serde(default = "default_max_binds")]
    pub max_binds: usize,
    /// Submits per second across the account's binds (0 = unlimited).
    #[serde(default = "default_tps")]
    pub tps: u32,
    /// Outstanding deliver_sm per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// The channel the account's submits are sent out on.
    pub route: String,
    /// Channels whose inbound SMS are delivered to this account's receiving binds.
    #[serde(default)]
    pub mo_channels: Vec<String>,
    /// The account is a USSD gateway: its USSD submits are dialogs on this channel (of type
    /// `smpp-server-ussd`), read with `ussd_profile` (default `tata`).
    #[serde(default)]
    pub ussd_channel: Option<String>,
    #[serde(default)]
    pub ussd_profile: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter directive, e.g. `info` or `seedgate_sessions=debug,info`.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// Show MSISDNs in full in logs. Off by default: they are health data.
    #[serde(default)]
    pub unmask_msisdn: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight work may take to finish after SIGTERM.
    #[serde(default = "default_drain_secs")]
    pub drain_secs: u64,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_bus_kind() -> BusKind {
    BusKind::InProcess
}
fn default_amqp_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".into()
}
fn default_exchange() -> String {
    "seedgate".into()
}
fn default_prefetch() -> u16 {
    64
}
fn default_session_store_kind() -> SessionStoreKind {
    SessionStoreKind::InProcess
}
fn default_redis_url() -> String {
    "redis://127.0.0.1:6379".into()
}
fn default_key_prefix() -> String {
    "seedgate:".into()
}
fn default_store_kind() -> StoreKind {
    StoreKind::Sqlite
}
fn default_store_url() -> String {
    "sqlite://data/seedgate.db".into()
}
fn default_batch_size() -> usize {
    500
}
fn default_budget_secs() -> u64 {
    180
}
fn default_closing_text() -> String {
    "Your session has timed out. Please dial again to continue.".into()
}
fn default_flows_dir() -> PathBuf {
    "flows".into()
}
fn default_hop_deadline_ms() -> u64 {
    4000
}
fn default_fallback_text() -> String {
    "Sorry, the service is busy right now. Please try again in a few minutes.".into()
}
fn default_bind_mode() -> BindMode {
    BindMode::Transceiver
}
fn default_one() -> usize {
    1
}
fn default_one_u8() -> u8 {
    1
}
fn default_source_ton() -> u8 {
    5
}
fn default_response_timeout_secs() -> u64 {
    10
}
fn default_concat() -> String {
    "udh8".into()
}
fn default_max_screen_chars() -> usize {
    182
}
fn default_more_key() -> String {
    "99".into()
}
fn default_more_label() -> String {
    "More".into()
}
fn default_sim_dlr_delay_ms() -> u64 {
    500
}
fn default_true() -> bool {
    true
}
fn default_smpp_listen() -> String {
    "127.0.0.1:2775".into()
}
fn default_unbound_timeout_secs() -> u64 {
    10
}
fn default_enquire_link_secs() -> u64 {
    30
}
fn default_allowed_ips() -> Vec<String> {
    vec!["127.0.0.0/8".into(), "::1/128".into()]
}
fn default_max_binds() -> usize {
    4
}
fn default_tps() -> u32 {
    200
}
fn default_window() -> usize {
    10
}
/// The embedded demo account: system_id `demo`, password `demo`, loopback only, routed to the
/// simulated carrier. The hash is Argon2id of `demo`.
fn default_smpp_accounts() -> Vec<SmppAccount> {
    vec![SmppAccount {
        system_id: "demo".into(),
        password_hash: DEMO_PASSWORD_HASH.into(),
        allowed_ips: default_allowed_ips(),
        max_binds: default_max_binds(),
        tps: default_tps(),
        window: default_window(),
        route: "demo-sms".into(),
        mo_channels: Vec::new(),
        ussd_channel: None,
        ussd_profile: None,
    }]
}

/// Argon2id PHC string of the demo password `demo`.
pub const DEMO_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$0do57pWTnlDyIWDVTk7NEQ$7TtWw/OPUeptuWNXynd/59gPC3ykKjdHf6Ny046Hd80";

fn default_log_level() -> String {
    "info".into()
}
fn default_drain_secs() -> u64 {
    10
}
/// The embedded deployment's channels: Africa's Talking USSD wired to the demo menu and to the
/// registration flow, and the simulated carrier for SMS.
const DEFAULT_CHANNELS: &str = r#"
[demo-at]
type = "africastalking-ussd"
flow = "demo"

[momconnect-at]
type = "africastalking-ussd"
flow = "registration"

[demo-sms]
type = "simulated-carrier"
"#;

fn default_channels_table() -> toml::Table {
    DEFAULT_CHANNELS
        .parse()
        .expect("the built-in channel table is valid TOML")
}

fn default_channels() -> BTreeMap<String, ChannelConfig> {
    toml::Value::Table(default_channels_table())
        .try_into()
        .expect("the built-in channel table is a valid channel config")
}

macro_rules! default_from_serde {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                toml::Value::Table(Default::default())
                    .try_into()
                    .expect("every field of this section has a default")
            }
        }
    )*};
}
default_from_serde!(
    HttpConfig,
    BusConfig,
    SessionStoreConfig,
    StoreConfig,
    SessionsConfig,
    FlowsConfig,
    SmppServerConfig,
    LogConfig,
    ShutdownConfig
);

impl Default for Config {
    fn default() -> Self {
        Self {
            http: Default::default(),
            bus: Default::default(),
            session_store: Default::default(),
            store: Default::default(),
            sessions: Default::default(),
            flows: Default::default(),
            channels: default_channels(),
            smpp_server: Default::default(),
            log: Default::default(),
            shutdown: Default::default(),
            api: Default::default(),
        }
    }
}

impl Config {
    /// Loads `path` (if given) and applies the `SEEDGATE_*` entries of `env`.
    ///
    /// `env` is passed in (not read here) so that tests hand in a map.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut root = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>().map_err(|e| ConfigError::Syntax {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => toml::Table::new(),
        };
        // Overrides of the demo channel's keys must find it, so put the default in first.
        if !root.contains_key("channels") {
            root.insert("channels".into(), toml::Value::Table(default_channels_table()));
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("SEEDGATE_") else {
                continue;
            };
            // SEEDGATE_CONFIG names the file itself; it is not a key.
            if rest == "CONFIG" {
                continue;
            }
            // SEEDGATE_FILE__STORE__URL=/run/secrets/store_url: the key's value is the file's
            // content (for secrets mounted as files: database URLs with passwords, …).
            if let Some(path) = rest.strip_prefix("FILE__") {
                let text = std::fs::read_to_string(&value).map_err(|e| {
                    invalid(
                        format!("SEEDGATE_FILE__{path}"),
                        format!("cannot read {value}: {e}"),
                    )
                })?;
                apply_override(&mut root, path, text.trim_end_matches(['\r', '\n']))?;
                continue;
            }
            apply_override(&mut root, rest, &value)?;
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(|e| {
            let key = e.path().to_string();
            invalid(
                if key == "." { "(top level)".into() } else { key },
                e.inner().to_string(),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that go beyond types: names, ranges, references.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sessions.budget_secs == 0 {
            return Err(invalid("sessions.budget_secs", "must be at least 1"));
        }
        if self.bus.prefetch == 0 {
            return Err(invalid("bus.prefetch", "must be at least 1"));
        }
        if self.store.batch_size == 0 {
            return Err(invalid("store.batch_size", "must be at least 1"));
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                format!("`{}` is not an ip:port address", self.http.listen),
            ));
        }
        if let Some(schema) = &self.store.schema {
            if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid("store.schema", "use ASCII letters, digits and `_` only"));
            }
        }
        for (name, ch) in &self.channels {
            ch.validate(name)?;
        }
        if self.smpp_server.enabled {
            if self.smpp_server.listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(invalid(
                    "smpp_server.listen",
                    format!("`{}` is not an ip:port address", self.smpp_server.listen),
                ));
            }
            if let Some(tls) = &self.smpp_server.tls {
                if tls.listen.parse::<std::net::SocketAddr>().is_err() {
                    return Err(invalid(
                        "smpp_server.tls.listen",
                        format!("`{}` is not an ip:port address", tls.listen),
                    ));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for (i, a) in self.smpp_server.accounts.iter().enumerate() {
                let key = |field: &str| format!("smpp_server.accounts[{i}].{field}");
                if a.system_id.is_empty() || a.system_id.len() > 15 {
                    return Err(invalid(key("system_id"), "must be 1-15 characters (SMPP 3.4)"));
                }
                if !seen.insert(a.system_id.as_str()) {
                    return Err(invalid(
                        key("system_id"),
                        format!("`{}` is used by two accounts", a.system_id),
                    ));
                }
                if !a.password_hash.starts_with("$argon2") {
                    return Err(invalid(
                        key("password_hash"),
                        "must be an Argon2 PHC string (`$argon2id$…`)",
                    ));
                }
                if !self.channels.contains_key(&a.route) {
                    return Err(invalid(key("route"), format!("no channel named `{}`", a.route)));
                }
                if let Some(ch) = &a.ussd_channel {
                    if self.channels.get(ch).map(|c| c.kind) != Some(ChannelType::SmppServerUssd) {
                        return Err(invalid(
                            key("ussd_channel"),
                            format!("`{ch}` is not a channel of type smpp-server-ussd"),
                        ));
                    }
                }
                if let Some(ch) = a.mo_channels.iter().find(|c| !self.channels.contains_key(*c)) {
                    return Err(invalid(key("mo_channels"), format!("no channel named `{ch}`")));
                }
                if a.max_binds == 0 || a.window == 0 {
                    return Err(invalid(
                        key("max_binds"),
                        "max_binds and window must be at least 1",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Sets the key path `SEEDGATE_A__B__C` (already stripped of its prefix) in `root`.
fn apply_override(root: &mut toml::Table, path: &str, raw: &str) -> Result<(), ConfigError> {
    let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        return Err(invalid(
            format!("SEEDGATE_{path}"),
            "empty key segment in environment override",
        ));
    }
    let mut table = root;
    for (i, seg) in segments.iter().enumerate() {
        // An existing key matches when `-` and `_` are taken as equal (channel names).
        let existing = table
            .keys()
            .find(|k| k.replace('-', "_") == seg.replace('-', "_"))
            .cloned();
        let key = existing.unwrap_or_else(|| seg.clone());
        if i + 1 == segments.len() {
            table.insert(key, parse_env_value(raw));
            return Ok(());
        }
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(invalid(
                    segments[..=i].join("."),
                    format!("SEEDGATE_{path} treats a value as a section"),
                ))
            }
        };
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_str(toml_text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("seedgate-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seedgate.toml");
        std::fs::write(&path, toml_text).unwrap();
        let out = Config::load(Some(&path), env(pairs));
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn defaults_are_the_embedded_deployment() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:8080");
        assert_eq!(c.bus.kind, BusKind::InProcess);
        assert_eq!(c.session_store.kind, SessionStoreKind::InProcess);
        assert_eq!(c.store.kind, StoreKind::Sqlite);
        assert_eq!(c.sessions.budget_secs, 180);
        assert_eq!(c.channels["demo-at"].flow.as_deref(), Some("demo"));
        assert_eq!(c.channels["demo-sms"].kind, ChannelType::SimulatedCarrier);
        assert_eq!(c.smpp_server.listen, "127.0.0.1:2775");
        assert_eq!(c.smpp_server.accounts[0].route, "demo-sms");
        assert_eq!(c.channels["demo-at"].kind, ChannelType::AfricasTalkingUssd);
    }

    #[test]
    fn env_overrides_nest_and_type_their_values() {
        let c = Config::load(
            None,
            env(&[
                ("SEEDGATE_BUS__KIND", "rabbitmq"),
                ("SEEDGATE_BUS__PREFETCH", "7"),
                ("SEEDGATE_CHANNELS__DEMO_AT__HOP_DEADLINE_MS", "1500"),
                ("SEEDGATE_CONFIG", "ignored.toml"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bus.kind, BusKind::Rabbitmq);
        assert_eq!(c.bus.prefetch, 7);
        assert_eq!(c.channels["demo-at"].hop_deadline_ms, 1500);
        assert_eq!(c.channels.len(), 3, "the override matched the existing channel");
    }

    #[test]
    fn a_value_can_come_from_a_file() {
        let dir = std::env::temp_dir().join(format!("seedgate-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("store_url");
        std::fs::write(&secret, "postgres://seedgate:s3cret@db/seedgate\n").unwrap();
        let c = Config::load(
            None,
            env(&[("SEEDGATE_FILE__STORE__URL", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.store.url, "postgres://seedgate:s3cret@db/seedgate");
        let e = Config::load(None, env(&[("SEEDGATE_FILE__STORE__URL", "/nonexistent/x")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SEEDGATE_FILE__STORE__URL") && e.contains("/nonexistent/x"),
            "{e}"
        );
    }

    #[test]
    fn env_overrides_win_over_the_file() {
        let c = load_str(
            "[http]\nlisten = \"127.0.0.1:9000\"\n",
            &[("SEEDGATE_HTTP__LISTEN", "127.0.0.1:9001")],
        )
        .unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:9001");
    }

    #[test]
    fn a_file_with_channels_replaces_the_demo_channel() {
        let c = load_str(
            "[channels.mtn-ng]\ntype = \"africastalking-ussd\"\nflow = \"reg\"\n[smpp_server]\nenabled = false\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.channels.keys().collect::<Vec<_>>(), vec!["mtn-ng"]);
        assert_eq!(c.channels["mtn-ng"].hop_deadline_ms, 4000);
    }

    #[test]
    fn errors_name_the_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("[bus]\nprefetch = \"many\"\n", &[], "bus.prefetch"),
            ("[bus]\nkind = \"kafka\"\n", &[], "bus.kind"),
            ("[bus]\nprefech = 3\n", &[], "prefech"),
            ("", &[("SEEDGATE_STORE__KIND", "oracle")], "store.kind"),
            (
                "",
                &[("SEEDGATE_SESSIONS__BUDGET_SECS", "0")],
                "sessions.budget_secs",
            ),
            ("", &[("SEEDGATE_HTTP__LISTEN", "localhost")], "http.listen"),
            (
                "[channels.\"a.b\"]\ntype = \"africastalking-ussd\"\nflow = \"x\"\n",
                &[],
                "channels.a.b",
            ),
            (
                "[channels.x]\ntype = \"africastalking-ussd\"\nflow = \"x\"\nhop_deadline_ms = 0\n",
                &[],
                "channels.x.hop_deadline_ms",
            ),
            (
                "[channels.x]\ntype = \"smoke-signals\"\nflow = \"x\"\n",
                &[],
                "channels.x.type",
            ),
            ("", &[("SEEDGATE_HTTP__LISTEN__PORT", "1")], "http.listen"),
        ];
        for (file, pairs, key) in cases {
            let err = load_str(file, pairs).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "{file:?} {pairs:?}: `{err}` does not name `{key}`"
            );
        }
    }

    #[test]
    fn toml_syntax_errors_name_the_file() {
        let err = load_str("[bus\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
        assert!(err.to_string().contains("seedgate.toml"));
    }
}
