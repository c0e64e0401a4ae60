//! The ids a connector has already sent, so an at-least-once redelivery (an outbox relay that
//! died between publishing and clearing its rows, a requeue after a lost ack) is not sent to
//! the carrier twice. Bounded: the oldest ids are forgotten first. Per process: after a
//! connector restart a redelivered message can go out again (at least once, never lost).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use uuid::Uuid;

#[derive(Debug)]
pub struct Recent {
    cap: usize,
    inner: Mutex<(HashSet<Uuid>, VecDeque<Uuid>)>,
}

impl Recent {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<Uuid>, VecDeque<Uuid>)> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `id` was marked sent.
    pub fn contains(&self, id: Uuid) -> bool {
        self.lock().0.contains(&id)
    }

    /// Marks `id` sent.
    pub fn insert(&self, id: Uuid) {
        let mut g = self.lock();
        let (set, order) = &mut *g;
        if set.insert(id) {
            order.push_back(id);
            while order.len() > self.cap {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
    }
}

impl Default for Recent {
    /// Remembers the last million ids (about 40 MB at most).
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_its_capacity() {
        let r = Recent::new(2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        r.insert(a);
        r.insert(b);
        r.insert(b);
        assert!(r.contains(a) && r.contains(b));
        r.insert(c);
        assert!(!r.contains(a) && r.contains(b) && r.contains(c));
    }
}
