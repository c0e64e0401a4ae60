//! The transmitting binds of one ESME channel: round robin, each with its own pace and an
//! optional cool-down after the SMSC throttled it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::link::Link;
use crate::rate::TokenBucket;

#[derive(Debug)]
struct Entry {
    id: u64,
    link: Link,
    rate: Arc<TokenBucket>,
    cool_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub(super) struct Pool {
    binds: Mutex<Vec<Entry>>,
    next: AtomicU64,
    changed: Notify,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.binds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn add(&self, link: Link, tps: u32) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Entry {
            id,
            link,
            rate: Arc::new(TokenBucket::new(tps)),
            cool_until: None,
        });
        self.changed.notify_waiters();
        id
    }

    pub(super) fn remove(&self, id: u64) {
        self.lock().retain(|e| e.id != id);
    }

    /// Pauses a bind the SMSC throttled.
    pub(super) fn cool_down(&self, link: &Link, for_: Duration) {
        let until = Instant::now() + for_;
        for e in self.lock().iter_mut() {
            if std::ptr::eq(e.link.id(), link.id()) {
                e.cool_until = Some(until);
            }
        }
    }

    /// A usable bind (round robin), waiting up to `wait` for one to come up.
    pub(super) async fn pick(&self, wait: Duration) -> Option<(Link, Arc<TokenBucket>)> {
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.changed.notified();
            {
                let binds = self.lock();
                let now = Instant::now();
                let usable: Vec<&Entry> = binds
                    .iter()
                    .filter(|e| !e.link.is_closed() && e.cool_until.is_none_or(|t| t <= now))
                    .collect();
                if !usable.is_empty() {
                    let i = self.next.fetch_add(1, Ordering::Relaxed) as usize % usable.len();
                    return Some((usable[i].link.clone(), usable[i].rate.clone()));
                }
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => return None,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }
}
