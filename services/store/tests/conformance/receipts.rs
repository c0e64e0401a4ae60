//! Carrier ids and held receipts.

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_000_000 + secs, 0).unwrap()
}

fn cid(id: Uuid, forms: &[&str], secs: i64) -> CarrierId {
    CarrierId {
        message_id: id,
        forms: forms.iter().map(|f| f.to_string()).collect(),
        at: at(secs),
    }
}

fn receipt(channel: &str, carrier_id: &str, status: &str, secs: i64) -> HeldReceipt {
    HeldReceipt {
        channel: channel.into(),
        carrier_id: carrier_id.into(),
        status: status.into(),
        received_at: at(secs),
    }
}

async fn a_reused_carrier_id_finds_the_newest_submit_of_its_channel(store: Arc<dyn Store>) {
    let (old, new, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    assert!(store
        .carrier_ids_put("mtn", &[cid(old, &["1f4", "500"], 0)])
        .await
        .unwrap()
        .is_empty());
    store
        .carrier_ids_put("vodacom", &[cid(other, &["1f4"], 50)])
        .await
        .unwrap();
    let find = |forms: &[&str]| forms.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store.carrier_id_find("mtn", &find(&["500"])).await.unwrap(),
        Some(old)
    );
    // The SMSC restarted and gives the id again: the newer submit claims it.
    store
        .carrier_ids_put("mtn", &[cid(new, &["1f4", "500"], 100)])
        .await
        .unwrap();
    assert_eq!(
        store.carrier_id_find("mtn", &find(&["1f4"])).await.unwrap(),
        Some(new)
    );
    assert_eq!(
        store.carrier_id_find("vodacom", &find(&["1f4"])).await.unwrap(),
        Some(other)
    );
    assert_eq!(
        store.carrier_id_find("mtn", &find(&["ffff"])).await.unwrap(),
        None
    );
    assert!(store.carrier_sent("mtn", old).await.unwrap());
    assert!(!store.carrier_sent("mtn", other).await.unwrap());
    assert!(!store.carrier_sent("mtn", Uuid::now_v7()).await.unwrap());
}

async fn a_held_receipt_is_kept_once_and_claimed_by_its_submit(store: Arc<dyn Store>) {
    let r = receipt("mtn", "abc", "delivered", 10);
    store.receipt_hold(&r).await.unwrap();
    store.receipt_hold(&r).await.unwrap(); // the same receipt again changes nothing
    store
        .receipt_hold(&receipt("vodacom", "abc", "failed", 11))
        .await
        .unwrap();
    assert_eq!(
        store.receipts_held(Some("mtn"), 10).await.unwrap(),
        vec![r.clone()]
    );
    assert_eq!(store.receipts_held(None, 10).await.unwrap().len(), 2);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let claimed = store
        .carrier_ids_put("mtn", &[cid(a, &["abc"], 20), cid(b, &["abd"], 21)])
        .await
        .unwrap();
    assert_eq!(claimed, vec![(a, r)]);
    assert!(store.receipts_held(Some("mtn"), 10).await.unwrap().is_empty());
    assert_eq!(
        store.receipts_held(None, 10).await.unwrap().len(),
        1,
        "another channel's stays"
    );
}

async fn old_carrier_ids_and_receipts_are_purged(store: Arc<dyn Store>) {
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .carrier_ids_put("mtn", &[cid(a, &["1"], 0), cid(b, &["2"], 1_000)])
        .await
        .unwrap();
    store
        .receipt_hold(&receipt("mtn", "9", "delivered", 0))
        .await
        .unwrap();
    assert_eq!(store.receipts_purge(at(500)).await.unwrap(), 2);
    assert!(!store.carrier_sent("mtn", a).await.unwrap());
    assert!(store.carrier_sent("mtn", b).await.unwrap());
    assert!(store.receipts_held(None, 10).await.unwrap().is_empty());
}

conformance!(
    a_reused_carrier_id_finds_the_newest_submit_of_its_channel,
    a_held_receipt_is_kept_once_and_claimed_by_its_submit,
    old_carrier_ids_and_receipts_are_purged,
);
