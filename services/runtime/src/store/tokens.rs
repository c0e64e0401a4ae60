//! API tokens: only a hash of each secret is kept.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Tokens: Send + Sync {
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    /// The token whose secret hashes to `hash`.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;
}

/// An API token as stored: only a hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    pub scopes: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
