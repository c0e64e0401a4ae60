//! `[session_store]`: where live USSD sessions, leases and channel status are kept
//! (in-process, or Redis).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStoreKind {
    InProcess,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionStoreConfig {
    pub kind: SessionStoreKind,
    pub url: String,
    pub key_prefix: String,
}

impl Default for SessionStoreConfig {
    fn default() -> Self {
        Self {
            kind: SessionStoreKind::InProcess,
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "seedgate:".into(),
        }
    }
}
