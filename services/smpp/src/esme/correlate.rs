//! Delivery receipts → our message ids.
//!
//! Carriers give a message id in `submit_sm_resp` and echo it in the receipt, but not always in
//! the same form: hex in one and decimal in the other, upper or lower case, with or without
//! leading zeros. Every form of the id is recorded (in the session store, so a receipt that
//! comes on another bind, to another replica, or days later still finds its message), and a
//! receipt looks itself up by its normalised form. A receipt that beats its `submit_sm_resp`
//! is held briefly and matched when the id is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seedgate_runtime::session_store::{SessionStore, SessionStoreError};
use tokio::time::Instant;
use uuid::Uuid;

use crate::pdu::Sm;
use crate::tlv::Tlvs;

/// How long a correlation is kept: receipts can come days later.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long an early receipt waits for its submit_sm_resp.
pub const EARLY_RECEIPT_WAIT: Duration = Duration::from_secs(600);

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

/// Records and finds correlations for one channel.
#[derive(Debug)]
pub struct Correlator {
    channel: String,
    store: Arc<dyn SessionStore>,
    early: Mutex<HashMap<String, (Receipt, Instant)>>,
}

impl Correlator {
    pub fn new(channel: &str, store: Arc<dyn SessionStore>) -> Self {
        Self {
            channel: channel.to_string(),
            store,
            early: Mutex::default(),
        }
    }

    fn key(&self, form: &str) -> String {
        format!("dlr:{}:{}", self.channel, form)
    }

    /// Records that the carrier calls our message `ours` by `carrier_id`. Returns a receipt that
    /// was waiting for this id, if one came early.
    pub async fn record(&self, carrier_id: &str, ours: Uuid) -> Result<Option<Receipt>, SessionStoreError> {
        for form in variants(carrier_id) {
            self.store.put(&self.key(&form), ours.as_bytes(), KEEP).await?;
        }
        let mut early = self
            .early
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(variants(carrier_id)
            .iter()
            .find_map(|f| early.remove(f))
            .map(|(r, _)| r))
    }

    /// Our message id for a receipt, or `None` (then the receipt is held as early).
    pub async fn find(&self, receipt: &Receipt) -> Result<Option<Uuid>, SessionStoreError> {
        let form = normalise(&receipt.carrier_id);
        if let Some(v) = self.store.get(&self.key(&form)).await? {
            return Ok(Uuid::from_slice(&v.value).ok());
        }
        let now = Instant::now();
        let mut early = self
            .early
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        early.retain(|_, (_, at)| now.duration_since(*at) < EARLY_RECEIPT_WAIT);
        if early.len() < 100_000 {
            early.insert(form, (receipt.clone(), now));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use seedgate_proto::DeliveryStatus;
    use seedgate_runtime::session_store::memory::MemorySessionStore;

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

    #[tokio::test]
    async fn a_receipt_in_another_base_finds_its_message_and_an_early_one_waits() {
        let c = Correlator::new("ch", Arc::new(MemorySessionStore::new()));
        let ours = Uuid::now_v7();
        assert_eq!(c.record("0001F4", ours).await.unwrap(), None);
        let r = Receipt {
            carrier_id: "500".into(),
            status: DeliveryStatus::Delivered,
        };
        assert_eq!(
            c.find(&r).await.unwrap(),
            Some(ours),
            "decimal receipt for a hex id"
        );
        // A receipt before its submit_sm_resp.
        let early = Receipt {
            carrier_id: "ABC".into(),
            status: DeliveryStatus::Delivered,
        };
        assert_eq!(c.find(&early).await.unwrap(), None);
        let later = Uuid::now_v7();
        assert_eq!(c.record("abc", later).await.unwrap(), Some(early));
    }
}
