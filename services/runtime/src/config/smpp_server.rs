//! `[smpp_server]`: the SMPP server that carriers, aggregators and partner apps bind to, its
//! TLS listener and its `[[smpp_server.accounts]]`.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Deserialize;

use super::{check_socket_addr, invalid, ChannelConfig, ChannelType, ConfigError};

/// The SMPP server that carriers, aggregators and partner apps bind to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmppServerConfig {
    pub enabled: bool,
    pub listen: String,
    /// A connection that has not bound within this many seconds is closed.
    pub unbound_timeout_secs: u64,
    pub enquire_link_secs: u64,
    pub accounts: Vec<SmppAccount>,
    /// A second listener for SMPP over TLS.
    pub tls: Option<SmppTlsConfig>,
}

impl Default for SmppServerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:2775".into(),
            unbound_timeout_secs: 10,
            enquire_link_secs: 30,
            accounts: vec![super::demo::account()],
            tls: None,
        }
    }
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
    #[serde(default = "SmppAccount::loopback")]
    pub allowed_ips: Vec<String>,
    #[serde(default = "SmppAccount::max_binds")]
    pub max_binds: usize,
    /// Submits per second across the account's binds (0 = unlimited).
    #[serde(default = "SmppAccount::tps")]
    pub tps: u32,
    /// Outstanding deliver_sm per bind.
    #[serde(default = "SmppAccount::window")]
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

/// The defaults of an account's optional keys (the account itself has required ones).
impl SmppAccount {
    pub(super) fn loopback() -> Vec<String> {
        vec!["127.0.0.0/8".into(), "::1/128".into()]
    }
    pub(super) fn max_binds() -> usize {
        4
    }
    pub(super) fn tps() -> u32 {
        200
    }
    pub(super) fn window() -> usize {
        10
    }
}

impl SmppServerConfig {
    /// Listen addresses, and each account's id, password hash and channels (which must be
    /// among `channels`).
    pub(super) fn validate(&self, channels: &BTreeMap<String, ChannelConfig>) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        check_socket_addr("smpp_server.listen", &self.listen)?;
        if let Some(tls) = &self.tls {
            check_socket_addr("smpp_server.tls.listen", &tls.listen)?;
        }
        let mut seen = HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            a.validate(i, channels, &mut seen)?;
        }
        Ok(())
    }
}

impl SmppAccount {
    /// Checks account number `i`; `seen` holds the system ids of the accounts before it.
    fn validate<'a>(
        &'a self,
        i: usize,
        channels: &BTreeMap<String, ChannelConfig>,
        seen: &mut HashSet<&'a str>,
    ) -> Result<(), ConfigError> {
        let key = |field: &str| format!("smpp_server.accounts[{i}].{field}");
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            return Err(invalid(key("system_id"), "must be 1-15 characters (SMPP 3.4)"));
        }
        if !seen.insert(self.system_id.as_str()) {
            return Err(invalid(
                key("system_id"),
                format!("`{}` is used by two accounts", self.system_id),
            ));
        }
        if !self.password_hash.starts_with("$argon2") {
            return Err(invalid(
                key("password_hash"),
                "must be an Argon2 PHC string (`$argon2id$…`)",
            ));
        }
        if !channels.contains_key(&self.route) {
            return Err(invalid(
                key("route"),
                format!("no channel named `{}`", self.route),
            ));
        }
        if let Some(ch) = &self.ussd_channel {
            if channels.get(ch).map(|c| c.channel_type()) != Some(ChannelType::SmppServerUssd) {
                return Err(invalid(
                    key("ussd_channel"),
                    format!("`{ch}` is not a channel of type smpp-server-ussd"),
                ));
            }
        }
        if let Some(ch) = self.mo_channels.iter().find(|c| !channels.contains_key(*c)) {
            return Err(invalid(key("mo_channels"), format!("no channel named `{ch}`")));
        }
        if self.max_binds == 0 || self.window == 0 {
            return Err(invalid(
                key("max_binds"),
                "max_binds and window must be at least 1",
            ));
        }
        Ok(())
    }
}
