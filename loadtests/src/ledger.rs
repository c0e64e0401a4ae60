//! A ledger of acknowledgements: clients that tag every message they send and record every
//! acknowledgement they get (the id the gateway answered with), so a fault run can compare
//! what was acknowledged with what the store and the carrier hold afterwards.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seedgate_smpp::link::{Link, LinkConfig};
use seedgate_smpp::pdu::{Address, Bind, Frame, Pdu, Sm, SmResp};
use seedgate_smpp::CommandStatus;

/// What one client sent and what it was told.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Requests written (a submit, a POST).
    pub sent: AtomicU64,
    /// The ids acknowledged (`ESME_ROK` or `202`): each must be found afterwards.
    pub acked: Mutex<Vec<String>>,
    /// Temporary refusals by status (`ESME_RMSGQFUL`, `503`, …): allowed during a fault.
    pub refused: Mutex<BTreeMap<String, u64>>,
    /// Requests that got no answer (the connection broke): not acknowledged, may exist.
    pub unanswered: AtomicU64,
    /// Receipts (`deliver_sm` with a receipt) the client was sent.
    pub receipts: AtomicU64,
}

impl Ledger {
    pub fn acked(&self) -> Vec<String> {
        self.acked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn refuse(&self, why: String) {
        *self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(why)
            .or_default() += 1;
    }

    /// Every temporary refusal, `name×count`, comma separated.
    pub fn refusals(&self) -> String {
        let r = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An ESME that submits to `target` until `count` submits were answered, `until`, or the bind
/// breaks (then it binds again until `until`). Receipts are answered `ESME_ROK`.
pub async fn smpp_client(
    target: String,
    (system_id, password): (String, String),
    window: usize,
    count: u64,
    until: Instant,
    ledger: Arc<Ledger>,
) {
    let next = Arc::new(AtomicU64::new(0));
    while Instant::now() < until && (ledger.acked.lock().map(|a| a.len() as u64).unwrap_or(0)) < count {
        let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(&target)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (link, mut incoming) = Link::spawn(
            stream,
            LinkConfig {
                window,
                response_timeout: Duration::from_secs(10),
                ..LinkConfig::default()
            },
        );
        let bind = Bind {
            system_id: system_id.clone(),
            password: password.clone(),
            interface_version: 0x34,
            ..Bind::default()
        };
        match link.request(Pdu::BindTransceiver(bind)).await {
            Ok(r) if r.status.is_ok() => {}
            _ => {
                link.close();
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        let answer = {
            let (link, ledger) = (link.clone(), ledger.clone());
            tokio::spawn(async move {
                while let Some(f) = incoming.requests.recv().await {
                    if let Pdu::DeliverSm(_) = f.pdu {
                        ledger.receipts.fetch_add(1, Ordering::Relaxed);
                        let resp = Frame::response(
                            f.sequence,
                            CommandStatus::ESME_ROK,
                            Pdu::DeliverSmResp(SmResp::default()),
                        );
                        let _ = link.respond(resp).await;
                    }
                }
            })
        };
        let mut inflight = tokio::task::JoinSet::new();
        let mut broken = false;
        while !broken {
            while inflight.len() < window && Instant::now() < until {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let (link, ledger) = (link.clone(), ledger.clone());
                inflight.spawn(async move {
                    let sm = Sm {
                        source: Address::new(5, 0, "Ledger"),
                        dest: Address::new(1, 1, format!("2782{:07}", n % 10_000_000)),
                        registered_delivery: 1,
                        short_message: bytes::Bytes::from(format!("ledger {n}").into_bytes()),
                        ..Sm::default()
                    };
                    ledger.sent.fetch_add(1, Ordering::Relaxed);
                    match link.request(Pdu::SubmitSm(sm)).await {
                        Ok(resp) => match resp.pdu {
                            Pdu::SubmitSmResp(r) if resp.status.is_ok() => {
                                ledger
                                    .acked
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .push(r.message_id);
                                Ok(())
                            }
                            _ => {
                                ledger.refuse(resp.status.to_string());
                                Ok(())
                            }
                        },
                        Err(_) => {
                            ledger.unanswered.fetch_add(1, Ordering::Relaxed);
                            Err(n)
                        }
                    }
                });
            }
            match inflight.join_next().await {
                Some(Ok(Err(_))) => broken = true,
                Some(_) => {}
                None => break,
            }
        }
        while inflight.join_next().await.is_some() {}
        answer.abort();
        link.close();
        if next.load(Ordering::Relaxed) >= count {
            break;
        }
    }
}

/// Sends `count` messages through `POST /api/v1/messages` on `base` (`conns` at a time), until
/// `until`; a connection error is counted unanswered and the client goes on.
pub async fn api_client(
    base: String,
    token: String,
    channel: String,
    (count, conns): (u64, usize),
    until: Instant,
    ledger: Arc<Ledger>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..conns.max(1) {
        let (http, base, token, channel, next, ledger) = (
            http.clone(),
            base.clone(),
            token.clone(),
            channel.clone(),
            next.clone(),
            ledger.clone(),
        );
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count || Instant::now() >= until {
                    return;
                }
                let body = format!(
                    r#"{{"channel":"{channel}","to":"+2783{:07}","content":"ledger api {n}"}}"#,
                    n % 10_000_000
                );
                ledger.sent.fetch_add(1, Ordering::Relaxed);
                let r = http
                    .post(format!("{base}/api/v1/messages"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 202 => {
                        let body: serde_json::Value =
                            serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default();
                        if let Some(id) = body["id"].as_str() {
                            ledger
                                .acked
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(id.to_string());
                        }
                    }
                    Ok(r) => ledger.refuse(r.status().as_u16().to_string()),
                    Err(_) => {
                        ledger.unanswered.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// The acknowledged ids not yet handed to the carrier: missing from `store`, or still queued.
/// (Submitted, delivered, failed and expired messages were handled.)
pub async fn not_yet_sent(
    store: &dyn seedgate_runtime::store::Store,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    use seedgate_runtime::store::MessageStatus;
    let mut out = Vec::new();
    for id in ids {
        let uuid: uuid::Uuid = id
            .parse()
            .map_err(|_| anyhow::anyhow!("acknowledged id `{id}` is not a message id"))?;
        let m = store
            .stored_message(uuid)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !m.is_some_and(|m| m.status != MessageStatus::Queued) {
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// Waits up to `within` for every acknowledged id to be handed to the carrier; those that
/// were not by then (lost).
pub async fn lost_after(
    store: &dyn seedgate_runtime::store::Store,
    ids: &[String],
    within: Duration,
) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + within;
    let mut left = ids.to_vec();
    loop {
        left = not_yet_sent(store, &left).await?;
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
