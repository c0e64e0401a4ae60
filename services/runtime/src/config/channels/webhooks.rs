//! `[channels.<name>.webhooks]`: where a channel's inbound messages, events and status
//! changes are posted, and the secret that signs them.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{invalid, ConfigError};

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

    /// Checks the section at `at` (`channels.<name>.webhooks`): http(s) URLs and a secret.
    pub(super) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for (field, url) in [
            ("inbound", &self.inbound),
            ("events", &self.events),
            ("status", &self.status),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        format!("{at}.{field}"),
                        format!("`{url}` is not an http:// or https:// URL"),
                    ));
                }
            }
        }
        if self.secret.is_empty() && self.secret_file.is_none() {
            return Err(invalid(
                format!("{at}.secret"),
                "webhooks are signed: give a secret or a secret_file",
            ));
        }
        Ok(())
    }
}
