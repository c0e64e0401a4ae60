//! `[flows]`: where flow files are, and the flow runner's SMS channel and scheduler.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowsConfig {
    /// Folder of flow files (`*.yaml`).
    pub dir: PathBuf,
    /// Where `send_sms` actions of USSD flows go when they name no channel.
    pub sms_channel: String,
    /// How often the campaign scheduler looks for due messages (a subscription or a
    /// restart also wakes it).
    pub scheduler_every_secs: u64,
}

impl Default for FlowsConfig {
    fn default() -> Self {
        Self {
            dir: "flows".into(),
            sms_channel: "demo-sms".into(),
            scheduler_every_secs: 30,
        }
    }
}
