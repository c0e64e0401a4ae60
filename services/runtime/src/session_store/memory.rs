//! In-process session store for `seedgate up`, on tokio's monotonic clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{SessionStore, SessionStoreError, Stored, Write};

/// Entries past their deadline are invisible and swept on later writes.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    writes: std::sync::atomic::AtomicU64,
}

impl MemorySessionStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live<'a>(
        map: &'a HashMap<String, (Vec<u8>, Instant)>,
        key: &str,
        now: Instant,
    ) -> Option<&'a (Vec<u8>, Instant)> {
        map.get(key).filter(|(_, deadline)| *deadline > now)
    }

    /// Drops expired entries every 1,024 writes, so memory stays bounded by live sessions.
    fn sweep(&self, map: &mut HashMap<String, (Vec<u8>, Instant)>, now: Instant) {
        if self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1024 == 1023 {
            map.retain(|_, (_, deadline)| *deadline > now);
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, SessionStoreError> {
        let now = Instant::now();
        let mut map = self.entries();
        if Self::live(&map, key, now).is_some() {
            return Ok(false);
        }
        self.sweep(&mut map, now);
        map.insert(key.to_string(), (value.to_vec(), now + ttl));
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Stored>, SessionStoreError> {
        let now = Instant::now();
        let map = self.entries();
        Ok(Self::live(&map, key, now).map(|(value, deadline)| Stored {
            value: value.clone(),
            remaining: *deadline - now,
        }))
    }

    async fn update(&self, key: &str, value: &[u8]) -> Result<bool, SessionStoreError> {
        let now = Instant::now();
        let mut map = self.entries();
        match map.get_mut(key) {
            Some((v, deadline)) if *deadline > now => {
                *v = value.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), SessionStoreError> {
        let now = Instant::now();
        let mut map = self.entries();
        self.sweep(&mut map, now);
        map.insert(key.to_string(), (value.to_vec(), now + ttl));
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<Option<Vec<u8>>, SessionStoreError> {
        let now = Instant::now();
        Ok(self
            .entries()
            .remove(key)
            .filter(|(_, d)| *d > now)
            .map(|(v, _)| v))
    }

    async fn write_all(&self, writes: &[Write<'_>]) -> Result<(), SessionStoreError> {
        let now = Instant::now();
        let mut map = self.entries();
        for write in writes {
            match *write {
                Write::Put { key, value, ttl } => {
                    self.sweep(&mut map, now);
                    map.insert(key.to_string(), (value.to_vec(), now + ttl));
                }
                Write::Remove(key) => {
                    map.remove(key);
                }
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), SessionStoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept_as_writes_go_on() {
        let s = MemorySessionStore::new();
        for i in 0..1000 {
            s.create(&format!("old{i}"), b"x", Duration::from_secs(1))
                .await
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for i in 0..100 {
            s.put(&format!("new{i}"), b"y", Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert_eq!(s.entries().len(), 100, "the 1,000 expired entries were dropped");
    }
}
