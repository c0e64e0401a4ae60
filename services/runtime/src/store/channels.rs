//! Channel definitions made (or restarted) through the API, with the generation every
//! process's registry follows.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait ChannelDefs: Send + Sync {
    /// Every stored channel row, by name.
    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError>;
    /// Creates or replaces a channel's definition (the same keys as a `[channels.<name>]`
    /// section), bumping its generation.
    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError>;
    /// Bumps a channel's generation so its connectors restart (a row without a definition
    /// is made for a channel from the config file).
    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError>;
    /// Deletes a channel's row; false if there was none.
    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError>;
}

/// A channel row: a definition made through the API (none for a channel from the config
/// file that was only restarted) and the generation its connectors run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChannel {
    pub name: String,
    pub definition: Option<serde_json::Value>,
    pub generation: i64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
