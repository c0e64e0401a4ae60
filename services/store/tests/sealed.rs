//! Encryption at rest: what reaches the database file holds no phone number and no message
//! text, lookups still work through the keyed hash, and another key cannot read it.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;

use chrono::Utc;
use seedgate_proto::{Message, SessionEndReason, SessionRecord, TransportType};
use seedgate_runtime::config::StoreConfig;
use seedgate_runtime::store::{Contact, MessageQuery, Record, Store};

const MSISDN: &str = "+27825550123";
const TEXT: &str = "I am 24 weeks pregnant";

fn config() -> StoreConfig {
    let dir = std::env::temp_dir().join(format!("seedgate-sealed-{}", uuid::Uuid::now_v7().simple()));
    let mut cfg = StoreConfig::default();
    cfg.url = format!("sqlite://{}/seedgate.db", dir.display());
    cfg
}

fn key(byte: &str) -> seedgate_store::sealed::Key {
    seedgate_store::sealed::Key::from_hex(&byte.repeat(32)).unwrap()
}

fn open(cfg: &StoreConfig, k: Option<&str>) -> Arc<dyn Store> {
    seedgate_store::open_with(cfg, k.map(key)).unwrap()
}

#[tokio::test]
async fn the_database_holds_no_number_or_text_and_lookups_still_work() {
    let cfg = config();
    let sealed = open(&cfg, Some("7a"));
    let mut msg = Message::inbound("demo-sms", TransportType::Sms, MSISDN, "12345", TEXT);
    msg.metadata.insert("at_text".into(), TEXT.into());
    let session = SessionRecord {
        id: "demo-at:s1".into(),
        channel: "demo-at".into(),
        msisdn: MSISDN.into(),
        flow: Some("demo".into()),
        started_at: Utc::now(),
        ended_at: Some(Utc::now()),
        hops: 2,
        duration_ms: 5000,
        slices: 1,
        end_reason: Some(SessionEndReason::Completed),
        carrier: None,
    };
    sealed
        .write_batch(&[Record::Message(msg.clone()), Record::Session(session.clone())])
        .await
        .unwrap();
    let mut c = Contact::new(MSISDN, Utc::now());
    c.fields.insert("edd".into(), "2027-03-01".into());
    c.groups.insert("pregnant".into());
    assert!(sealed.contact_put(&c).await.unwrap());

    // Through the sealed store everything reads back, by address too.
    assert_eq!(sealed.message(msg.id).await.unwrap().unwrap(), msg);
    assert_eq!(sealed.address_messages(MSISDN).await.unwrap(), vec![msg.clone()]);
    let q = MessageQuery {
        address: Some(MSISDN.into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(sealed.messages(&q).await.unwrap().len(), 1);
    let read_session = sealed.session("demo-at:s1").await.unwrap().unwrap();
    assert_eq!(
        (read_session.msisdn.as_str(), read_session.slices),
        (MSISDN, session.slices)
    );
    let read = sealed.contact(MSISDN).await.unwrap().unwrap();
    assert_eq!(
        (read.fields.get("edd"), read.version),
        (Some(&"2027-03-01".into()), 1)
    );

    // The same file without the key: no number, no text.
    let plain = open(&cfg, None);
    let raw = plain.message(msg.id).await.unwrap().unwrap();
    let raw_json = serde_json::to_string(&raw).unwrap();
    assert!(!raw_json.contains("5550123"), "{raw_json}");
    assert!(!raw_json.contains("pregnant"), "{raw_json}");
    assert!(
        raw.from.starts_with("h1:") && raw.content.starts_with("enc1:"),
        "{raw_json}"
    );
    assert!(plain.address_messages(MSISDN).await.unwrap().is_empty());
    let raw_session = plain.session("demo-at:s1").await.unwrap().unwrap();
    assert!(raw_session.msisdn.starts_with("enc1:"), "{}", raw_session.msisdn);
    assert_eq!(raw_session.slices, 1, "billing stays readable");
    assert!(plain.contact(MSISDN).await.unwrap().is_none());
    let file = std::fs::read(cfg.url.trim_start_matches("sqlite://")).unwrap();
    let wal = std::fs::read(format!("{}-wal", cfg.url.trim_start_matches("sqlite://"))).unwrap_or_default();
    for bytes in [&file, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("5550123") && !text.contains("24 weeks"),
            "plain text in the file"
        );
    }

    // Another key cannot open it: an error, not garbage.
    let wrong = open(&cfg, Some("7b"));
    assert!(wrong.message(msg.id).await.is_err());
}
