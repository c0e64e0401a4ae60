//! The ESME client connector (channel type `smpp-esme`): seedgate binds to a carrier's SMSC.
//!
//! - `binds` binds (transceivers, or transmitter + receiver pairs), each kept up by its own task
//!   with reconnect, exponential backoff and jitter; `enquire_link` keepalive and dead-peer
//!   detection come from the link layer.
//! - Outbound messages from `<channel>.outbound` are split ([`crate::text::split`]) and
//!   submitted on a bound transmitter, paced per bind and per account, within each bind's
//!   window. The policy per `submit_sm_resp`: `ESME_ROK` → `ack` event with the carrier id;
//!   temporary errors (throttled, queue full, system error) → the message is requeued, and on
//!   `ESME_RTHROTTLED` the bind cools down; permanent errors → `nack` with the status; no
//!   response in time → requeued. Nothing is dropped silently. (A requeued multi-part message
//!   is sent whole again: at-least-once.)
//! - With `smpp.lease = true`, one process at a time binds the channel (an app-level lease in
//!   the session store); the others stand by and take over when the holder stops renewing.
//! - `deliver_sm` receipts become `delivery_report` events for our message id
//!   ([`correlate`]); other `deliver_sm` are MO messages on `<channel>.inbound`, concatenated
//!   parts reassembled. Each is answered `ESME_ROK` only after the bus confirmed the event or
//!   message, otherwise `ESME_RX_T_APPN` so the SMSC tries again.

pub mod correlate;
mod pool;
mod send;

use crate::error::SetupError;
use std::sync::atomic::AtomicU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seedgate_proto::{Event, EventKind, Message, RoutingKey, TransportType};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::{Live, Registry, Stop};
use seedgate_runtime::config::{self, BindMode, ChannelType, Config, EsmeConfig};
use seedgate_runtime::lease::Lease;
use seedgate_runtime::monitor::{Health, Monitor};
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::store::Store;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{encode, HandleError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::link::{Incoming, Link, LinkConfig};
use crate::pdu::{Bind, Frame, Pdu, Sm, SmResp};
use crate::rate::TokenBucket;
use crate::status::CommandStatus;
use crate::text::reassembly::{Key, Outcome, Reassembler};
use crate::text::split::{parse_udh, Concat};
use correlate::{parse_receipt, Correlator};
use pool::Pool;
use send::store_trouble;

/// Runs every `smpp-esme` channel until `shutdown`, following the live channel set: a channel
/// created, changed or restarted through the API binds (again) without a process restart.
pub async fn run(
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    store: Arc<dyn Store>,
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let start = |live: Live, stop: Stop| {
        let esme = live.config.smpp().cloned().map(|cfg| {
            Esme::new(
                &live.name,
                &live.config,
                cfg,
                config.bus.prefetch,
                bus.clone(),
                store.clone(),
                monitor.clone(),
            )
        });
        let lease = live
            .config
            .smpp()
            .filter(|c| c.lease)
            .map(|_| Lease::new(sessions.clone(), &format!("esme:{}", live.name), LEASE_TTL));
        let name = live.name.clone();
        async move {
            let Some(esme) = esme else { return Ok(()) };
            let Some(lease) = lease else {
                return esme.run(stop).await;
            };
            // One process binds; the others stand by (and write no status: the holder does).
            let mut told = false;
            let waiting = |why: &str| {
                if !told {
                    tracing::info!(channel = %name, why, "standing by for the channel's bind lease");
                    told = true;
                }
            };
            let work = |held: CancellationToken| {
                let stop = Stop {
                    shutdown: stop.shutdown.clone(),
                    halt: held,
                };
                esme.clone().run(stop)
            };
            lease.hold(&stop.halt, waiting, work).await
        }
    };
    seedgate_runtime::channels::supervise(
        "smpp-esme",
        registry,
        |c| c.channel_type() == ChannelType::SmppEsme,
        start,
        shutdown,
    )
    .await
}

/// Most deliver_sm of one bind handled at once.
const DELIVER_CONCURRENCY: usize = 256;
/// Most deliver_sm of one bind taken and not yet answered (handled or waiting to be).
const DELIVER_PENDING: usize = 4_096;

/// How long an ESME's bind lease lasts without renewal (renewed every third of it).
const LEASE_TTL: Duration = Duration::from_secs(15);

/// Messages in hand per window slot (see `run`).
const IN_HAND_PER_SLOT: usize = 8;
/// Most messages in hand at once on one channel.
const MAX_IN_HAND: u16 = 2_000;

/// One ESME channel.
#[derive(Debug)]
pub struct Esme {
    channel: String,
    /// Ids already handed to the SMSC (the store keeps them too, [`Correlator::sent`]): a
    /// redelivery is not sent twice.
    sent: seedgate_runtime::dedupe::Recent,
    cfg: EsmeConfig,
    prefetch: u16,
    bus: Arc<dyn Bus>,
    correlator: Correlator,
    pool: Pool,
    account_rate: TokenBucket,
    reassembly: Mutex<Reassembler>,
    next_ref: AtomicU16,
    /// USSD over this bind, when the channel has a profile.
    ussd: Option<Arc<crate::dialogs::Dialogs>>,
    monitor: Arc<Monitor>,
    /// Binds up now, and why the last one went down.
    binds_up: Mutex<(usize, String)>,
    /// Tries so far of the messages the SMSC answered with a temporary error or not at all.
    attempts: Mutex<std::collections::HashMap<uuid::Uuid, u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Transceiver,
    Transmitter,
    Receiver,
}

impl Esme {
    pub fn new(
        channel: &str,
        ch: &seedgate_runtime::config::ChannelConfig,
        cfg: EsmeConfig,
        prefetch: u16,
        bus: Arc<dyn Bus>,
        store: Arc<dyn Store>,
        monitor: Arc<Monitor>,
    ) -> Arc<Self> {
        let ussd = cfg
            .ussd_profile
            .as_deref()
            .and_then(crate::ussd::profile)
            .map(|profile| {
                crate::dialogs::Dialogs::new(
                    channel,
                    profile,
                    crate::dialogs::ReplyWith::SubmitSm,
                    Duration::from_millis(ch.hop_deadline_ms),
                    &ch.fallback_text,
                    bus.clone(),
                )
            });
        Arc::new(Self {
            channel: channel.to_string(),
            account_rate: TokenBucket::new(cfg.tps),
            pool: Pool::default(),
            correlator: Correlator::new(channel, store),
            reassembly: Mutex::new(Reassembler::new(Duration::from_secs(600), 10_000)),
            next_ref: AtomicU16::new(1),
            ussd,
            prefetch,
            cfg,
            bus,
            sent: seedgate_runtime::dedupe::Recent::default(),
            monitor,
            binds_up: Mutex::new((0, "binding".into())),
            attempts: Mutex::default(),
        })
    }

    fn bind_count(&self) -> usize {
        let per = match self.cfg.bind_mode {
            BindMode::Transceiver => 1,
            BindMode::TransmitterReceiver => 2,
        };
        self.cfg.binds * per
    }

    /// A bind came up (`+1`) or went down (`-1`, with why): the channel's status follows.
    fn bind_changed(&self, delta: isize, why: Option<String>) {
        let (up, last) = {
            let mut b = self
                .binds_up
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            b.0 = b.0.saturating_add_signed(delta);
            if let Some(why) = why {
                b.1 = why;
            }
            b.clone()
        };
        let total = self.bind_count();
        let counted = format!("{up} of {total} binds up");
        let (health, reasons) = match up {
            0 => (Health::Down, vec![counted, last]),
            n if n < total => (Health::Degraded, vec![counted, last]),
            _ => (Health::Ok, vec![counted]),
        };
        self.monitor.status(&self.channel, health, reasons);
    }

    fn password(&self) -> String {
        match &self.cfg.password_file {
            Some(path) => std::fs::read_to_string(path).map(|s| s.trim_end().to_string()).unwrap_or_else(|e| {
                tracing::error!(channel = %self.channel, path = %path.display(), error = %e, "cannot read the SMPP password file");
                String::new()
            }),
            None => self.cfg.password.clone(),
        }
    }

    fn concat(&self) -> Concat {
        match self.cfg.concat {
            config::Concat::Udh8 => Concat::Udh8,
            config::Concat::Udh16 => Concat::Udh16,
            config::Concat::Sar => Concat::Sar,
            config::Concat::Payload => Concat::Payload,
        }
    }

    /// Keeps the binds up and sends outbound messages until stopped (unbinding on the way out).
    pub async fn run(self: Arc<Self>, stop: Stop) -> Result<(), BusError> {
        let roles: Vec<Role> = match self.cfg.bind_mode {
            BindMode::Transceiver => vec![Role::Transceiver],
            BindMode::TransmitterReceiver => vec![Role::Transmitter, Role::Receiver],
        };
        let mut binds = tokio::task::JoinSet::new();
        for i in 0..self.cfg.binds {
            for role in &roles {
                binds.spawn(self.clone().keep_bound(i, *role, stop.halt.clone()));
            }
        }
        // The window bounds the submits on the wire; a message also waits before (its send
        // check) and after (its carrier id and ack committed), so many more than the window
        // are in hand at once, or the window runs dry while they wait on the disk.
        let prefetch = u16::try_from((self.cfg.window * self.cfg.binds).saturating_mul(IN_HAND_PER_SLOT))
            .unwrap_or(u16::MAX)
            .min(MAX_IN_HAND)
            .max(self.prefetch.max(1));
        let handler = {
            let me = self.clone();
            move |_key: String, payload: Vec<u8>| {
                let me = me.clone();
                async move { me.send(&payload).await }
            }
        };
        self.bind_changed(0, None);
        let halt = stop.halt.clone();
        let sent = seedgate_runtime::worker::consume_channel(
            "smpp-esme",
            self.bus.clone(),
            &self.channel,
            prefetch,
            stop,
            handler,
        )
        .await;
        // Unbind (the consumer stops on its own only when the process does).
        halt.cancel();
        while binds.join_next().await.is_some() {}
        self.monitor.forget(&self.channel);
        sent
    }

    async fn keep_bound(self: Arc<Self>, index: usize, role: Role, stop: CancellationToken) {
        let mut backoff = Duration::from_secs(1);
        while !stop.is_cancelled() {
            let started = Instant::now();
            match self.bind_once(role).await {
                Ok((link, incoming)) => {
                    tracing::info!(channel = %self.channel, bind = index, ?role, "bound to the SMSC");
                    self.monitor.log(
                        &self.channel,
                        "out",
                        format!("bind {role:?} #{index} as {} -> ESME_ROK", self.cfg.system_id),
                    );
                    self.bind_changed(1, None);
                    metrics::gauge!("seedgate_smpp_esme_binds", "channel" => self.channel.clone())
                        .increment(1.0);
                    let id =
                        (role != Role::Receiver).then(|| self.pool.add(link.clone(), self.cfg.tps_per_bind));
                    let why = self.serve(&link, incoming, &stop).await;
                    if let Some(id) = id {
                        self.pool.remove(id);
                    }
                    metrics::gauge!("seedgate_smpp_esme_binds", "channel" => self.channel.clone())
                        .decrement(1.0);
                    tracing::warn!(channel = %self.channel, bind = index, ?role, why = ?why, "unbound from the SMSC");
                    self.monitor.log(
                        &self.channel,
                        "in",
                        format!("bind {role:?} #{index} ended: {why}"),
                    );
                    self.bind_changed(-1, Some(format!("bind #{index} ended: {why}")));
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff = Duration::from_secs(1);
                    }
                }
                Err(e) => {
                    tracing::warn!(channel = %self.channel, bind = index, error = %e, "cannot bind to the SMSC");
                    self.monitor.log(
                        &self.channel,
                        "out",
                        format!("bind {role:?} #{index} as {}: {e}", self.cfg.system_id),
                    );
                    self.bind_changed(0, Some(format!("cannot bind: {e}")));
                }
            }
            let jitter =
                Duration::from_millis(u64::from(std::process::id() % 7) * 50 + (index as u64 % 5) * 37);
            tokio::select! {
                () = tokio::time::sleep(backoff + jitter) => {}
                () = stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    async fn bind_once(&self, role: Role) -> Result<(Link, Incoming), SetupError> {
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&self.cfg.address),
        )
        .await
        .map_err(|_| format!("connecting to {} timed out", self.cfg.address))?
        .map_err(|e| format!("connecting to {}: {e}", self.cfg.address))?;
        let _ = stream.set_nodelay(true);
        let link_cfg = LinkConfig {
            window: self.cfg.window,
            response_timeout: Duration::from_secs(self.cfg.response_timeout_secs),
            enquire_link_every: Duration::from_secs(self.cfg.enquire_link_secs),
            ..LinkConfig::default()
        };
        let (link, incoming) = if self.cfg.tls {
            let ca = self.cfg.tls_ca_file.as_deref().ok_or("TLS without tls_ca_file")?;
            let connector = crate::tls::connector(ca)?;
            let host = self
                .cfg
                .address
                .rsplit_once(':')
                .map_or(self.cfg.address.as_str(), |(h, _)| h);
            let name = crate::tls::server_name(self.cfg.tls_server_name.as_deref().unwrap_or(host))?;
            let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, stream))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS handshake with {}: {e}", self.cfg.address))?;
            Link::spawn(tls, link_cfg)
        } else {
            Link::spawn(stream, link_cfg)
        };
        let bind = Bind {
            system_id: self.cfg.system_id.clone(),
            password: self.password(),
            system_type: self.cfg.system_type.clone(),
            interface_version: 0x34,
            ..Bind::default()
        };
        let pdu = match role {
            Role::Transceiver => Pdu::BindTransceiver(bind),
            Role::Transmitter => Pdu::BindTransmitter(bind),
            Role::Receiver => Pdu::BindReceiver(bind),
        };
        match link.request(pdu).await {
            Ok(resp) if resp.status.is_ok() => Ok((link, incoming)),
            Ok(resp) => {
                link.close();
                Err(SetupError(format!("bind refused: {}", resp.status)))
            }
            Err(e) => {
                link.close();
                Err(SetupError(format!("bind not answered: {e}")))
            }
        }
    }

    /// Handles the SMSC's requests on one bind until it ends.
    async fn serve(
        self: &Arc<Self>,
        link: &Link,
        mut incoming: Incoming,
        stop: &CancellationToken,
    ) -> String {
        // deliver_sm are handled side by side (answered in any order, as SMPP allows), so a
        // receipt waiting for the submits in flight holds up no other PDU.
        let limit = Arc::new(tokio::sync::Semaphore::new(DELIVER_CONCURRENCY));
        let mut handling = tokio::task::JoinSet::new();
        loop {
            while handling.try_join_next().is_some() {}
            let frame = tokio::select! {
                f = incoming.requests.recv() => match f { Some(f) => f, None => break },
                () = stop.cancelled() => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), link.request(Pdu::Unbind)).await;
                    link.close();
                    return "shutting down".into();
                }
            };
            let seq = frame.sequence;
            let reply = match frame.pdu {
                Pdu::DeliverSm(sm) => {
                    // The reader must keep reading while receipts wait: a receipt waits for
                    // the submits in flight before it, whose submit_sm_resp may be behind it
                    // on the wire (waiting here for a handler stalled the link until the
                    // responses timed out). Past DELIVER_PENDING the SMSC is held back.
                    while handling.len() >= DELIVER_PENDING {
                        if handling.join_next().await.is_none() {
                            break;
                        }
                    }
                    let (me, link, limit) = (self.clone(), link.clone(), limit.clone());
                    handling.spawn(async move {
                        let Ok(permit) = limit.acquire_owned().await else {
                            return;
                        };
                        let status = me.on_deliver(sm, &link).await;
                        let _ = link
                            .respond(Frame::response(
                                seq,
                                status,
                                Pdu::DeliverSmResp(SmResp::default()),
                            ))
                            .await;
                        drop(permit);
                    });
                    continue;
                }
                Pdu::Unbind => {
                    let _ = link
                        .respond(Frame::response(seq, CommandStatus::ESME_ROK, Pdu::UnbindResp))
                        .await;
                    link.close();
                    return "the SMSC unbound".into();
                }
                other => crate::pdu::DecodeError {
                    command_id: other.command_id(),
                    sequence: seq,
                    status: CommandStatus::ESME_RINVCMDID,
                    reason: String::new(),
                }
                .response()
                .unwrap_or_else(|| Frame::response(seq, CommandStatus::ESME_RINVCMDID, Pdu::GenericNack)),
            };
            if link.respond(reply).await.is_err() {
                break;
            }
        }
        link.close();
        incoming
            .closed
            .await
            .map_or_else(|_| "the connection ended".into(), |c| c.describe("the SMSC"))
    }

    pub(super) async fn publish_event(
        &self,
        message_id: uuid::Uuid,
        kind: EventKind,
    ) -> Result<(), BusError> {
        let event = Event::new(self.channel.clone(), message_id, kind);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        self.bus
            .publish(&RoutingKey::Event(&self.channel).render(), &payload)
            .await
    }

    /// A deliver_sm: a receipt or an MO message. The status to answer with.
    async fn on_deliver(&self, sm: Sm, link: &Link) -> CommandStatus {
        let (sm_from, esm_class) = (sm.source.addr.clone(), sm.esm_class);
        let outcome = if matches!(sm.esm_class & 0x3C, 0x04 | 0x08 | 0x20) {
            self.on_receipt(&sm).await
        } else if let (Some(dialogs), true) = (&self.ussd, crate::ussd::is_ussd(&sm)) {
            dialogs.inbound(&sm, link).await
        } else {
            self.on_mo(sm).await
        };
        let status = match outcome {
            Ok(()) => CommandStatus::ESME_ROK,
            Err(e) => {
                tracing::warn!(channel = %self.channel, error = %e, "deliver_sm not taken; the SMSC will retry");
                CommandStatus::ESME_RX_T_APPN
            }
        };
        self.monitor.log(
            &self.channel,
            "in",
            format!(
                "deliver_sm from={} esm_class=0x{:02x} -> {status}",
                Masked(&sm_from),
                esm_class
            ),
        );
        status
    }

    async fn on_receipt(&self, sm: &Sm) -> Result<(), HandleError> {
        let Some(receipt) = parse_receipt(sm) else {
            tracing::warn!(channel = %self.channel, "a receipt without a message id; ignored");
            return Ok(());
        };
        let wait = Duration::from_secs(self.cfg.response_timeout_secs + 1);
        match self
            .correlator
            .find(&receipt, wait)
            .await
            .map_err(store_trouble)?
        {
            Some(ours) => {
                self.publish_receipt(ours, receipt.status).await?;
                metrics::counter!("seedgate_smpp_esme_receipts_total", "channel" => self.channel.clone(), "outcome" => "matched").increment(1);
            }
            None => {
                tracing::info!(channel = %self.channel, carrier_id = %receipt.carrier_id, "a receipt no submit claims yet; held in the store");
                metrics::counter!("seedgate_smpp_esme_receipts_total", "channel" => self.channel.clone(), "outcome" => "held").increment(1);
            }
        }
        Ok(())
    }

    async fn on_mo(&self, sm: Sm) -> Result<(), HandleError> {
        let (udh, body) = parse_udh(sm.esm_class & 0x40 != 0, sm.payload());
        let concat = udh
            .map(|c| (c.reference, c.total, c.seq))
            .or_else(|| sm.tlvs.sar());
        let octets = match concat {
            Some((reference, total, seq)) if total > 1 => {
                let key = Key {
                    from: sm.source.addr.clone(),
                    to: sm.dest.addr.clone(),
                    reference,
                    total,
                };
                let mut r = self
                    .reassembly
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match r.add(key, seq, body.to_vec(), Instant::now()) {
                    Outcome::Complete(parts) => parts.concat(),
                    Outcome::Waiting | Outcome::Duplicate | Outcome::Invalid => return Ok(()),
                }
            }
            _ => body.to_vec(),
        };
        let text = crate::text::decode(sm.data_coding, &octets);
        let msg = Message::inbound(
            self.channel.clone(),
            TransportType::Sms,
            sm.source.addr.clone(),
            sm.dest.addr.clone(),
            text,
        );
        let payload = encode(&msg)?;
        self.bus
            .publish(&RoutingKey::Inbound(&self.channel).render(), &payload)
            .await?;
        tracing::info!(channel = %self.channel, from = %Masked(&msg.from), id = %msg.id, "MO message");
        Ok(())
    }
}
