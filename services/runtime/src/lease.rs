//! An app-level lease in the session store (Redis in a split deployment): one holder at a
//! time for a named resource, such as a carrier account that allows one bind.
//!
//! The key `lease:<name>` holds the holder's id with a TTL; the holder renews it every third of
//! the TTL and stops its work when a renewal fails. A holder that dies (or is cut off) loses
//! the lease when the TTL runs out, and another takes over. Renewal is read-then-write, so in
//! the worst case (a renewal racing the TTL's end) two holders overlap for one renewal period;
//! the TTL bounds it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::session_store::{SessionStore, SessionStoreError};

/// A lease on one name, held by this process.
#[derive(Debug, Clone)]
pub struct Lease {
    store: Arc<dyn SessionStore>,
    key: String,
    holder: String,
    ttl: Duration,
}

impl Lease {
    pub fn new(store: Arc<dyn SessionStore>, name: &str, ttl: Duration) -> Self {
        Self {
            store,
            key: format!("lease:{name}"),
            holder: uuid::Uuid::now_v7().to_string(),
            ttl,
        }
    }

    /// Takes the lease if it is free, or renews it if this holder has it.
    pub async fn try_acquire(&self) -> Result<bool, SessionStoreError> {
        if self
            .store
            .create(&self.key, self.holder.as_bytes(), self.ttl)
            .await?
        {
            return Ok(true);
        }
        match self.store.get(&self.key).await? {
            Some(s) if s.value == self.holder.as_bytes() => {
                self.store
                    .put(&self.key, self.holder.as_bytes(), self.ttl)
                    .await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Gives the lease up, if this holder has it.
    pub async fn release(&self) {
        if let Ok(Some(s)) = self.store.get(&self.key).await {
            if s.value == self.holder.as_bytes() {
                let _ = self.store.remove(&self.key).await;
            }
        }
    }

    /// Runs `work` while holding the lease, until `shutdown`: waits for the lease (calling
    /// `waiting` each time it finds another holder), runs `work` with a token that is
    /// cancelled when a renewal fails or on `shutdown`, releases the lease when `work` ends,
    /// and waits for it again unless shutting down. `work`'s first error ends it all.
    pub async fn hold<W, Fut, E>(
        &self,
        shutdown: &CancellationToken,
        mut waiting: impl FnMut(&str),
        mut work: W,
    ) -> Result<(), E>
    where
        W: FnMut(CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let every = self.ttl / 3;
        loop {
            let acquired = match self.try_acquire().await {
                Ok(true) => true,
                Ok(false) => {
                    waiting("another process holds the lease");
                    false
                }
                Err(e) => {
                    waiting(&format!("cannot reach the session store: {e}"));
                    false
                }
            };
            if !acquired {
                tokio::select! {
                    () = tokio::time::sleep(every) => continue,
                    () = shutdown.cancelled() => return Ok(()),
                }
            }
            tracing::info!(lease = %self.key, "lease taken");
            let held = shutdown.child_token();
            let renew = {
                let (me, held) = (self.clone(), held.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            () = tokio::time::sleep(every) => {}
                            () = held.cancelled() => return,
                        }
                        if !me.try_acquire().await.unwrap_or(false) {
                            tracing::warn!(lease = %me.key, "lease lost; stopping its work");
                            held.cancel();
                            return;
                        }
                    }
                })
            };
            let result = work(held.clone()).await;
            held.cancel();
            let _ = renew.await;
            self.release().await;
            result?;
            if shutdown.is_cancelled() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_store::memory::MemorySessionStore;

    #[tokio::test(start_paused = true)]
    async fn one_holder_at_a_time_and_a_dead_one_is_replaced() {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
        let ttl = Duration::from_secs(15);
        let a = Lease::new(store.clone(), "carrier", ttl);
        let b = Lease::new(store.clone(), "carrier", ttl);
        assert!(a.try_acquire().await.unwrap());
        assert!(!b.try_acquire().await.unwrap(), "held by a");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(a.try_acquire().await.unwrap(), "a renews");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!b.try_acquire().await.unwrap(), "the renewal moved the end");
        // a dies: no more renewals. After the TTL, b takes over, and a cannot come back.
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(b.try_acquire().await.unwrap());
        assert!(!a.try_acquire().await.unwrap());
        b.release().await;
        assert!(a.try_acquire().await.unwrap(), "released: free at once");
    }

    #[tokio::test(start_paused = true)]
    async fn hold_runs_the_work_only_while_the_lease_is_held() {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
        let ttl = Duration::from_secs(15);
        let shutdown = CancellationToken::new();
        let other = Lease::new(store.clone(), "carrier", ttl);
        assert!(other.try_acquire().await.unwrap());
        let me = Lease::new(store.clone(), "carrier", ttl);
        let (started, waits) = (
            Arc::new(std::sync::Mutex::new(Vec::new())),
            Arc::new(std::sync::Mutex::new(0)),
        );
        let task = {
            let (started, waits, shutdown) = (started.clone(), waits.clone(), shutdown.clone());
            tokio::spawn(async move {
                me.hold::<_, _, ()>(
                    &shutdown,
                    |_| *waits.lock().unwrap() += 1,
                    |held| {
                        let started = started.clone();
                        async move {
                            started.lock().unwrap().push(tokio::time::Instant::now());
                            held.cancelled().await;
                            Ok(())
                        }
                    },
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(started.lock().unwrap().is_empty(), "another process holds it");
        assert!(*waits.lock().unwrap() > 0);
        // The other holder dies; within a TTL and a retry this one works.
        tokio::time::sleep(ttl).await;
        assert_eq!(started.lock().unwrap().len(), 1);
        assert!(!other.try_acquire().await.unwrap(), "now held here, renewed");
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert!(other.try_acquire().await.unwrap(), "released on shutdown");
    }
}
