//! Delivery receipts → our message ids.
//!
//! Carriers give a message id in `submit_sm_resp` and echo it in the receipt, but not always in
//! the same form: hex in one and decimal in the other, upper or lower case, with or without
//! leading zeros. Every form of the id is recorded in the store (`Receipts`: a receipt that
//! comes on another bind, to another replica, after a restart or days later still finds its
//! message; concurrent submits share one commit), and a receipt looks itself up by its
//! normalised form.
//!
//! SMSCs reuse ids (many start again from 1 after a restart), so an id names the **newest**
//! submit of the channel that got it. A receipt may beat its own `submit_sm_resp` (some SMSCs
//! send it first): the receipt then waits until every submit that was in flight when it came
//! has its answer recorded ([`InFlight`]), so it is not matched to an older message with the
//! same id. A receipt no submit claims is held in the store (counted, listed) and given to the
//! submit that records its id later; a duplicate of a held receipt changes nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seedgate_runtime::group::GroupCommit;
use seedgate_runtime::store::{CarrierId, HeldReceipt, Store, StoreError};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::pdu::Sm;
use crate::tlv::Tlvs;

/// How long a correlation is kept (the store service purges older ones): receipts can come
/// days later.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most carrier ids recorded in one commit.
const GROUP_MAX: usize = 1_000;

/// Canonical form: trimmed, lower case, leading zeros dropped.
pub fn normalise(id: &str) -> String {
    let lower = id.trim().to_ascii_lowercase();
    let trimmed = lower.trim_start_matches('0');
    if trimmed.is_empty() && !lower.is_empty() {
        "0".into()
    } else {
        trimmed.to_string()
    }
}

/// Every form a carrier might echo `id` in: as given, and its hex↔decimal twin.
pub fn variants(id: &str) -> Vec<String> {
    let n = normalise(id);
    let mut out = vec![n.clone()];
    if n.len() <= 16 && n.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Ok(v) = u64::from_str_radix(&n, 16) {
            out.push(v.to_string());
        }
    }
    if n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = n.parse::<u64>() {
            out.push(format!("{v:x}"));
        }
    }
    out.dedup();
    out
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub carrier_id: String,
    pub status: seedgate_proto::DeliveryStatus,
}

/// Reads a receipt from a deliver_sm (TLVs first, then the customary text).
pub fn parse_receipt(sm: &Sm) -> Option<Receipt> {
    use seedgate_proto::DeliveryStatus as S;
    let text = crate::text::decode(sm.data_coding, sm.payload());
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name).map(str::to_string))
            .filter(|v| !v.is_empty())
    };
    let carrier_id = receipted_id(&sm.tlvs).or_else(|| field("id:"))?;
    let status = match sm.tlvs.message_state() {
        Some(2) => S::Delivered,
        Some(3) => S::Expired,
        Some(1 | 6) => S::Pending,
        Some(_) => S::Failed,
        None => match field("stat:").as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("DELIVRD" | "DELIVERED") => S::Delivered,
            Some("EXPIRED") => S::Expired,
            Some("ENROUTE" | "ACCEPTD" | "ACCEPTED") => S::Pending,
            _ => S::Failed,
        },
    };
    Some(Receipt { carrier_id, status })
}

fn receipted_id(tlvs: &Tlvs) -> Option<String> {
    tlvs.receipted_message_id().filter(|s| !s.is_empty())
}

/// The submits of a channel not yet answered (and recorded), so a receipt can wait for them.
#[derive(Debug, Default)]
pub struct InFlight {
    /// The next token, and the tokens of the submits in flight.
    state: Mutex<(u64, BTreeSet<u64>)>,
    settled: Notify,
}

/// A submit in flight: ends when dropped.
#[derive(Debug)]
pub struct Submitting<'a> {
    of: &'a InFlight,
    token: u64,
}

impl Drop for Submitting<'_> {
    fn drop(&mut self) {
        self.of.lock().1.remove(&self.token);
        self.of.settled.notify_waiters();
    }
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeSet<u64>)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A submit starts; hold the guard until its carrier id is recorded.
    pub fn start(&self) -> Submitting<'_> {
        let mut st = self.lock();
        let token = st.0;
        st.0 += 1;
        st.1.insert(token);
        Submitting { of: self, token }
    }

    /// Waits until every submit that started before this call has ended, at most `limit`.
    pub async fn settle(&self, limit: Duration) {
        let mark = self.lock().0;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().1.first().is_none_or(|&t| t >= mark) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

type Claimed = Vec<(Uuid, HeldReceipt)>;

/// Records and finds correlations for one channel.
#[derive(Debug)]
pub struct Correlator {
    channel: String,
    store: Arc<dyn Store>,
    writer: GroupCommit<CarrierId, Claimed>,
    pub in_flight: InFlight,
}

impl Correlator {
    pub fn new(channel: &str, store: Arc<dyn Store>) -> Self {
        let (name, s) = (channel.to_string(), store.clone());
        let writer = GroupCommit::spawn(GROUP_MAX, None, move |ids: Vec<CarrierId>| {
            let (name, s) = (name.clone(), s.clone());
            async move {
                let claimed = s.carrier_ids_put(&name, &ids).await?;
                Ok(ids
                    .iter()
                    .map(|c| {
                        claimed
                            .iter()
                            .filter(|(id, _)| *id == c.message_id)
                            .cloned()
                            .collect()
                    })
                    .collect())
            }
        });
        Self {
            channel: channel.to_string(),
            store,
            writer,
            in_flight: InFlight::default(),
        }
    }

    /// Records that the carrier calls our message `ours` by `carrier_ids` (one per part).
    /// Returns the receipts that were held for those ids.
    pub async fn record(&self, carrier_ids: &[String], ours: Uuid) -> Result<Vec<Receipt>, StoreError> {
        let forms: Vec<String> = carrier_ids.iter().flat_map(|id| variants(id)).collect();
        if forms.is_empty() {
            return Ok(Vec::new());
        }
        let claimed = self
            .writer
            .submit(CarrierId {
                message_id: ours,
                forms,
                at: chrono::Utc::now(),
            })
            .await?;
        Ok(claimed
            .into_iter()
            .filter_map(|(_, h)| {
                Some(Receipt {
                    status: serde_json::from_value(serde_json::Value::String(h.status)).ok()?,
                    carrier_id: h.carrier_id,
                })
            })
            .collect())
    }

    /// Whether `ours` was handed to the carrier already (a carrier id is recorded for it).
    pub async fn sent(&self, ours: Uuid) -> Result<bool, StoreError> {
        self.store.carrier_sent(&self.channel, ours).await
    }

    /// Our message id for a receipt, once the submits in flight when it came are answered
    /// (at most `wait`); `None` when none claims it (it is then held in the store).
    pub async fn find(&self, receipt: &Receipt, wait: Duration) -> Result<Option<Uuid>, StoreError> {
        self.in_flight.settle(wait).await;
        let form = normalise(&receipt.carrier_id);
        if let Some(id) = self
            .store
            .carrier_id_find(&self.channel, std::slice::from_ref(&form))
            .await?
        {
            return Ok(Some(id));
        }
        let status = serde_json::to_value(receipt.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "failed".into());
        self.store
            .receipt_hold(&HeldReceipt {
                channel: self.channel.clone(),
                carrier_id: form,
                status,
                received_at: chrono::Utc::now(),
            })
            .await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use seedgate_proto::DeliveryStatus;

    #[test]
    fn ids_normalise_across_case_zeros_and_bases() {
        assert_eq!(normalise(" 00AbC1 "), "abc1");
        assert_eq!(normalise("000"), "0");
        assert!(variants("1F4").contains(&"500".to_string()));
        assert!(variants("500").contains(&"1f4".to_string()));
        assert!(variants("0x-not-hex")
            .iter()
            .all(|v| v == "x-not-hex" || v == "0x-not-hex"));
    }

    fn receipt_sm(text: &str, tlvs: Tlvs) -> Sm {
        Sm {
            esm_class: 0x04,
            short_message: Bytes::from(text.as_bytes().to_vec()),
            tlvs,
            ..Sm::default()
        }
    }

    #[test]
    fn receipts_parse_from_tlvs_or_text() {
        let by_text = receipt_sm("id:0001F4 sub:001 dlvrd:001 submit date:2611250800 done date:2611250801 stat:DELIVRD err:000 text:hi", Tlvs::default());
        assert_eq!(
            parse_receipt(&by_text),
            Some(Receipt {
                carrier_id: "0001F4".into(),
                status: DeliveryStatus::Delivered
            })
        );
        let by_tlv = receipt_sm(
            "id:ignored stat:DELIVRD",
            Tlvs::default()
                .with(crate::tlv::tag::RECEIPTED_MESSAGE_ID, Tlvs::cstr_value("abc"))
                .with(crate::tlv::tag::MESSAGE_STATE, vec![5u8]),
        );
        assert_eq!(
            parse_receipt(&by_tlv),
            Some(Receipt {
                carrier_id: "abc".into(),
                status: DeliveryStatus::Failed
            })
        );
        assert_eq!(
            parse_receipt(&receipt_sm("stat:EXPIRED id:9", Tlvs::default()))
                .unwrap()
                .status,
            DeliveryStatus::Expired
        );
        assert_eq!(parse_receipt(&receipt_sm("no id here", Tlvs::default())), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_receipt_waits_for_the_submits_in_flight_when_it_came_but_not_for_later_ones() {
        let f = Arc::new(InFlight::default());
        let first = f.start();
        let waiter = {
            let f = f.clone();
            tokio::spawn(async move {
                f.settle(Duration::from_secs(10)).await;
                tokio::time::Instant::now()
            })
        };
        tokio::task::yield_now().await;
        let later = f.start(); // started after the receipt came: not waited for
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = tokio::time::Instant::now();
        drop(first);
        let settled = waiter.await.unwrap();
        assert_eq!(settled, t0, "settles as soon as the earlier submit ends");
        drop(later);
        // Nothing in flight: no wait at all; and the wait is bounded.
        f.settle(Duration::from_secs(10)).await;
        let _stuck = f.start();
        let t1 = tokio::time::Instant::now();
        f.settle(Duration::from_secs(2)).await;
        assert_eq!(t1.elapsed(), Duration::from_secs(2));
    }
}
