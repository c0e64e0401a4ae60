//! `[log]`: the `tracing` filter, and whether MSISDNs are shown in full.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter directive, e.g. `info` or `seedgate_sessions=debug,info`.
    pub level: String,
    /// Show MSISDNs in full in logs. Off by default: they are health data.
    pub unmask_msisdn: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            unmask_msisdn: false,
        }
    }
}
