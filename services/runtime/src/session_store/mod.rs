//! Short-lived session state with a time-to-live: in-process or Redis.
//!
//! The TTL is the session budget's clock: a key created with the budget as TTL is gone when the
//! budget is spent, and `remaining` tells how much is left. Both implementations measure it on
//! a monotonic clock (tokio's `Instant`, or Redis' own TTL), never by wall-clock differences.
//! One conformance suite (`tests/session_store_conformance.rs`) runs against both.
//!
//! `get_many` and `write_all` do several reads or writes at once: one round trip to Redis
//! (`MULTI`/`EXEC`, so a batch of writes is applied whole or not at all) instead of one each.

pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

/// A stored value and the time it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub value: Vec<u8>,
    pub remaining: Duration,
}

/// One write of a [`SessionStore::write_all`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write<'a> {
    /// Stores `value` under `key` with a fresh `ttl` (as [`SessionStore::put`]).
    Put {
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    },
    /// Removes `key` (as [`SessionStore::remove`]).
    Remove(&'a str),
}

#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Stores `value` under `key` for `ttl` unless the key exists; `true` if it was created.
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, SessionStoreError>;
    /// The value and its remaining time, or `None` if absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Stored>, SessionStoreError>;
    /// Replaces the value of a live key, keeping its TTL; `false` if absent or expired.
    async fn update(&self, key: &str, value: &[u8]) -> Result<bool, SessionStoreError>;
    /// Stores `value` with a fresh `ttl`, whether or not the key existed.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), SessionStoreError>;
    /// Removes the key, returning its value if it was live.
    async fn remove(&self, key: &str) -> Result<Option<Vec<u8>>, SessionStoreError>;
    /// [`SessionStore::get`] of each key, in one go: the values in the order of `keys`.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Stored>>, SessionStoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(self.get(key).await?);
        }
        Ok(found)
    }
    /// Carries out `writes` in order and as one: all of them or (on an error) none.
    async fn write_all(&self, writes: &[Write<'_>]) -> Result<(), SessionStoreError>;
    /// Readiness: `Ok` when the store answers now.
    async fn check(&self) -> Result<(), SessionStoreError>;
}
