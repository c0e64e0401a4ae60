//! The in-process bus for `seedgate up`: the same semantics as RabbitMQ, inside one process.
//!
//! Each queue keeps ready messages and the unacknowledged ones per subscription; dropping a
//! subscription puts its unacknowledged deliveries back at the head, marked redelivered.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, Notify};

use super::{topic_matches, Acker as AnyAcker, Bus, BusError, Delivery, QueueSpec, Subscription};

#[derive(Debug, Clone)]
struct Envelope {
    routing_key: String,
    payload: Arc<[u8]>,
    redelivered: bool,
}

#[derive(Debug, Default)]
struct QueueState {
    ready: VecDeque<Envelope>,
    /// tag → (subscription id, message)
    unacked: HashMap<u64, (u64, Envelope)>,
    next_tag: u64,
}

#[derive(Debug)]
struct Queue {
    name: String,
    max_length: Option<u32>,
    bindings: Mutex<Vec<String>>,
    state: Mutex<QueueState>,
    notify: Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the state half-changed: every
        // critical section is a few container operations. Recover the guard.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bound_to(&self, routing_key: &str) -> bool {
        let bindings = self
            .bindings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bindings.iter().any(|p| topic_matches(p, routing_key))
    }

    fn settle(&self, tag: u64, requeue: bool) {
        let mut st = self.lock();
        if let Some((_, mut env)) = st.unacked.remove(&tag) {
            if requeue {
                env.redelivered = true;
                st.ready.push_front(env);
            }
        }
        drop(st);
        // A settled delivery frees a prefetch slot: wake the pumps.
        self.notify.notify_waiters();
    }

    fn release_subscription(&self, sub: u64) {
        let mut st = self.lock();
        let mut back: Vec<(u64, Envelope)> = st
            .unacked
            .iter()
            .filter(|(_, (s, _))| *s == sub)
            .map(|(tag, (_, env))| (*tag, env.clone()))
            .collect();
        back.sort_by_key(|(tag, _)| std::cmp::Reverse(*tag));
        for (tag, mut env) in back {
            st.unacked.remove(&tag);
            env.redelivered = true;
            st.ready.push_front(env);
        }
        drop(st);
        self.notify.notify_waiters();
    }
}

/// Settles one in-process delivery.
#[derive(Debug)]
pub struct Acker {
    queue: Arc<Queue>,
    tag: u64,
}

impl Acker {
    pub(super) fn ack(self) {
        self.queue.settle(self.tag, false);
    }
    pub(super) fn nack(self, requeue: bool) {
        self.queue.settle(self.tag, requeue);
    }
}

/// The in-process bus.
#[derive(Debug, Default)]
pub struct MemoryBus {
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    next_sub: std::sync::atomic::AtomicU64,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Queue>>> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct SubscriptionGuard {
    queue: Arc<Queue>,
    id: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.task.abort();
        self.queue.release_subscription(self.id);
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        let mut queues = self.queues();
        let queue = queues.entry(spec.name.clone()).or_insert_with(|| {
            Arc::new(Queue {
                name: spec.name.clone(),
                max_length: spec.max_length,
                bindings: Mutex::new(Vec::new()),
                state: Mutex::new(QueueState::default()),
                notify: Notify::new(),
            })
        });
        // Declaring again adds bindings, as AMQP does; consumers keep their queue.
        let mut bindings = queue
            .bindings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for b in &spec.bindings {
            if !bindings.contains(b) {
                bindings.push(b.clone());
            }
        }
        Ok(())
    }

    async fn publish(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        let mut targets: Vec<Arc<Queue>> = self
            .queues()
            .values()
            .filter(|q| q.bound_to(routing_key))
            .cloned()
            .collect();
        // Always lock queues in the same (name) order, so concurrent publishes cannot deadlock.
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        if targets.is_empty() {
            return Err(BusError::Unroutable(routing_key.to_string()));
        }
        // All or nothing: refuse before enqueuing anywhere if a bounded queue is full.
        let mut guards: Vec<_> = targets.iter().map(|q| q.lock()).collect();
        for (q, st) in targets.iter().zip(&guards) {
            if q.max_length
                .is_some_and(|max| st.ready.len() + st.unacked.len() >= max as usize)
            {
                return Err(BusError::Rejected(routing_key.to_string()));
            }
        }
        let payload: Arc<[u8]> = payload.into();
        for st in &mut guards {
            st.ready.push_back(Envelope {
                routing_key: routing_key.to_string(),
                payload: payload.clone(),
                redelivered: false,
            });
        }
        drop(guards);
        for q in targets {
            q.notify.notify_waiters();
        }
        Ok(())
    }

    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError> {
        let q = self
            .queues()
            .get(queue)
            .cloned()
            .ok_or_else(|| BusError::UnknownQueue(queue.to_string()))?;
        let id = self.next_sub.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let task = tokio::spawn(pump(q.clone(), id, usize::from(prefetch.max(1)), tx));
        Ok(Subscription::new(rx, SubscriptionGuard { queue: q, id, task }))
    }

    async fn check(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn durable(&self) -> bool {
        false
    }
}

/// Moves ready messages to one subscriber while it has fewer than `prefetch` outstanding.
async fn pump(q: Arc<Queue>, sub: u64, prefetch: usize, tx: mpsc::Sender<Delivery>) {
    loop {
        let notified = q.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = {
            let mut st = q.lock();
            let outstanding = st.unacked.values().filter(|(s, _)| *s == sub).count();
            if outstanding < prefetch {
                st.ready.pop_front().map(|env| {
                    let tag = st.next_tag;
                    st.next_tag += 1;
                    st.unacked.insert(tag, (sub, env.clone()));
                    (tag, env)
                })
            } else {
                None
            }
        };
        match next {
            Some((tag, env)) => {
                let delivery = Delivery {
                    routing_key: env.routing_key,
                    payload: env.payload.to_vec(),
                    redelivered: env.redelivered,
                    acker: AnyAcker::Memory(Acker {
                        queue: q.clone(),
                        tag,
                    }),
                };
                if tx.send(delivery).await.is_err() {
                    return; // subscriber gone; the guard gives the message back
                }
            }
            None => {
                tokio::select! {
                    () = notified => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}
