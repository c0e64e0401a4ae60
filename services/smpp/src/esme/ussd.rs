//! USSD dialogs over an ESME bind: network messages → sessions, replies → the same bind, and
//! the hop deadline (the user gets the fallback text when the reply is late).

use std::time::Duration;

use bytes::Bytes;
use seedgate_proto::{EventKind, Message, RoutingKey, SessionEvent, SessionInfo, TransportType};
use seedgate_runtime::worker::{encode, HandleError};
use tokio::time::Instant;

use super::Esme;
use crate::link::Link;
use crate::pdu::{Address, Pdu, Sm};
use crate::text::{data_coding, gsm7, split::coding_for, ucs2};
use crate::tlv::tag;
use crate::ussd::Profile;

/// An open dialog: where to answer and whether an answer is owed.
#[derive(Debug, Clone)]
pub(super) struct Dialog {
    link: Link,
    msisdn: String,
    /// The address the network used for the service; our replies come from it.
    service: String,
    session_number: Option<u8>,
    hop: u64,
    awaiting: bool,
    opened: Instant,
}

impl Esme {
    fn dialogs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Dialog>> {
        self.dialogs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A USSD deliver_sm from the network.
    pub(super) async fn on_ussd(&self, profile: &'static Profile, sm: Sm, link: &Link) -> Result<(), String> {
        let text = crate::text::decode(sm.data_coding, sm.payload());
        let known = |dialog: &str| self.dialogs().contains_key(&format!("{}:{dialog}", self.channel));
        let probe = profile.classify(&sm, &text, false);
        let inbound = if known(&probe.dialog) {
            profile.classify(&sm, &text, true)
        } else {
            probe
        };
        let session_id = format!("{}:{}", self.channel, inbound.dialog);
        let msisdn = sm.source.addr.clone();
        let hop = {
            let mut dialogs = self.dialogs();
            // Forget dialogs long past any budget (the network has closed them).
            dialogs.retain(|_, d| d.opened.elapsed() < Duration::from_secs(600));
            match inbound.event {
                SessionEvent::Close => {
                    dialogs.remove(&session_id);
                    0
                }
                event => {
                    let d = dialogs.entry(session_id.clone()).or_insert_with(|| Dialog {
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
            msg.metadata.insert("reason".into(), "user_abort".into());
        }
        let payload = encode(&msg).map_err(|e| e.to_string())?;
        self.bus
            .publish(&RoutingKey::Inbound(&self.channel).render(), &payload)
            .await
            .map_err(|e| e.to_string())?;
        if hop > 0 {
            self.watch_hop(profile, session_id, hop, msg);
        }
        Ok(())
    }

    /// After the hop deadline, if hop `hop` of the dialog is still unanswered: the fallback.
    fn watch_hop(&self, profile: &'static Profile, session_id: String, hop: u64, msg: Message) {
        let deadline = self.hop_deadline;
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            let late = {
                let mut dialogs = me.dialogs();
                match dialogs.get(&session_id) {
                    Some(d) if d.hop == hop && d.awaiting => dialogs.remove(&session_id),
                    _ => None,
                }
            };
            let Some(dialog) = late else { return };
            metrics::counter!("seedgate_smpp_esme_ussd_fallbacks_total", "channel" => me.channel.clone())
                .increment(1);
            let sm = reply_sm(profile, &dialog, &me.fallback_text, true);
            if let Err(e) = dialog.link.request(Pdu::SubmitSm(sm)).await {
                tracing::warn!(channel = %me.channel, error = %e, "could not send the USSD fallback");
            }
            let mut close = msg;
            close.id = uuid::Uuid::now_v7();
            close.content.clear();
            close.session = Some(SessionInfo {
                id: session_id,
                event: SessionEvent::Close,
            });
            close.metadata.insert("reason".into(), "hop_deadline".into());
            if let Ok(payload) = serde_json::to_vec(&close) {
                let _ = me
                    .bus
                    .publish(&RoutingKey::Inbound(&me.channel).render(), &payload)
                    .await;
            }
        });
    }

    /// A reply to a USSD dialog: on the bind the dialog came in on, with the profile's op.
    pub(super) async fn send_ussd_reply(
        &self,
        profile: &'static Profile,
        msg: Message,
    ) -> Result<(), HandleError> {
        let Some(session) = msg.session.clone() else {
            return Err(HandleError::Drop("a USSD reply without a session".into()));
        };
        let ends = session.event == SessionEvent::Close;
        let dialog = {
            let mut dialogs = self.dialogs();
            match dialogs.get_mut(&session.id) {
                Some(d) if d.awaiting => {
                    d.awaiting = false;
                    let d = d.clone();
                    if ends {
                        dialogs.remove(&session.id);
                    }
                    Some(d)
                }
                _ => None,
            }
        };
        let Some(dialog) = dialog else {
            let reason =
                "no USSD dialog is waiting for this reply (hop deadline passed, or the dialog ended)";
            self.publish_event(
                msg.id,
                EventKind::Nack {
                    reason: reason.into(),
                },
            )
            .await?;
            return Ok(());
        };
        let sm = reply_sm(profile, &dialog, &msg.content, ends);
        let kind = match dialog.link.request(Pdu::SubmitSm(sm)).await {
            Ok(resp) if resp.status.is_ok() => EventKind::Ack { carrier_id: None },
            Ok(resp) => EventKind::Nack {
                reason: format!("gateway answered {}", resp.status),
            },
            Err(e) => EventKind::Nack {
                reason: format!("the dialog's bind failed: {e}"),
            },
        };
        self.publish_event(msg.id, kind).await?;
        Ok(())
    }
}

/// The submit_sm that answers a dialog.
fn reply_sm(profile: &Profile, dialog: &Dialog, text: &str, ends: bool) -> Sm {
    let coding = coding_for(text);
    let octets = if coding == data_coding::UCS2 {
        ucs2::encode(text)
    } else {
        gsm7::encode(text).unwrap_or_default()
    };
    let mut tlvs = profile.reply_tlvs(ends, dialog.session_number);
    let short_message = if octets.len() > crate::pdu::SHORT_MESSAGE_MAX {
        tlvs.set(tag::MESSAGE_PAYLOAD, octets);
        Bytes::new()
    } else {
        Bytes::from(octets)
    };
    Sm {
        service_type: "USSD".into(),
        source: Address::new(0, 1, dialog.service.clone()),
        dest: Address::new(1, 1, dialog.msisdn.clone()),
        data_coding: coding,
        short_message,
        tlvs,
        ..Sm::default()
    }
}
