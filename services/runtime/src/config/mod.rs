//! Configuration: one TOML file plus `SEEDGATE_*` environment overrides.
//!
//! A value can come from a file (a secret mounted as one): `SEEDGATE_FILE__STORE__URL=/run/secrets/store_url`.
//! An override names a key path with `__` between levels: `SEEDGATE_BUS__KIND=rabbitmq`,
//! `SEEDGATE_CHANNELS__DEMO_AT__HOP_DEADLINE_MS=3000` (an existing key matches when `-` and `_`
//! are taken as equal). Values are read as TOML literals when they parse as one (numbers,
//! booleans) and as strings otherwise. Every error names the key it is about; the binary exits
//! with code 64 on any of them, before it binds a port.
//!
//! One file per section: `http.rs` (with `[api]`), `bus.rs`, `session_store.rs`, `store.rs`,
//! `sessions.rs`, `flows.rs`, `channels/` (a channel's type and the sections only that type
//! takes), `smpp_server.rs`, `log.rs`, `shutdown.rs`; `env.rs` is the overlay, `demo.rs` the
//! built-in demo channels and account. Each section checks itself (`validate`); this module
//! loads the file and runs the checks. Every type is re-exported here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod bus;
mod channels;
mod demo;
mod env;
mod flows;
mod http;
mod log;
mod session_store;
mod sessions;
mod shutdown;
mod smpp_server;
mod store;
#[cfg(test)]
mod tests;

pub use bus::{BusConfig, BusKind, QueueType};
pub use channels::{
    AggregatorOptions, BindMode, ChannelConfig, ChannelKind, ChannelType, Concat, EsmeConfig, GenericMapping,
    GenericReply, GenericUssdOptions, ReplyFormat, RequestFormat, SessionKey, SimulatedCarrierOptions,
    SmppEsmeOptions, TextMode, WebhookConfig,
};
pub use demo::DEMO_PASSWORD_HASH;
pub use flows::FlowsConfig;
pub use http::{ApiConfig, HttpConfig};
pub use log::LogConfig;
pub use session_store::{SessionStoreConfig, SessionStoreKind};
pub use sessions::SessionsConfig;
pub use shutdown::ShutdownConfig;
pub use smpp_server::{SmppAccount, SmppServerConfig, SmppTlsConfig};
pub use store::{StoreConfig, StoreKind};

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

pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// `ip:port`, or an error naming `key`.
pub(crate) fn check_socket_addr(key: &str, value: &str) -> Result<(), ConfigError> {
    match value.parse::<std::net::SocketAddr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(invalid(key, format!("`{value}` is not an ip:port address"))),
    }
}

/// The whole configuration of a seedgate process.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub bus: BusConfig,
    pub session_store: SessionStoreConfig,
    pub store: StoreConfig,
    pub sessions: SessionsConfig,
    pub flows: FlowsConfig,
    /// Read by [`ChannelConfig::parse`], one channel at a time (see [`Config::load`]).
    #[serde(skip)]
    pub channels: BTreeMap<String, ChannelConfig>,
    pub smpp_server: SmppServerConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    pub api: ApiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: Default::default(),
            bus: Default::default(),
            session_store: Default::default(),
            store: Default::default(),
            sessions: Default::default(),
            flows: Default::default(),
            channels: demo::channels(),
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
            root.insert("channels".into(), toml::Value::Table(demo::channels_table()));
        }
        env::overlay(&mut root, env)?;
        // A channel's keys depend on its type: the channels are read one by one, by type.
        let channels = root
            .remove("channels")
            .unwrap_or(toml::Value::Table(Default::default()));
        let mut config: Config = deserialize(toml::Value::Table(root), "")?;
        let channels: BTreeMap<String, serde_json::Value> = deserialize(channels, "channels")?;
        config.channels = channels
            .into_iter()
            .map(|(name, definition)| Ok((name.clone(), ChannelConfig::parse(&name, &definition)?)))
            .collect::<Result<_, ConfigError>>()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that go beyond types: names, ranges, references.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.bus.validate()?;
        self.store.validate()?;
        self.sessions.validate()?;
        for (name, ch) in &self.channels {
            ch.validate(name)?;
        }
        self.smpp_server.validate(&self.channels)
    }
}

/// Deserializes `value`, naming the key of any error under `prefix` (`""` for the top level).
pub(crate) fn deserialize<T, D>(value: D, prefix: &str) -> Result<T, ConfigError>
where
    T: serde::de::DeserializeOwned,
    D: for<'de> serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = match (prefix, path.as_str()) {
            ("", ".") => "(top level)".to_string(),
            (prefix, ".") => prefix.to_string(),
            ("", path) => path.to_string(),
            (prefix, path) => format!("{prefix}.{path}"),
        };
        invalid(key, e.inner().to_string())
    })
}
