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

/// How long a receipt owed to a partner waits for one of its receiving binds.
const RECEIPT_KEPT: chrono::Duration = chrono::Duration::days(3);

/// Most partner submits awaiting their receipt event that the server remembers (a few
/// hundred bytes each, so at most a few tens of MB); past it the older half is forgotten and
/// their receipts read the stored message instead.
const MAX_REMEMBERED: usize = 100_000;

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

impl Submitted {
    /// From a message a partner submitted (its metadata names the account), if it asked for a
    /// receipt.
    fn from_stored(msg: &Message) -> Option<Self> {
        let account = msg.metadata.get("smpp_account")?.as_str()?.to_string();
        let wants = msg
            .metadata
            .get("registered_delivery")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if wants & 0x03 == 0 {
            return None;
        }
        let addr: Vec<u8> = msg
            .metadata
            .get("smpp_addr")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| vec![0; 4]);
        let at = |i: usize| addr.get(i).copied().unwrap_or(0);
        Some(Self {
            account,
            // Numbers are stored as E.164; an SMPP address carries no `+` (its TON says so).
            source: Address::new(at(0), at(1), msg.from.trim_start_matches('+')),
            dest: Address::new(at(2), at(3), msg.to.trim_start_matches('+')),
            submitted_at: msg.created_at,
            text_start: msg.content.chars().take(20).collect(),
        })
    }
}

impl Server {
    /// Remembers who submitted `id` (`None`: a submit that asked for no receipt), so its
    /// receipt event needs no store read.
    pub(crate) fn remember(&self, id: Uuid, who: Option<Submitted>) {
        let mut map = self
            .submitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_REMEMBERED {
            // Forget the older half (UUIDv7 ids sort by time): their receipts read the store.
            let mut ids: Vec<Uuid> = map.keys().copied().collect();
            let half = ids.len() / 2;
            let (_, median, _) = ids.select_nth_unstable(half);
            let median = *median;
            map.retain(|id, _| *id >= median);
        }
        map.insert(id, who);
    }

    /// Who submitted `id` and wants its receipt: remembered, or read from the stored message.
    async fn recall(&self, event: &Event) -> Result<Option<Submitted>, HandleError> {
        let id = &event.message_id;
        let known = self
            .submitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(known) = known {
            return Ok(known);
        }
        let Some(store) = &self.store else { return Ok(None) };
        let stored = store
            .message(*id)
            .await
            .map_err(|e| HandleError::new(ErrorCode::StoreUnavailable, e.to_string()))?;
        match stored {
            Some(msg) => Ok(Submitted::from_stored(&msg)),
            // Not written yet (the store lags the carrier by a batch): try again for a while.
            None if Utc::now() - event.created_at < chrono::Duration::seconds(120) => Err(HandleError::new(
                ErrorCode::StoreUnavailable,
                format!("message {id} of a receipt is not in the store yet"),
            )),
            None => Ok(None),
        }
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
        if !self.accounts.route_to(&event.channel) {
            // No partner submits to this channel: no store read for its receipts.
            return Ok(());
        }
        if Utc::now() - event.created_at > RECEIPT_KEPT {
            // A partner that has not bound a receiver for days will not: stop retrying.
            tracing::warn!(id = %event.message_id, "a receipt owed to a partner for over 3 days is dropped");
            metrics::counter!("seedgate_smpp_server_receipts_total", "outcome" => "expired").increment(1);
            return Ok(());
        }
        let Some(who) = self.recall(&event).await? else {
            self.forget(&event.message_id);
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
