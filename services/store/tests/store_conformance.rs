//! One conformance suite, two stores: SQLite (a fresh file) and PostgreSQL (the real server of
//! this machine, `SEEDGATE_TEST_DATABASE_URL`, a fresh schema per test).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use seedgate_proto::{
    DeliveryStatus, Event, EventKind, Message, SessionEndReason, SessionEvent, SessionInfo, SessionRecord,
    TransportType,
};
use seedgate_runtime::config::{StoreConfig, StoreKind};
use seedgate_runtime::store::{Record, Store, StoreError};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_764_000_000_000 + ms).single().unwrap()
}

fn dialog(session: &str, msisdn: &str) -> (Message, Message) {
    let mut inbound = Message::inbound("demo-at", TransportType::Ussd, msisdn, "*134*550#", "");
    inbound.session = Some(SessionInfo {
        id: session.into(),
        event: SessionEvent::New,
    });
    inbound.created_at = at(0);
    inbound.metadata.insert("network_code".into(), "65501".into());
    let mut reply = inbound.reply("Welcome\n1. Register", SessionEvent::Resume);
    reply.created_at = at(5);
    (inbound, reply)
}

async fn messages_and_events_round_trip(store: Arc<dyn Store>) {
    store.check().await.unwrap();
    let (inbound, reply) = dialog("s-1", "+27820000001");
    let ack = Event::new("demo-at", reply.id, EventKind::Ack { carrier_id: None });
    let mut dlr = Event::new(
        "demo-at",
        reply.id,
        EventKind::DeliveryReport {
            status: DeliveryStatus::Delivered,
        },
    );
    dlr.created_at = ack.created_at + chrono::Duration::milliseconds(3);
    store
        .write_batch(&[
            Record::Message(reply.clone()),
            Record::Message(inbound.clone()),
            Record::Event(dlr.clone()),
            Record::Event(ack.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(store.message(inbound.id).await.unwrap().as_ref(), Some(&inbound));
    assert_eq!(
        store.session_messages("s-1").await.unwrap(),
        vec![inbound.clone(), reply.clone()],
        "oldest first"
    );
    assert_eq!(store.message_events(reply.id).await.unwrap(), vec![ack, dlr]);
    assert_eq!(store.address_messages("+27820000001").await.unwrap().len(), 2);
    assert!(store.message(uuid::Uuid::now_v7()).await.unwrap().is_none());
}

async fn redelivered_batches_write_nothing_twice(store: Arc<dyn Store>) {
    let (inbound, reply) = dialog("s-2", "+27820000002");
    let ev = Event::new(
        "demo-at",
        reply.id,
        EventKind::Nack {
            reason: "late".into(),
        },
    );
    let batch = [
        Record::Message(inbound),
        Record::Message(reply.clone()),
        Record::Event(ev),
    ];
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&batch[1..]).await.unwrap();
    assert_eq!(store.session_messages("s-2").await.unwrap().len(), 2);
    assert_eq!(store.message_events(reply.id).await.unwrap().len(), 1);
}

async fn an_empty_batch_is_fine(store: Arc<dyn Store>) {
    store.write_batch(&[]).await.unwrap();
}

async fn sessions_are_recorded_and_never_reopened(store: Arc<dyn Store>) {
    let open = SessionRecord {
        id: "demo-at:abc".into(),
        channel: "demo-at".into(),
        msisdn: "+27820000003".into(),
        flow: None,
        started_at: at(0),
        ended_at: None,
        hops: 1,
        duration_ms: 0,
        slices: 1,
        end_reason: None,
        carrier: None,
    };
    store.write_batch(&[Record::Session(open.clone())]).await.unwrap();
    assert_eq!(store.session("demo-at:abc").await.unwrap(), Some(open.clone()));
    let hop = SessionRecord {
        hops: 2,
        duration_ms: 9_000,
        flow: Some("demo".into()),
        ..open.clone()
    };
    store.write_batch(&[Record::Session(hop.clone())]).await.unwrap();
    let ended = SessionRecord {
        ended_at: Some(at(25_300)),
        hops: 3,
        duration_ms: 25_300,
        slices: 2,
        end_reason: Some(SessionEndReason::Completed),
        carrier: None,
        flow: None,
        ..open.clone()
    };
    store
        .write_batch(&[Record::Session(ended.clone())])
        .await
        .unwrap();
    let want = SessionRecord {
        flow: Some("demo".into()),
        ..ended
    };
    assert_eq!(
        store.session("demo-at:abc").await.unwrap(),
        Some(want.clone()),
        "flow kept from the earlier hop"
    );
    // A late, redelivered hop update must not reopen or shrink the ended session.
    store.write_batch(&[Record::Session(hop.clone())]).await.unwrap();
    assert_eq!(store.session("demo-at:abc").await.unwrap(), Some(want));
    assert_eq!(store.session("nope").await.unwrap(), None);
}

async fn session_report_counts_slices_per_day_channel_and_flow(store: Arc<dyn Store>) {
    let day = |d: i64, h: i64| {
        Utc.timestamp_millis_opt(1_764_028_800_000 + d * 86_400_000 + h * 3_600_000)
            .single()
            .unwrap()
    };
    let rec = |id: &str, started: DateTime<Utc>, flow: Option<&str>, hops: u32, slices: u32| SessionRecord {
        id: id.into(),
        channel: "demo-at".into(),
        msisdn: "+27820000004".into(),
        flow: flow.map(str::to_string),
        started_at: started,
        ended_at: Some(started + chrono::Duration::seconds(30)),
        hops,
        duration_ms: 30_000,
        slices,
        end_reason: Some(SessionEndReason::Completed),
        carrier: None,
    };
    let rows = [
        rec("r1", day(0, 8), Some("demo"), 4, 2),
        rec("r2", day(0, 9), Some("demo"), 3, 1),
        rec("r3", day(0, 23), Some("reg"), 5, 3),
        rec("r4", day(1, 1), Some("demo"), 2, 1),
        rec("r5", day(1, 2), None, 1, 1),
        rec("old", day(-3, 0), Some("demo"), 9, 9),
    ];
    store
        .write_batch(&rows.iter().cloned().map(Record::Session).collect::<Vec<_>>())
        .await
        .unwrap();
    let report = store.session_report(day(-1, 0)).await.unwrap();
    let got: Vec<(String, String, u64, u64, u64)> = report
        .into_iter()
        .map(|r| (r.day, r.flow, r.sessions, r.hops, r.slices))
        .collect();
    let d0 = day(0, 0).format("%Y-%m-%d").to_string();
    let d1 = day(1, 0).format("%Y-%m-%d").to_string();
    assert_eq!(
        got,
        vec![
            (d0.clone(), "demo".into(), 2, 7, 3),
            (d0, "reg".into(), 1, 5, 3),
            (d1.clone(), "".into(), 1, 1, 1),
            (d1, "demo".into(), 1, 2, 1),
        ]
    );
}

async fn a_gateway_end_report_is_kept_with_its_session(store: Arc<dyn Store>) {
    let (dial, _) = dialog("demo-at:rep", "+27820000005");
    let open = SessionRecord {
        id: "demo-at:rep".into(),
        channel: "demo-at".into(),
        msisdn: "+27820000005".into(),
        flow: Some("demo".into()),
        started_at: at(0),
        ended_at: Some(at(21_000)),
        hops: 3,
        duration_ms: 21_000,
        slices: 2,
        end_reason: Some(SessionEndReason::Completed),
        carrier: None,
    };
    let report = seedgate_proto::CarrierReport {
        status: "Success".into(),
        cost: Some("KES 0.4000".into()),
        duration_ms: Some(21_480),
        hops: Some(3),
        error: None,
    };
    let mut end = dial.clone();
    end.id = uuid::Uuid::now_v7();
    end.session = Some(SessionInfo {
        id: "demo-at:rep".into(),
        event: SessionEvent::Close,
    });
    end.metadata
        .insert("carrier".into(), serde_json::to_value(&report).unwrap());
    // The session ended first; the gateway's report comes after, and comes twice.
    store
        .write_batch(&[Record::Message(dial), Record::Session(open.clone())])
        .await
        .unwrap();
    store.write_batch(&[Record::Message(end.clone())]).await.unwrap();
    store.write_batch(&[Record::Message(end)]).await.unwrap();
    let got = store.session("demo-at:rep").await.unwrap().unwrap();
    assert_eq!(got.carrier, Some(report));
    assert_eq!(
        (got.end_reason, got.slices),
        (open.end_reason, open.slices),
        "our own billing is unchanged"
    );
    assert_eq!(store.session_messages("demo-at:rep").await.unwrap().len(), 2);
}

conformance!(
    messages_and_events_round_trip,
    redelivered_batches_write_nothing_twice,
    an_empty_batch_is_fine,
    sessions_are_recorded_and_never_reopened,
    session_report_counts_slices_per_day_channel_and_flow,
    a_gateway_end_report_is_kept_with_its_session,
);

#[tokio::test]
async fn an_unreachable_postgres_is_reported_unavailable() {
    let mut cfg = StoreConfig::default();
    cfg.kind = StoreKind::Postgres;
    cfg.url = "postgres://postgres@127.0.0.1:1/test".into();
    let store = seedgate_store::open(&cfg).unwrap();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
