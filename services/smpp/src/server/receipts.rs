//! Delivery reports → `deliver_sm` receipts to the partner that submitted the message.
//!
//! The receipt carries the `receipted_message_id` and `message_state` TLVs and the customary
//! `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` text.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use seedgate_proto::{DeliveryStatus, Event, EventKind, Message};
use seedgate_runtime::bus::BusError;
use seedgate_runtime::worker::{decode, ErrorCode, HandleError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::auth::Account;
use super::Server;
use crate::pdu::{Address, Pdu, Sm};
use crate::tlv::{tag, Tlvs};
use seedgate_runtime::topology::SMPP_SERVER_EVENTS_QUEUE as EVENTS_QUEUE;

/// Who submitted a message, to address its receipt.
#[derive(Debug, Clone)]
pub(crate) struct Submitted {
    account: String,
    /// The partner's source address: the receipt goes to it.
    source: Address,
    /// The phone: the receipt comes from it.
    dest: Address,
    submitted_at: DateTime<Utc>,
    text_start: String,
}

/// Most messages awaiting a receipt that the server remembers.
const MAX_REMEMBERED: usize = 1_000_000;

impl Submitted {
    pub(crate) fn new(account: &Account, sm: &Sm, msg: &Message) -> Self {
        Self {
            account: account.cfg.system_id.clone(),
            source: sm.source.clone(),
            dest: sm.dest.clone(),
            submitted_at: msg.created_at,
            text_start: msg.content.chars().take(20).collect(),
        }
    }
}

impl Server {
    pub(crate) fn remember(&self, id: Uuid, who: Submitted) {
        let mut map = self
            .submitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_REMEMBERED {
            // Forget the oldest (UUIDv7 ids sort by time).
            if let Some(oldest) = map.keys().min().copied() {
                map.remove(&oldest);
            }
        }
        map.insert(id, who);
    }

    fn recall(&self, id: &Uuid) -> Option<Submitted> {
        self.submitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn forget(&self, id: &Uuid) {
        self.submitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }

    async fn on_event(&self, payload: &[u8]) -> Result<(), HandleError> {
        let event: Event = decode(payload)?;
        let EventKind::DeliveryReport { status } = event.kind else {
            return Ok(());
        };
        let Some(who) = self.recall(&event.message_id) else {
            return Ok(());
        };
        let Some(link) = self.receiver(&who.account) else {
            return Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("no receiving bind for account {}", who.account),
            ));
        };
        let receipt = receipt(&event.message_id, status, &who, event.created_at);
        match link.request(Pdu::DeliverSm(receipt)).await {
            Ok(resp) if resp.status.is_ok() => {
                self.forget(&event.message_id);
                metrics::counter!("seedgate_smpp_server_receipts_total", "outcome" => "delivered")
                    .increment(1);
                Ok(())
            }
            Ok(resp) => Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("partner answered the receipt with {}", resp.status),
            )),
            Err(e) => Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("receipt not answered: {e}"),
            )),
        }
    }
}

/// The deliver_sm receipt for `id`.
fn receipt(id: &Uuid, status: DeliveryStatus, who: &Submitted, done: DateTime<Utc>) -> Sm {
    let (stat, state, dlvrd) = match status {
        DeliveryStatus::Delivered => ("DELIVRD", 2u8, 1),
        DeliveryStatus::Failed => ("UNDELIV", 5, 0),
        DeliveryStatus::Expired => ("EXPIRED", 3, 0),
        DeliveryStatus::Pending => ("ENROUTE", 1, 0),
    };
    let text = format!(
        "id:{id} sub:001 dlvrd:{dlvrd:03} submit date:{} done date:{} stat:{stat} err:000 text:{}",
        who.submitted_at.format("%y%m%d%H%M"),
        done.format("%y%m%d%H%M"),
        who.text_start
    );
    Sm {
        source: who.dest.clone(),
        dest: who.source.clone(),
        esm_class: 0x04,
        short_message: Bytes::from(text.into_bytes()),
        tlvs: Tlvs::default()
            .with(tag::RECEIPTED_MESSAGE_ID, Tlvs::cstr_value(&id.to_string()))
            .with(tag::MESSAGE_STATE, vec![state]),
        ..Sm::default()
    }
}

pub(super) async fn run(server: Arc<Server>, shutdown: CancellationToken) -> Result<(), BusError> {
    let handler = {
        let server = server.clone();
        move |_key: String, payload: Vec<u8>| {
            let server = server.clone();
            async move { server.on_event(&payload).await }
        }
    };
    seedgate_runtime::worker::consume(
        "smpp-server",
        server.bus.clone(),
        EVENTS_QUEUE,
        server.config.bus.prefetch,
        shutdown,
        handler,
    )
    .await
}
