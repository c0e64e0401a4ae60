//! The in-process bus for `seedgate up`: the same semantics as RabbitMQ, inside one process.
//!
//! Each queue keeps ready messages and the unacknowledged ones per subscription; dropping a
//! subscription puts its unacknowledged deliveries back at the head, marked redelivered.
//!
//! With a journal ([`MemoryBus::journaled`], what `seedgate up` runs on), the bus is durable:
//! `publish` returns only once the message's row for every bound queue is committed in the
//! store (concurrent publishes share one commit, [`crate::group`]), and an ack deletes the row
//! (riding on a later commit). A new process loads the rows left and delivers each again,
//! marked redelivered, when its queue is declared: after a kill -9, everything accepted and not
//! yet handled carries on. A commit that fails (disk full, read-only) refuses the publish with
//! a temporary error and makes the bus not ready until a commit succeeds again. The messages
//! of a live USSD session's hop ([`Bus::publish_hop`]) are the exception: handed on at once,
//! their store copy committed behind them (a hop waited for four commits one after another).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, Notify, OnceCell};

use super::{topic_matches, Acker as AnyAcker, Bus, BusError, Delivery, QueueSpec, Subscription};
use crate::group::GroupCommit;
use crate::store::{JournalEntry, Record, Store};

#[derive(Debug, Clone)]
struct Envelope {
    routing_key: String,
    payload: Arc<[u8]>,
    redelivered: bool,
    /// Its journal row, deleted when it is acked (or dropped).
    journal: Option<i64>,
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
    journal: Option<Arc<Journaler>>,
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
            } else if let (Some(j), Some(id)) = (&self.journal, env.journal) {
                j.done(id);
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

/// One publish waiting for the journal: a row per bound queue, and, when the store's queue
/// is written through, the row for the store (`through` is then its index in `rows`).
#[derive(Debug)]
struct Pending {
    rows: Vec<JournalEntry>,
    through: Option<(usize, Record)>,
}

/// The journal's writer: new rows committed in groups, done rows deleted on the next commit.
/// Answers, per publish, whether its store record was written through.
#[derive(Debug)]
struct Journaler {
    writer: GroupCommit<Pending, bool>,
    done: Arc<Mutex<Vec<i64>>>,
    next_id: AtomicI64,
    /// The last commit succeeded.
    healthy: Arc<AtomicBool>,
}

/// Rows are deleted this long after their ack at the latest, when nothing else commits.
const DONE_EVERY: Duration = Duration::from_millis(50);
/// Most publishes in one commit.
const GROUP_MAX: usize = 2_000;

impl Journaler {
    fn start(store: Arc<dyn Store>, last_id: i64) -> Self {
        let done: Arc<Mutex<Vec<i64>>> = Arc::default();
        let healthy = Arc::new(AtomicBool::new(true));
        let (d, h) = (done.clone(), healthy.clone());
        let writer = GroupCommit::spawn(GROUP_MAX, Some(DONE_EVERY), move |batches: Vec<Pending>| {
            let store = store.clone();
            let (d, h) = (d.clone(), h.clone());
            let gone = std::mem::take(&mut *d.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            async move {
                if batches.is_empty() && gone.is_empty() {
                    return Ok(Vec::new());
                }
                match commit(store.as_ref(), &batches, &gone).await {
                    Ok(through) => {
                        h.store(true, Ordering::Relaxed);
                        Ok(through)
                    }
                    Err(e) => {
                        h.store(false, Ordering::Relaxed);
                        d.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .extend(gone);
                        metrics::counter!("seedgate_bus_journal_failures_total").increment(1);
                        tracing::warn!(error = %e, "the bus journal cannot commit; publishes are refused until it can");
                        Err(e)
                    }
                }
            }
        });
        // Ids only need to be unique among live rows: start past the rows left, and past any
        // earlier process's ids (microseconds since the epoch).
        let floor = chrono::Utc::now().timestamp_micros();
        Self {
            writer,
            done,
            next_id: AtomicI64::new(last_id.max(floor) + 1),
            healthy,
        }
    }

    fn done(&self, id: i64) {
        self.done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(id);
    }

    fn id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// One group's commit. Store records go in the same transaction as the other queues' rows
/// (their own rows are left out); if the database refuses a record, the group is committed
/// again with every row journaled, and the store service gets those from its queue (it
/// writes row by row and drops what is refused, saying so).
async fn commit(
    store: &dyn Store,
    batches: &[Pending],
    gone: &[i64],
) -> Result<Vec<bool>, crate::store::StoreError> {
    let mut add = Vec::new();
    let mut records = Vec::new();
    for p in batches {
        match &p.through {
            Some((at, record)) => {
                records.push(record.clone());
                add.extend(
                    p.rows
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i != at)
                        .map(|(_, r)| r.clone()),
                );
            }
            None => add.extend(p.rows.iter().cloned()),
        }
    }
    if !records.is_empty() {
        match store.journal_commit_with(&add, gone, &records).await {
            Ok(()) => {
                for r in &records {
                    metrics::counter!("seedgate_store_rows_written_total", "kind" => r.kind()).increment(1);
                }
                return Ok(batches.iter().map(|p| p.through.is_some()).collect());
            }
            Err(crate::store::StoreError::Rejected(reason)) => {
                tracing::warn!(%reason, "the store refused rows written with the bus journal; queueing them for the store service");
            }
            Err(e) => return Err(e),
        }
    }
    let all: Vec<JournalEntry> = batches.iter().flat_map(|p| p.rows.iter().cloned()).collect();
    store.journal_commit(&all, gone).await?;
    Ok(vec![false; batches.len()])
}

/// The journal and what the previous process left in it, loaded on first use.
#[derive(Debug)]
struct Journal {
    store: Arc<dyn Store>,
    open: OnceCell<Arc<Journaler>>,
    /// Rows left by the previous process, by queue, until the queue is declared.
    left: Mutex<HashMap<String, Vec<Envelope>>>,
    /// The queue whose messages are written to the store with their journal rows instead of
    /// queued (the store service's), if any.
    write_through: Option<String>,
}

/// The in-process bus.
#[derive(Debug, Default)]
pub struct MemoryBus {
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    next_sub: std::sync::atomic::AtomicU64,
    journal: Option<Journal>,
}

impl MemoryBus {
    /// A bus in memory only: what it holds dies with the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// A durable bus: every publish is journaled in `store` before it returns.
    pub fn journaled(store: Arc<dyn Store>) -> Self {
        Self {
            journal: Some(Journal {
                store,
                open: OnceCell::new(),
                left: Mutex::default(),
                write_through: None,
            }),
            ..Self::default()
        }
    }

    /// What is published to `queue` is written to the store in the journal's transaction
    /// ([`Journal::journal_commit_with`](crate::store::Journal::journal_commit_with)), not
    /// queued: the store service's queue, whose consumer would only write it there. One commit
    /// instead of three (journal row, store batch, row deleted), and the store is up to date
    /// when the publish returns. No effect without a journal.
    pub fn write_through(mut self, queue: &str) -> Self {
        if let Some(j) = &mut self.journal {
            j.write_through = Some(queue.to_string());
        }
        self
    }

    /// The journal's writer, loading what the previous process left on first use.
    async fn journaler(&self) -> Result<Option<Arc<Journaler>>, BusError> {
        let Some(j) = &self.journal else { return Ok(None) };
        let w = j
            .open
            .get_or_try_init(|| async {
                let rows = j
                    .store
                    .journal_pending()
                    .await
                    .map_err(|e| BusError::Unavailable(format!("cannot read the bus journal: {e}")))?;
                let last = rows.iter().map(|r| r.id).max().unwrap_or(0);
                if !rows.is_empty() {
                    tracing::info!(
                        messages = rows.len(),
                        "the bus journal holds messages not yet handled; delivering them again"
                    );
                    metrics::counter!("seedgate_bus_journal_recovered_total").increment(rows.len() as u64);
                }
                let mut left = j.left.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for r in rows {
                    left.entry(r.queue).or_default().push(Envelope {
                        routing_key: r.routing_key,
                        payload: r.payload.into(),
                        redelivered: true,
                        journal: Some(r.id),
                    });
                }
                Ok::<_, BusError>(Arc::new(Journaler::start(j.store.clone(), last)))
            })
            .await?;
        Ok(Some(w.clone()))
    }

    /// The queues bound to `routing_key`, in name order (concurrent publishes lock them in
    /// the same order, so they cannot deadlock); none, or a bounded one full, is an error
    /// (all or nothing: refused before anything is enqueued).
    fn targets(&self, routing_key: &str) -> Result<Vec<Arc<Queue>>, BusError> {
        let mut targets: Vec<Arc<Queue>> = self
            .queues()
            .values()
            .filter(|q| q.bound_to(routing_key))
            .cloned()
            .collect();
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        if targets.is_empty() {
            return Err(BusError::Unroutable(routing_key.to_string()));
        }
        let guards: Vec<_> = targets.iter().map(|q| q.lock()).collect();
        for (q, st) in targets.iter().zip(&guards) {
            if q.max_length
                .is_some_and(|max| st.ready.len() + st.unacked.len() >= max as usize)
            {
                return Err(BusError::Rejected(routing_key.to_string()));
            }
        }
        drop(guards);
        Ok(targets)
    }

    /// Where the written-through queue is among `targets`.
    fn through_index(&self, targets: &[Arc<Queue>]) -> Option<usize> {
        let name = self.journal.as_ref()?.write_through.as_deref()?;
        targets.iter().position(|q| q.name == name)
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
        let journal = self.journaler().await?;
        let left = match &self.journal {
            Some(j) => j
                .left
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&spec.name)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut queues = self.queues();
        let queue = queues.entry(spec.name.clone()).or_insert_with(|| {
            Arc::new(Queue {
                name: spec.name.clone(),
                max_length: spec.max_length,
                bindings: Mutex::new(Vec::new()),
                state: Mutex::new(QueueState::default()),
                notify: Notify::new(),
                journal,
            })
        });
        if !left.is_empty() {
            queue.lock().ready.extend(left);
            queue.notify.notify_waiters();
        }
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
        let mut targets = self.targets(routing_key)?;
        // Durable first: a row per bound queue, committed before anything is enqueued.
        let journal = self.journaler().await?;
        let ids: Vec<Option<i64>> = match &journal {
            Some(j) => {
                let rows: Vec<JournalEntry> = targets
                    .iter()
                    .map(|q| JournalEntry {
                        id: j.id(),
                        queue: q.name.clone(),
                        routing_key: routing_key.to_string(),
                        payload: payload.to_vec(),
                    })
                    .collect();
                let ids = rows.iter().map(|r| Some(r.id)).collect();
                let through = self.through_index(&targets).and_then(|at| {
                    // Undecodable: queued, and the store service says why it drops it.
                    Record::decode(routing_key, payload)
                        .ok()
                        .flatten()
                        .map(|r| (at, r))
                });
                let at = through.as_ref().map(|(at, _)| *at);
                let written = j.writer.submit(Pending { rows, through }).await.map_err(|e| {
                    BusError::Rejected(format!("{routing_key} (the bus journal cannot commit: {e})"))
                })?;
                if let (true, Some(at)) = (written, at) {
                    // In the store already: not queued for it.
                    targets.remove(at);
                    let mut ids: Vec<Option<i64>> = ids;
                    ids.remove(at);
                    ids
                } else {
                    ids
                }
            }
            None => vec![None; targets.len()],
        };
        enqueue(&targets, routing_key, &payload.into(), ids);
        Ok(())
    }

    /// Hands the hop on at once, journaled nowhere; its copy for the store's queue (when that
    /// queue is written through) is committed behind it, as [`MemoryBus::publish`] would,
    /// with no one waiting: queued for the store if the rows were refused, or in memory only
    /// if the journal cannot commit (the store service writes it when the disk takes it).
    async fn publish_hop(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        let Some(j) = self.journaler().await? else {
            return self.publish(routing_key, payload).await;
        };
        let mut targets = self.targets(routing_key)?;
        let store = self.through_index(&targets).map(|at| targets.remove(at));
        let shared: Arc<[u8]> = payload.into();
        enqueue(&targets, routing_key, &shared, vec![None; targets.len()]);
        let Some(store) = store else { return Ok(()) };
        let row = JournalEntry {
            id: j.id(),
            queue: store.name.clone(),
            routing_key: routing_key.to_string(),
            payload: payload.to_vec(),
        };
        let id = row.id;
        let through = Record::decode(routing_key, payload)
            .ok()
            .flatten()
            .map(|r| (0, r));
        let written = j.writer.queue(Pending {
            rows: vec![row],
            through,
        });
        let routing_key = routing_key.to_string();
        tokio::spawn(async move {
            let journal = match written.await {
                Ok(true) => return,
                Ok(false) => Some(id),
                Err(e) => {
                    tracing::warn!(error = %e, "a USSD hop's store copy waits in memory: the bus journal cannot commit");
                    None
                }
            };
            enqueue(&[store], &routing_key, &shared, vec![journal]);
        });
        Ok(())
    }

    async fn publish_all_hops(&self, batch: &[(String, Vec<u8>)], hop: &[bool]) -> Result<(), BusError> {
        for (i, (routing_key, payload)) in batch.iter().enumerate() {
            if hop.get(i).copied().unwrap_or(false) {
                self.publish_hop(routing_key, payload).await?;
            } else {
                self.publish(routing_key, payload).await?;
            }
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
        let Some(j) = self.journaler().await? else {
            return Ok(());
        };
        if j.healthy.load(Ordering::Relaxed) {
            return Ok(());
        }
        // The last commit failed: a real write (a row written and deleted) says when the disk
        // takes writes again.
        let probe = JournalEntry {
            id: j.id(),
            queue: String::new(),
            routing_key: String::new(),
            payload: Vec::new(),
        };
        j.done(probe.id);
        j.writer
            .submit(Pending {
                rows: vec![probe],
                through: None,
            })
            .await
            .map(drop)
            .map_err(|e| BusError::Unavailable(format!("the bus journal cannot commit: {e}")))
    }

    fn durable(&self) -> bool {
        self.journal.is_some()
    }

    fn in_process(&self) -> bool {
        true
    }
}

/// Puts the message at the tail of each of `targets` (with its journal row, if any) and wakes
/// their consumers.
fn enqueue(targets: &[Arc<Queue>], routing_key: &str, payload: &Arc<[u8]>, ids: Vec<Option<i64>>) {
    let mut guards: Vec<_> = targets.iter().map(|q| q.lock()).collect();
    for (st, id) in guards.iter_mut().zip(ids) {
        st.ready.push_back(Envelope {
            routing_key: routing_key.to_string(),
            payload: payload.clone(),
            redelivered: false,
            journal: id,
        });
    }
    drop(guards);
    for q in targets {
        q.notify.notify_waiters();
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
