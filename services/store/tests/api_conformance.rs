//! The API's side of the store, one suite for SQLite and PostgreSQL: the outbox and its
//! idempotency keys, status derived from events (late and duplicate receipts), searches with
//! cursors, tokens, and webhook jobs.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use seedgate_proto::{DeliveryStatus, Event, EventKind, Message, TransportType};

use seedgate_runtime::store::{
    Accepted, ApiToken, Idempotency, MessageQuery, MessageStatus, Record, SessionQuery, Store, WebhookJob,
    WebhookOutcome,
};
use uuid::Uuid;

fn sms(to: &str, text: &str) -> Message {
    let mut m = Message::inbound("demo-sms", TransportType::Sms, "MomConnect", to, text);
    m.direction = seedgate_proto::Direction::Outbound;
    m
}

fn key(k: &str, fingerprint: &str) -> Idempotency {
    Idempotency {
        scope: "token-1".into(),
        key: k.into(),
        fingerprint: fingerprint.into(),
        window: Duration::from_secs(3600),
    }
}

async fn accepted_messages_wait_in_the_outbox_until_done(store: Arc<dyn Store>) {
    let a = sms("+27820000001", "one");
    let b = sms("+27820000002", "two");
    assert_eq!(store.accept(&a, None).await.unwrap(), Accepted::New);
    assert_eq!(store.accept(&b, None).await.unwrap(), Accepted::New);
    assert_eq!(
        store.stored_message(a.id).await.unwrap().unwrap().status,
        MessageStatus::Queued
    );
    let claimed = store.outbox_claim(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a.id, b.id]);
    assert!(
        store
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "claimed rows wait out their lease"
    );
    store.outbox_done(&[a.id]).await.unwrap();
    // `b` is still leased; `a` is gone for good.
    assert!(store.outbox_claim(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn an_expired_lease_is_claimed_again(store: Arc<dyn Store>) {
    let a = sms("+27820000003", "lease");
    store.accept(&a, None).await.unwrap();
    let first = store.outbox_claim(10, Duration::from_millis(300)).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = store.outbox_claim(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a.id]);
    store.outbox_done(&[a.id]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.outbox_claim(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn idempotency_keys_repeat_or_conflict(store: Arc<dyn Store>) {
    let a = sms("+27820000004", "hello");
    assert_eq!(
        store.accept(&a, Some(&key("k1", "f1"))).await.unwrap(),
        Accepted::New
    );
    let retry = sms("+27820000004", "hello");
    assert_eq!(
        store.accept(&retry, Some(&key("k1", "f1"))).await.unwrap(),
        Accepted::Repeat(a.id)
    );
    let other = sms("+27820000005", "different");
    assert_eq!(
        store.accept(&other, Some(&key("k1", "f2"))).await.unwrap(),
        Accepted::Conflict(a.id)
    );
    assert!(
        store.stored_message(retry.id).await.unwrap().is_none(),
        "nothing sent twice"
    );
    assert_eq!(
        store
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap()
            .len(),
        1
    );
    // Another token's key of the same name is its own.
    let mut theirs = key("k1", "f1");
    theirs.scope = "token-2".into();
    assert_eq!(store.accept(&retry, Some(&theirs)).await.unwrap(), Accepted::New);
}

async fn status_follows_events_and_never_goes_back(store: Arc<dyn Store>) {
    let m = sms("+27820000006", "status");
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
    let n = sms("+27820000007", "early");
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
        let mut m = sms(
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

async fn tokens_are_found_by_hash_only(store: Arc<dyn Store>) {
    let t = ApiToken {
        id: Uuid::now_v7(),
        name: "registry".into(),
        hash: "ab".repeat(32),
        scopes: vec!["send".into(), "read".into()],
        created_at: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
    };
    store.put_token(&t).await.unwrap();
    assert_eq!(store.token_by_hash(&t.hash).await.unwrap(), Some(t.clone()));
    assert_eq!(store.token_by_hash(&"cd".repeat(32)).await.unwrap(), None);
}

async fn webhook_jobs_retry_die_and_replay(store: Arc<dyn Store>) {
    let source = Uuid::now_v7();
    let job = WebhookJob {
        id: Uuid::now_v7(),
        channel: "demo-sms".into(),
        kind: "event".into(),
        source_id: source,
        url: "http://127.0.0.1:9/hook".into(),
        body: "{}".into(),
        attempts: 0,
        next_attempt_at: Utc::now(),
        state: "pending".into(),
        last_error: None,
    };
    store.webhooks_enqueue(std::slice::from_ref(&job)).await.unwrap();
    let mut dup = job.clone();
    dup.id = Uuid::now_v7();
    store.webhooks_enqueue(&[dup]).await.unwrap();
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(due.len(), 1, "one job per source and URL");
    assert!(store
        .webhooks_due(10, Duration::from_secs(30))
        .await
        .unwrap()
        .is_empty());
    store
        .webhook_settle(
            job.id,
            &WebhookOutcome::Retry {
                at: Utc::now() - chrono::Duration::seconds(1),
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));
    store
        .webhook_settle(
            job.id,
            &WebhookOutcome::Dead {
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    let dead = store.webhooks_dead(10).await.unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("HTTP 500")));
    assert!(store.webhook_replay(job.id).await.unwrap());
    assert!(
        !store.webhook_replay(job.id).await.unwrap(),
        "only dead jobs replay"
    );
    let due = store.webhooks_due(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(due.len(), 1);
    store
        .webhook_settle(job.id, &WebhookOutcome::Delivered)
        .await
        .unwrap();
    assert!(store.webhooks_dead(10).await.unwrap().is_empty());
}

async fn retention_purges_old_rows_but_never_unsent_messages(store: Arc<dyn Store>) {
    let old = Utc::now() - chrono::Duration::days(40);
    let aged = |to: &str, channel: &str| {
        let mut m = sms(to, "old");
        m.channel = channel.into();
        m.created_at = old;
        m
    };
    let sent = aged("+27820000030", "demo-sms");
    let unsent = aged("+27820000031", "demo-sms");
    let other = aged("+27820000032", "other");
    let fresh = sms("+27820000033", "new");
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
            let mut m = sms(&format!("+2782000010{i}"), "old");
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

async fn contacts_keep_fields_groups_and_opt_out(store: Arc<dyn Store>) {
    use seedgate_runtime::store::{Contact, ContactQuery};
    let now = Utc::now();
    let mut a = Contact::new("+27820000201", now);
    a.name = Some("Thandi".into());
    a.language = Some("zul".into());
    a.fields.insert("edd".into(), "2027-03-01".into());
    a.groups.insert("pregnant".into());
    assert!(store.contact_put(&a).await.unwrap());
    // A second writer that also thinks the contact is new loses.
    assert!(!store.contact_put(&a).await.unwrap());
    let read = store.contact("+27820000201").await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    assert_eq!(
        (read.name.as_deref(), read.fields.get("edd")),
        (Some("Thandi"), Some(&"2027-03-01".into()))
    );
    // Optimistic writes: the version read must still be the stored one.
    let mut b = read.clone();
    b.groups.insert("registered".into());
    b.opted_out_at = Some(now);
    assert!(store.contact_put(&b).await.unwrap());
    assert!(
        !store.contact_put(&read).await.unwrap(),
        "a stale version is refused"
    );
    let mut other = Contact::new("+27820000202", now);
    other.groups.insert("registered".into());
    assert!(store.contact_put(&other).await.unwrap());
    let q = |group: Option<&str>, opted_out: Option<bool>, after: Option<&str>, limit| ContactQuery {
        group: group.map(str::to_string),
        opted_out,
        after: after.map(str::to_string),
        limit,
    };
    // Sorted here: a sealed store lists contacts in the order of their keyed hashes.
    let msisdns = |cs: Vec<Contact>| {
        let mut v = cs.into_iter().map(|c| c.msisdn).collect::<Vec<_>>();
        v.sort();
        v
    };
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("registered"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000201", "+27820000202"]
    );
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("pregnant"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000201"]
    );
    assert_eq!(
        msisdns(store.contacts(&q(None, Some(true), None, 10)).await.unwrap()),
        ["+27820000201"]
    );
    // Pages of one, each after the last one seen, visit every contact once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.contacts(&q(None, None, after.as_deref(), 1)).await.unwrap();
        let Some(last) = page.last() else { break };
        assert_eq!(page.len(), 1);
        after = Some(last.msisdn.clone());
        seen.push(last.msisdn.clone());
        assert!(seen.len() <= 2, "paging does not end: {seen:?}");
    }
    seen.sort();
    assert_eq!(seen, ["+27820000201", "+27820000202"]);
    let stored = store.contact("+27820000201").await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert!(stored.opted_out_at.is_some());
    assert!(store.contact_delete("+27820000201").await.unwrap());
    assert!(!store.contact_delete("+27820000201").await.unwrap());
    assert!(store.contact("+27820000201").await.unwrap().is_none());
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("registered"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000202"],
        "a deleted contact leaves its groups"
    );
}

async fn channel_rows_count_generations(store: Arc<dyn Store>) {
    assert!(store.channels_stored().await.unwrap().is_empty());
    let def = serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 10});
    let first = store.channel_put("partner-sms", &def).await.unwrap();
    assert_eq!((first.generation, first.definition.as_ref()), (1, Some(&def)));
    let restarted = store.channel_restart("partner-sms").await.unwrap();
    assert_eq!(restarted.generation, 2);
    assert_eq!(
        restarted.definition.as_ref(),
        Some(&def),
        "a restart keeps the definition"
    );
    // A restart of a config-file channel makes a row without a definition.
    let file = store.channel_restart("demo-sms").await.unwrap();
    assert_eq!((file.generation, file.definition), (1, None));
    let def2 = serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 20});
    assert_eq!(
        store.channel_put("partner-sms", &def2).await.unwrap().generation,
        3
    );
    let all = store.channels_stored().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.name.as_str(), c.generation))
            .collect::<Vec<_>>(),
        [("demo-sms", 1), ("partner-sms", 3)]
    );
    assert_eq!(all[1].definition.as_ref(), Some(&def2));
    assert!(store.channel_delete("partner-sms").await.unwrap());
    assert!(!store.channel_delete("partner-sms").await.unwrap());
    assert_eq!(store.channels_stored().await.unwrap().len(), 1);
}

conformance!(
    accepted_messages_wait_in_the_outbox_until_done,
    an_expired_lease_is_claimed_again,
    idempotency_keys_repeat_or_conflict,
    status_follows_events_and_never_goes_back,
    searches_page_newest_first,
    sessions_list_live_and_past,
    tokens_are_found_by_hash_only,
    webhook_jobs_retry_die_and_replay,
    retention_purges_old_rows_but_never_unsent_messages,
    purges_go_in_batches,
    contacts_keep_fields_groups_and_opt_out,
    channel_rows_count_generations,
);
