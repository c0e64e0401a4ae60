//! Redis session store: values with `PX` TTLs, so Redis' clock (not ours) runs the budget.
//!
//! One multiplexed connection per store (every Redis user of a process shares the store: the
//! session engine, the connectors' dialogs, leases, the monitor), made on first use. A
//! connection that fails (an I/O error, a dropped connection, or a command that does not
//! answer within [`OP_TIMEOUT`]) is forgotten at once, and the next command connects again:
//! while Redis is away each attempt fails in milliseconds (at most one attempt per
//! [`RECONNECT_PAUSE`], the others fail with its error), and the first command after Redis is
//! back connects. A store that cannot reach Redis answers `Unavailable` instead of blocking.
//!
//! Not `redis::aio::ConnectionManager`: in redis 0.27 its reconnect backoff starts at 1 s and
//! its `factor` multiplies each delay (the default 100 caps the second at 60 s plus up to 60 s
//! of jitter), so a 2 s Redis restart left every process without Redis for up to two minutes;
//! and it keeps a connection whose commands time out.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::RedisResult;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{SessionStore, SessionStoreError, Stored, Write};
use crate::config::SessionStoreConfig;

/// How long one command may take, with the connect it may need.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed connect, commands fail with its error for this long instead of connecting
/// again each: no storm of connects against a Redis that is down, and one that is back is
/// used within this long.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct RedisSessionStore {
    client: redis::Client,
    prefix: String,
    link: std::sync::Arc<Mutex<Link>>,
}

/// The connection in use (with a number, so only the one that failed is forgotten), and the
/// last failed connect.
#[derive(Default)]
struct Link {
    conn: Option<(u64, MultiplexedConnection)>,
    made: u64,
    failed: Option<(Instant, String)>,
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

/// Whether `e` means the connection is no good (as opposed to Redis refusing a command).
fn broken(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_unrecoverable_error() || e.is_connection_dropped() || e.is_timeout()
}

impl RedisSessionStore {
    /// Parses the URL now; connects on first use.
    pub fn new(cfg: &SessionStoreConfig) -> Result<Self, SessionStoreError> {
        let client =
            redis::Client::open(cfg.url.as_str()).map_err(|e| unavailable(format!("bad redis url: {e}")))?;
        Ok(Self {
            client,
            prefix: cfg.key_prefix.clone(),
            link: Default::default(),
        })
    }

    /// The connection in use, or a new one. Callers wait for one connect at a time.
    async fn conn(&self) -> Result<(u64, MultiplexedConnection), SessionStoreError> {
        let mut link = self.link.lock().await;
        if let Some((n, conn)) = &link.conn {
            return Ok((*n, conn.clone()));
        }
        if let Some((at, why)) = &link.failed {
            if at.elapsed() < RECONNECT_PAUSE {
                return Err(unavailable(why));
            }
        }
        let made = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "connecting to redis timed out".to_string())
            .and_then(|r| r.map_err(|e| format!("connecting to redis: {e}")));
        match made {
            Ok(conn) => {
                link.made += 1;
                let n = link.made;
                link.conn = Some((n, conn.clone()));
                if link.failed.take().is_some() {
                    tracing::info!("redis reachable again");
                }
                Ok((n, conn))
            }
            Err(why) => {
                if link.failed.is_none() {
                    tracing::warn!(error = %why, "redis unreachable; retrying on use");
                }
                link.failed = Some((Instant::now(), why.clone()));
                Err(unavailable(why))
            }
        }
    }

    /// Forgets connection `n` (if it is still the one in use), so the next command connects.
    async fn forget(&self, n: u64) {
        let mut link = self.link.lock().await;
        if link.conn.as_ref().is_some_and(|(m, _)| *m == n) {
            link.conn = None;
        }
    }

    /// Runs `op` on the connection within [`OP_TIMEOUT`], forgetting the connection if it
    /// turned out broken.
    async fn with_conn<T, F, Fut>(&self, op: F) -> Result<T, SessionStoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let deadline = Instant::now() + OP_TIMEOUT;
        let (n, conn) = tokio::time::timeout_at(deadline, self.conn())
            .await
            .map_err(|_| unavailable("connecting to redis timed out"))??;
        match tokio::time::timeout_at(deadline, op(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if broken(&e) {
                    self.forget(n).await;
                }
                Err(unavailable(e))
            }
            Err(_) => {
                // A connection that stopped answering is not waited on again.
                self.forget(n).await;
                Err(unavailable("redis command timed out"))
            }
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, SessionStoreError> {
        self.with_conn(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
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
        Ok(self.get_many(&[key]).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Stored>>, SessionStoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for key in keys {
            let key = self.key(key);
            pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        }
        let replies: Vec<(Option<Vec<u8>>, i64)> = self
            .with_conn(|mut conn| async move {
                // GET and PTTL of each key, one after another.
                let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
                flat.chunks_exact(2)
                    .map(|pair| {
                        Ok((
                            redis::from_redis_value(&pair[0])?,
                            redis::from_redis_value(&pair[1])?,
                        ))
                    })
                    .collect::<RedisResult<Vec<_>>>()
            })
            .await?;
        Ok(replies
            .into_iter()
            .map(|(value, pttl)| match (value, pttl) {
                (Some(value), ms) if ms > 0 => Some(Stored {
                    value,
                    remaining: Duration::from_millis(ms.unsigned_abs()),
                }),
                _ => None,
            })
            .collect())
    }

    async fn write_all(&self, writes: &[Write<'_>]) -> Result<(), SessionStoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for write in writes {
            match *write {
                Write::Put { key, value, ttl } => {
                    pipe.cmd("SET")
                        .arg(self.key(key))
                        .arg(value)
                        .arg("PX")
                        .arg(ttl_ms(ttl));
                }
                Write::Remove(key) => {
                    pipe.cmd("DEL").arg(self.key(key));
                }
            }
            pipe.ignore();
        }
        self.with_conn(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await
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
