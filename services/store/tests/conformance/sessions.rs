//! Session records, never reopened, and the billing report.

use super::*;
use crate::helpers::{at_ms, dialog};

async fn sessions_are_recorded_and_never_reopened(store: Arc<dyn Store>) {
    let open = SessionRecord {
        id: "demo-at:abc".into(),
        channel: "demo-at".into(),
        msisdn: "+27820000003".into(),
        flow: None,
        started_at: at_ms(0),
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
        ended_at: Some(at_ms(25_300)),
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
        started_at: at_ms(0),
        ended_at: Some(at_ms(21_000)),
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

async fn sessions_list_live_and_past(store: Arc<dyn Store>) {
    let base = Utc::now();
    let rec = |id: &str, secs: i64, ended: bool| seedgate_proto::SessionRecord {
        id: id.into(),
        channel: "demo-at".into(),
        msisdn: "+27820000020".into(),
        flow: Some("demo".into()),
        started_at: base + chrono::Duration::seconds(secs),
        ended_at: ended.then(|| base + chrono::Duration::seconds(secs + 30)),
        hops: 3,
        duration_ms: 30_000,
        slices: 2,
        end_reason: ended.then_some(seedgate_proto::SessionEndReason::Completed),
        carrier: None,
    };
    store
        .write_batch(&[
            Record::Session(rec("s1", 0, true)),
            Record::Session(rec("s2", 10, false)),
            Record::Session(rec("s3", 20, true)),
        ])
        .await
        .unwrap();
    let all = store
        .sessions(&SessionQuery {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s3", "s2"]
    );
    let next = store
        .sessions(&SessionQuery {
            limit: 2,
            before: Some((all[1].started_at, all[1].id.clone())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s1"]);
    let live = store
        .sessions(&SessionQuery {
            live: Some(true),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(live.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s2"]);
}

conformance!(
    sessions_are_recorded_and_never_reopened,
    session_report_counts_slices_per_day_channel_and_flow,
    a_gateway_end_report_is_kept_with_its_session,
    sessions_list_live_and_past,
);
