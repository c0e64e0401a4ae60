//! Retention: purges never take unsent messages, archives first, batches.

use super::*;
use crate::helpers::sms_to;

async fn retention_purges_old_rows_but_never_unsent_messages(store: Arc<dyn Store>) {
    let old = Utc::now() - chrono::Duration::days(40);
    let aged = |to: &str, channel: &str| {
        let mut m = sms_to(to, "old");
        m.channel = channel.into();
        m.created_at = old;
        m
    };
    let sent = aged("+27820000030", "demo-sms");
    let unsent = aged("+27820000031", "demo-sms");
    let other = aged("+27820000032", "other");
    let fresh = sms_to("+27820000033", "new");
    store.accept(&unsent, None).await.unwrap();
    store
        .write_batch(&[
            Record::Message(sent.clone()),
            Record::Message(other.clone()),
            Record::Message(fresh.clone()),
            Record::Event(Event::new(
                "demo-sms",
                sent.id,
                EventKind::Ack { carrier_id: None },
            )),
        ])
        .await
        .unwrap();
    let session = |id: &str, ended: bool| seedgate_proto::SessionRecord {
        id: id.into(),
        channel: "demo-sms".into(),
        msisdn: "+27820000034".into(),
        flow: None,
        started_at: old,
        ended_at: ended.then_some(old),
        hops: 1,
        duration_ms: 1000,
        slices: 1,
        end_reason: ended.then_some(seedgate_proto::SessionEndReason::Completed),
        carrier: None,
    };
    store
        .write_batch(&[
            Record::Session(session("old-ended", true)),
            Record::Session(session("old-live", false)),
        ])
        .await
        .unwrap();
    let cutoff = Utc::now() - chrono::Duration::days(30);
    // An archive that cannot be written purges nothing.
    let failing = |_: &seedgate_runtime::store::Archive| Err(std::io::Error::other("disk full"));
    let refused = store.purge("demo-sms", cutoff, 1000, Some(&failing)).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(store.stored_message(sent.id).await.unwrap().is_some());
    assert!(store.session("old-ended").await.unwrap().is_some());
    // The archive sees exactly what goes.
    let seen = std::sync::Mutex::new(Vec::new());
    let keep = |a: &seedgate_runtime::store::Archive| {
        seen.lock().unwrap().push(a.clone());
        Ok(())
    };
    let purged = store.purge("demo-sms", cutoff, 1000, Some(&keep)).await.unwrap();
    let archived = seen.into_inner().unwrap();
    assert_eq!(archived.len(), 1);
    let a = &archived[0];
    assert_eq!(a.channel, "demo-sms");
    assert_eq!(a.messages.len(), 1);
    assert_eq!(a.messages[0]["message"]["id"], sent.id.to_string());
    assert_eq!(a.messages[0]["status"], "submitted");
    assert_eq!(a.events.len(), 1);
    assert_eq!(a.events[0]["message_id"], sent.id.to_string());
    assert_eq!(
        a.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["old-ended"]
    );
    assert_eq!((purged.messages, purged.events, purged.sessions), (1, 1, 1));
    assert!(store.stored_message(sent.id).await.unwrap().is_none());
    assert!(store.message_events(sent.id).await.unwrap().is_empty());
    for kept in [&unsent, &other, &fresh] {
        assert!(
            store.stored_message(kept.id).await.unwrap().is_some(),
            "{}",
            kept.to
        );
    }
    assert!(store.session("old-ended").await.unwrap().is_none());
    assert!(store.session("old-live").await.unwrap().is_some());
}

async fn purges_go_in_batches(store: Arc<dyn Store>) {
    let old = Utc::now() - chrono::Duration::days(40);
    let rows: Vec<Record> = (0..5)
        .map(|i| {
            let mut m = sms_to(&format!("+2782000010{i}"), "old");
            m.created_at = old;
            m.direction = seedgate_proto::Direction::Inbound;
            Record::Message(m)
        })
        .collect();
    store.write_batch(&rows).await.unwrap();
    let cutoff = Utc::now() - chrono::Duration::days(30);
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(store.purge("demo-sms", cutoff, 2, None).await.unwrap().messages);
    }
    assert_eq!(got, [2, 2, 1, 0]);
}

conformance!(
    retention_purges_old_rows_but_never_unsent_messages,
    purges_go_in_batches,
);
