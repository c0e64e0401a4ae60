//! Reassembly of MO parts: out of order and duplicated parts are fine; parts that never
//! complete are dropped after a TTL; memory is bounded by a cap on incomplete messages.
//!
//! Pure: the caller passes `now`, so tests drive time (and tokio's paused clock works).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Identifies one long message: its sender, recipient and reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub from: String,
    pub to: String,
    pub reference: u16,
    pub total: u8,
}

#[derive(Debug)]
struct Pending {
    parts: Vec<Option<Vec<u8>>>,
    first_seen: Instant,
}

/// What happened to a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part is here: the octets, in order.
    Complete(Vec<Vec<u8>>),
    /// Stored; waiting for the rest.
    Waiting,
    /// Already had this part.
    Duplicate,
    /// The sequence number is outside 1..=total.
    Invalid,
}

/// Reassembles concatenated MO messages.
#[derive(Debug)]
pub struct Reassembler {
    ttl: Duration,
    max_pending: usize,
    pending: HashMap<Key, Pending>,
}

impl Reassembler {
    pub fn new(ttl: Duration, max_pending: usize) -> Self {
        Self {
            ttl,
            max_pending: max_pending.max(1),
            pending: HashMap::new(),
        }
    }

    /// Incomplete messages held now.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds part `seq` (1-based) of `key`.
    pub fn add(&mut self, key: Key, seq: u8, octets: Vec<u8>, now: Instant) -> Outcome {
        if key.total == 0 || seq == 0 || seq > key.total {
            return Outcome::Invalid;
        }
        if key.total == 1 {
            return Outcome::Complete(vec![octets]);
        }
        self.expire(now);
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            // Full: make room by dropping the oldest incomplete message.
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(k, _)| k.clone())
            {
                self.pending.remove(&oldest);
            }
        }
        let total = usize::from(key.total);
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            parts: vec![None; total],
            first_seen: now,
        });
        let slot = &mut entry.parts[usize::from(seq) - 1];
        if slot.is_some() {
            return Outcome::Duplicate;
        }
        *slot = Some(octets);
        if entry.parts.iter().all(Option::is_some) {
            let done = self
                .pending
                .remove(&key)
                .map(|p| p.parts.into_iter().flatten().collect())
                .unwrap_or_default();
            return Outcome::Complete(done);
        }
        Outcome::Waiting
    }

    /// Drops incomplete messages older than the TTL; returns how many were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.pending.len();
        let ttl = self.ttl;
        self.pending.retain(|_, p| now.duration_since(p.first_seen) < ttl);
        before - self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(r: u16, total: u8) -> Key {
        Key {
            from: "27820000001".into(),
            to: "12345".into(),
            reference: r,
            total,
        }
    }

    #[test]
    fn parts_out_of_order_and_duplicated_complete_once() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(60), 100);
        assert_eq!(r.add(key(1, 3), 3, b"c".to_vec(), now), Outcome::Waiting);
        assert_eq!(r.add(key(1, 3), 1, b"a".to_vec(), now), Outcome::Waiting);
        assert_eq!(r.add(key(1, 3), 1, b"a".to_vec(), now), Outcome::Duplicate);
        assert_eq!(
            r.add(key(1, 3), 2, b"b".to_vec(), now),
            Outcome::Complete(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        );
        assert!(r.is_empty());
        assert_eq!(r.add(key(1, 3), 4, b"d".to_vec(), now), Outcome::Invalid);
        assert_eq!(r.add(key(1, 3), 0, b"d".to_vec(), now), Outcome::Invalid);
    }

    #[test]
    fn the_same_reference_from_another_sender_is_another_message() {
        let now = Instant::now();
        let mut r = Reassembler::new(Duration::from_secs(60), 100);
        let mut other = key(1, 2);
        other.from = "27820000002".into();
        assert_eq!(r.add(key(1, 2), 1, b"a".to_vec(), now), Outcome::Waiting);
        assert_eq!(r.add(other, 2, b"z".to_vec(), now), Outcome::Waiting);
        assert_eq!(r.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn incomplete_messages_expire_and_memory_is_bounded() {
        let mut r = Reassembler::new(Duration::from_secs(300), 3);
        for i in 0..3 {
            r.add(key(i, 2), 1, vec![0; 10], Instant::now());
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        // A fourth incomplete message evicts the oldest.
        r.add(key(9, 2), 1, vec![0; 10], Instant::now());
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.add(key(0, 2), 2, vec![1], Instant::now()),
            Outcome::Waiting,
            "part 1 of ref 0 was evicted"
        );
        tokio::time::advance(Duration::from_secs(301)).await;
        assert_eq!(r.expire(Instant::now()), 3);
        assert!(r.is_empty());
    }
}
