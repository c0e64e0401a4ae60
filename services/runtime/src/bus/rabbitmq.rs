//! The RabbitMQ bus (via `lapin`): durable topic exchange and queues, persistent messages,
//! publisher confirms with `mandatory`, manual acks, bounded prefetch, reconnect with backoff.
//!
//! The connection is made lazily and remade after a failure, no sooner than an exponential,
//! jittered backoff (100 ms doubling to 5 s). Queues declared while the broker was away are
//! remembered and declared on the next connection; consumers resubscribe by themselves.
//!
//! Queues are quorum queues unless `bus.queue_type = "classic"`. A broker under a memory or
//! disk alarm blocks publishing connections (`connection.blocked`) and holds their publishes:
//! while the connection is blocked a publish is refused at once (`Rejected`, the caller's
//! "queue full"), and a confirm that does not come within `bus.publish_timeout_ms` fails the
//! publish as `Unavailable`, so no caller waits on an alarm forever.
//!
//! `publish_all` sends a batch's messages one after another on the publishing channel and
//! then waits for their confirms together. Concurrent publishers share that channel, so the
//! broker acknowledges what arrives at once in one frame (`multiple`).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use super::{Acker, Bus, BusError, Delivery, QueueSpec, Subscription};
use crate::config::BusConfig;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The RabbitMQ bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct RabbitBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: BusConfig,
    conn: Mutex<ConnState>,
    /// Consumers' own connection: a broker under an alarm blocks the publishing one, and
    /// lapin then writes nothing on it, acks included; consumers must keep acking meanwhile.
    consumer_conn: Mutex<Option<Arc<Connection>>>,
    declared: StdMutex<Vec<QueueSpec>>,
}

#[derive(Debug)]
struct ConnState {
    live: Option<(Arc<Connection>, Channel)>,
    backoff: Duration,
    not_before: Option<Instant>,
    last_error: String,
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl RabbitBus {
    /// Creates the bus; nothing is connected until first use.
    pub fn new(cfg: BusConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                cfg,
                conn: Mutex::new(ConnState {
                    live: None,
                    backoff: BACKOFF_MIN,
                    not_before: None,
                    last_error: String::new(),
                }),
                consumer_conn: Mutex::new(None),
                declared: StdMutex::new(Vec::new()),
            }),
        }
    }

    fn queue_name(&self, name: &str) -> String {
        format!("{}{}", self.inner.cfg.queue_prefix, name)
    }

    /// The live connection and its publishing channel, connecting if needed.
    async fn live(&self) -> Result<(Arc<Connection>, Channel), BusError> {
        let mut st = self.inner.conn.lock().await;
        if let Some((conn, ch)) = &st.live {
            if conn.status().connected() {
                if ch.status().connected() {
                    return Ok((conn.clone(), ch.clone()));
                }
                // The broker closed the publishing channel (e.g. after refusing a declare):
                // a new channel on the same connection will do.
                let conn = conn.clone();
                match publish_channel(&conn).await {
                    Ok(ch) => {
                        st.live = Some((conn.clone(), ch.clone()));
                        return Ok((conn, ch));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reopen the publishing channel; reconnecting")
                    }
                }
                let _ = conn.close(200, "reconnecting").await;
            } else {
                tracing::warn!("RabbitMQ connection lost; reconnecting");
            }
            st.live = None;
        }
        if let Some(t) = st.not_before {
            if Instant::now() < t {
                return Err(unavailable(format!(
                    "reconnecting to RabbitMQ (last error: {})",
                    st.last_error
                )));
            }
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
            Ok(Ok((conn, ch))) => {
                st.backoff = BACKOFF_MIN;
                st.not_before = None;
                st.live = Some((conn.clone(), ch.clone()));
                tracing::info!(exchange = %self.inner.cfg.exchange, "connected to RabbitMQ");
                Ok((conn, ch))
            }
            outcome => {
                let err = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("connect timed out after {CONNECT_TIMEOUT:?}"),
                };
                let wait = st.backoff + jitter(st.backoff / 2);
                st.backoff = (st.backoff * 2).min(BACKOFF_MAX);
                st.not_before = Some(Instant::now() + wait);
                st.last_error.clone_from(&err);
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "cannot reach RabbitMQ");
                Err(unavailable(err))
            }
        }
    }

    async fn connect(&self) -> Result<(Arc<Connection>, Channel), BusError> {
        let props = ConnectionProperties::default().with_connection_name("seedgate".into());
        let conn = Connection::connect(&self.inner.cfg.url, props)
            .await
            .map_err(unavailable)?;
        let ch = publish_channel(&conn).await?;
        ch.exchange_declare(
            &self.inner.cfg.exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
        let specs = self
            .inner
            .declared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for spec in &specs {
            self.declare_on(&ch, spec).await?;
        }
        Ok((Arc::new(conn), ch))
    }

    async fn declare_on(&self, ch: &Channel, spec: &QueueSpec) -> Result<(), BusError> {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from(self.inner.cfg.queue_type.as_str())),
        );
        if let Some(ms) = self.inner.cfg.queue_expires_ms {
            args.insert(ShortString::from("x-expires"), AMQPValue::LongUInt(ms));
        }
        if let Some(max) = spec.max_length {
            args.insert(ShortString::from("x-max-length"), AMQPValue::LongUInt(max));
            args.insert(
                ShortString::from("x-overflow"),
                AMQPValue::LongString(LongString::from("reject-publish")),
            );
        }
        let name = self.queue_name(&spec.name);
        ch.queue_declare(
            &name,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .map_err(|e| match &e {
            lapin::Error::ProtocolError(p) if p.get_id() == 406 => BusError::Protocol(format!(
                "declaring queue {name}: {e} (a queue's type or limits cannot change: \
                 set bus.queue_type to the existing queue's type, or delete the queue)"
            )),
            _ => BusError::Protocol(format!("declaring queue {name}: {e}")),
        })?;
        for binding in &spec.bindings {
            ch.queue_bind(
                &name,
                &self.inner.cfg.exchange,
                binding,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| BusError::Protocol(format!("binding {name} to {binding}: {e}")))?;
        }
        Ok(())
    }

    /// The consumers' connection, made again if it was lost.
    async fn consumer_connection(&self) -> Result<Arc<Connection>, BusError> {
        let mut slot = self.inner.consumer_conn.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.status().connected()) {
            return Ok(conn.clone());
        }
        let props = ConnectionProperties::default().with_connection_name("seedgate-consumers".into());
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.inner.cfg.url, props))
            .await
            .map_err(|_| unavailable(format!("connect timed out after {CONNECT_TIMEOUT:?}")))?
            .map_err(unavailable)?;
        let conn = Arc::new(conn);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Opens a consuming channel on `queue` with `prefetch`.
    async fn open_consumer(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<(Channel, lapin::Consumer), BusError> {
        // The publishing connection first: it declares what a reconnect must redeclare.
        self.live().await?;
        let conn = self.consumer_connection().await?;
        let ch = conn.create_channel().await.map_err(unavailable)?;
        ch.basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(unavailable)?;
        let consumer = ch
            .basic_consume(
                &self.queue_name(queue),
                "",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| match &e {
                lapin::Error::ProtocolError(p) if p.get_id() == 404 => {
                    BusError::UnknownQueue(queue.to_string())
                }
                _ => unavailable(e),
            })?;
        Ok((ch, consumer))
    }
}

impl RabbitBus {
    /// Publishes `batch` on the publishing channel, in order, and waits for all its confirms
    /// at once (within `publish_timeout_ms`). Every message is sent before the first confirm
    /// is awaited: one round trip to the broker for the batch, and the channel keeps their
    /// order. `Ok` only once the broker confirmed every one; the first failure otherwise.
    async fn publish_batch(&self, batch: &[(&str, &[u8])]) -> Result<(), BusError> {
        let Some(&(first_key, _)) = batch.first() else {
            return Ok(());
        };
        let (conn, ch) = self.live().await?;
        let blocked = || {
            BusError::Rejected(format!(
                "{first_key}: the broker blocks publishing (memory or disk alarm)"
            ))
        };
        if conn.status().blocked() {
            return Err(blocked());
        }
        let wait = Duration::from_millis(self.inner.cfg.publish_timeout_ms);
        // `join_all` polls its futures in order, and each `basic_publish` queues its frames on
        // its first poll: the messages go out in the batch's order.
        let confirms = futures::future::join_all(
            batch
                .iter()
                .map(|&(key, payload)| self.confirmed(&ch, key, payload)),
        );
        match tokio::time::timeout(wait, confirms).await {
            Ok(outcomes) => outcomes.into_iter().collect(),
            Err(_) if conn.status().blocked() => Err(blocked()),
            Err(_) => Err(unavailable(format!(
                "no publisher confirm for {first_key} within {wait:?}"
            ))),
        }
    }

    /// Publishes one message (persistent, `mandatory`) and waits for its confirm.
    async fn confirmed(&self, ch: &Channel, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        let confirm = ch
            .basic_publish(
                &self.inner.cfg.exchange,
                routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                payload,
                props,
            )
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(BusError::Unroutable(routing_key.to_string())),
            Confirmation::Nack(_) => Err(BusError::Rejected(routing_key.to_string())),
            Confirmation::NotRequested => Err(BusError::Protocol("publisher confirms are off".into())),
        }
    }
}

/// A channel in publisher-confirm mode.
async fn publish_channel(conn: &Connection) -> Result<Channel, BusError> {
    let ch = conn.create_channel().await.map_err(unavailable)?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(unavailable)?;
    Ok(ch)
}

fn jitter(max: Duration) -> Duration {
    // Entropy only, not a time measurement.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let max_ms = max.as_millis().max(1) as u64;
    Duration::from_millis(u64::from(nanos) % max_ms)
}

#[async_trait]
impl Bus for RabbitBus {
    async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        {
            let mut declared = self
                .inner
                .declared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            declared.retain(|s| s.name != spec.name);
            declared.push(spec.clone());
        }
        let (_, ch) = self.live().await?;
        self.declare_on(&ch, spec).await
    }

    async fn publish(&self, routing_key: &str, payload: &[u8]) -> Result<(), BusError> {
        self.publish_batch(&[(routing_key, payload)]).await
    }

    async fn publish_all(&self, batch: &[(String, Vec<u8>)]) -> Result<(), BusError> {
        let batch: Vec<(&str, &[u8])> = batch.iter().map(|(k, p)| (k.as_str(), p.as_slice())).collect();
        self.publish_batch(&batch).await
    }

    async fn consume(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError> {
        // A missing queue is the caller's mistake: say so now. A broker that is away is
        // normal: the task below keeps resubscribing until it is back.
        let first = match self.open_consumer(queue, prefetch).await {
            Ok(c) => Some(c),
            Err(e @ BusError::UnknownQueue(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(queue = %queue, error = %e, "cannot consume yet; retrying in the background");
                None
            }
        };
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let bus = self.clone();
        let queue = queue.to_string();
        let task = tokio::spawn(async move {
            let mut next = first;
            let mut backoff = BACKOFF_MIN;
            loop {
                let (ch, mut consumer) = match next.take() {
                    Some(c) => c,
                    None => match bus.open_consumer(&queue, prefetch).await {
                        Ok(c) => {
                            tracing::info!(queue = %queue, "consumer resubscribed");
                            backoff = BACKOFF_MIN;
                            c
                        }
                        Err(e) => {
                            tracing::debug!(queue = %queue, error = %e, "resubscribe failed");
                            tokio::select! {
                                () = tokio::time::sleep(backoff + jitter(backoff / 2)) => {}
                                () = tx.closed() => return,
                            }
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                            continue;
                        }
                    },
                };
                loop {
                    tokio::select! {
                        item = consumer.next() => match item {
                            Some(Ok(d)) => {
                                let delivery = Delivery {
                                    routing_key: d.routing_key.to_string(),
                                    payload: d.data,
                                    redelivered: d.redelivered,
                                    acker: Acker::Rabbit(d.acker),
                                };
                                if tx.send(delivery).await.is_err() {
                                    let _ = ch.close(200, "consumer gone").await;
                                    return;
                                }
                            }
                            Some(Err(e)) => {
                                tracing::warn!(queue = %queue, error = %e, "consumer lost its channel");
                                break;
                            }
                            None => break,
                        },
                        () = tx.closed() => {
                            // Unacked deliveries go back to the queue when the channel closes.
                            let _ = ch.close(200, "consumer gone").await;
                            return;
                        }
                    }
                }
            }
        });
        // The task ends by itself once the subscription (its receiver) is dropped.
        drop(task);
        Ok(Subscription::new(rx, ()))
    }

    async fn check(&self) -> Result<(), BusError> {
        self.live().await.map(|_| ())
    }

    fn durable(&self) -> bool {
        true
    }
}
