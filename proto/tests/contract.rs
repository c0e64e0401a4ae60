//! The wire contract: golden fixtures keep deserialising, and the checked-in JSON Schema is fresh.
//!
//! Regenerate the schema after a deliberate change with
//! `SEEDGATE_BLESS=1 cargo test -p seedgate-proto --test contract`.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::path::PathBuf;

use seedgate_proto::{
    DeliveryStatus, Direction, Event, EventKind, Message, Priority, SessionEndReason, SessionEvent,
    SessionRecord, TransportType,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("fixtures").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn golden_inbound_ussd_message_still_parses_and_round_trips() {
    let json = fixture("message_inbound_ussd_v1.json");
    let msg: Message = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(msg.channel, "demo-at");
    assert_eq!(msg.transport, TransportType::Ussd);
    assert_eq!(msg.direction, Direction::Inbound);
    assert_eq!(msg.from, "+27820000001");
    assert_eq!(msg.session_event(), Some(SessionEvent::New));
    assert_eq!(msg.metadata["network_code"], "65501");
    assert_eq!(serde_json::to_value(&msg).unwrap(), json);
}

#[test]
fn golden_outbound_reply_still_parses_and_round_trips() {
    let json = fixture("message_outbound_ussd_v1.json");
    let msg: Message = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(msg.direction, Direction::Outbound);
    assert_eq!(msg.session_event(), Some(SessionEvent::Close));
    assert!(msg.in_reply_to.is_some());
    assert_eq!(serde_json::to_value(&msg).unwrap(), json);
}

#[test]
fn a_minimal_message_from_an_older_peer_gets_defaults() {
    let json = fixture("message_minimal_sms_v1.json");
    let msg: Message = serde_json::from_value(json).unwrap();
    assert_eq!(msg.version, seedgate_proto::PROTO_VERSION);
    assert_eq!(msg.content, "");
    assert!(msg.session.is_none() && msg.metadata.is_empty());
    assert_eq!((msg.close_reason, msg.priority), (None, Priority::Normal));
}

#[test]
fn golden_close_with_its_reason_parses_and_round_trips() {
    let json = fixture("message_close_v1.json");
    let msg: Message = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(msg.session_event(), Some(SessionEvent::Close));
    assert_eq!(msg.close_reason, Some(SessionEndReason::HopDeadline));
    assert_eq!(msg.priority, Priority::Normal);
    assert_eq!(serde_json::to_value(&msg).unwrap(), json);
}

#[test]
fn golden_campaign_message_parses_and_round_trips() {
    let json = fixture("message_campaign_sms_v1.json");
    let msg: Message = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(msg.priority, Priority::Bulk);
    assert_eq!(msg.close_reason, None);
    assert_eq!(serde_json::to_value(&msg).unwrap(), json);
}

#[test]
fn an_older_peers_metadata_reason_and_priority_mean_the_same_as_the_typed_fields() {
    for (legacy, current) in [
        ("message_close_legacy_v1.json", "message_close_v1.json"),
        (
            "message_campaign_sms_legacy_v1.json",
            "message_campaign_sms_v1.json",
        ),
    ] {
        let mut old: Message = serde_json::from_value(fixture(legacy)).unwrap();
        let new: Message = serde_json::from_value(fixture(current)).unwrap();
        assert_eq!(
            (old.close_reason, old.priority),
            (new.close_reason, new.priority),
            "{legacy}"
        );
        // The old metadata stays, for an older consumer further on; otherwise they are equal.
        assert!(old.metadata.contains_key("reason") || old.metadata.contains_key("priority"));
        old.metadata.retain(|k, _| k != "reason" && k != "priority");
        assert_eq!(old, new, "{legacy}");
    }
}

#[test]
fn metadata_that_never_meant_a_close_reason_stays_metadata() {
    // A `reason` on a message that is not a close, or a reason nobody knows, is left alone.
    let mut json = fixture("message_close_legacy_v1.json");
    json["metadata"]["reason"] = "because".into();
    let msg: Message = serde_json::from_value(json).unwrap();
    assert_eq!(
        (msg.close_reason, &msg.metadata["reason"]),
        (None, &"because".into())
    );
    let mut json = fixture("message_minimal_sms_v1.json");
    json["metadata"] = serde_json::json!({"reason": "completed", "priority": "high"});
    let msg: Message = serde_json::from_value(json).unwrap();
    assert_eq!(
        (msg.close_reason, msg.priority, msg.metadata.len()),
        (None, Priority::Normal, 2)
    );
}

#[test]
fn golden_events_still_parse_and_round_trip() {
    let json = fixture("events_v1.json");
    let events: Vec<Event> = serde_json::from_value(json.clone()).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Ack {
                carrier_id: Some("abc123".into())
            },
            EventKind::Nack {
                reason: "reply arrived after the hop deadline".into()
            },
            EventKind::DeliveryReport {
                status: DeliveryStatus::Delivered
            },
        ]
    );
    assert_eq!(serde_json::to_value(&events).unwrap(), json);
}

#[test]
fn golden_session_record_still_parses_and_round_trips() {
    let json = fixture("session_v1.json");
    let s: SessionRecord = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(s.end_reason, Some(SessionEndReason::Completed));
    assert_eq!((s.hops, s.slices, s.duration_ms), (3, 2, 25_300));
    assert_eq!(serde_json::to_value(&s).unwrap(), json);
}

#[test]
fn unknown_session_events_are_rejected_not_guessed() {
    let mut json = fixture("message_inbound_ussd_v1.json");
    json["session"]["event"] = "restart".into();
    let err = serde_json::from_value::<Message>(json).unwrap_err();
    assert!(err.to_string().contains("restart"), "{err}");
}

#[test]
fn json_schema_in_the_repo_is_fresh() {
    let bless = std::env::var_os("SEEDGATE_BLESS").is_some();
    for (name, schema) in seedgate_proto::schemas() {
        let path = root().join("schema").join(name);
        let rendered = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if bless {
            std::fs::write(&path, &rendered).unwrap();
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "{} is stale: run `SEEDGATE_BLESS=1 cargo test -p seedgate-proto --test contract` and commit it",
            path.display()
        );
    }
}
