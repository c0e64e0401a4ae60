//! API tokens: only a hash of each secret is kept. A revoked token stays listed (with when it
//! was revoked) but is never found by its hash again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Tokens: Send + Sync {
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    /// The live (not revoked) token whose secret hashes to `hash`.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;
    /// Every token, revoked ones included, oldest first.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes the live token `id` as of `at`; `false` when there is none (unknown, or revoked
    /// already: the first revocation's time is kept).
    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Notes that token `id` was used at `at` (callers keep this to about once a minute).
    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// An API token as stored: only a hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// When a request last named it (to about a minute); `None` if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; `None` while it is live.
    pub revoked_at: Option<DateTime<Utc>>,
}
