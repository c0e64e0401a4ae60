//! Redis session store: values with `PX` TTLs, so Redis' clock (not ours) runs the budget.
//!
//! The connection is made on first use and remade by `redis`' connection manager after a
//! failure; a store that cannot reach Redis answers `Unavailable` instead of blocking.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use super::{SessionStore, SessionStoreError, Stored};
use crate::config::SessionStoreConfig;

const OP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct RedisSessionStore {
    client: redis::Client,
    prefix: String,
    conn: std::sync::Arc<OnceCell<ConnectionManager>>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> SessionStoreError {
    SessionStoreError::Unavailable(e.to_string())
}

impl RedisSessionStore {
    /// Parses the URL now; connects on first use.
    pub fn new(cfg: &SessionStoreConfig) -> Result<Self, SessionStoreError> {
        let client =
            redis::Client::open(cfg.url.as_str()).map_err(|e| unavailable(format!("bad redis url: {e}")))?;
        Ok(Self {
            client,
            prefix: cfg.key_prefix.clone(),
            conn: Default::default(),
        })
    }

    async fn conn(&self) -> Result<ConnectionManager, SessionStoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(OP_TIMEOUT, ConnectionManager::new(self.client.clone()))
                    .await
                    .map_err(|_| unavailable("connecting to redis timed out"))?
                    .map_err(unavailable)
            })
            .await?;
        Ok(conn.clone())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, SessionStoreError> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(OP_TIMEOUT, cmd.query_async(&mut conn))
            .await
            .map_err(|_| unavailable("redis command timed out"))?
            .map_err(unavailable)
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, SessionStoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl));
        let reply: Option<String> = self.run(&cmd).await?;
        Ok(reply.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Stored>, SessionStoreError> {
        let mut conn = self.conn().await?;
        let key = self.key(key);
        let (value, pttl): (Option<Vec<u8>>, i64) = tokio::time::timeout(
            OP_TIMEOUT,
            redis::pipe()
                .atomic()
                .cmd("GET")
                .arg(&key)
                .cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| unavailable("redis command timed out"))?
        .map_err(unavailable)?;
        Ok(match (value, pttl) {
            (Some(value), ms) if ms > 0 => Some(Stored {
                value,
                remaining: Duration::from_millis(ms.unsigned_abs()),
            }),
            _ => None,
        })
    }

    async fn update(&self, key: &str, value: &[u8]) -> Result<bool, SessionStoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("XX").arg("KEEPTTL");
        let reply: Option<String> = self.run(&cmd).await?;
        Ok(reply.is_some())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), SessionStoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(ttl_ms(ttl));
        let _: Option<String> = self.run(&cmd).await?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<Option<Vec<u8>>, SessionStoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.run(&cmd).await
    }

    async fn check(&self) -> Result<(), SessionStoreError> {
        let pong: String = self.run(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(unavailable(format!("unexpected PING reply {pong}")))
        }
    }
}
