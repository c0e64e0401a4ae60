//! `[sessions]`: the USSD session engine's budget and closing screen.

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Total budget of a USSD session, in seconds (carriers cut sessions at 180 s).
    pub budget_secs: u64,
    /// Sent when a session reaches its budget, where the protocol allows a last screen.
    pub closing_text: String,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            budget_secs: 180,
            closing_text: "Your session has timed out. Please dial again to continue.".into(),
        }
    }
}

impl SessionsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.budget_secs == 0 {
            return Err(invalid("sessions.budget_secs", "must be at least 1"));
        }
        Ok(())
    }
}
