//! `[store]`: the durable store of messages, events, sessions and contacts (SQLite or
//! PostgreSQL), its batching, retention runs and encryption at rest.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// `sqlite://data/seedgate.db` or `postgres://user@host/db`.
    pub url: String,
    /// PostgreSQL schema to use (created if missing); lets tests and tenants share a database.
    pub schema: Option<String>,
    /// Rows per write transaction at most.
    pub batch_size: usize,
    /// How often the store service applies the channels' `retention_days`.
    pub purge_every_secs: u64,
    /// Where channels with `retention_archive` keep what retention removes.
    pub archive_dir: PathBuf,
    /// A file holding a 32-byte key (64 hex characters): message content, addresses and
    /// contacts are then encrypted at rest, and addresses are looked up by a keyed hash.
    pub encryption_key_file: Option<PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: StoreKind::Sqlite,
            url: "sqlite://data/seedgate.db".into(),
            schema: None,
            batch_size: 500,
            purge_every_secs: 3600,
            archive_dir: PathBuf::from("data/archive"),
            encryption_key_file: None,
        }
    }
}

impl StoreConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 {
            return Err(invalid("store.batch_size", "must be at least 1"));
        }
        if let Some(schema) = &self.schema {
            if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid("store.schema", "use ASCII letters, digits and `_` only"));
            }
        }
        Ok(())
    }
}
