//! Messages and events: batches, redeliveries, status from events, searches.

use super::*;
use crate::helpers::{dialog, sms_to};

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

async fn status_follows_events_and_never_goes_back(store: Arc<dyn Store>) {
    let m = sms_to("+27820000006", "status");
    store.accept(&m, None).await.unwrap();
    let ev = |kind| Record::Event(Event::new("demo-sms", m.id, kind));
    let status =
        |store: Arc<dyn Store>| async move { store.stored_message(m.id).await.unwrap().unwrap().status };
    store
        .write_batch(&[ev(EventKind::Ack {
            carrier_id: Some("c1".into()),
        })])
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, MessageStatus::Submitted);
    assert!(
        store
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "the connector's first event takes the message out of the outbox"
    );
    store
        .write_batch(&[ev(EventKind::DeliveryReport {
            status: DeliveryStatus::Delivered,
        })])
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, MessageStatus::Delivered);
    // A late ack, a duplicate receipt and a contradicting late receipt change nothing.
    store
        .write_batch(&[
            ev(EventKind::Ack { carrier_id: None }),
            ev(EventKind::DeliveryReport {
                status: DeliveryStatus::Delivered,
            }),
            ev(EventKind::DeliveryReport {
                status: DeliveryStatus::Failed,
            }),
        ])
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, MessageStatus::Delivered);
    assert_eq!(
        store.message_events(m.id).await.unwrap().len(),
        5,
        "every event is kept"
    );
    // A receipt before the ack (it happens) still ends at the receipt's state.
    let n = sms_to("+27820000007", "early");
    store.accept(&n, None).await.unwrap();
    store
        .write_batch(&[
            Record::Event(Event::new(
                "demo-sms",
                n.id,
                EventKind::DeliveryReport {
                    status: DeliveryStatus::Expired,
                },
            )),
            Record::Event(Event::new("demo-sms", n.id, EventKind::Ack { carrier_id: None })),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.stored_message(n.id).await.unwrap().unwrap().status,
        MessageStatus::Expired
    );
    // Inbound messages are received.
    let mo = Message::inbound(
        "demo-sms",
        TransportType::Sms,
        "+27820000007",
        "MomConnect",
        "STOP",
    );
    store.write_batch(&[Record::Message(mo.clone())]).await.unwrap();
    assert_eq!(
        store.stored_message(mo.id).await.unwrap().unwrap().status,
        MessageStatus::Received
    );
}

async fn searches_page_newest_first(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut m = sms_to(
            if i % 2 == 0 {
                "+27820000010"
            } else {
                "+27820000011"
            },
            "x",
        );
        if i == 6 {
            m.channel = "other".into();
        }
        store.accept(&m, None).await.unwrap();
        ids.push(m.id);
    }
    store
        .write_batch(&[Record::Event(Event::new(
            "demo-sms",
            ids[0],
            EventKind::Ack { carrier_id: None },
        ))])
        .await
        .unwrap();
    let page = |before, limit| MessageQuery {
        channel: Some("demo-sms".into()),
        before,
        limit,
        ..Default::default()
    };
    let first = store.messages(&page(None, 4)).await.unwrap();
    let got: Vec<Uuid> = first.iter().map(|m| m.message.id).collect();
    assert_eq!(got, vec![ids[5], ids[4], ids[3], ids[2]]);
    let second = store.messages(&page(Some(ids[2]), 4)).await.unwrap();
    let got: Vec<Uuid> = second.iter().map(|m| m.message.id).collect();
    assert_eq!(got, vec![ids[1], ids[0]]);
    let by_address = store
        .messages(&MessageQuery {
            address: Some("+27820000011".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_address.len(), 3);
    let submitted = store
        .messages(&MessageQuery {
            status: Some(MessageStatus::Submitted),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        submitted.iter().map(|m| m.message.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    let future = store
        .messages(&MessageQuery {
            since: Some(Utc::now() + chrono::Duration::hours(1)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
}

async fn a_message_written_after_its_own_events_takes_their_status(store: Arc<dyn Store>) {
    // A batch with the message failed and was requeued behind its ack and receipt.
    let (early, late) = (sms_to("+27820000071", "a"), sms_to("+27820000072", "b"));
    let ack = Event::new("demo-sms", early.id, EventKind::Ack { carrier_id: None });
    let mut dlr = Event::new(
        "demo-sms",
        early.id,
        EventKind::DeliveryReport {
            status: DeliveryStatus::Delivered,
        },
    );
    dlr.created_at = ack.created_at + chrono::Duration::milliseconds(5);
    let late_ack = Event::new("demo-sms", late.id, EventKind::Ack { carrier_id: None });
    store
        .write_batch(&[Record::Event(ack), Record::Event(dlr), Record::Event(late_ack)])
        .await
        .unwrap();
    store
        .write_batch(&[Record::Message(early.clone())])
        .await
        .unwrap();
    let status = |id| {
        let store = store.clone();
        async move { store.stored_message(id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(early.id).await, MessageStatus::Delivered);
    // With an event of its own in the same batch, the higher status still wins.
    let nack = Event::new("demo-sms", late.id, EventKind::Nack { reason: "x".into() });
    store
        .write_batch(&[Record::Message(late.clone()), Record::Event(nack)])
        .await
        .unwrap();
    assert_eq!(status(late.id).await, MessageStatus::Failed);
}

conformance!(
    a_message_written_after_its_own_events_takes_their_status,
    messages_and_events_round_trip,
    redelivered_batches_write_nothing_twice,
    an_empty_batch_is_fine,
    status_follows_events_and_never_goes_back,
    searches_page_newest_first,
);
