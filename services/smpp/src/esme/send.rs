//! Sending one outbound message: split, submit every part within the window, record the
//! carrier ids (durably, before the ack), and the policy for what the SMSC answers —
//! temporary errors tried `max_attempts` times with backoff, permanent ones nacked, a message
//! past its `expires_at` reported expired, a redelivery of a message already sent acked again.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use seedgate_proto::{Event, EventKind, Message, RoutingKey, TransportType};
use seedgate_runtime::bus::BusError;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{decode, ErrorCode, HandleError};

use super::Esme;
use crate::link::LinkError;
use crate::pdu::{Address, Pdu, Sm};
use crate::text::split::{split, Concat};
use crate::tlv::{tag, Tlvs};

impl Esme {
    /// A temporary failure of `msg`: tried again after a backoff that doubles with each try
    /// (100 ms up to 10 s), or, after `max_attempts`, failed for good with the last reason.
    async fn retry_or_give_up(
        &self,
        msg: &Message,
        code: ErrorCode,
        reason: String,
    ) -> Result<(), HandleError> {
        let tries = {
            let mut a = self
                .attempts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if a.len() > 100_000 {
                a.clear(); // bounded; a forgotten count starts again
            }
            let n = a.entry(msg.id).or_default();
            *n += 1;
            *n
        };
        if tries >= self.cfg.max_attempts.max(1) {
            self.forget_attempts(msg.id);
            metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "gave_up").increment(1);
            tracing::warn!(channel = %self.channel, id = %msg.id, tries, %reason, "giving up on a message");
            let reason = format!("gave up after {tries} tries: {reason}");
            self.publish_event(msg.id, EventKind::Nack { reason }).await?;
            return Ok(());
        }
        let pause =
            Duration::from_millis(100u64.saturating_mul(1 << tries.min(7))).min(Duration::from_secs(10));
        tokio::time::sleep(pause).await;
        Err(HandleError::new(code, reason))
    }

    fn forget_attempts(&self, id: uuid::Uuid) {
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    /// The ack of a message handed to the SMSC, named by the message: sent again after a
    /// redelivery, the store keeps the first.
    async fn publish_ack(&self, message_id: uuid::Uuid, carrier_id: Option<String>) -> Result<(), BusError> {
        let mut event = Event::new(self.channel.clone(), message_id, EventKind::Ack { carrier_id });
        let name = format!("{}:{message_id}:ack", self.channel);
        event.id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        self.bus
            .publish(&RoutingKey::Event(&self.channel).render(), &payload)
            .await
    }

    /// A receipt's event, named by (message, status): a duplicate receipt is the same event,
    /// which the store keeps once.
    pub(super) async fn publish_receipt(
        &self,
        message_id: uuid::Uuid,
        status: seedgate_proto::DeliveryStatus,
    ) -> Result<(), BusError> {
        let mut event = Event::new(
            self.channel.clone(),
            message_id,
            EventKind::DeliveryReport { status },
        );
        let name = format!("{}:{message_id}:{status:?}", self.channel);
        event.id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        self.bus
            .publish(&RoutingKey::Event(&self.channel).render(), &payload)
            .await
    }

    /// One outbound message: split, submit every part, then ack (or nack with the reason).
    pub(super) async fn send(&self, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        if let (Some(dialogs), TransportType::Ussd) = (&self.ussd, msg.transport) {
            return dialogs.reply(msg).await;
        }
        if self.sent.contains(msg.id) || self.correlator.sent(msg.id).await.map_err(store_trouble)? {
            self.sent.insert(msg.id);
            // Its ack may never have gone out (a crash or a bus error right after the submit):
            // again, under the same event id, so the store keeps one.
            self.publish_ack(msg.id, None).await?;
            tracing::info!(channel = %self.channel, id = %msg.id, "message already sent; dropping the redelivery");
            metrics::counter!("seedgate_connector_duplicates_dropped_total", "channel" => self.channel.clone()).increment(1);
            return Ok(());
        }
        if let Some(at) = msg.expires_at().filter(|at| *at <= chrono::Utc::now()) {
            self.forget_attempts(msg.id);
            metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "expired").increment(1);
            let reason = format!("expired at {at} before it could be sent");
            self.publish_event(msg.id, EventKind::Expired { reason }).await?;
            return Ok(());
        }
        let reference = self.next_ref.fetch_add(1, Ordering::Relaxed);
        let parts = match split(&msg.content, self.concat(), reference) {
            Ok(p) => p,
            Err(e) => {
                self.publish_event(
                    msg.id,
                    EventKind::Nack {
                        reason: e.to_string(),
                    },
                )
                .await?;
                return Ok(());
            }
        };
        let (link, bind_rate) = self
            .pool
            .pick(Duration::from_secs(5))
            .await
            .ok_or_else(|| HandleError::new(ErrorCode::Unavailable, "no bind to the SMSC is up"))?;
        let source = if msg.from.is_empty() {
            self.cfg.source_addr.clone()
        } else {
            msg.from.clone()
        };
        let mut carrier_ids = Vec::with_capacity(parts.len());
        // Each part is in flight from the moment it goes out until its carrier id is recorded:
        // a receipt that comes meanwhile waits.
        let mut submitting = Vec::with_capacity(parts.len());
        for part in parts {
            self.account_rate.take().await;
            bind_rate.take().await;
            let mut sm = Sm {
                source: Address::new(self.cfg.source_ton, self.cfg.source_npi, source.clone()),
                dest: Address::new(
                    self.cfg.dest_ton,
                    self.cfg.dest_npi,
                    msg.to.trim_start_matches('+'),
                ),
                esm_class: if part.udhi { 0x40 } else { 0 },
                registered_delivery: u8::from(self.cfg.registered_delivery),
                data_coding: part.data_coding,
                validity_period: msg.expires_at().map(relative_validity).unwrap_or_default(),
                ..Sm::default()
            };
            if self.concat() == Concat::Payload {
                sm.tlvs = Tlvs::default().with(tag::MESSAGE_PAYLOAD, part.octets);
            } else {
                sm.short_message = Bytes::from(part.octets);
                if let (Concat::Sar, Some((r, total, seq))) = (self.concat(), part.sar) {
                    sm.tlvs = Tlvs::default()
                        .with(tag::SAR_MSG_REF_NUM, r.to_be_bytes().to_vec())
                        .with(tag::SAR_TOTAL_SEGMENTS, vec![total])
                        .with(tag::SAR_SEGMENT_SEQNUM, vec![seq]);
                }
            }
            // The policy comes from the status's code: a retryable one requeues the message,
            // any other refuses it for good (a nack event).
            let (mark, answer) = link
                .request_noting(Pdu::SubmitSm(sm), || self.correlator.in_flight.start())
                .await;
            submitting.extend(mark);
            match answer {
                Ok(resp) => match ErrorCode::from_command_status(resp.status.0) {
                    None => {
                        let Pdu::SubmitSmResp(r) = resp.pdu else { continue };
                        carrier_ids.push(r.message_id);
                    }
                    Some(code) if code.retryable() => {
                        self.monitor.log(
                            &self.channel,
                            "out",
                            format!("submit_sm to={} -> {} (retried)", Masked(&msg.to), resp.status),
                        );
                        if code == ErrorCode::RateLimited {
                            self.pool.cool_down(&link, Duration::from_secs(1));
                            metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "throttled").increment(1);
                            return Err(HandleError::new(code, format!("SMSC answered {}", resp.status)));
                        }
                        metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "retry").increment(1);
                        return self
                            .retry_or_give_up(&msg, code, format!("SMSC answered {}", resp.status))
                            .await;
                    }
                    Some(_) => {
                        metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "rejected").increment(1);
                        tracing::warn!(channel = %self.channel, to = %Masked(&msg.to), status = %resp.status, "SMSC refused a message");
                        self.monitor.log(
                            &self.channel,
                            "out",
                            format!("submit_sm to={} -> {} (refused)", Masked(&msg.to), resp.status),
                        );
                        self.publish_event(
                            msg.id,
                            EventKind::Nack {
                                reason: format!("SMSC refused: {}", resp.status),
                            },
                        )
                        .await?;
                        return Ok(());
                    }
                },
                Err(LinkError::Timeout(t)) => {
                    // Sent, never answered: the retry may be a duplicate at the carrier.
                    metrics::counter!("seedgate_smpp_esme_unanswered_submits_total", "channel" => self.channel.clone()).increment(1);
                    return self
                        .retry_or_give_up(
                            &msg,
                            ErrorCode::Unavailable,
                            format!("no submit_sm_resp within {t:?}"),
                        )
                        .await;
                }
                Err(LinkError::Closed(why)) => {
                    metrics::counter!("seedgate_smpp_esme_unanswered_submits_total", "channel" => self.channel.clone()).increment(1);
                    return self
                        .retry_or_give_up(
                            &msg,
                            ErrorCode::Unavailable,
                            format!("bind lost mid-submit: {why}"),
                        )
                        .await;
                }
            }
        }
        // The SMSC has the message. Its carrier ids are recorded (durably) and its ack event
        // published at once, so both go in one group of the store's writer rather than two one
        // after the other; a receipt that comes meanwhile waits for the record (`submitting`).
        // A crash before the record commits sends the message again on redelivery, as one
        // between the SMSC's response and the record always did. While the store cannot take
        // the record (a full disk), keep trying the record — not the send, which would be a
        // duplicate — and send nothing else meanwhile.
        self.sent.insert(msg.id);
        let carrier_id = Some(carrier_ids.join(",")).filter(|s| !s.is_empty());
        let record = async {
            let mut pause = Duration::from_millis(100);
            let held = loop {
                match self.correlator.record(&carrier_ids, msg.id).await {
                    Ok(held) => break held,
                    Err(e) => {
                        tracing::warn!(channel = %self.channel, id = %msg.id, error = %e, "cannot record a carrier id yet; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            };
            drop(submitting);
            held
        };
        let (held, acked) = tokio::join!(record, self.publish_ack(msg.id, carrier_id.clone()));
        self.monitor.log(
            &self.channel,
            "out",
            format!(
                "submit_sm to={} parts={} -> ESME_ROK {}",
                Masked(&msg.to),
                carrier_ids.len(),
                carrier_id.as_deref().unwrap_or("-")
            ),
        );
        self.sent.insert(msg.id);
        self.forget_attempts(msg.id);
        acked?;
        for early in held {
            self.publish_receipt(msg.id, early.status).await?;
        }
        metrics::counter!("seedgate_smpp_esme_submits_total", "channel" => self.channel.clone(), "outcome" => "accepted").increment(1);
        Ok(())
    }
}

/// `validity_period` in SMPP's relative form (`YYMMDDhhmmss000R`) for the time left until `at`.
fn relative_validity(at: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (at - chrono::Utc::now()).num_seconds().clamp(60, 99 * 86_400);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!("0000{d:02}{h:02}{m:02}{s:02}000R")
}

/// The store is away or refused: try again later (the delivery is requeued, or the SMSC is
/// answered with a temporary error).
pub(super) fn store_trouble(e: seedgate_runtime::store::StoreError) -> HandleError {
    HandleError::new(ErrorCode::StoreUnavailable, e.to_string())
}
