//! `seedgate smsc-sim`: a small SMSC for demos, tests and load tests.
//!
//! Accepts any bind (or only `password`, when set), answers `submit_sm` with an id in upper-case
//! hex (as many SMSCs do, so id normalisation is exercised), sends a delivery receipt after
//! `dlr_delay` to a receiving bind of the same `system_id` (failing `failure_rate` of them),
//! answers `ESME_RTHROTTLED` above `max_tps`, and can originate MO messages to its binds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::link::{Link, LinkConfig, LinkError};
use crate::pdu::{Address, BindResp, Frame, Pdu, Sm, SmResp};
use crate::status::CommandStatus;
use crate::tlv::{tag, Tlvs};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub dlr_delay: Duration,
    /// Share of receipts reported `UNDELIV` (0.0–1.0).
    pub failure_rate: f64,
    /// Submits per second accepted across all binds (0 = unlimited).
    pub max_tps: u32,
    /// When set, binds must use this password.
    pub password: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            dlr_delay: Duration::from_millis(200),
            failure_rate: 0.0,
            max_tps: 0,
            password: None,
        }
    }
}

/// Counters a test or an operator can read.
#[derive(Debug, Default)]
pub struct SimStats {
    pub binds: AtomicU64,
    pub submits_accepted: AtomicU64,
    pub submits_throttled: AtomicU64,
    pub receipts_sent: AtomicU64,
}

#[derive(Debug)]
struct State {
    cfg: SimConfig,
    next_id: AtomicU64,
    receivers: Mutex<HashMap<String, Vec<Link>>>,
    window: Mutex<(Instant, u32)>,
    stats: Arc<SimStats>,
    submits: tokio::sync::broadcast::Sender<Sm>,
}

/// A running simulator.
#[derive(Debug, Clone)]
pub struct SmscSim {
    state: Arc<State>,
    pub addr: SocketAddr,
}

impl SmscSim {
    /// Starts the simulator on `listener` until `stop`.
    pub fn start(listener: TcpListener, cfg: SimConfig, stop: CancellationToken) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            cfg,
            next_id: AtomicU64::new(0x1000),
            receivers: Mutex::default(),
            window: Mutex::new((Instant::now(), 0)),
            stats: Arc::default(),
            submits: tokio::sync::broadcast::channel(4096).0,
        });
        let s = state.clone();
        tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            let _ = stream.set_nodelay(true);
                            conns.spawn(serve(s.clone(), stream, stop.clone()));
                        }
                    }
                    () = stop.cancelled() => break,
                }
            }
            conns.shutdown().await;
        });
        Ok(Self { state, addr })
    }

    pub fn stats(&self) -> Arc<SimStats> {
        self.state.stats.clone()
    }

    /// Every accepted submit_sm from now on (e.g. USSD replies), for tests and demos.
    pub fn submits(&self) -> tokio::sync::broadcast::Receiver<Sm> {
        self.state.submits.subscribe()
    }

    /// Sends an MO message from `from` to `to` on a receiving bind of `system_id`.
    pub async fn send_mo(
        &self,
        system_id: &str,
        from: &str,
        to: &str,
        sm: Sm,
    ) -> Result<CommandStatus, LinkError> {
        let link = self
            .state
            .receiver(system_id)
            .ok_or_else(|| LinkError::Closed("no receiving bind".into()))?;
        let sm = Sm {
            source: Address::new(1, 1, from),
            dest: Address::new(0, 1, to),
            ..sm
        };
        link.request(Pdu::DeliverSm(sm)).await.map(|f| f.status)
    }
}

impl State {
    fn receiver(&self, system_id: &str) -> Option<Link> {
        let mut map = self
            .receivers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = map.get_mut(system_id)?;
        list.retain(|l| !l.is_closed());
        let n = self.next_id.load(Ordering::Relaxed) as usize;
        list.get(n % list.len().max(1)).cloned()
    }

    fn throttled(&self) -> bool {
        if self.cfg.max_tps == 0 {
            return false;
        }
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(w.0) >= Duration::from_secs(1) {
            *w = (now, 0);
        }
        w.1 += 1;
        w.1 > self.cfg.max_tps
    }
}

async fn serve(state: Arc<State>, stream: tokio::net::TcpStream, stop: CancellationToken) {
    let (link, mut incoming) = Link::spawn(
        stream,
        LinkConfig {
            window: 100,
            ..LinkConfig::default()
        },
    );
    let mut system_id = None;
    loop {
        let frame = tokio::select! {
            f = incoming.requests.recv() => match f { Some(f) => f, None => break },
            () = stop.cancelled() => break,
        };
        let seq = frame.sequence;
        let command = frame.pdu.command_id();
        let reply = match frame.pdu {
            Pdu::BindTransmitter(b) | Pdu::BindReceiver(b) | Pdu::BindTransceiver(b)
                if system_id.is_none() =>
            {
                use crate::pdu::command_id as id;
                let receives = command != id::BIND_TRANSMITTER;
                let ok = state.cfg.password.as_ref().is_none_or(|p| *p == b.password);
                let resp = BindResp {
                    system_id: "smsc-sim".into(),
                    tlvs: Tlvs::default(),
                };
                let pdu = match command {
                    id::BIND_TRANSMITTER => Pdu::BindTransmitterResp(resp),
                    id::BIND_RECEIVER => Pdu::BindReceiverResp(resp),
                    _ => Pdu::BindTransceiverResp(resp),
                };
                if !ok {
                    let _ = link
                        .respond(Frame::response(seq, CommandStatus::ESME_RINVPASWD, pdu))
                        .await;
                    break;
                }
                state.stats.binds.fetch_add(1, Ordering::Relaxed);
                if receives {
                    let mut map = state
                        .receivers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    map.entry(b.system_id.clone()).or_default().push(link.clone());
                }
                system_id = Some(b.system_id);
                Frame::response(seq, CommandStatus::ESME_ROK, pdu)
            }
            Pdu::SubmitSm(sm) if system_id.is_some() => {
                if state.throttled() {
                    state.stats.submits_throttled.fetch_add(1, Ordering::Relaxed);
                    Frame::response(
                        seq,
                        CommandStatus::ESME_RTHROTTLED,
                        Pdu::SubmitSmResp(SmResp::default()),
                    )
                } else {
                    let id = format!("{:X}", state.next_id.fetch_add(1, Ordering::Relaxed));
                    state.stats.submits_accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = state.submits.send(sm.clone());
                    if sm.registered_delivery & 0x03 != 0 {
                        if let Some(sys) = &system_id {
                            tokio::spawn(send_receipt(state.clone(), sys.clone(), id.clone(), sm));
                        }
                    }
                    Frame::response(seq, CommandStatus::ESME_ROK, Pdu::SubmitSmResp(SmResp::new(id)))
                }
            }
            Pdu::Unbind => {
                let _ = link
                    .respond(Frame::response(seq, CommandStatus::ESME_ROK, Pdu::UnbindResp))
                    .await;
                break;
            }
            other => {
                let status = if system_id.is_none() {
                    CommandStatus::ESME_RINVBNDSTS
                } else {
                    CommandStatus::ESME_RINVCMDID
                };
                crate::pdu::DecodeError {
                    command_id: other.command_id(),
                    sequence: seq,
                    status,
                    reason: String::new(),
                }
                .response()
                .unwrap_or_else(|| Frame::response(seq, status, Pdu::GenericNack))
            }
        };
        if link.respond(reply).await.is_err() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    link.close();
}

async fn send_receipt(state: Arc<State>, system_id: String, id: String, sm: Sm) {
    tokio::time::sleep(state.cfg.dlr_delay).await;
    let n = u64::from_str_radix(&id, 16).unwrap_or(0);
    let failed = ((n.wrapping_mul(2_654_435_761) % 10_000) as f64) < state.cfg.failure_rate * 10_000.0;
    let (stat, msg_state, dlvrd) = if failed {
        ("UNDELIV", 5u8, 0)
    } else {
        ("DELIVRD", 2u8, 1)
    };
    let text = format!("id:{id} sub:001 dlvrd:{dlvrd:03} submit date:2611250800 done date:2611250800 stat:{stat} err:000 text:");
    let receipt = Sm {
        source: sm.dest.clone(),
        dest: sm.source.clone(),
        esm_class: 0x04,
        short_message: Bytes::from(text.into_bytes()),
        tlvs: Tlvs::default()
            .with(tag::RECEIPTED_MESSAGE_ID, Tlvs::cstr_value(&id))
            .with(tag::MESSAGE_STATE, vec![msg_state]),
        ..Sm::default()
    };
    // Retry on another receiving bind if this one is gone, for a while.
    for _ in 0..50 {
        if let Some(link) = state.receiver(&system_id) {
            if let Ok(resp) = link.request(Pdu::DeliverSm(receipt.clone())).await {
                if resp.status.is_ok() {
                    state.stats.receipts_sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
