//! USSD dialogs over SMPP binds, for both sides: the ESME connector (a carrier's USSD gateway
//! is our SMSC; replies go as `submit_sm`) and the SMPP server (the gateway binds to us;
//! replies go as `deliver_sm`).
//!
//! Network messages become session messages on `<channel>.inbound`; each reply goes back on the
//! bind its dialog came in on, with the profile's `ussd_service_op` and `its_session_info`
//! echoed. Every hop is answered within the channel's hop deadline: a late hop gets the
//! fallback text as an ending reply and the session engine a `close` (`hop_deadline`); a reply
//! after that is nacked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use seedgate_proto::{
    Event, EventKind, Message, RoutingKey, SessionEndReason, SessionEvent, SessionInfo, TransportType,
};
use seedgate_runtime::bus::Bus;
use seedgate_runtime::worker::{encode, ErrorCode, HandleError};
use tokio::time::Instant;

use crate::link::Link;
use crate::pdu::{Address, Pdu, Sm, SHORT_MESSAGE_MAX};
use crate::text::{data_coding, gsm7, split::coding_for, ucs2};
use crate::tlv::tag;
use crate::ussd::Profile;

/// Which PDU carries our replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyWith {
    /// We are the ESME: `submit_sm`.
    SubmitSm,
    /// We are the SMSC side (the gateway bound to us): `deliver_sm`.
    DeliverSm,
}

/// An open dialog: where to answer and whether an answer is owed.
#[derive(Debug, Clone)]
struct Dialog {
    link: Link,
    msisdn: String,
    /// The address the network used for the service; our replies come from it.
    service: String,
    session_number: Option<u8>,
    hop: u64,
    awaiting: bool,
    opened: Instant,
}

/// The open USSD dialogs of one channel.
#[derive(Debug)]
pub struct Dialogs {
    channel: String,
    profile: &'static Profile,
    reply_with: ReplyWith,
    hop_deadline: Duration,
    fallback_text: String,
    bus: Arc<dyn Bus>,
    open: Mutex<HashMap<String, Dialog>>,
}

impl Dialogs {
    pub fn new(
        channel: &str,
        profile: &'static Profile,
        reply_with: ReplyWith,
        hop_deadline: Duration,
        fallback_text: &str,
        bus: Arc<dyn Bus>,
    ) -> Arc<Self> {
        Arc::new(Self {
            channel: channel.to_string(),
            profile,
            reply_with,
            hop_deadline,
            fallback_text: fallback_text.to_string(),
            bus,
            open: Mutex::default(),
        })
    }

    /// The channel the dialogs belong to.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Dialog>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A USSD message from the network (or the gateway) on `link`: published durably before
    /// returning `Ok`, so the caller may answer `ESME_ROK`.
    pub async fn inbound(self: &Arc<Self>, sm: &Sm, link: &Link) -> Result<(), HandleError> {
        let text = crate::text::decode(sm.data_coding, sm.payload());
        let probe = self.profile.classify(sm, &text, false);
        let known = self
            .open()
            .contains_key(&format!("{}:{}", self.channel, probe.dialog));
        let inbound = if known {
            self.profile.classify(sm, &text, true)
        } else {
            probe
        };
        let session_id = format!("{}:{}", self.channel, inbound.dialog);
        let msisdn = sm.source.addr.clone();
        let hop = {
            let mut open = self.open();
            // Forget dialogs long past any budget (the network has closed them).
            open.retain(|_, d| d.opened.elapsed() < Duration::from_secs(600));
            match inbound.event {
                SessionEvent::Close => {
                    open.remove(&session_id);
                    0
                }
                event => {
                    let d = open.entry(session_id.clone()).or_insert_with(|| Dialog {
                        link: link.clone(),
                        msisdn: msisdn.clone(),
                        service: sm.dest.addr.clone(),
                        session_number: inbound.session_number,
                        hop: 0,
                        awaiting: false,
                        opened: Instant::now(),
                    });
                    if event == SessionEvent::New {
                        d.opened = Instant::now();
                    }
                    d.link = link.clone();
                    d.hop += 1;
                    d.awaiting = true;
                    d.hop
                }
            }
        };
        let to = inbound.dialled.clone().unwrap_or_else(|| sm.dest.addr.clone());
        let mut msg = Message::inbound(
            self.channel.clone(),
            TransportType::Ussd,
            msisdn,
            to,
            inbound.input.clone(),
        );
        msg.session = Some(SessionInfo {
            id: session_id.clone(),
            event: inbound.event,
        });
        if let Some(code) = &inbound.dialled {
            msg.metadata.insert("service_code".into(), code.clone().into());
        }
        if inbound.event == SessionEvent::Close {
            msg.close_reason = Some(SessionEndReason::UserAbort);
        }
        let payload = encode(&msg)?;
        self.bus
            .publish(&RoutingKey::Inbound(&self.channel).render(), &payload)
            .await?;
        if hop > 0 {
            tokio::spawn(self.clone().watch_hop(session_id, hop, msg));
        }
        Ok(())
    }

    /// After the hop deadline, if hop `hop` of the dialog is still unanswered: the fallback.
    async fn watch_hop(self: Arc<Self>, session_id: String, hop: u64, msg: Message) {
        tokio::time::sleep(self.hop_deadline).await;
        let late = {
            let mut open = self.open();
            match open.get(&session_id) {
                Some(d) if d.hop == hop && d.awaiting => open.remove(&session_id),
                _ => None,
            }
        };
        let Some(dialog) = late else { return };
        metrics::counter!("seedgate_smpp_ussd_fallbacks_total", "channel" => self.channel.clone())
            .increment(1);
        if let Err(e) = dialog
            .link
            .request(self.reply_pdu(&dialog, &self.fallback_text, true))
            .await
        {
            tracing::warn!(channel = %self.channel, error = %e, "could not send the USSD fallback");
        }
        let mut close = msg;
        close.id = uuid::Uuid::now_v7();
        close.content.clear();
        close.session = Some(SessionInfo {
            id: session_id,
            event: SessionEvent::Close,
        });
        close.close_reason = Some(SessionEndReason::HopDeadline);
        if let Ok(payload) = serde_json::to_vec(&close) {
            let _ = self
                .bus
                .publish(&RoutingKey::Inbound(&self.channel).render(), &payload)
                .await;
        }
    }

    /// A reply from the session engine: on the dialog's bind, then an ack or nack event.
    pub async fn reply(&self, msg: Message) -> Result<(), HandleError> {
        let Some(session) = msg.session.clone() else {
            return Err(HandleError::new(
                ErrorCode::BadRequest,
                "a USSD reply without a session",
            ));
        };
        let ends = session.event == SessionEvent::Close;
        let dialog = {
            let mut open = self.open();
            match open.get_mut(&session.id) {
                Some(d) if d.awaiting => {
                    d.awaiting = false;
                    let d = d.clone();
                    if ends {
                        open.remove(&session.id);
                    }
                    Some(d)
                }
                _ => None,
            }
        };
        let kind = match dialog {
            None => EventKind::Nack {
                reason: "no USSD dialog is waiting for this reply (hop deadline passed, or the dialog ended)"
                    .into(),
            },
            Some(dialog) => match dialog
                .link
                .request(self.reply_pdu(&dialog, &msg.content, ends))
                .await
            {
                Ok(resp) if resp.status.is_ok() => EventKind::Ack { carrier_id: None },
                Ok(resp) => EventKind::Nack {
                    reason: format!("gateway answered {}", resp.status),
                },
                Err(e) => EventKind::Nack {
                    reason: format!("the dialog's bind failed: {e}"),
                },
            },
        };
        let event = Event::new(self.channel.clone(), msg.id, kind);
        self.bus
            .publish(&RoutingKey::Event(&self.channel).render(), &encode(&event)?)
            .await?;
        Ok(())
    }

    /// The PDU that answers a dialog.
    fn reply_pdu(&self, dialog: &Dialog, text: &str, ends: bool) -> Pdu {
        let coding = coding_for(text);
        let octets = if coding == data_coding::UCS2 {
            ucs2::encode(text)
        } else {
            gsm7::encode(text).unwrap_or_default()
        };
        let mut tlvs = self.profile.reply_tlvs(ends, dialog.session_number);
        let short_message = if octets.len() > SHORT_MESSAGE_MAX {
            tlvs.set(tag::MESSAGE_PAYLOAD, octets);
            Bytes::new()
        } else {
            Bytes::from(octets)
        };
        let sm = Sm {
            service_type: "USSD".into(),
            source: Address::new(0, 1, dialog.service.clone()),
            dest: Address::new(1, 1, dialog.msisdn.trim_start_matches('+')),
            data_coding: coding,
            short_message,
            tlvs,
            ..Sm::default()
        };
        match self.reply_with {
            ReplyWith::SubmitSm => Pdu::SubmitSm(sm),
            ReplyWith::DeliverSm => Pdu::DeliverSm(sm),
        }
    }
}
