//! `[channels.<name>.smpp]` of an `smpp-esme` channel: the SMSC seedgate binds to, the bind's
//! account, window and rates, addressing, long-message encoding and TLS.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{invalid, ConfigError};

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
    #[serde(default)]
    pub bind_mode: BindMode,
    /// Binds to open (each of them a transceiver, or a transmitter and a receiver).
    #[serde(default = "EsmeConfig::one")]
    pub binds: usize,
    /// Outstanding submits per bind.
    #[serde(default = "EsmeConfig::window")]
    pub window: usize,
    /// Submits per second per bind (0 = unlimited).
    #[serde(default)]
    pub tps_per_bind: u32,
    /// Submits per second across all binds of the account (0 = unlimited).
    #[serde(default)]
    pub tps: u32,
    #[serde(default = "EsmeConfig::enquire_link_secs")]
    pub enquire_link_secs: u64,
    #[serde(default = "EsmeConfig::response_timeout_secs")]
    pub response_timeout_secs: u64,
    /// Tries of one message that the SMSC answers with a temporary error (queue full, system
    /// error) or does not answer, before it fails for good (`nack`, on the dead-letter list).
    /// Throttling and a bind that is down do not count: a message's `expires_at` bounds those.
    #[serde(default = "EsmeConfig::max_attempts")]
    pub max_attempts: u32,
    /// Used when a message's `from` is empty.
    #[serde(default)]
    pub source_addr: String,
    /// Alphanumeric (5) by default.
    #[serde(default = "EsmeConfig::source_ton")]
    pub source_ton: u8,
    #[serde(default)]
    pub source_npi: u8,
    /// International (1) and ISDN (1) by default.
    #[serde(default = "EsmeConfig::one_u8")]
    pub dest_ton: u8,
    #[serde(default = "EsmeConfig::one_u8")]
    pub dest_npi: u8,
    /// Ask for delivery receipts (`registered_delivery` 1).
    #[serde(default = "EsmeConfig::yes")]
    pub registered_delivery: bool,
    /// How long messages travel: `udh8`, `udh16`, `sar` or `payload`.
    #[serde(default)]
    pub concat: Concat,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    #[default]
    Transceiver,
    TransmitterReceiver,
}

/// How a message too long for one `submit_sm` travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Concat {
    /// Parts with an 8-bit-reference UDH.
    #[default]
    Udh8,
    /// Parts with a 16-bit-reference UDH.
    Udh16,
    /// Parts with the `sar_*` TLVs.
    Sar,
    /// One `submit_sm` with the whole text in `message_payload`.
    Payload,
}

/// The defaults of the section's optional keys (the section itself has required ones).
impl EsmeConfig {
    fn one() -> usize {
        1
    }
    fn window() -> usize {
        10
    }
    fn enquire_link_secs() -> u64 {
        30
    }
    fn response_timeout_secs() -> u64 {
        10
    }
    fn max_attempts() -> u32 {
        10
    }
    fn source_ton() -> u8 {
        5
    }
    fn one_u8() -> u8 {
        1
    }
    fn yes() -> bool {
        true
    }

    /// Checks the section at `at` (`channels.<name>.smpp`); `has_flow`: the channel names a
    /// flow (which USSD over the bind needs).
    pub(super) fn validate(&self, at: &str, has_flow: bool) -> Result<(), ConfigError> {
        let key = |field: &str| format!("{at}.{field}");
        if self
            .address
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(invalid(
                key("address"),
                format!("`{}` is not host:port", self.address),
            ));
        }
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            return Err(invalid(key("system_id"), "must be 1-15 characters (SMPP 3.4)"));
        }
        if self.binds == 0 || self.window == 0 {
            return Err(invalid(key("binds"), "binds and window must be at least 1"));
        }
        if self.tls && self.tls_ca_file.is_none() {
            return Err(invalid(
                key("tls_ca_file"),
                "TLS binds need the CA certificate(s) to trust (PEM)",
            ));
        }
        if self.ussd_profile.is_some() && !has_flow {
            return Err(invalid(
                key("ussd_profile"),
                "USSD over this bind needs the channel's `flow`",
            ));
        }
        Ok(())
    }
}
