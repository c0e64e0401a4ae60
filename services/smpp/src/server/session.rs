//! One partner connection: bind, then submits and unbind.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::ErrorCode;
use seedgate_proto::{Direction, Message, RoutingKey, TransportType};
use seedgate_runtime::telemetry::Masked;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::auth::{Account, Refusal};
use super::receipts::Submitted;
use super::Server;
use crate::link::{Incoming, Link};
use crate::pdu::{Bind, BindResp, Frame, Pdu, Sm, SmResp};
use crate::status::CommandStatus;
use crate::text;
use crate::tlv::{tag, Tlvs};

/// Pause before answering a refused bind: slows password guessing to a crawl.
const REFUSAL_PAUSE: Duration = Duration::from_secs(1);
/// How long a connection made while the server drains may take to send its bind (which is
/// then refused with `ESME_RBINDFAIL`).
const DRAIN_BIND_WAIT: Duration = Duration::from_secs(2);
/// Submits of one bind handled at once.
const SUBMITS_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Transmitter,
    Receiver,
    Transceiver,
}

pub(super) async fn serve<IO>(server: Arc<Server>, stream: IO, peer: SocketAddr, shutdown: CancellationToken)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (link, mut incoming) = Link::spawn(stream, server.link_config(10));
    let Some((account, mode, bind_id)) = await_bind(&server, &link, &mut incoming, peer, &shutdown).await
    else {
        link.close();
        return;
    };
    let system_id = account.cfg.system_id.clone();
    link.set_window(account.cfg.window);
    tracing::info!(account = %system_id, ?mode, %peer, "SMPP bind");
    let submits = Arc::new(Semaphore::new(SUBMITS_IN_FLIGHT));
    loop {
        let frame = tokio::select! {
            f = incoming.requests.recv() => match f { Some(f) => f, None => break },
            () = shutdown.cancelled() => {
                // Draining: ask the peer to unbind, then close.
                let _ = tokio::time::timeout(Duration::from_secs(2), link.request(Pdu::Unbind)).await;
                break;
            }
        };
        match frame.pdu {
            Pdu::SubmitSm(sm) if mode != Mode::Receiver => {
                let Ok(permit) = submits.clone().acquire_owned().await else {
                    break;
                };
                let (server, account, link) = (server.clone(), account.clone(), link.clone());
                tokio::spawn(async move {
                    let resp = match server.ussd.get(&account.cfg.system_id) {
                        Some(dialogs) if crate::ussd::is_ussd(&sm) => {
                            ussd_submit(dialogs, &link, frame.sequence, &sm).await
                        }
                        _ => submit(&server, &account, frame.sequence, sm).await,
                    };
                    let _ = link.respond(resp).await;
                    drop(permit);
                });
            }
            Pdu::Unbind => {
                let _ = link
                    .respond(Frame::response(
                        frame.sequence,
                        CommandStatus::ESME_ROK,
                        Pdu::UnbindResp,
                    ))
                    .await;
                break;
            }
            Pdu::BindTransmitter(_) | Pdu::BindReceiver(_) | Pdu::BindTransceiver(_) => {
                let _ = link.respond(refuse(&frame, CommandStatus::ESME_RALYBND)).await;
            }
            Pdu::SubmitSm(_) => {
                let _ = link.respond(refuse(&frame, CommandStatus::ESME_RINVBNDSTS)).await;
            }
            _ => {
                let _ = link.respond(refuse(&frame, unsupported_status(&frame.pdu))).await;
            }
        }
    }
    // Let the writer flush what is queued (unbind_resp, last submit_sm_resp) before closing.
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        submits.acquire_many(SUBMITS_IN_FLIGHT as u32),
    )
    .await;
    server.deregister(&system_id, bind_id);
    link.close();
    // A peer that stopped reading cannot hold the line (or a drain) open.
    let why = tokio::time::timeout(Duration::from_secs(2), incoming.closed)
        .await
        .ok()
        .and_then(Result::ok);
    tracing::info!(account = %system_id, ?why, "SMPP unbind");
}

/// Waits for a good bind; answers everything else with `ESME_RINVBNDSTS`.
async fn await_bind(
    server: &Server,
    link: &Link,
    incoming: &mut Incoming,
    peer: SocketAddr,
    shutdown: &CancellationToken,
) -> Option<(Arc<Account>, Mode, u64)> {
    let mut deadline =
        tokio::time::Instant::now() + Duration::from_secs(server.config.smpp_server.unbound_timeout_secs);
    let draining = || shutdown.is_cancelled() || server.draining.is_cancelled();
    loop {
        if draining() {
            // Draining: a bind on its way still gets its answer (refused), then the line closes.
            deadline = deadline.min(tokio::time::Instant::now() + DRAIN_BIND_WAIT);
        }
        let next = tokio::select! {
            f = tokio::time::timeout_at(deadline, incoming.requests.recv()) => f,
            () = shutdown.cancelled(), if !shutdown.is_cancelled() => continue,
            () = server.draining.cancelled(), if !server.draining.is_cancelled() => continue,
        };
        let frame = match next {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(_) => {
                tracing::info!(%peer, "closing a connection that did not bind in time");
                return None;
            }
        };
        let (bind, mode): (&Bind, Mode) = match &frame.pdu {
            Pdu::BindTransmitter(b) => (b, Mode::Transmitter),
            Pdu::BindReceiver(b) => (b, Mode::Receiver),
            Pdu::BindTransceiver(b) => (b, Mode::Transceiver),
            Pdu::Unbind => {
                let _ = link
                    .respond(Frame::response(
                        frame.sequence,
                        CommandStatus::ESME_ROK,
                        Pdu::UnbindResp,
                    ))
                    .await;
                return None;
            }
            _ => {
                let _ = link.respond(refuse(&frame, CommandStatus::ESME_RINVBNDSTS)).await;
                continue;
            }
        };
        if draining() {
            metrics::counter!("seedgate_smpp_server_bind_refused_total", "reason" => "draining").increment(1);
            tracing::info!(system_id = %bind.system_id, %peer, "SMPP bind refused: the server is shutting down");
            let pdu = bind_resp(mode, BindResp::default());
            let _ = link
                .respond(Frame::response(
                    frame.sequence,
                    CommandStatus::ESME_RBINDFAIL,
                    pdu,
                ))
                .await;
            return None;
        }
        let outcome = match server
            .accounts
            .check(&bind.system_id, &bind.password, peer.ip())
            .await
        {
            Ok(account) => match server.register(&account, link, mode != Mode::Transmitter) {
                Some(id) => Ok((account, id)),
                None => Err(Refusal::TooManyBinds),
            },
            Err(r) => Err(r),
        };
        match outcome {
            Ok((account, id)) => {
                let resp = BindResp {
                    system_id: "seedgate".into(),
                    tlvs: Tlvs::default().with(tag::SC_INTERFACE_VERSION, vec![0x34u8]),
                };
                let pdu = bind_resp(mode, resp);
                let _ = link
                    .respond(Frame::response(frame.sequence, CommandStatus::ESME_ROK, pdu))
                    .await;
                return Some((account, mode, id));
            }
            Err(refusal) => {
                metrics::counter!("seedgate_smpp_server_bind_refused_total", "reason" => refusal.reason())
                    .increment(1);
                tracing::warn!(system_id = %bind.system_id, %peer, reason = refusal.reason(), "SMPP bind refused");
                tokio::time::sleep(REFUSAL_PAUSE).await;
                let pdu = bind_resp(mode, BindResp::default());
                let _ = link
                    .respond(Frame::response(frame.sequence, refusal.status(), pdu))
                    .await;
                return None;
            }
        }
    }
}

fn bind_resp(mode: Mode, resp: BindResp) -> Pdu {
    match mode {
        Mode::Transmitter => Pdu::BindTransmitterResp(resp),
        Mode::Receiver => Pdu::BindReceiverResp(resp),
        Mode::Transceiver => Pdu::BindTransceiverResp(resp),
    }
}

/// The request's response with `status` (via the decoder's table of responses).
fn refuse(frame: &Frame, status: CommandStatus) -> Frame {
    crate::pdu::DecodeError {
        command_id: frame.pdu.command_id(),
        sequence: frame.sequence,
        status,
        reason: String::new(),
    }
    .response()
    .unwrap_or_else(|| Frame::response(frame.sequence, status, Pdu::GenericNack))
}

fn unsupported_status(pdu: &Pdu) -> CommandStatus {
    match pdu {
        Pdu::QuerySm(_) => CommandStatus::ESME_RQUERYFAIL,
        Pdu::CancelSm(_) => CommandStatus::ESME_RCANCELFAIL,
        Pdu::ReplaceSm(_) => CommandStatus::ESME_RREPLACEFAIL,
        Pdu::SubmitMulti(_) => CommandStatus::ESME_RSUBMITFAIL,
        _ => CommandStatus::ESME_RINVCMDID,
    }
}

/// One submit_sm: throttle, decode, publish durably, answer.
async fn submit(server: &Server, account: &Account, sequence: u32, sm: Sm) -> Frame {
    let answer = |status: CommandStatus, id: String| {
        Frame::response(sequence, status, Pdu::SubmitSmResp(SmResp::new(id)))
    };
    if !account.take_submit() {
        metrics::counter!("seedgate_smpp_server_submits_total", "outcome" => "throttled").increment(1);
        return answer(CommandStatus::ESME_RTHROTTLED, String::new());
    }
    if sm.dest.addr.trim().is_empty() {
        return answer(CommandStatus::ESME_RINVDSTADR, String::new());
    }
    let expires = match crate::time::parse(&sm.validity_period, chrono::Utc::now()) {
        Ok(at) => at,
        Err(_) => return answer(CommandStatus::ESME_RINVEXPIRY, String::new()),
    };
    let udhi = sm.esm_class & 0x40 != 0;
    let (concat, body) = text::split::parse_udh(udhi, sm.payload());
    let route = account.cfg.route.clone();
    let mut msg = Message::inbound(
        route.clone(),
        TransportType::Sms,
        sm.source.addr.clone(),
        sm.dest.addr.clone(),
        text::decode(sm.data_coding, body),
    );
    msg.direction = Direction::Outbound;
    msg.metadata
        .insert("smpp_account".into(), account.cfg.system_id.clone().into());
    msg.metadata.insert("data_coding".into(), sm.data_coding.into());
    if let Some(at) = expires {
        msg.set_expires_at(at);
    }
    msg.metadata
        .insert("registered_delivery".into(), sm.registered_delivery.into());
    // The addresses' TON/NPI, for a receipt addressed from the stored message.
    msg.metadata.insert(
        "smpp_addr".into(),
        serde_json::json!([sm.source.ton, sm.source.npi, sm.dest.ton, sm.dest.npi]),
    );
    let parts = concat
        .map(|c| (c.reference, c.total, c.seq))
        .or_else(|| sm.tlvs.sar());
    if let Some((reference, total, seq)) = parts {
        msg.metadata.insert(
            "concat".into(),
            serde_json::json!({"ref": reference, "total": total, "seq": seq}),
        );
    }
    let Ok(payload) = serde_json::to_vec(&msg) else {
        return answer(CommandStatus::of(ErrorCode::Internal), String::new());
    };
    match server
        .bus
        .publish(&RoutingKey::Outbound(&route).render(), &payload)
        .await
    {
        Ok(()) => {
            let wants_receipt = sm.registered_delivery & 0x03 != 0;
            server.remember(msg.id, wants_receipt.then(|| Submitted::new(account, &sm, &msg)));
            metrics::counter!("seedgate_smpp_server_submits_total", "outcome" => "accepted").increment(1);
            tracing::debug!(account = %account.cfg.system_id, to = %Masked(&msg.to), id = %msg.id, "submit accepted");
            answer(CommandStatus::ESME_ROK, msg.id.to_string())
        }
        Err(e) => {
            // `queue_full` → ESME_RMSGQFUL, any other bus trouble → ESME_RSYSERR.
            let status = CommandStatus::of(e.code());
            metrics::counter!("seedgate_smpp_server_submits_total", "outcome" => "bus_error").increment(1);
            tracing::warn!(account = %account.cfg.system_id, error = %e, "submit not durable; answered with a temporary error");
            answer(status, String::new())
        }
    }
}

/// A USSD gateway's submit: one message of a dialog, answered once it is durable on the bus.
async fn ussd_submit(dialogs: &Arc<crate::dialogs::Dialogs>, link: &Link, sequence: u32, sm: &Sm) -> Frame {
    match dialogs.inbound(sm, link).await {
        Ok(()) => Frame::response(
            sequence,
            CommandStatus::ESME_ROK,
            Pdu::SubmitSmResp(SmResp::new(uuid::Uuid::now_v7().to_string())),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "USSD submit not durable; answered with a temporary error");
            Frame::response(
                sequence,
                CommandStatus::ESME_RSYSERR,
                Pdu::SubmitSmResp(SmResp::default()),
            )
        }
    }
}
